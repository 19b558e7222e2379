// BertAttention = BertSelfAttention (scaled dot-product over heads) + BertSelfOutput (dense, residual, LayerNorm).
#pragma once

#include <torch/nn/module.h>
#include "dropout.h"
#include <torch/nn/modules/linear.h>
#include <torch/nn/modules/normalization.h>

#include "bert_config.h"

namespace bert {

struct BertSelfAttentionImpl : torch::nn::Module {
  explicit BertSelfAttentionImpl(const BertConfig& config);

  // hidden: [B, S, H]; additive_mask: [B, 1, 1, S] (0 where attended, finfo.min where masked)  ->  [B, S, H]
  at::Tensor forward(const at::Tensor& hidden, const at::Tensor& additive_mask);

  // GPUs: attention of the first Q positions only (queries from queries_from [B, Q, H], keys and values from
  // hidden [B, S, H]) with scaled_dot_product_attention  ->  [B, Q, H]
  at::Tensor forward_fused(const at::Tensor& queries_from, const at::Tensor& hidden, const at::Tensor& additive_mask);

  // Inference on the CPU: inference_attention (below) with this module's projections  ->  [B, Q, H]
  at::Tensor forward_inference(const at::Tensor& queries_from, const at::Tensor& hidden,
                               const at::Tensor& additive_mask);

  int64_t num_heads;
  int64_t head_dim;
  torch::nn::Linear query{nullptr}, key{nullptr}, value{nullptr};
  Dropout dropout{nullptr};
};
TORCH_MODULE(BertSelfAttention);

struct BertSelfOutputImpl : torch::nn::Module {
  explicit BertSelfOutputImpl(const BertConfig& config);
  at::Tensor forward(const at::Tensor& hidden, const at::Tensor& residual);  // [B, S, H]

  torch::nn::Linear dense{nullptr};
  torch::nn::LayerNorm LayerNorm{nullptr};
  Dropout dropout{nullptr};
};
TORCH_MODULE(BertSelfOutput);

struct BertAttentionImpl : torch::nn::Module {
  explicit BertAttentionImpl(const BertConfig& config);
  at::Tensor forward(const at::Tensor& hidden, const at::Tensor& additive_mask);  // [B, S, H]

  BertSelfAttention self{nullptr};
  BertSelfOutput output{nullptr};
};
TORCH_MODULE(BertAttention);

// Multi-head self-attention over the projections of hidden [B, S, H] by query/key/value (softmax(q·kᵀ/sqrt(head_dim)
// + mask), dropout, times v), transformers' eager_attention_forward; on GPUs scaled_dot_product_attention  ->  [B, S,
// H]. BERT's BertSelfAttention and DistilBERT's DistilBertSelfAttention share it under their own module names.
at::Tensor multi_head_attention(const torch::nn::Linear& query, const torch::nn::Linear& key,
                                const torch::nn::Linear& value, Dropout& dropout, int64_t num_heads, int64_t head_dim,
                                const at::Tensor& hidden, const at::Tensor& additive_mask);

// The same with scaled_dot_product_attention, for the queries of queries_from [B, Q, H] only  ->  [B, Q, H].
at::Tensor fused_attention(const torch::nn::Linear& query, const torch::nn::Linear& key, const torch::nn::Linear& value,
                           Dropout& dropout, int64_t num_heads, int64_t head_dim, const at::Tensor& queries_from,
                           const at::Tensor& hidden, const at::Tensor& additive_mask);

// Inference on the CPU (uses_inference_path): the queries of queries_from [B, Q, H] against the keys and values of
// hidden [B, S, H], the additive mask added to the scores (as transformers' eager and sdpa attention add it: a row
// that is all padding attends uniformly), with LibTorch's CPU flash-attention kernel; for BERT's layout the three
// projections are one product with the packed query-key-value matrix (packed_linear.h)  ->  [B, Q, H].
at::Tensor inference_attention(const torch::nn::Linear& query, const torch::nn::Linear& key,
                               const torch::nn::Linear& value, int64_t num_heads, int64_t head_dim,
                               const at::Tensor& queries_from, const at::Tensor& hidden,
                               const at::Tensor& additive_mask);

// Whether attention computes with the fused path (forward_fused) for tensors on `device`: always on GPUs; on the CPU
// only when a test or benchmark turned it on (set_fused_attention_on_cpu; process-wide, default off), so that the
// GPU path's code runs and is checked on machines without one.
bool uses_fused_attention(const at::Device& device);
void set_fused_attention_on_cpu(bool enabled);

// Whether computing on `x` takes the inference path: an fp32 CPU tensor, outside autocast, under c10::InferenceMode
// (forward, predict and evaluation; never a training step), with the path enabled (set_inference_path; process-wide,
// default on). The path computes attention with forward_inference, and the last layer of a sequence classifier for
// the first position only (BertLayerImpl::forward_first_position_inference). Off: the exact kernels of the training
// path (first_positions.h, head_matmul.h), for the tests and benchmarks that compare the two (within 1e-5).
bool uses_inference_path(const at::Tensor& x);
void set_inference_path(bool enabled);
bool inference_path_enabled();

}  // namespace bert
