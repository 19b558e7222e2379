#include "pickle_reader.h"

#include <cstring>
#include <deque>
#include <limits>
#include <memory>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "checkpoint_error.h"

// Storage bytes are used as they lie in the file (little-endian, as torch.save writes them).
#if defined(__BYTE_ORDER__) && defined(__ORDER_LITTLE_ENDIAN__)
static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__, "torch.save storages are read on a little-endian host only");
#endif

namespace bert {
namespace {

// The callables a state dict pickle may name. Nothing is looked up by name at run time: each
// allowed (module, name) pair maps to one of these, and REDUCE dispatches on the enum.
enum class Callable { OrderedDict, RebuildTensorV2, RebuildParameter, RebuildParameterWithState, StorageType };

struct AllowedGlobal {
  const char* module;
  const char* name;
  Callable callable;
  at::ScalarType dtype;  // for storage types
};

constexpr AllowedGlobal kAllowedGlobals[] = {
    {"collections", "OrderedDict", Callable::OrderedDict, at::ScalarType::Undefined},
    {"torch._utils", "_rebuild_tensor_v2", Callable::RebuildTensorV2, at::ScalarType::Undefined},
    {"torch._utils", "_rebuild_parameter", Callable::RebuildParameter, at::ScalarType::Undefined},
    {"torch._utils", "_rebuild_parameter_with_state", Callable::RebuildParameterWithState, at::ScalarType::Undefined},
    // torch.save (1.x and 2.x) names typed storages by these legacy class names in persistent ids.
    {"torch", "FloatStorage", Callable::StorageType, at::kFloat},
    {"torch", "DoubleStorage", Callable::StorageType, at::kDouble},
    {"torch", "HalfStorage", Callable::StorageType, at::kHalf},
    {"torch", "BFloat16Storage", Callable::StorageType, at::kBFloat16},
    {"torch", "LongStorage", Callable::StorageType, at::kLong},
    {"torch", "IntStorage", Callable::StorageType, at::kInt},
    {"torch", "ShortStorage", Callable::StorageType, at::kShort},
    {"torch", "CharStorage", Callable::StorageType, at::kChar},
    {"torch", "ByteStorage", Callable::StorageType, at::kByte},
    {"torch", "BoolStorage", Callable::StorageType, at::kBool},
};

enum class Kind : uint8_t { None, Bool, Int, Float, Str, Tuple, List, Dict, Global, Storage, Tensor };

// One unpickled value. All objects live in the unpickler's arena and refer to each other by raw
// pointer, so memo references (BINGET) are O(1) and reference cycles (a list appended to itself)
// cannot leak: everything is freed with the arena.
struct Object {
  explicit Object(Kind k) : kind(k) {}
  Kind kind;
  bool flag = false;                                 // Bool: the value; Dict: is an OrderedDict
  int64_t integer = 0;                               // Int: the value; Storage: numel
  double real = 0;                                   // Float
  std::string text;                                  // Str: the value; Storage: its key; Global: "module.name"
  std::vector<Object*> items;                        // Tuple, List
  std::vector<std::pair<Object*, Object*>> entries;  // Dict, in insertion order
  std::unique_ptr<std::unordered_map<std::string_view, size_t>> str_keys;  // Dict: str key -> entry index
  const AllowedGlobal* global = nullptr;                                   // Global
  at::ScalarType dtype = at::ScalarType::Undefined;                        // Storage
  c10::Storage storage;                                                    // Storage
  at::Tensor tensor;                                                       // Tensor
};

const char* opcode_name(uint8_t op) {
  switch (op) {
    case '(':
      return "MARK";
    case '.':
      return "STOP";
    case '0':
      return "POP";
    case '1':
      return "POP_MARK";
    case '2':
      return "DUP";
    case 'F':
      return "FLOAT";
    case 'I':
      return "INT";
    case 'J':
      return "BININT";
    case 'K':
      return "BININT1";
    case 'L':
      return "LONG";
    case 'M':
      return "BININT2";
    case 'N':
      return "NONE";
    case 'P':
      return "PERSID";
    case 'Q':
      return "BINPERSID";
    case 'R':
      return "REDUCE";
    case 'S':
      return "STRING";
    case 'T':
      return "BINSTRING";
    case 'U':
      return "SHORT_BINSTRING";
    case 'V':
      return "UNICODE";
    case 'X':
      return "BINUNICODE";
    case 'a':
      return "APPEND";
    case 'b':
      return "BUILD";
    case 'c':
      return "GLOBAL";
    case 'd':
      return "DICT";
    case '}':
      return "EMPTY_DICT";
    case 'e':
      return "APPENDS";
    case 'g':
      return "GET";
    case 'h':
      return "BINGET";
    case 'i':
      return "INST";
    case 'j':
      return "LONG_BINGET";
    case 'l':
      return "LIST";
    case ']':
      return "EMPTY_LIST";
    case 'o':
      return "OBJ";
    case 'p':
      return "PUT";
    case 'q':
      return "BINPUT";
    case 'r':
      return "LONG_BINPUT";
    case 's':
      return "SETITEM";
    case 't':
      return "TUPLE";
    case ')':
      return "EMPTY_TUPLE";
    case 'u':
      return "SETITEMS";
    case 'G':
      return "BINFLOAT";
    case 0x80:
      return "PROTO";
    case 0x81:
      return "NEWOBJ";
    case 0x82:
      return "EXT1";
    case 0x83:
      return "EXT2";
    case 0x84:
      return "EXT4";
    case 0x85:
      return "TUPLE1";
    case 0x86:
      return "TUPLE2";
    case 0x87:
      return "TUPLE3";
    case 0x88:
      return "NEWTRUE";
    case 0x89:
      return "NEWFALSE";
    case 0x8a:
      return "LONG1";
    case 0x8b:
      return "LONG4";
    case 'B':
      return "BINBYTES";
    case 'C':
      return "SHORT_BINBYTES";
    case 0x8c:
      return "SHORT_BINUNICODE";
    case 0x8d:
      return "BINUNICODE8";
    case 0x8e:
      return "BINBYTES8";
    case 0x8f:
      return "EMPTY_SET";
    case 0x90:
      return "ADDITEMS";
    case 0x91:
      return "FROZENSET";
    case 0x92:
      return "NEWOBJ_EX";
    case 0x93:
      return "STACK_GLOBAL";
    case 0x94:
      return "MEMOIZE";
    case 0x95:
      return "FRAME";
    case 0x96:
      return "BYTEARRAY8";
    case 0x97:
      return "NEXT_BUFFER";
    case 0x98:
      return "READONLY_BUFFER";
    default:
      return nullptr;
  }
}

// Python decodes pickled text with 'utf-8', 'surrogatepass': well-formed UTF-8 where encoded
// surrogates (ED A0..BF xx) are tolerated.
bool is_utf8_surrogatepass(const char* s, size_t n) {
  const auto* p = reinterpret_cast<const unsigned char*>(s);
  size_t i = 0;
  while (i < n) {
    const unsigned c = p[i];
    size_t len;
    unsigned min;
    if (c < 0x80) {
      ++i;
      continue;
    }
    if (c >= 0xC2 && c <= 0xDF) {
      len = 2;
      min = 0x80;
    } else if (c >= 0xE0 && c <= 0xEF) {
      len = 3;
      min = 0x800;
    } else if (c >= 0xF0 && c <= 0xF4) {
      len = 4;
      min = 0x10000;
    } else
      return false;
    if (n - i < len) return false;
    unsigned cp = c & (0xFF >> (len + 1));
    for (size_t k = 1; k < len; ++k) {
      if ((p[i + k] & 0xC0) != 0x80) return false;
      cp = (cp << 6) | (p[i + k] & 0x3F);
    }
    if (cp < min || cp > 0x10FFFF) return false;
    i += len;
  }
  return true;
}

// Keeps error messages readable when a hostile file puts megabytes or control bytes in a name.
std::string printable(std::string_view s) {
  std::string out;
  for (const char c : s.substr(0, 200)) {
    const auto u = static_cast<unsigned char>(c);
    if (u < 0x20 || u == 0x7F) {
      char buf[8];
      std::snprintf(buf, sizeof(buf), "\\x%02x", u);
      out += buf;
    } else {
      out += c;
    }
  }
  if (s.size() > 200) out += "...";
  return out;
}

size_t element_size(at::ScalarType dtype) {
  switch (dtype) {
    case at::kDouble:
    case at::kLong:
      return 8;
    case at::kFloat:
    case at::kInt:
      return 4;
    case at::kHalf:
    case at::kBFloat16:
    case at::kShort:
      return 2;
    default:
      return 1;  // Char, Byte, Bool
  }
}

class Unpickler {
 public:
  Unpickler(const uint8_t* data, size_t size, const StorageLoader& load_storage, const std::string& file,
            const std::string& record)
      : data_(data), size_(size), load_storage_(load_storage), file_(file), record_(record) {}

