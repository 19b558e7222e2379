#include "safetensors.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <limits>
#include <string_view>
#include <unordered_set>

#include "atomic_file.h"
#include "checkpoint_error.h"
#include "simdjson.h"

// Tensor bytes are copied straight between the file and LibTorch memory, which is only right when
// the host is little-endian like the format.
#if defined(__BYTE_ORDER__) && defined(__ORDER_LITTLE_ENDIAN__)
static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__, "safetensors I/O assumes a little-endian host");
#endif

namespace bert {
namespace {

// The reference implementation's MAX_HEADER_SIZE: refuse to parse absurd headers.
constexpr uint64_t kMaxHeaderSize = 100000000;

struct DtypeInfo {
  const char* name;
  at::ScalarType type;
  size_t size;     // bytes per element (only meaningful when supported)
  bool supported;  // LibTorch 1.13 (our oldest target) has a matching dtype
};

// Every dtype name the reference knows. The ones LibTorch 1.13 lacks are recognised so that the error
// says "not supported" rather than "unknown" (which would suggest a corrupt file).
constexpr DtypeInfo kDtypes[] = {
    {"BOOL", at::kBool, 1, true},
    {"U8", at::kByte, 1, true},
    {"I8", at::kChar, 1, true},
    {"I16", at::kShort, 2, true},
    {"F16", at::kHalf, 2, true},
    {"BF16", at::kBFloat16, 2, true},
    {"I32", at::kInt, 4, true},
    {"F32", at::kFloat, 4, true},
    {"F64", at::kDouble, 8, true},
    {"I64", at::kLong, 8, true},
    {"U16", at::ScalarType::Undefined, 2, false},
    {"U32", at::ScalarType::Undefined, 4, false},
    {"U64", at::ScalarType::Undefined, 8, false},
    {"F8_E4M3", at::ScalarType::Undefined, 1, false},
    {"F8_E5M2", at::ScalarType::Undefined, 1, false},
    {"F8_E8M0", at::ScalarType::Undefined, 1, false},
    {"F4", at::ScalarType::Undefined, 1, false},
    {"F6_E2M3", at::ScalarType::Undefined, 1, false},
    {"F6_E3M2", at::ScalarType::Undefined, 1, false},
    {"C64", at::ScalarType::Undefined, 8, false},
};

const DtypeInfo* dtype_by_name(std::string_view name) {
  for (const auto& d : kDtypes)
    if (name == d.name) return &d;
  return nullptr;
}

const DtypeInfo* dtype_by_type(at::ScalarType type) {
  for (const auto& d : kDtypes)
    if (d.supported && d.type == type) return &d;
  return nullptr;
}

std::string quote_name(std::string_view s) { return "'" + std::string(s) + "'"; }

std::string shape_text(const std::vector<uint64_t>& shape) {
  std::string out = "[";
  for (size_t i = 0; i < shape.size(); ++i) out += (i ? ", " : "") + std::to_string(shape[i]);
  return out + "]";
}

// JSON string escaping exactly as serde_json writes it (the reference writer), so our headers are
// byte-identical to what the Rust library would produce for the same names.
void append_json_string(std::string& out, std::string_view s) {
  static const char kHex[] = "0123456789abcdef";
  out += '"';
  for (const char c : s) {
    const auto u = static_cast<unsigned char>(c);
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\b':
        out += "\\b";
        break;
      case '\f':
        out += "\\f";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\r':
        out += "\\r";
        break;
      case '\t':
        out += "\\t";
        break;
      default:
        if (u < 0x20) {
          out += "\\u00";
          out += kHex[u >> 4];
          out += kHex[u & 15];
        } else {
          out += c;
        }
    }
  }
  out += '"';
}

uint64_t load_le64(const uint8_t* p) {
  uint64_t v = 0;
  for (int i = 7; i >= 0; --i) v = (v << 8) | p[i];
  return v;
}

// A JSON array of non-negative integers (serde's Vec<usize>); false on anything else.
bool get_uint_array(simdjson::dom::element value, std::vector<uint64_t>& out) {
  simdjson::dom::array array;
  if (value.get_array().get(array)) return false;
  for (simdjson::dom::element item : array) {
    uint64_t v = 0;
    if (item.get_uint64().get(v)) return false;  // negative, fractional, or not a number
    out.push_back(v);
  }
  return true;
}

struct Entry {
  std::string name;
  const DtypeInfo* dtype = nullptr;
  std::vector<uint64_t> shape;
  uint64_t begin = 0, end = 0;
};

Entry parse_entry(const std::string& file, std::string_view name, simdjson::dom::element value) {
  Entry entry;
  entry.name = std::string(name);
  const std::string where = "tensor " + quote_name(name) + ": ";
  simdjson::dom::object object;
  if (value.get_object().get(object)) throw CheckpointError(file, where + "header entry is not a JSON object");
  bool has_dtype = false, has_shape = false, has_offsets = false;
  for (auto field : object) {
    if (field.key == "dtype") {
      if (has_dtype) throw CheckpointError(file, where + "duplicate field \"dtype\"");
      has_dtype = true;
      std::string_view dtype;
      if (field.value.get_string().get(dtype)) throw CheckpointError(file, where + "\"dtype\" is not a string");
      entry.dtype = dtype_by_name(dtype);
      if (!entry.dtype) throw CheckpointError(file, where + "unknown dtype " + quote_name(dtype));
      if (!entry.dtype->supported)
        throw CheckpointError(
            file, where + "dtype " + quote_name(dtype) +
                      " is not supported (expected one of F32, F16, BF16, F64, I64, I32, I16, I8, U8, BOOL)");
    } else if (field.key == "shape") {
      if (has_shape) throw CheckpointError(file, where + "duplicate field \"shape\"");
      has_shape = true;
      if (!get_uint_array(field.value, entry.shape))
        throw CheckpointError(file, where + "\"shape\" is not an array of non-negative integers");
    } else if (field.key == "data_offsets") {
      if (has_offsets) throw CheckpointError(file, where + "duplicate field \"data_offsets\"");
      has_offsets = true;
      std::vector<uint64_t> offsets;
      if (!get_uint_array(field.value, offsets) || offsets.size() != 2)
        throw CheckpointError(file, where + "\"data_offsets\" is not [begin, end] with non-negative integers");
      entry.begin = offsets[0];
      entry.end = offsets[1];
    }
    // Other fields are ignored, as serde ignores unknown fields of TensorInfo.
  }
  if (!has_dtype) throw CheckpointError(file, where + "missing field \"dtype\"");
  if (!has_shape) throw CheckpointError(file, where + "missing field \"shape\"");
  if (!has_offsets) throw CheckpointError(file, where + "missing field \"data_offsets\"");
  return entry;
}

void parse_metadata(const std::string& file, simdjson::dom::element value, SafetensorsMetadata* out) {
  if (value.is_null()) return;  // serde reads `null` as an absent Option
  simdjson::dom::object object;
  if (value.get_object().get(object)) throw CheckpointError(file, "\"__metadata__\" is not a JSON object of strings");
  std::unordered_set<std::string_view> seen;
  for (auto field : object) {
    std::string_view text;
    if (field.value.get_string().get(text))
      throw CheckpointError(file, "\"__metadata__\" value for " + quote_name(field.key) + " is not a string");
    if (!seen.insert(field.key).second)
      throw CheckpointError(file, "duplicate key " + quote_name(field.key) + " in \"__metadata__\"");
    if (out) out->emplace_back(std::string(field.key), std::string(text));
  }
}

// Maps a whole file read-only for the duration of a parse.
class MappedFile {
 public:
  explicit MappedFile(const std::string& path) {
    fd_ = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd_ < 0) throw CheckpointError(path, std::string("cannot open: ") + std::strerror(errno));
    struct stat st;
    if (::fstat(fd_, &st) != 0) fail(path, "cannot stat");
    if (S_ISDIR(st.st_mode)) {
      ::close(fd_);
      throw CheckpointError(path, "is a folder, not a safetensors file");
    }
    size_ = static_cast<size_t>(st.st_size);
    if (size_ == 0) return;  // mmap refuses empty files; the parser reports "too small"
    void* p = ::mmap(nullptr, size_, PROT_READ, MAP_PRIVATE, fd_, 0);
    if (p == MAP_FAILED) fail(path, "cannot map");
    data_ = static_cast<const uint8_t*>(p);
    ::madvise(p, size_, MADV_SEQUENTIAL);  // one pass, front to back
  }
  MappedFile(const MappedFile&) = delete;
  MappedFile& operator=(const MappedFile&) = delete;
  ~MappedFile() {
    if (data_) ::munmap(const_cast<uint8_t*>(data_), size_);
    if (fd_ >= 0) ::close(fd_);
  }
  const uint8_t* data() const { return data_ ? data_ : reinterpret_cast<const uint8_t*>(""); }
  size_t size() const { return size_; }

