#include "torch_bin.h"

#include <caffe2/serialize/inline_container.h>
#include <caffe2/serialize/read_adapter_interface.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <exception>
#include <memory>
#include <tuple>

#include "atomic_file.h"
#include "checkpoint_error.h"
#include "pickle_reader.h"
#include "pickle_writer.h"

namespace bert {
namespace {

using caffe2::serialize::PyTorchStreamReader;
using caffe2::serialize::PyTorchStreamWriter;

// LibTorch reports archive problems as c10::Error with a C++ backtrace; keep the message, name the file.
std::string torch_message(const c10::Error& e) { return e.what_without_backtrace(); }

// Before PyTorch 1.6, torch.save wrote a sequence of raw pickles starting with this magic number
// (0x1950a86a20f9469cfc6c as a 10-byte LONG1); PyTorchStreamReader cannot read those.
bool is_legacy_torch_save(const uint8_t* head, size_t n) {
  static const uint8_t kMagic[] = {0x8a, 0x0a, 0x6c, 0xfc, 0x9c, 0x46, 0xf9, 0x20, 0x6a, 0xa8, 0x50, 0x19};
  if (n < 2 || head[0] != 0x80) return false;  // a pickle PROTO opcode
  for (size_t i = 0; i + sizeof(kMagic) <= n; ++i)
    if (std::memcmp(head + i, kMagic, sizeof(kMagic)) == 0) return true;
  return false;
}

// Recognises the two formats we can say something useful about before handing the bytes to LibTorch.
void check_file_start(const uint8_t* head, size_t n, const std::string& file) {
  if (is_legacy_torch_save(head, n))
    throw CheckpointError(
        file,
        "is a legacy (pre-1.6) torch.save file; re-save it with torch.save(torch.load(path), path) in PyTorch >= 1.6");
  if (n < 4 || std::memcmp(head, "PK\x03\x04", 4) != 0)
    throw CheckpointError(file, "is not a torch.save zip archive (it does not start with a zip header)");
}

// A read-only view of caller-owned memory for PyTorchStreamReader.
class MemoryReadAdapter final : public caffe2::serialize::ReadAdapterInterface {
 public:
  MemoryReadAdapter(const uint8_t* data, size_t size) : data_(data), size_(size) {}
  size_t size() const override { return size_; }
  size_t read(uint64_t pos, void* buf, size_t n, const char* /*what*/) const override {
    if (pos >= size_) return 0;
    const size_t available = static_cast<size_t>(size_ - pos);
    const size_t count = n < available ? n : available;
    std::memcpy(buf, data_ + pos, count);
    return count;
  }

