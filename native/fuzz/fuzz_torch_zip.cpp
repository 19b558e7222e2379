// libFuzzer target for reading a whole torch.save zip from memory (native/checkpoint/torch_bin.cpp):
// LibTorch's PyTorchStreamReader (miniz) opens the archive, our restricted unpickler reads data.pkl,
// storages come from the archive's records. LibTorch itself is not instrumented, so this mainly
// checks that every malformed archive ends in an exception rather than a crash or abort.
#include <cstddef>
#include <cstdint>
#include <exception>

#include "../checkpoint/torch_bin.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  try {
    const bert::StateDict tensors = bert::read_torch_bin_from_memory(data, size, "fuzz.bin");
    volatile double sink = 0;
    for (const auto& entry : tensors) {
      // Valid files may hold huge stride-0 (expanded) views; summing those would only test malloc.
      if (entry.second.numel() <= (1 << 20)) sink = sink + entry.second.to(at::kDouble).sum().item<double>();
    }
  } catch (const std::exception&) {
    // Rejecting a malformed archive with an exception is the expected outcome.
  }
  return 0;
}
