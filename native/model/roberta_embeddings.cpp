#include "roberta_embeddings.h"

namespace bert {

at::Tensor create_position_ids_from_input_ids(const at::Tensor& input_ids, int64_t padding_idx) {
  auto mask = input_ids.ne(padding_idx).to(at::kInt);  // [B, S]
  return (at::cumsum(mask, 1).to(at::kInt) * mask).to(at::kLong) + padding_idx;
}

RobertaEmbeddingsImpl::RobertaEmbeddingsImpl(const BertConfig& config) : padding_idx(config.pad_token_id) {
  // Registration order is the state-dict order transformers writes.
  word_embeddings = register_module(
      "word_embeddings",
      torch::nn::Embedding(
          torch::nn::EmbeddingOptions(config.vocab_size, config.hidden_size).padding_idx(config.pad_token_id)));
  token_type_embeddings =
      register_module("token_type_embeddings", torch::nn::Embedding(config.type_vocab_size, config.hidden_size));
  LayerNorm = register_module(
      "LayerNorm", torch::nn::LayerNorm(torch::nn::LayerNormOptions({config.hidden_size}).eps(config.layer_norm_eps)));
  dropout = register_module("dropout", Dropout(config.hidden_dropout_prob));
  position_embeddings = register_module(
      "position_embeddings",
      torch::nn::Embedding(torch::nn::EmbeddingOptions(config.max_position_embeddings, config.hidden_size)
                               .padding_idx(config.pad_token_id)));
}

at::Tensor RobertaEmbeddingsImpl::forward(const at::Tensor& input_ids, const at::Tensor& token_type_ids) {
  auto position_ids = create_position_ids_from_input_ids(input_ids, padding_idx);  // [B, S]
  // Same summation order as transformers: (word + token_type) + position.
  auto embeddings = word_embeddings(input_ids) + token_type_embeddings(token_type_ids);  // [B, S, H]
  embeddings = embeddings + position_embeddings(position_ids);
  return dropout(LayerNorm(embeddings));
}

}  // namespace bert
