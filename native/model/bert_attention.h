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

}  // namespace bert
