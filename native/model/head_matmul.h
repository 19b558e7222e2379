// The two batched products of attention (Q·Kᵀ and P·V) over [B, heads, m, k] x [B, heads, k, n], one small GEMM per
// (sequence, head), the (sequence, head) pairs spread over the intra-op threads with a single-threaded BLAS each.
// LibTorch 1.13's CPU bmm (without MKL) instead loops over the batch and hands every small GEMM to OpenBLAS's own
// thread pool, which costs a synchronisation per GEMM and, when another process holds a core, a wait for the
// descheduled BLAS thread each time (the profile of a tiny model at 32x128 shows bmm at 80% of the step on a loaded
// machine). Each GEMM is the same BLAS call as before, so the results are bit-identical; the operands are read
// through their strides (a transposed or head-split view needs no copy).
#pragma once

#include <ATen/ATen.h>

namespace bert {

// a: [B, H, m, k], b: [B, H, k, n] (any strides with a unit stride in one of the last two dims) -> [B, H, m, n],
// differentiable. fp32 CPU tensors outside autocast; anything else goes to at::matmul.
at::Tensor head_matmul(const at::Tensor& a, const at::Tensor& b);

}  // namespace bert