  StateDict run() {
    Object* result = execute();
    return to_state_dict(result);
  }

 private:
  // ---- errors -------------------------------------------------------------------------------

  [[noreturn]] void fail(const std::string& what) const {
    throw CheckpointError(file_, what + " at byte " + std::to_string(op_pos_) + " of " + record_);
  }

  // When REDUCE builds a dict value, torch.save has pushed its key just below the (already popped)
  // callable: name it in errors so the user learns which tensor is broken.
  std::string building_key() const {
    if (stack_.size() <= frame_base() || stack_.back()->kind != Kind::Str) return "";
    return " (tensor '" + printable(stack_.back()->text) + "')";
  }

  std::string op_text(uint8_t op) const {
    char buf[48];
    const char* name = opcode_name(op);
    if (op >= 0x21 && op < 0x7F)
      std::snprintf(buf, sizeof(buf), "%s (0x%02x '%c')", name ? name : "unknown opcode", op, op);
    else
      std::snprintf(buf, sizeof(buf), "%s (0x%02x)", name ? name : "unknown opcode", op);
    return buf;
  }

  static const char* kind_name(const Object* o) {
    switch (o->kind) {
      case Kind::None:
        return "None";
      case Kind::Bool:
        return "bool";
      case Kind::Int:
        return "int";
      case Kind::Float:
        return "float";
      case Kind::Str:
        return "str";
      case Kind::Tuple:
        return "tuple";
      case Kind::List:
        return "list";
      case Kind::Dict:
        return o->flag ? "OrderedDict" : "dict";
      case Kind::Global:
        return "global";
      case Kind::Storage:
        return "storage";
      case Kind::Tensor:
        return "tensor";
    }
    return "object";
  }