 private:
  const uint8_t* data_;
  size_t size_;
};

std::string record_text(PyTorchStreamReader& reader, const std::string& name) {
  at::DataPtr data;
  size_t size = 0;
  std::tie(data, size) = reader.getRecord(name);
  return std::string(static_cast<const char*>(data.get()), size);
}

StateDict read_archive(PyTorchStreamReader& reader, const std::string& file) {
  try {
    // PyTorch >= 2.0 records the writer's byte order; storages are raw native-endian bytes.
    if (reader.hasRecord("byteorder")) {
      const std::string order = record_text(reader, "byteorder");
      if (order == "big")
        throw CheckpointError(file,
                              "was saved on a big-endian machine (byteorder record \"big\"); only little-endian "
                              "checkpoints are supported");
      if (order != "little")
        throw CheckpointError(file, "has an unknown byteorder record \"" + order.substr(0, 32) + "\"");
    }
    if (!reader.hasRecord("data.pkl")) throw CheckpointError(file, "has no data.pkl record (not a torch.save archive)");
    at::DataPtr pickle;
    size_t pickle_size = 0;
    std::tie(pickle, pickle_size) = reader.getRecord("data.pkl");
    const StorageLoader load = [&](const std::string& key, size_t /*expected_nbytes: the reader checks it*/) {
      const std::string name = "data/" + key;
      if (!reader.hasRecord(name))
        throw CheckpointError(file, "storage record '" + name + "' named in data.pkl is missing");
      at::DataPtr bytes;
      size_t size = 0;
      std::tie(bytes, size) = reader.getRecord(name);
      return c10::Storage(c10::Storage::use_byte_size_t(), size, std::move(bytes), nullptr, false);
    };
    return read_pickled_state_dict(static_cast<const uint8_t*>(pickle.get()), pickle_size, load, file);
  } catch (const CheckpointError&) {
    throw;
  } catch (const c10::Error& e) {
    throw CheckpointError(file, "cannot read the torch.save archive: " + torch_message(e));
  } catch (const std::exception& e) {  // e.g. std::stoull on a corrupt version record
    throw CheckpointError(file, std::string("cannot read the torch.save archive: ") + e.what());
  }
}

}  // namespace

StateDict read_torch_bin(const std::string& path) {
  // Look at the first bytes ourselves: clearer errors for missing files, legacy and non-zip files.
  std::FILE* f = std::fopen(path.c_str(), "rb");
  if (!f) throw CheckpointError(path, std::string("cannot open: ") + std::strerror(errno));
  uint8_t head[64];
  const size_t n = std::fread(head, 1, sizeof(head), f);
  std::fclose(f);
  check_file_start(head, n, path);
  std::unique_ptr<PyTorchStreamReader> reader;
  try {
    reader = std::make_unique<PyTorchStreamReader>(path);
  } catch (const c10::Error& e) {
    throw CheckpointError(path, "cannot open the torch.save archive: " + torch_message(e));
  } catch (const std::exception& e) {
    throw CheckpointError(path, std::string("cannot open the torch.save archive: ") + e.what());
  }
  return read_archive(*reader, path);
}

StateDict read_torch_bin_from_memory(const uint8_t* data, size_t size, const std::string& name) {
  check_file_start(data, size < 64 ? size : 64, name);
  std::unique_ptr<PyTorchStreamReader> reader;
  try {
    reader = std::make_unique<PyTorchStreamReader>(std::make_shared<MemoryReadAdapter>(data, size));
  } catch (const c10::Error& e) {
    throw CheckpointError(name, "cannot open the torch.save archive: " + torch_message(e));
  } catch (const std::exception& e) {
    throw CheckpointError(name, std::string("cannot open the torch.save archive: ") + e.what());
  }
  return read_archive(*reader, name);
}

void write_torch_bin(const std::string& path, const StateDict& tensors) {
  const PickledStateDict pickled = with_file_context(path, "cannot write", ErrorCode::CheckpointWriteFailed, [&] {
    return pickle_state_dict(tensors, path);  // validates before any file exists
  });
  with_file_context(path, "cannot write", ErrorCode::CheckpointWriteFailed, [&] {
    write_file_atomically(path, [&](const ByteSink& sink) {
      // The writer calls back from inside miniz (C code), so nothing may be thrown through it: a failed
      // write is remembered, the rest of the archive is discarded, and the error is rethrown at the end.
      // Keeping the writer itself error-free also keeps its destructor (which finishes the archive)
      // from throwing if we leave early.
      std::exception_ptr write_error;
      const std::function<size_t(const void*, size_t)> write = [&](const void* data, size_t size) -> size_t {
        if (!write_error) {
          try {
            sink(data, size);
          } catch (...) {
            write_error = std::current_exception();
          }
        }
        return size;
      };
      try {
        // The function-based writer names the archive folder "archive" (LibTorch 1.13 and 2.x), as
        // torch.save does in PyTorch 2.x; the file-name-based one would use the temp file's name.
        PyTorchStreamWriter writer(write);
        writer.writeRecord("data.pkl", pickled.data_pkl.data(), pickled.data_pkl.size());
        writer.writeRecord("byteorder", "little", 6);
        static const char kEmpty[1] = {0};
        for (const auto& [key, bytes] : pickled.storages) {
          const at::Tensor cpu = bytes.cpu().contiguous();
          const size_t size = static_cast<size_t>(cpu.numel());
          writer.writeRecord("data/" + key, size ? cpu.data_ptr() : kEmpty, size);
          if (write_error) break;
        }
        if (!write_error) writer.writeEndOfFile();
      } catch (const c10::Error& e) {
        throw CheckpointWriteError(path, "cannot write the torch.save archive: " + torch_message(e));
      }
      if (write_error) std::rethrow_exception(write_error);
    });
  });
}

}  // namespace bert
