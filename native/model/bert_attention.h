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

  // Inference on the CPU (uses_inference_path): the same as forward_fused, with the additive mask itself added to the
  // scores (as transformers' eager and sdpa attention add it: a row that is all padding attends uniformly) and
  // LibTorch's CPU flash-attention kernel (softmax fused, one pass over the keys per block of queries). Inside
  // forward(), the three projections are one product with the packed query-key-value matrix (packed_linear.h).
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
