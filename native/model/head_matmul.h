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

// Attention scores as transformers computes them, (q · kᵀ) / scale_divisor + additive_mask, with the scale as the
// GEMM's alpha and the mask as its C operand (beta 1): no separate passes over [B, heads, S, S] for the division and
// the addition, forward or backward. q: [B, H, S, d], k_t: [B, H, d, S], additive_mask: [B, 1, 1 or S, S], a constant.
// Taken where scale_divisor is a power of two (head_dim 1, 4, 16, 64 — every BERT size — or 256): alpha then scales
// exactly, and with a mask of 0 or the dtype's lowest value the scores are bit-identical to the three separate
// operations. Other head sizes, and the cases head_matmul does not take (autocast, other devices and dtypes), run the
// three operations, as transformers does. The gradients of q and k come back in the [B, S, H, d] layout of the
// activations they were split from (no copy to merge them).
// The attention context probs · v ([B, H, S, S] x [B, H, S, d] -> [B, H, S, d]) as head_matmul computes it, stored in
// the [B, S, H, d] layout (returned as its transposed view), so that merging the heads back into [B, S, H·d] is a
// view; the gradient of v comes back in the same layout. Values identical to head_matmul's.
at::Tensor attention_context(const at::Tensor& probs, const at::Tensor& v);

at::Tensor attention_scores(const at::Tensor& q, const at::Tensor& k_t, double scale_divisor,
                            const at::Tensor& additive_mask);

}  // namespace bert
