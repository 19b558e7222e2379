#include "pickle_writer.h"

#include <cstdint>
#include <cstring>
#include <unordered_map>

#include "checkpoint_error.h"

namespace bert {
namespace {

// The legacy storage class torch.save names for each dtype in persistent ids.
const char* storage_class(at::ScalarType dtype) {
  switch (dtype) {
    case at::kFloat:
      return "FloatStorage";
    case at::kDouble:
      return "DoubleStorage";
    case at::kHalf:
      return "HalfStorage";
    case at::kBFloat16:
      return "BFloat16Storage";
    case at::kLong:
      return "LongStorage";
    case at::kInt:
      return "IntStorage";
    case at::kShort:
      return "ShortStorage";
    case at::kChar:
      return "CharStorage";
    case at::kByte:
      return "ByteStorage";
    case at::kBool:
      return "BoolStorage";
    default:
      return nullptr;
  }
}

// Python's pickle.Pickler (protocol 2) for the few object kinds a state dict contains. Python memoizes
// by object identity; we mirror which objects are identical in torch.save: the OrderedDict class, the
// _rebuild_tensor_v2 function, each storage class, the constant strings 'storage' and 'cpu', and each
// storage's key string (shared by tensors on one storage). Everything else is a fresh object per use.
class Pickler {
 public:
  std::string out;

  void proto() { out += "\x80\x02"; }
  void op(char c) { out += c; }

  // BINPUT/LONG_BINPUT with the next memo index; returns it.
  uint32_t memoize() {
    const uint32_t index = next_memo_++;
    if (index < 256) {
      out += 'q';
      out += static_cast<char>(index);
    } else {
      out += 'r';
      put_le(index, 4);
    }
    return index;
  }

  void get(uint32_t index) {
    if (index < 256) {
      out += 'h';
      out += static_cast<char>(index);
    } else {
      out += 'j';
      put_le(index, 4);
    }
  }

  // save_long: BININT1 / BININT2 / BININT / LONG1 with the minimal two's complement encoding.
  void integer(int64_t v) {
    if (v >= 0 && v <= 0xff) {
      out += 'K';
      put_le(static_cast<uint64_t>(v), 1);
    } else if (v >= 0 && v <= 0xffff) {
      out += 'M';
      put_le(static_cast<uint64_t>(v), 2);
    } else if (v >= INT32_MIN && v <= INT32_MAX) {
      out += 'J';
      put_le(static_cast<uint64_t>(static_cast<uint32_t>(static_cast<int32_t>(v))), 4);
    } else {
      // Python's encode_long: nbytes = bit_length(|v|) // 8 + 1 bytes of two's complement, then a
      // redundant trailing 0xff sign byte of a negative number is dropped.
      uint64_t u;
      std::memcpy(&u, &v, sizeof(u));
      const uint64_t magnitude = v < 0 ? 0 - u : u;
      const int bits = 64 - __builtin_clzll(magnitude);  // magnitude > 0xffff here
      size_t nbytes = static_cast<size_t>(bits / 8 + 1);
      const auto byte = [&](size_t i) { return i < 8 ? static_cast<uint8_t>(u >> (8 * i)) : uint8_t{0xff}; };
      if (v < 0 && nbytes > 1 && byte(nbytes - 1) == 0xff && (byte(nbytes - 2) & 0x80)) --nbytes;
      out += '\x8a';
      out += static_cast<char>(nbytes);
      put_le(u, nbytes);
    }
  }

  // BINUNICODE (protocol 2 never uses the short or 8-byte forms) followed by a memo entry.
  uint32_t unicode(const std::string& s) {
    out += 'X';
    put_le(s.size(), 4);
    out += s;
    return memoize();
  }

  uint32_t global(const char* module, const char* name) {
    out += 'c';
    out += module;
    out += '\n';
    out += name;
    out += '\n';
    return memoize();
  }

  // save_tuple for a tuple of ints: () is not memoized; 1-3 items use TUPLE1-3, longer ones MARK..TUPLE.
  void int_tuple(at::IntArrayRef values) {
    if (values.empty()) {
      out += ')';
      return;
    }
    if (values.size() > 3) out += '(';
    for (const int64_t v : values) integer(v);
    out += values.size() > 3 ? 't' : static_cast<char>(0x84 + values.size());
    memoize();
  }