 private:
  [[noreturn]] void fail(const std::string& path, const char* what) {
    const int err = errno;
    ::close(fd_);
    fd_ = -1;
    throw CheckpointError(path, std::string(what) + ": " + std::strerror(err));
  }
  int fd_ = -1;
  const uint8_t* data_ = nullptr;
  size_t size_ = 0;
};

}  // namespace

std::string safetensors_dtype_name(at::ScalarType dtype) {
  const DtypeInfo* info = dtype_by_type(dtype);
  return info ? info->name : "";
}

namespace {

StateDict parse(const uint8_t* data, size_t size, const std::string& file, SafetensorsMetadata* metadata_out) {
  if (size < 8)
    throw CheckpointError(
        file, "not a safetensors file: " + std::to_string(size) + " bytes, fewer than the 8-byte header length");
  const uint64_t n = load_le64(data);
  if (n > kMaxHeaderSize)
    throw CheckpointError(file, "safetensors header length " + std::to_string(n) + " exceeds the limit of " +
                                    std::to_string(kMaxHeaderSize) + " bytes");
  if (n > size - 8)
    throw CheckpointError(file, "safetensors header length " + std::to_string(n) + " exceeds the " +
                                    std::to_string(size - 8) + " bytes after the length field");
  const char* header = reinterpret_cast<const char*>(data) + 8;
  if (n == 0 || header[0] != '{') throw CheckpointError(file, "safetensors header does not start with '{'");

  // simdjson validates UTF-8 and JSON syntax; it needs padding after the text, hence the copy.
  simdjson::padded_string json(header, static_cast<size_t>(n));
  simdjson::dom::parser parser;
  simdjson::dom::element root;
  if (auto error = parser.parse(json).get(root))
    throw CheckpointError(file,
                          std::string("safetensors header is not valid UTF-8 JSON: ") + simdjson::error_message(error));
  simdjson::dom::object object;
  if (root.get_object().get(object)) throw CheckpointError(file, "safetensors header is not a JSON object");

  std::vector<Entry> entries;
  std::unordered_set<std::string_view> seen;  // views into the parser's strings, alive while it is
  for (auto field : object) {
    if (!seen.insert(field.key).second)
      throw CheckpointError(file, "duplicate key " + quote_name(field.key) + " in the safetensors header");
    if (field.key == "__metadata__") {
      parse_metadata(file, field.value, metadata_out);
      continue;
    }
    entries.push_back(parse_entry(file, field.key, field.value));
  }

  // The reference's Metadata::validate: sorted by offsets, the ranges tile [0, data size) exactly.
  std::vector<size_t> order(entries.size());
  for (size_t i = 0; i < order.size(); ++i) order[i] = i;
  std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) {
    return std::make_pair(entries[a].begin, entries[a].end) < std::make_pair(entries[b].begin, entries[b].end);
  });
  uint64_t expected_begin = 0;
  for (const size_t i : order) {
    const Entry& e = entries[i];
    const std::string where = "tensor " + quote_name(e.name) + ": ";
    const std::string range = "data_offsets [" + std::to_string(e.begin) + ", " + std::to_string(e.end) + "]";
    if (e.begin != expected_begin || e.end < e.begin)
      throw CheckpointError(file, where + range + " do not follow the previous tensor's data (expected to begin at " +
                                      std::to_string(expected_begin) + "; gaps and overlaps are not allowed)");
    expected_begin = e.end;
    uint64_t elements = 1, torch_elements = 1;
    bool overflow = false;
    for (const uint64_t d : e.shape) {
      overflow |= __builtin_mul_overflow(elements, d, &elements);
      // LibTorch keeps sizes (and contiguous strides, products of max(size, 1)) as int64.
      overflow |= d > static_cast<uint64_t>(std::numeric_limits<int64_t>::max());
      overflow |= __builtin_mul_overflow(torch_elements, std::max<uint64_t>(d, 1), &torch_elements);
    }
    uint64_t bytes = 0;
    overflow |= __builtin_mul_overflow(elements, static_cast<uint64_t>(e.dtype->size), &bytes);
    overflow |= torch_elements > static_cast<uint64_t>(std::numeric_limits<int64_t>::max());
    if (overflow)
      throw CheckpointError(file, where + "shape " + shape_text(e.shape) + " is too large (size overflows)");
    if (e.end - e.begin != bytes)
      throw CheckpointError(file, where + range + " hold " + std::to_string(e.end - e.begin) + " bytes but dtype " +
                                      e.dtype->name + " and shape " + shape_text(e.shape) + " need " +
                                      std::to_string(bytes));
  }
  const uint64_t data_size = size - 8 - n;
  if (expected_begin != data_size)
    throw CheckpointError(file, "the tensors cover " + std::to_string(expected_begin) +
                                    " bytes of data but the file holds " + std::to_string(data_size) +
                                    " bytes after the header");

  const uint8_t* base = data + 8 + n;
  StateDict out;
  out.reserve(entries.size());
  for (const Entry& e : entries) {
    std::vector<int64_t> sizes(e.shape.begin(), e.shape.end());
    at::Tensor t = at::empty(sizes, at::TensorOptions().dtype(e.dtype->type));
    if (e.end > e.begin) std::memcpy(t.data_ptr(), base + e.begin, static_cast<size_t>(e.end - e.begin));
    out.emplace_back(e.name, std::move(t));
  }
  return out;
}

}  // namespace