  // ---- input --------------------------------------------------------------------------------

  const uint8_t* take(size_t n) {
    if (n > size_ - pos_)
      fail(op_text(op_) + " needs " + std::to_string(n) + " bytes but only " + std::to_string(size_ - pos_) +
           " remain");
    const uint8_t* p = data_ + pos_;
    pos_ += n;
    return p;
  }

  uint64_t read_le(size_t n) {
    const uint8_t* p = take(n);
    uint64_t v = 0;
    for (size_t i = n; i-- > 0;) v = (v << 8) | p[i];
    return v;
  }

  std::string_view read_line() {
    const void* nl = std::memchr(data_ + pos_, '\n', size_ - pos_);
    if (!nl) fail(op_text(op_) + " argument is not terminated by a newline");
    const auto* end = static_cast<const uint8_t*>(nl);
    std::string_view line(reinterpret_cast<const char*>(data_ + pos_), static_cast<size_t>(end - (data_ + pos_)));
    pos_ = static_cast<size_t>(end - data_) + 1;
    return line;
  }

  // ---- objects and stack --------------------------------------------------------------------

  Object* make(Kind kind) { return &arena_.emplace_back(kind); }

  Object* make_int(int64_t v) {
    Object* o = make(Kind::Int);
    o->integer = v;
    return o;
  }

  Object* make_str(const uint8_t* p, size_t n) {
    if (!is_utf8_surrogatepass(reinterpret_cast<const char*>(p), n)) fail(op_text(op_) + " string is not valid UTF-8");
    Object* o = make(Kind::Str);
    o->text.assign(reinterpret_cast<const char*>(p), n);
    return o;
  }

  // The stack above the innermost MARK: like Python's unpickler, which starts a fresh stack at
  // each MARK, nothing may pop below it.
  size_t frame_base() const { return marks_.empty() ? 0 : marks_.back(); }

