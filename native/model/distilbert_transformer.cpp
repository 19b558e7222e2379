#include "distilbert_transformer.h"

#include "bert_attention.h"
#include "linear.h"

namespace bert {

namespace {
torch::nn::LayerNorm layer_norm(const BertConfig& config) {
  return torch::nn::LayerNorm(torch::nn::LayerNormOptions({config.hidden_size}).eps(config.layer_norm_eps));
}
}  // namespace

DistilBertSelfAttentionImpl::DistilBertSelfAttentionImpl(const BertConfig& config)
    : num_heads(config.num_attention_heads), head_dim(config.head_dim()) {
  const int64_t dim = config.hidden_size;
  q_lin = register_module("q_lin", torch::nn::Linear(dim, dim));
  k_lin = register_module("k_lin", torch::nn::Linear(dim, dim));
  v_lin = register_module("v_lin", torch::nn::Linear(dim, dim));
  out_lin = register_module("out_lin", torch::nn::Linear(dim, dim));
  dropout = register_module("dropout", Dropout(config.attention_probs_dropout_prob));
}

at::Tensor DistilBertSelfAttentionImpl::forward(const at::Tensor& hidden, const at::Tensor& additive_mask) {
  auto context = multi_head_attention(q_lin, k_lin, v_lin, dropout, num_heads, head_dim, hidden, additive_mask);
  return linear(out_lin, context);  // [B, S, dim]
}

FFNImpl::FFNImpl(const BertConfig& config) : activation(parse_activation(config.hidden_act)) {
  dropout = register_module("dropout", Dropout(config.hidden_dropout_prob));
  lin1 = register_module("lin1", torch::nn::Linear(config.hidden_size, config.intermediate_size));
  lin2 = register_module("lin2", torch::nn::Linear(config.intermediate_size, config.hidden_size));
}

at::Tensor FFNImpl::forward(const at::Tensor& hidden) {
  return dropout(linear(lin2, apply_activation(activation, linear(lin1, hidden))));
}

TransformerBlockImpl::TransformerBlockImpl(const BertConfig& config) {
  attention = register_module("attention", DistilBertSelfAttention(config));
  sa_layer_norm = register_module("sa_layer_norm", layer_norm(config));
  ffn = register_module("ffn", FFN(config));
  output_layer_norm = register_module("output_layer_norm", layer_norm(config));
}

at::Tensor TransformerBlockImpl::forward(const at::Tensor& hidden, const at::Tensor& additive_mask) {
  auto attended = sa_layer_norm(attention(hidden, additive_mask) + hidden);
  return output_layer_norm(ffn(attended) + attended);
}

TransformerImpl::TransformerImpl(const BertConfig& config) {
  layer = register_module("layer", torch::nn::ModuleList());
  for (int64_t i = 0; i < config.num_hidden_layers; ++i) layer->push_back(TransformerBlock(config));
}

at::Tensor TransformerImpl::forward(at::Tensor hidden, const at::Tensor& additive_mask) {
  for (const auto& block : *layer) hidden = block->as<TransformerBlockImpl>()->forward(hidden, additive_mask);
  return hidden;
}

}  // namespace bert