StateDict parse_safetensors(const uint8_t* data, size_t size, const std::string& file,
                            SafetensorsMetadata* metadata_out) {
  return with_file_context(file, "cannot read", ErrorCode::BadCheckpoint,
                           [&] { return parse(data, size, file, metadata_out); });
}

StateDict read_safetensors(const std::string& path, SafetensorsMetadata* metadata_out) {
  MappedFile file(path);
  return parse_safetensors(file.data(), file.size(), path, metadata_out);
}

void write_safetensors(const std::string& path, const StateDict& tensors,
                       const std::vector<std::pair<std::string, std::string>>& metadata) {
  // Validate everything before creating a file, so a bad argument leaves no trace on disk.
  std::string header = "{";
  if (!metadata.empty()) {
    std::unordered_set<std::string_view> keys;
    header += "\"__metadata__\":{";
    for (size_t i = 0; i < metadata.size(); ++i) {
      const auto& [key, value] = metadata[i];
      if (!keys.insert(key).second) throw CheckpointWriteError(path, "duplicate metadata key " + quote_name(key));
      if (!simdjson::validate_utf8(key.data(), key.size()) || !simdjson::validate_utf8(value.data(), value.size()))
        throw CheckpointWriteError(path, "metadata key " + quote_name(key) + " or its value is not valid UTF-8");
      if (i) header += ',';
      append_json_string(header, key);
      header += ':';
      append_json_string(header, value);
    }
    header += '}';
  }
  std::unordered_set<std::string_view> names;
  uint64_t offset = 0;
  for (size_t i = 0; i < tensors.size(); ++i) {
    const auto& [name, tensor] = tensors[i];
    if (name == "__metadata__") throw CheckpointWriteError(path, "a tensor cannot be named \"__metadata__\"");
    if (!names.insert(name).second) throw CheckpointWriteError(path, "duplicate tensor name " + quote_name(name));
    if (!simdjson::validate_utf8(name.data(), name.size()))
      throw CheckpointWriteError(path, "tensor name " + quote_name(name) + " is not valid UTF-8");
    if (!tensor.defined()) throw CheckpointWriteError(path, "tensor " + quote_name(name) + " is undefined");
    const DtypeInfo* dtype = dtype_by_type(tensor.scalar_type());
    if (!dtype)
      throw CheckpointWriteError(path, "tensor " + quote_name(name) + " has dtype " +
                                           std::string(c10::toString(tensor.scalar_type())) +
                                           ", which safetensors files of this library cannot hold");
    const uint64_t bytes = static_cast<uint64_t>(tensor.numel()) * dtype->size;
    if (metadata.size() || i) header += ',';
    append_json_string(header, name);
    header += ":{\"dtype\":\"";
    header += dtype->name;
    header += "\",\"shape\":[";
    for (int64_t d = 0; d < tensor.dim(); ++d) header += (d ? "," : "") + std::to_string(tensor.size(d));
    header += "],\"data_offsets\":[" + std::to_string(offset) + "," + std::to_string(offset + bytes) + "]}";
    offset += bytes;
  }
  header += '}';
  header.append((8 - header.size() % 8) % 8, ' ');  // the reference pads to 8-byte alignment with spaces

  with_file_context(path, "cannot write", ErrorCode::CheckpointWriteFailed, [&] {
    write_file_atomically(path, [&](const ByteSink& sink) {
      uint8_t length[8];
      for (int i = 0; i < 8; ++i) length[i] = static_cast<uint8_t>(static_cast<uint64_t>(header.size()) >> (8 * i));
      sink(length, sizeof(length));
      sink(header.data(), header.size());
      for (const auto& entry : tensors) {
        // One tensor at a time, so at most one extra contiguous CPU copy is alive.
        const at::Tensor data = entry.second.cpu().contiguous();
        if (data.numel() > 0) sink(data.data_ptr(), static_cast<size_t>(data.numel()) * data.element_size());
      }
    });
  });
}

}  // namespace bert
