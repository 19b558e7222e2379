// One transformer block: BertAttention, then BertIntermediate (dense + activation) and BertOutput
// (dense, dropout, residual, LayerNorm).
#pragma once

#include <torch/nn/module.h>
#include "dropout.h"
#include <torch/nn/modules/linear.h>
#include <torch/nn/modules/normalization.h>

#include "activation.h"
#include "bert_attention.h"
#include "bert_config.h"

namespace bert {

struct BertIntermediateImpl : torch::nn::Module {
  explicit BertIntermediateImpl(const BertConfig& config);
  at::Tensor forward(const at::Tensor& hidden);  // [B, S, H] -> [B, S, I]

  Activation activation;
  torch::nn::Linear dense{nullptr};
};
TORCH_MODULE(BertIntermediate);

struct BertOutputImpl : torch::nn::Module {
  explicit BertOutputImpl(const BertConfig& config);
  at::Tensor forward(const at::Tensor& intermediate, const at::Tensor& residual);  // [B, S, I], [B, S, H] -> [B, S, H]

  torch::nn::Linear dense{nullptr};
  torch::nn::LayerNorm LayerNorm{nullptr};
  Dropout dropout{nullptr};
};
TORCH_MODULE(BertOutput);

struct BertLayerImpl : torch::nn::Module {
  explicit BertLayerImpl(const BertConfig& config);
  at::Tensor forward(const at::Tensor& hidden, const at::Tensor& additive_mask);  // [B, S, H]
  // What forward() gives at positions [0, positions) ([B, S, H] -> [B, positions, H]), computing attention for every
  // position and everything after it for those rows only (first_positions.h: bit for bit, gradients included).
  at::Tensor forward_first_positions(const at::Tensor& hidden, const at::Tensor& additive_mask, int64_t positions);
  // GPUs: the same for the first position, with LibTorch's own kernels (queries and everything after attention for
  // one position; keys and values for all)  ->  [B, 1, H]
  at::Tensor forward_first_position_fused(const at::Tensor& hidden, const at::Tensor& additive_mask);
  // Inference on the CPU (uses_inference_path): the same with BertSelfAttentionImpl::forward_inference  ->  [B, 1, H]
  at::Tensor forward_first_position_inference(const at::Tensor& hidden, const at::Tensor& additive_mask);

  BertAttention attention{nullptr};
  BertIntermediate intermediate{nullptr};
  BertOutput output{nullptr};
};
TORCH_MODULE(BertLayer);

}  // namespace bert
