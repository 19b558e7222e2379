#include "bert_model.h"
#include "bert_attention.h"
#include "first_positions.h"
#include "linear.h"

#include <ATen/autocast_mode.h>

#include <limits>

namespace bert {

BertEncoderImpl::BertEncoderImpl(const BertConfig& config) {
  layer = register_module("layer", torch::nn::ModuleList());
  for (int64_t i = 0; i < config.num_hidden_layers; ++i) layer->push_back(BertLayer(config));
}

at::Tensor BertEncoderImpl::forward(at::Tensor hidden, const at::Tensor& additive_mask) {
  for (const auto& block : *layer) hidden = block->as<BertLayerImpl>()->forward(hidden, additive_mask);
  return hidden;
}

at::Tensor BertEncoderImpl::forward_first_positions(at::Tensor hidden, const at::Tensor& additive_mask) {
  const size_t layers = layer->size();
  if (layers == 0) return hidden;
  for (size_t i = 0; i + 1 < layers; ++i) hidden = layer[i]->as<BertLayerImpl>()->forward(hidden, additive_mask);
  auto* last = layer[layers - 1]->as<BertLayerImpl>();
  if (uses_fused_attention(hidden.device()))
    return last->forward_first_position_fused(hidden, additive_mask);                                     // [B, 1, H]
  if (uses_inference_path(hidden)) return last->forward_first_position_inference(hidden, additive_mask);  // [B, 1, H]
  const int64_t positions = first_positions_to_compute(hidden.size(0), hidden.size(1), hidden.size(2),
                                                       last->intermediate->dense->weight.size(0));
  if (positions >= hidden.size(1)) return last->forward(hidden, additive_mask);
  return last->forward_first_positions(hidden, additive_mask, positions);  // [B, P, H]
}

BertPoolerImpl::BertPoolerImpl(const BertConfig& config) {
  dense = register_module("dense", torch::nn::Linear(config.hidden_size, config.hidden_size));
}

at::Tensor BertPoolerImpl::forward(const at::Tensor& hidden) {
  return at::tanh(linear(dense, hidden.select(1, 0)));  // the [CLS] position
}

at::Tensor additive_attention_mask(const at::Tensor& attention_mask, at::ScalarType dtype) {
  auto mask = attention_mask.to(dtype).unsqueeze(1).unsqueeze(2);  // [B, 1, 1, S]
  const double lowest = dtype == at::kDouble ? std::numeric_limits<double>::lowest()
                                             : static_cast<double>(std::numeric_limits<float>::lowest());
  return (1.0 - mask) * lowest;
}

at::Tensor token_types_or_zeros(const at::Tensor& input_ids, const at::Tensor& token_type_ids) {
  return token_type_ids.defined() ? token_type_ids : at::zeros_like(input_ids);
}

at::Tensor encoder_mask(const at::Tensor& input_ids, const at::Tensor& attention_mask, at::ScalarType dtype) {
  return additive_attention_mask(attention_mask.defined() ? attention_mask : at::ones_like(input_ids), dtype);
}

bool first_positions_apply(const at::Tensor& input_ids, const at::Tensor& embedding_weight) {
  // On the CPU, fp32 only: under autocast the bit-for-bit argument (first_positions.h) is not made, so that runs the
  // whole layer. The fused path (GPUs) takes any precision (BertLayerImpl::forward_first_position_fused).
  const bool cpu = !uses_fused_attention(input_ids.device());
  return first_positions_enabled() &&
         !(cpu && (at::autocast::is_autocast_enabled(at::kCPU) || embedding_weight.scalar_type() != at::kFloat));
}

namespace {

struct EncoderInputs {
  at::Tensor hidden;         // [B, S, H]: the embeddings
  at::Tensor additive_mask;  // [B, 1, 1, S]; undefined on the inference path when nothing is masked
};

// The encoder's inputs, with transformers' defaults for a missing attention mask (all ones) and token types (zeros).
EncoderInputs encoder_inputs(BertEmbeddings& embeddings, const at::Tensor& input_ids, const at::Tensor& attention_mask,
                             const at::Tensor& token_type_ids) {
  auto types = token_type_ids.defined() ? token_type_ids : at::zeros_like(input_ids);
  auto hidden = embeddings(input_ids, types);
  // The inference path's attention adds no mask where there is none (adding zeros changes nothing).
  if (!attention_mask.defined() && uses_inference_path(hidden)) return {hidden, at::Tensor()};
  auto mask = attention_mask.defined() ? attention_mask : at::ones_like(input_ids);
  return {hidden, additive_attention_mask(mask, hidden.scalar_type())};
}

}  // namespace

BertModelImpl::BertModelImpl(const BertConfig& cfg) : config(cfg) {
  config.validate();
  embeddings = register_module("embeddings", BertEmbeddings(config));
  encoder = register_module("encoder", BertEncoder(config));
  pooler = register_module("pooler", BertPooler(config));
  dropout_generator = new_dropout_generator();
  bind_dropout_generator(*this, dropout_generator);
}

BertModelOutput BertModelImpl::forward(const at::Tensor& input_ids, const at::Tensor& attention_mask,
                                       const at::Tensor& token_type_ids) {
  auto in = encoder_inputs(embeddings, input_ids, attention_mask, token_type_ids);
  auto hidden = encoder(in.hidden, in.additive_mask);  // [B, S, H]
  return {hidden, pooler(hidden)};
}

at::Tensor BertModelImpl::pooled_output(const at::Tensor& input_ids, const at::Tensor& attention_mask,
                                        const at::Tensor& token_type_ids) {
  if (!first_positions_apply(input_ids, embeddings->word_embeddings->weight)) {
    return forward(input_ids, attention_mask, token_type_ids).pooler_output;
  }
  auto in = encoder_inputs(embeddings, input_ids, attention_mask, token_type_ids);
  return pooler(encoder->forward_first_positions(in.hidden, in.additive_mask));  // [B, H]
}

}  // namespace bert
