#include "bert_attention.h"
#include "head_matmul.h"
#include "linear.h"

#include <cmath>

namespace bert {

BertSelfAttentionImpl::BertSelfAttentionImpl(const BertConfig& config)
    : num_heads(config.num_attention_heads), head_dim(config.head_dim()) {
  query = register_module("query", torch::nn::Linear(config.hidden_size, config.hidden_size));
  key = register_module("key", torch::nn::Linear(config.hidden_size, config.hidden_size));
  value = register_module("value", torch::nn::Linear(config.hidden_size, config.hidden_size));
  dropout = register_module("dropout", Dropout(config.attention_probs_dropout_prob));
}

at::Tensor BertSelfAttentionImpl::forward(const at::Tensor& hidden, const at::Tensor& additive_mask) {
  const int64_t batch = hidden.size(0), seq_len = hidden.size(1);
  auto split_heads = [&](const at::Tensor& x) {  // [B, S, H] -> [B, nh, S, hd]
    return x.view({batch, seq_len, num_heads, head_dim}).transpose(1, 2);
  };
  auto q = split_heads(linear(query, hidden));
  auto k = split_heads(linear(key, hidden));
  auto v = split_heads(linear(value, hidden));

  // (q · kᵀ) / sqrt(head_dim) + mask, in the GEMMs: [B, nh, S, S]
  auto scores = attention_scores(q, k.transpose(-1, -2), std::sqrt(static_cast<double>(head_dim)), additive_mask);
  auto probs = dropout(at::softmax(scores, -1));
  auto context = attention_context(probs, v);  // [B, nh, S, hd], stored as [B, S, nh, hd]
  return context.transpose(1, 2).reshape({batch, seq_len, num_heads * head_dim});  // [B, S, H]: a view
}

BertSelfOutputImpl::BertSelfOutputImpl(const BertConfig& config) {
  dense = register_module("dense", torch::nn::Linear(config.hidden_size, config.hidden_size));
  LayerNorm = register_module(
      "LayerNorm", torch::nn::LayerNorm(torch::nn::LayerNormOptions({config.hidden_size}).eps(config.layer_norm_eps)));
  dropout = register_module("dropout", Dropout(config.hidden_dropout_prob));
}

at::Tensor BertSelfOutputImpl::forward(const at::Tensor& hidden, const at::Tensor& residual) {
  return LayerNorm(dropout(linear(dense, hidden)) + residual);
}

BertAttentionImpl::BertAttentionImpl(const BertConfig& config) {
  self = register_module("self", BertSelfAttention(config));
  output = register_module("output", BertSelfOutput(config));
}

at::Tensor BertAttentionImpl::forward(const at::Tensor& hidden, const at::Tensor& additive_mask) {
  return output(self(hidden, additive_mask), hidden);
}

}  // namespace bert