  void push(Object* o) { stack_.push_back(o); }

  Object* pop() {
    if (stack_.size() <= frame_base()) fail(op_text(op_) + ": unpickling stack underflow");
    Object* o = stack_.back();
    stack_.pop_back();
    return o;
  }

  Object* top() {
    if (stack_.size() <= frame_base()) fail(op_text(op_) + ": unpickling stack underflow");
    return stack_.back();
  }

  std::vector<Object*> pop_mark() {
    if (marks_.empty()) fail(op_text(op_) + " without a preceding MARK");
    const size_t base = marks_.back();
    marks_.pop_back();
    std::vector<Object*> items(stack_.begin() + static_cast<std::ptrdiff_t>(base), stack_.end());
    stack_.resize(base);
    return items;
  }

  void memo_put(uint64_t index) { memo_[index] = top(); }

  Object* memo_get(uint64_t index) {
    const auto it = memo_.find(index);
    if (it == memo_.end()) fail(op_text(op_) + " of memo index " + std::to_string(index) + ", which was never stored");
    return it->second;
  }

  void dict_set(Object* dict, Object* key, Object* value) {
    switch (key->kind) {
      case Kind::List:
      case Kind::Dict:
        fail(op_text(op_) + ": a " + std::string(kind_name(key)) + " cannot be a dict key");
      default:
        break;
    }
    if (key->kind == Kind::Str) {
      // Python semantics: setting an existing key replaces its value in place.
      if (!dict->str_keys) dict->str_keys = std::make_unique<std::unordered_map<std::string_view, size_t>>();
      const auto found = dict->str_keys->emplace(std::string_view(key->text), dict->entries.size());
      if (!found.second) {
        dict->entries[found.first->second].second = value;
        return;
      }
    }
    dict->entries.emplace_back(key, value);
  }

  Object* dict_below(const char* what) {
    Object* target = top();
    if (target->kind != Kind::Dict) fail(std::string(what) + " on a " + kind_name(target) + ", expected a dict");
    return target;
  }

  // ---- globals, persistent ids, calls -------------------------------------------------------

  Object* find_class(std::string_view module, std::string_view name) {
    for (const auto& g : kAllowedGlobals) {
      if (module == g.module && name == g.name) {
        Object* o = make(Kind::Global);
        o->global = &g;
        o->text = std::string(module) + "." + std::string(name);
        return o;
      }
    }
    throw CheckpointError(file_, "disallowed global '" + printable(std::string(module) + "." + std::string(name)) +
                                     "' in " + record_ + " (only state-dict globals are allowed)");
  }

  static bool is_int(const Object* o) { return o->kind == Kind::Int; }

  Object* persistent_load(Object* pid) {
    if (pid->kind != Kind::Tuple || pid->items.size() != 5 || pid->items[0]->kind != Kind::Str ||
        pid->items[0]->text != "storage")
      fail("persistent id is not ('storage', StorageType, key, location, numel)");
    Object* type = pid->items[1];
    Object* key = pid->items[2];
    Object* location = pid->items[3];
    Object* numel = pid->items[4];
    if (type->kind != Kind::Global || type->global->callable != Callable::StorageType)
      fail("persistent id names a " + std::string(kind_name(type)) +
           (type->kind == Kind::Global ? " " + type->text : "") + " where a torch.*Storage type belongs");
    if (key->kind != Kind::Str || location->kind != Kind::Str || !is_int(numel))
      fail("persistent id is not ('storage', StorageType, str key, str location, int numel)");
    if (numel->integer < 0)
      fail("storage '" + printable(key->text) + "' has negative numel " + std::to_string(numel->integer));
    const at::ScalarType dtype = type->global->dtype;

    const auto cached = storages_.find(key->text);
    if (cached != storages_.end()) {
      Object* s = cached->second;
      if (s->dtype != dtype || s->integer != numel->integer)
        fail("storage '" + printable(key->text) + "' is declared twice with different types or sizes (" +
             std::string(c10::toString(s->dtype)) + " x " + std::to_string(s->integer) + " vs " +
             std::string(c10::toString(dtype)) + " x " + std::to_string(numel->integer) + ")");
      return s;
    }
    uint64_t nbytes = 0;
    if (__builtin_mul_overflow(static_cast<uint64_t>(numel->integer), static_cast<uint64_t>(element_size(dtype)),
                               &nbytes) ||
        nbytes > static_cast<uint64_t>(std::numeric_limits<int64_t>::max()))
      fail("storage '" + printable(key->text) + "' numel " + std::to_string(numel->integer) +
           " overflows its byte size");
    c10::Storage storage = load_storage_(key->text, static_cast<size_t>(nbytes));
    if (static_cast<uint64_t>(storage.nbytes()) != nbytes)
      throw CheckpointError(file_, "storage '" + printable(key->text) + "' (record data/" + printable(key->text) +
                                       ") holds " + std::to_string(storage.nbytes()) + " bytes but " +
                                       type->global->name + " of " + std::to_string(numel->integer) +
                                       " elements needs " + std::to_string(nbytes));
    Object* s = make(Kind::Storage);
    s->text = key->text;
    s->dtype = dtype;
    s->integer = numel->integer;
    s->storage = std::move(storage);
    storages_.emplace(s->text, s);
    return s;
  }

