// Output buffers for the inference path's products (packed_linear.h, cpu_attention.h), recycled between calls. A
// forward of bert-base over a batch allocates tens of MiB per layer for outputs that live for one layer; from malloc,
// large blocks come as fresh pages each time, and the kernel faulting and zeroing them is a measurable part of the
// forward. Freed buffers wait here, by size, for the next request of that size (up to twice as large), at most
// kMaxCachedBytes in all: past that, the buffers freed longest ago go back to the system. Blocks of 2 MiB and more
// (these buffers, the packed weights) are offered to the kernel as transparent huge pages (madvise), which systems
// set to `madvise` mode otherwise never give a process.
#pragma once

#include <ATen/ATen.h>

#include <cstddef>

namespace bert {

constexpr size_t kMaxCachedBytes = size_t{128} << 20;

// An uninitialised fp32 CPU tensor of `sizes`, contiguous and 64-byte aligned, whose memory goes back to the cache when
// the last tensor using it is freed (from any thread).
at::Tensor inference_empty(at::IntArrayRef sizes);

// The same memory for the packed weights (packed_gemm.h), outside the cache: freed with the tensor.
at::Tensor inference_weights_empty(at::IntArrayRef sizes);

}  // namespace bert
