// The inference path's attention on the CPU in fp32: softmax(q · kᵀ / √d + mask) · v for every batch row and head,
// with the products on the packed kernel (packed_gemm.h) and each (row, head) pair one task on the inference threads.
// Per pair, the keys (scaled by 1/√d) and the values are packed into 16-column panels (a few KiB: far less than the
// products that read them), the key-padding mask is the scores' bias, and the softmax runs over the scores in place.
// Why not at::scaled_dot_product_attention: its CPU kernel multiplies each block with a BLAS sgemm call (MKL in
// PyTorch's builds), which re-packs both operands per call and, on the AMD processors measured, ran well below the
// rate of this kernel (BENCHMARKS.md, Inference).
#pragma once

#include <ATen/ATen.h>

#include <cstdint>
#include <optional>

namespace bert {

// query [B, Q, H], key and value [B, S, H] (H = num_heads x head_dim; views with unit stride along H, such as the
// slices of the packed query-key-value product), additive_mask [B or 1, 1, 1, S] or undefined, all fp32 on the CPU.
// Returns the context [B, Q, H] (heads side by side, as BertSelfAttention's output), or nullopt where this kernel does
// not apply (no packed kernel on this CPU, head_dim not a multiple of 16, other layouts): the caller then uses SDPA.
std::optional<at::Tensor> cpu_attention(const at::Tensor& query, const at::Tensor& key, const at::Tensor& value,
                                        int64_t num_heads, int64_t head_dim, const at::Tensor& additive_mask,
                                        int threads);

}  // namespace bert
