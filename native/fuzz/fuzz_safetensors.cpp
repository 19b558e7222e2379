// libFuzzer target for the safetensors parser (native/checkpoint/safetensors.cpp): the input is a
// whole file. Accepted files have their tensor bytes read back from instrumented code.
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <exception>

#include "../checkpoint/safetensors.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  try {
    bert::SafetensorsMetadata metadata;
    const bert::StateDict tensors = bert::parse_safetensors(data, size, "fuzz.safetensors", &metadata);
    volatile uint64_t sink = metadata.size();
    for (const auto& entry : tensors) {
      const at::Tensor& t = entry.second;
      const size_t n = static_cast<size_t>(t.numel()) * t.element_size();
      const auto* p = static_cast<const uint8_t*>(t.data_ptr());
      uint64_t sum = entry.first.size();
      for (size_t i = 0; i < n; ++i) sum += p[i];
      sink = sink + sum;
    }
  } catch (const std::exception&) {
    // Rejecting a malformed file with an exception is the expected outcome.
  }
  return 0;
}