 private:
  void put_le(uint64_t v, size_t n) {
    for (size_t i = 0; i < n; ++i) out += static_cast<char>(static_cast<uint8_t>(v >> (8 * i)));
  }
  uint32_t next_memo_ = 0;
};

// Lazily memoized object: the first use writes it (and memoizes), later uses BINGET it.
struct Memo {
  bool set = false;
  uint32_t index = 0;
};

}  // namespace

PickledStateDict pickle_state_dict(const StateDict& tensors, const std::string& file) {
  PickledStateDict result;
  Pickler p;
  Memo rebuild, storage_str, cpu_str;
  std::unordered_map<int, Memo> storage_classes;  // by dtype
  struct StorageEntry {
    std::string key;
    uint32_t key_memo;
    at::ScalarType dtype;
  };
  std::unordered_map<const void*, StorageEntry> storages;  // by StorageImpl, like torch.save's id_map

  p.proto();
  const uint32_t ordered_dict_class = p.global("collections", "OrderedDict");
  p.op(')');
  p.op('R');
  p.memoize();

  // Python's _batch_setitems: batches of 1000; a batch of one item is written with SETITEM.
  constexpr size_t kBatch = 1000;
  for (size_t start = 0; start < tensors.size(); start += kBatch) {
    const size_t end = std::min(tensors.size(), start + kBatch);
    if (end - start > 1) p.op('(');
    for (size_t i = start; i < end; ++i) {
      const auto& [name, tensor] = tensors[i];
      if (!tensor.defined()) throw CheckpointWriteError(file, "tensor '" + name + "' is undefined");
      if (tensor.layout() != at::kStrided)
        throw CheckpointWriteError(file, "tensor '" + name + "' is not a dense (strided) tensor");
      const char* cls = storage_class(tensor.scalar_type());
      if (!cls)
        throw CheckpointWriteError(file, "tensor '" + name + "' has dtype " +
                                             std::string(c10::toString(tensor.scalar_type())) +
                                             ", which torch.save files of this library cannot hold");
      const c10::Storage& storage = tensor.storage();
      const size_t itemsize = tensor.element_size();
      const size_t nbytes = storage.nbytes();
      if (nbytes % itemsize)
        throw CheckpointWriteError(file, "tensor '" + name + "': its storage of " + std::to_string(nbytes) +
                                             " bytes is not a whole number of " +
                                             std::string(c10::toString(tensor.scalar_type())) + " elements");

      p.unicode(name);
      // save_reduce(_rebuild_tensor_v2, args): the function, then the 6-tuple of arguments.
      if (rebuild.set)
        p.get(rebuild.index);
      else
        rebuild = {true, p.global("torch._utils", "_rebuild_tensor_v2")};
      p.op('(');
      // Argument 0, the storage, goes out as persistent id ('storage', torch.XStorage, key, 'cpu', numel).
      p.op('(');
      if (storage_str.set)
        p.get(storage_str.index);
      else
        storage_str = {true, p.unicode("storage")};
      Memo& cls_memo = storage_classes[static_cast<int>(tensor.scalar_type())];
      if (cls_memo.set)
        p.get(cls_memo.index);
      else
        cls_memo = {true, p.global("torch", cls)};
      const void* impl = storage.unsafeGetStorageImpl();
      auto found = storages.find(impl);
      if (found != storages.end()) {
        if (found->second.dtype != tensor.scalar_type())
          throw CheckpointWriteError(
              file, "tensor '" + name +
                        "' shares its storage with a tensor of another dtype, which torch.save cannot represent");
        p.get(found->second.key_memo);
      } else {
        StorageEntry entry{std::to_string(storages.size()), 0, tensor.scalar_type()};
        entry.key_memo = p.unicode(entry.key);
        // The whole storage as bytes, whatever part of it this tensor views (torch.save does the same).
        at::Tensor bytes =
            at::empty({0}, tensor.options().dtype(at::kByte)).set_(storage, 0, {static_cast<int64_t>(nbytes)}, {1});
        result.storages.emplace_back(entry.key, std::move(bytes));
        found = storages.emplace(impl, std::move(entry)).first;
      }
      if (cpu_str.set)
        p.get(cpu_str.index);
      else
        cpu_str = {true, p.unicode("cpu")};
      p.integer(static_cast<int64_t>(nbytes / itemsize));
      p.op('t');
      p.memoize();
      p.op('Q');  // BINPERSID
      // Arguments 1-5: storage_offset, size, stride, requires_grad (False in a state dict), hooks.
      p.integer(tensor.storage_offset());
      p.int_tuple(tensor.sizes());
      p.int_tuple(tensor.strides());
      p.op('\x89');  // NEWFALSE
      p.get(ordered_dict_class);
      p.op(')');
      p.op('R');
      p.memoize();
      p.op('t');
      p.memoize();
      p.op('R');
      p.memoize();
    }
    p.op(end - start > 1 ? 'u' : 's');
  }
  p.op('.');
  result.data_pkl = std::move(p.out);
  return result;
}

}  // namespace bert
