// libFuzzer target for the restricted unpickler (native/checkpoint/pickle_reader.cpp).
// The input is a data.pkl; storages come from a fake loader that hands out exactly the bytes a
// persistent id asks for (up to 1 MiB), so the fuzzer gets past the storage checks and exercises
// _rebuild_tensor_v2's offset/size/stride bounds. Every element of every returned tensor is then read
// from instrumented code, so an out-of-bounds view is an AddressSanitizer report, not a silent pass.
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <exception>

#include "../checkpoint/pickle_reader.h"

namespace {

// Reads each element of a strided tensor through its sizes and strides (not via LibTorch, which is
// not instrumented), returning a value the optimizer cannot discard.
uint64_t touch(const at::Tensor& t) {
  if (t.numel() == 0 || t.numel() > (1 << 20)) return 0;
  const auto* base = static_cast<const uint8_t*>(t.data_ptr());
  const size_t item = t.element_size();
  const int64_t dims = t.dim();
  std::vector<int64_t> index(static_cast<size_t>(dims), 0);
  uint64_t sum = 0;
  for (int64_t n = 0; n < t.numel(); ++n) {
    int64_t offset = 0;
    for (int64_t d = 0; d < dims; ++d) offset += index[static_cast<size_t>(d)] * t.stride(d);
    uint8_t bytes[8];
    std::memcpy(bytes, base + offset * static_cast<int64_t>(item), item);
    for (size_t i = 0; i < item; ++i) sum += bytes[i];
    for (int64_t d = dims - 1; d >= 0; --d) {
      if (++index[static_cast<size_t>(d)] < t.size(d)) break;
      index[static_cast<size_t>(d)] = 0;
    }
  }
  return sum;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const bert::StorageLoader load = [](const std::string& key, size_t expected_nbytes) {
    const size_t n = expected_nbytes <= (1u << 20) ? expected_nbytes : 0;  // a mismatch is an error path too
    at::Tensor bytes = at::empty({static_cast<int64_t>(n)}, at::kByte);
    auto* p = static_cast<uint8_t*>(bytes.data_ptr());
    for (size_t i = 0; i < n; ++i) p[i] = static_cast<uint8_t>(i * 31 + key.size());
    return bytes.storage();
  };
  try {
    const bert::StateDict tensors = bert::read_pickled_state_dict(data, size, load, "fuzz.bin");
    volatile uint64_t sink = 0;
    for (const auto& entry : tensors) sink = sink + touch(entry.second) + entry.first.size();
  } catch (const std::exception&) {
    // Rejecting a malformed pickle with an exception is the expected outcome.
  }
  return 0;
}
