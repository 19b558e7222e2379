// DistilBERT's Transformer: TransformerBlock = DistilBertSelfAttention (q_lin, k_lin, v_lin: BERT's attention math;
// out_lin without dropout), sa_layer_norm, FFN (lin1, activation, lin2, dropout), output_layer_norm. The same
// computation as BertLayer with no dropout after the attention's output projection, under DistilBERT's key names
// ("distilbert.transformer.layer.0.attention.q_lin.weight").
#pragma once

#include <torch/nn/module.h>
#include <torch/nn/modules/container/modulelist.h>
#include <torch/nn/modules/linear.h>
#include <torch/nn/modules/normalization.h>

#include "activation.h"
#include "bert_config.h"
#include "dropout.h"

namespace bert {

struct DistilBertSelfAttentionImpl : torch::nn::Module {
  explicit DistilBertSelfAttentionImpl(const BertConfig& config);
  at::Tensor forward(const at::Tensor& hidden, const at::Tensor& additive_mask);  // [B, S, dim]

  int64_t num_heads, head_dim;
  torch::nn::Linear q_lin{nullptr}, k_lin{nullptr}, v_lin{nullptr}, out_lin{nullptr};
  Dropout dropout{nullptr};
};
TORCH_MODULE(DistilBertSelfAttention);

struct FFNImpl : torch::nn::Module {
  explicit FFNImpl(const BertConfig& config);
  at::Tensor forward(const at::Tensor& hidden);  // [B, S, dim]

  Dropout dropout{nullptr};
  torch::nn::Linear lin1{nullptr}, lin2{nullptr};
  Activation activation;
};
TORCH_MODULE(FFN);

struct TransformerBlockImpl : torch::nn::Module {
  explicit TransformerBlockImpl(const BertConfig& config);
  at::Tensor forward(const at::Tensor& hidden, const at::Tensor& additive_mask);  // [B, S, dim]

  DistilBertSelfAttention attention{nullptr};
  torch::nn::LayerNorm sa_layer_norm{nullptr};
  FFN ffn{nullptr};
  torch::nn::LayerNorm output_layer_norm{nullptr};
};
TORCH_MODULE(TransformerBlock);

struct TransformerImpl : torch::nn::Module {
  explicit TransformerImpl(const BertConfig& config);
  at::Tensor forward(at::Tensor hidden, const at::Tensor& additive_mask);  // [B, S, dim]

  torch::nn::ModuleList layer{nullptr};  // keys "transformer.layer.<i>...."
};
TORCH_MODULE(Transformer);

}  // namespace bert
