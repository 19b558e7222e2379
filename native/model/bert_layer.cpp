#include "bert_layer.h"
#include "first_positions.h"
#include "linear.h"

namespace bert {

BertIntermediateImpl::BertIntermediateImpl(const BertConfig& config) : activation(parse_activation(config.hidden_act)) {
  dense = register_module("dense", torch::nn::Linear(config.hidden_size, config.intermediate_size));
}

at::Tensor BertIntermediateImpl::forward(const at::Tensor& hidden) {
  if (activation == Activation::Gelu) {
    if (auto fused = packed_linear(dense, hidden, PackedPostOp::Gelu)) return *fused;  // GELU in place
  }
  return apply_activation(activation, linear(dense, hidden));
}

BertOutputImpl::BertOutputImpl(const BertConfig& config) {
  dense = register_module("dense", torch::nn::Linear(config.intermediate_size, config.hidden_size));
  LayerNorm = register_module(
      "LayerNorm", torch::nn::LayerNorm(torch::nn::LayerNormOptions({config.hidden_size}).eps(config.layer_norm_eps)));
  dropout = register_module("dropout", Dropout(config.hidden_dropout_prob));
}

at::Tensor BertOutputImpl::forward(const at::Tensor& intermediate, const at::Tensor& residual) {
  return LayerNorm(dropout(linear(dense, intermediate)) + residual);
}

BertLayerImpl::BertLayerImpl(const BertConfig& config) {
  attention = register_module("attention", BertAttention(config));
  intermediate = register_module("intermediate", BertIntermediate(config));
  output = register_module("output", BertOutput(config));
}

at::Tensor BertLayerImpl::forward(const at::Tensor& hidden, const at::Tensor& additive_mask) {
  auto attended = attention(hidden, additive_mask);
  return output(intermediate(attended), attended);
}

at::Tensor BertLayerImpl::forward_first_positions(const at::Tensor& hidden, const at::Tensor& additive_mask,
                                                  int64_t positions) {
  const int64_t seq_len = hidden.size(1);
  auto& self_output = *attention->output;
  auto context = attention->self(hidden, additive_mask).narrow(1, 0, positions);  // [B, P, H]
  auto projected = first_positions_dropout(first_positions_linear(context, self_output.dense, seq_len),
                                           self_output.dropout, seq_len);
  auto attended =
      first_positions_layer_norm(projected + hidden.narrow(1, 0, positions), self_output.LayerNorm, seq_len);
  auto inner = apply_activation(intermediate->activation,
                                first_positions_linear(attended, intermediate->dense, seq_len));  // [B, P, I]
  auto out = first_positions_dropout(first_positions_linear(inner, output->dense, seq_len), output->dropout, seq_len);
  return first_positions_layer_norm(out + attended, output->LayerNorm, seq_len);  // [B, P, H]
}

at::Tensor BertLayerImpl::forward_first_position_fused(const at::Tensor& hidden, const at::Tensor& additive_mask) {
  auto first = hidden.narrow(1, 0, 1);                                                                     // [B, 1, H]
  auto attended = attention->output(attention->self->forward_fused(first, hidden, additive_mask), first);  // [B, 1, H]
  return output(intermediate(attended), attended);                                                         // [B, 1, H]
}

at::Tensor BertLayerImpl::forward_first_position_inference(const at::Tensor& hidden, const at::Tensor& additive_mask) {
  auto first = hidden.narrow(1, 0, 1);  // [B, 1, H]
  auto attended = attention->output(attention->self->forward_inference(first, hidden, additive_mask), first);
  return output(intermediate(attended), attended);  // [B, 1, H]
}

}  // namespace bert