  std::vector<int64_t> int_tuple(Object* o, const char* what) {
    if (o->kind != Kind::Tuple)
      fail(std::string("_rebuild_tensor_v2 ") + what + " is a " + kind_name(o) + ", expected a tuple of ints");
    std::vector<int64_t> out;
    out.reserve(o->items.size());
    for (Object* item : o->items) {
      if (!is_int(item))
        fail(std::string("_rebuild_tensor_v2 ") + what + " holds a " + kind_name(item) + ", expected ints");
      if (item->integer < 0)
        fail(std::string("_rebuild_tensor_v2 ") + what + " holds the negative value " + std::to_string(item->integer));
      out.push_back(item->integer);
    }
    return out;
  }

  // torch._utils._rebuild_tensor_v2(storage, storage_offset, size, stride, requires_grad,
  // backward_hooks[, metadata]). Bounds are checked here, with overflow checks, before LibTorch sees
  // the numbers: a missing check of this kind was CVE-2026-24747 in torch.load itself.
  Object* rebuild_tensor(const std::vector<Object*>& args) {
    try {
      return rebuild_tensor_checked(args);
    } catch (const CheckpointError& e) {
      throw CheckpointError(file_, e.detail + building_key(), e.code());
    }
  }

  Object* rebuild_tensor_checked(const std::vector<Object*>& args) {
    if (args.size() != 6 && args.size() != 7)
      fail("_rebuild_tensor_v2 takes 6 or 7 arguments, got " + std::to_string(args.size()));
    Object* storage = args[0];
    if (storage->kind != Kind::Storage)
      fail("_rebuild_tensor_v2 storage argument is a " + std::string(kind_name(storage)) +
           ", expected a persistent storage");
    if (!is_int(args[1]))
      fail("_rebuild_tensor_v2 storage_offset is a " + std::string(kind_name(args[1])) + ", expected an int");
    const int64_t offset = args[1]->integer;
    if (offset < 0) fail("_rebuild_tensor_v2 storage_offset " + std::to_string(offset) + " is negative");
    const std::vector<int64_t> sizes = int_tuple(args[2], "size");
    const std::vector<int64_t> strides = int_tuple(args[3], "stride");
    if (sizes.size() != strides.size())
      fail("_rebuild_tensor_v2 size has " + std::to_string(sizes.size()) + " dimensions but stride has " +
           std::to_string(strides.size()));
    if (args[4]->kind != Kind::Bool && !is_int(args[4]))
      fail("_rebuild_tensor_v2 requires_grad is a " + std::string(kind_name(args[4])) + ", expected a bool");
    if (args[5]->kind != Kind::Dict || !args[5]->entries.empty())
      fail("_rebuild_tensor_v2 backward_hooks must be an empty OrderedDict");
    if (args.size() == 7 && args[6]->kind != Kind::Dict && args[6]->kind != Kind::None)
      fail("_rebuild_tensor_v2 metadata is a " + std::string(kind_name(args[6])) + ", expected a dict");

    const at::ScalarType dtype = storage->dtype;
    const auto options = at::TensorOptions().dtype(dtype);
    uint64_t numel = 1;
    bool empty = false;
    for (const int64_t s : sizes) {
      empty |= s == 0;
      if (__builtin_mul_overflow(numel, static_cast<uint64_t>(s), &numel)) numel = UINT64_MAX;
    }
    Object* result = make(Kind::Tensor);
    if (empty) {
      // No element is ever read, so offset and strides are irrelevant (LibTorch checks none of them
      // for empty tensors either); an owning empty tensor keeps nothing of the storage alive.
      result->tensor = at::empty(sizes, options);
      return result;
    }
    uint64_t nbytes = 0;
    if (numel == UINT64_MAX || __builtin_mul_overflow(numel, static_cast<uint64_t>(element_size(dtype)), &nbytes) ||
        nbytes > static_cast<uint64_t>(std::numeric_limits<int64_t>::max()))
      fail("_rebuild_tensor_v2 size has too many elements (overflow)");
    // The last element sits at offset + sum((size_i - 1) * stride_i); it must lie inside the storage.
    uint64_t last = static_cast<uint64_t>(offset);
    for (size_t i = 0; i < sizes.size(); ++i) {
      uint64_t step = 0;
      if (__builtin_mul_overflow(static_cast<uint64_t>(sizes[i] - 1), static_cast<uint64_t>(strides[i]), &step) ||
          __builtin_add_overflow(last, step, &last))
        fail("_rebuild_tensor_v2 storage_offset/size/stride overflow");
    }
    if (last >= static_cast<uint64_t>(storage->integer))
      fail("tensor (storage_offset " + std::to_string(offset) + ") reaches element " + std::to_string(last) +
           " of storage '" + printable(storage->text) + "', which has only " + std::to_string(storage->integer) +
           " elements");
    result->tensor = at::empty({0}, options).set_(storage->storage, offset, sizes, strides);
    return result;
  }

  Object* call(Object* callable, Object* args) {
    if (callable->kind != Kind::Global)
      fail("REDUCE on a " + std::string(kind_name(callable)) + ", which is not callable");
    if (args->kind != Kind::Tuple)
      fail("REDUCE arguments are a " + std::string(kind_name(args)) + ", expected a tuple");
    const std::vector<Object*>& a = args->items;
    switch (callable->global->callable) {
      case Callable::OrderedDict: {
        if (!a.empty()) fail("collections.OrderedDict is only allowed with no arguments");
        Object* dict = make(Kind::Dict);
        dict->flag = true;
        return dict;
      }
      case Callable::RebuildTensorV2:
        return rebuild_tensor(a);
      case Callable::RebuildParameter:
      case Callable::RebuildParameterWithState: {
        // (data, requires_grad, backward_hooks[, state]): a Parameter is just its tensor here.
        const size_t expected = callable->global->callable == Callable::RebuildParameter ? 3 : 4;
        if (a.size() != expected || a[0]->kind != Kind::Tensor)
          fail(callable->text + " takes " + std::to_string(expected) + " arguments starting with a tensor");
        if (a[2]->kind != Kind::Dict || !a[2]->entries.empty())
          fail(callable->text + " backward_hooks must be an empty OrderedDict");
        return a[0];
      }
      case Callable::StorageType:
        break;
    }
    fail("REDUCE on " + callable->text + " is not allowed (storage types only appear in persistent ids)");
  }

  // ---- the interpreter ----------------------------------------------------------------------

  Object* execute() {
    while (true) {
      if (pos_ >= size_) {
        op_pos_ = size_;
        fail("pickle data ends without a STOP opcode");
      }
      op_pos_ = pos_;
      op_ = data_[pos_++];
      switch (op_) {
        case 0x80: {  // PROTO
          const uint64_t proto = read_le(1);
          if (proto > 5) fail("unsupported pickle protocol " + std::to_string(proto));
          break;
        }
        case 0x95: {  // FRAME: only a read-ahead hint; check it does not claim bytes past the end
          const uint64_t length = read_le(8);
          if (length > size_ - pos_)
            fail("FRAME of " + std::to_string(length) + " bytes exceeds the remaining " + std::to_string(size_ - pos_));
          break;
        }
        case 'c': {  // GLOBAL "module\nname\n"
          const std::string_view module = read_line();
          const std::string_view name = read_line();
          push(find_class(module, name));
          break;
        }
        case 0x93: {  // STACK_GLOBAL
          Object* name = pop();
          Object* module = pop();
          if (module->kind != Kind::Str || name->kind != Kind::Str) fail("STACK_GLOBAL needs two strings");
          push(find_class(module->text, name->text));
          break;
        }
        case 'q':
          memo_put(read_le(1));
          break;  // BINPUT
        case 'r':
          memo_put(read_le(4));
          break;  // LONG_BINPUT
        case 0x94:
          memo_put(memo_.size());
          break;  // MEMOIZE
        case 'h':
          push(memo_get(read_le(1)));
          break;  // BINGET
        case 'j':
          push(memo_get(read_le(4)));
          break;  // LONG_BINGET
        case '(':
          marks_.push_back(stack_.size());
          break;  // MARK
        case '}':
          push(make(Kind::Dict));
          break;  // EMPTY_DICT
        case ']':
          push(make(Kind::List));
          break;  // EMPTY_LIST
        case ')':
          push(make(Kind::Tuple));
          break;     // EMPTY_TUPLE
        case 't': {  // TUPLE
          Object* t = make(Kind::Tuple);
          t->items = pop_mark();
          push(t);
          break;
        }
        case 0x85:
        case 0x86:
        case 0x87: {  // TUPLE1..3
          const size_t n = static_cast<size_t>(op_ - 0x84);
          Object* t = make(Kind::Tuple);
          t->items.resize(n);
          for (size_t i = n; i-- > 0;) t->items[i] = pop();
          push(t);
          break;
        }
        case 'J':
          push(make_int(static_cast<int32_t>(static_cast<uint32_t>(read_le(4)))));
          break;  // BININT
        case 'K':
          push(make_int(static_cast<int64_t>(read_le(1))));
          break;  // BININT1
        case 'M':
          push(make_int(static_cast<int64_t>(read_le(2))));
          break;      // BININT2
        case 0x8a: {  // LONG1: little-endian two's complement of n bytes
          const size_t n = static_cast<size_t>(read_le(1));
          if (n > 8) fail("LONG1 integer of " + std::to_string(n) + " bytes does not fit in 64 bits");
          const uint8_t* p = take(n);
          uint64_t v = 0;
          for (size_t i = n; i-- > 0;) v = (v << 8) | p[i];
          if (n > 0 && n < 8 && (p[n - 1] & 0x80)) v |= ~uint64_t{0} << (8 * n);  // sign-extend
          int64_t s;
          std::memcpy(&s, &v, sizeof(s));
          push(make_int(s));
          break;
        }
        case 'N':
          push(&none_);
          break;
        case 0x88:
          push(&true_);
          break;
        case 0x89:
          push(&false_);
          break;
        case 'G': {  // BINFLOAT: big-endian IEEE double
          const uint8_t* p = take(8);
          uint64_t bits = 0;
          for (int i = 0; i < 8; ++i) bits = (bits << 8) | p[i];
          Object* o = make(Kind::Float);
          std::memcpy(&o->real, &bits, sizeof(bits));
          push(o);
          break;
        }
        case 'X': {
          const size_t n = static_cast<size_t>(read_le(4));
          push(make_str(take(n), n));
          break;
        }  // BINUNICODE
        case 0x8c: {
          const size_t n = static_cast<size_t>(read_le(1));
          push(make_str(take(n), n));
          break;
        }             // SHORT_BINUNICODE
        case 0x8d: {  // BINUNICODE8
          const uint64_t n = read_le(8);
          if (n > size_ - pos_) fail("BINUNICODE8 length " + std::to_string(n) + " exceeds the remaining data");
          push(make_str(take(static_cast<size_t>(n)), static_cast<size_t>(n)));
          break;
        }
        case 'U': {
          const size_t n = static_cast<size_t>(read_le(1));
          push(make_str(take(n), n));
          break;
        }            // SHORT_BINSTRING
        case 'T': {  // BINSTRING (signed length; torch.load decodes these as UTF-8)
          const int32_t n = static_cast<int32_t>(static_cast<uint32_t>(read_le(4)));
          if (n < 0) fail("BINSTRING has a negative length");
          push(make_str(take(static_cast<size_t>(n)), static_cast<size_t>(n)));
          break;
        }
        case 'Q':
          push(persistent_load(pop()));
          break;     // BINPERSID
        case 'R': {  // REDUCE
          Object* args = pop();
          Object* callable = pop();
          push(call(callable, args));
          break;
        }
        case 'b': {  // BUILD: only an OrderedDict's attribute dict ({'_metadata': ...}), ignored
          Object* state = pop();
          Object* target = top();
          if (target->kind != Kind::Dict || !target->flag)
            fail("BUILD on a " + std::string(kind_name(target)) + " (only an OrderedDict's state is accepted)");
          if (state->kind != Kind::Dict && state->kind != Kind::None)
            fail("BUILD state is a " + std::string(kind_name(state)) + ", expected a dict");
          break;
        }
        case 's': {  // SETITEM
          Object* value = pop();
          Object* key = pop();
          dict_set(dict_below("SETITEM"), key, value);
          break;
        }
        case 'u': {  // SETITEMS
          std::vector<Object*> items = pop_mark();
          if (items.size() % 2) fail("SETITEMS with an odd number of items");
          Object* dict = dict_below("SETITEMS");
          for (size_t i = 0; i < items.size(); i += 2) dict_set(dict, items[i], items[i + 1]);
          break;
        }
        case 'a': {  // APPEND
          Object* value = pop();
          Object* list = top();
          if (list->kind != Kind::List) fail("APPEND on a " + std::string(kind_name(list)) + ", expected a list");
          list->items.push_back(value);
          break;
        }
        case 'e': {  // APPENDS
          std::vector<Object*> items = pop_mark();
          Object* list = top();
          if (list->kind != Kind::List) fail("APPENDS on a " + std::string(kind_name(list)) + ", expected a list");
          list->items.insert(list->items.end(), items.begin(), items.end());
          break;
        }
        case '.': {  // STOP
          if (!marks_.empty()) fail("STOP with an unclosed MARK");
          if (stack_.size() != 1)
            fail("STOP with " + std::to_string(stack_.size()) + " values on the stack, expected 1");
          return stack_.back();
        }
        default:
          fail("unsupported pickle opcode " + op_text(op_));
      }
    }
  }

  StateDict to_state_dict(Object* result) {
    op_pos_ = pos_;
    if (result->kind != Kind::Dict)
      throw CheckpointError(file_, record_ + " holds a " + std::string(kind_name(result)) +
                                       ", expected a state dict (dict of str -> tensor)");
    StateDict out;
    out.reserve(result->entries.size());
    for (const auto& [key, value] : result->entries) {
      if (key->kind != Kind::Str)
        throw CheckpointError(file_, "state dict key is a " + std::string(kind_name(key)) + ", expected a str");
      if (value->kind != Kind::Tensor)
        throw CheckpointError(file_, "state dict entry '" + printable(key->text) + "' is a " + kind_name(value) +
                                         ", expected a tensor (only flat state dicts of tensors are supported)");
      out.emplace_back(key->text, value->tensor);
    }
    return out;
  }

  const uint8_t* data_;
  size_t size_;
  const StorageLoader& load_storage_;
  const std::string& file_;
  const std::string& record_;
  size_t pos_ = 0;
  size_t op_pos_ = 0;
  uint8_t op_ = 0;
  std::deque<Object> arena_;
  std::vector<Object*> stack_;
  std::vector<size_t> marks_;
  std::unordered_map<uint64_t, Object*> memo_;
  std::unordered_map<std::string, Object*> storages_;
  Object none_{Kind::None};
  Object true_ = [] {
    Object o(Kind::Bool);
    o.flag = true;
    return o;
  }();
  Object false_{Kind::Bool};
};

}  // namespace

StateDict read_pickled_state_dict(const uint8_t* data, size_t size, const StorageLoader& load_storage,
                                  const std::string& file_for_errors, const std::string& record_for_errors) {
  return with_file_context(file_for_errors, "cannot read", ErrorCode::BadCheckpoint, [&] {
    Unpickler unpickler(data, size, load_storage, file_for_errors, record_for_errors);
    return unpickler.run();
  });
}

}  // namespace bert
