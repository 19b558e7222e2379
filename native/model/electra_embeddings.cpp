#include "electra_embeddings.h"

namespace bert {

ElectraEmbeddingsImpl::ElectraEmbeddingsImpl(const BertConfig& config) {
  const int64_t width = config.embedding_width();
  word_embeddings = register_module(
      "word_embeddings",
      torch::nn::Embedding(torch::nn::EmbeddingOptions(config.vocab_size, width).padding_idx(config.pad_token_id)));
  position_embeddings =
      register_module("position_embeddings", torch::nn::Embedding(config.max_position_embeddings, width));
  token_type_embeddings = register_module("token_type_embeddings", torch::nn::Embedding(config.type_vocab_size, width));
  LayerNorm = register_module("LayerNorm",
                              torch::nn::LayerNorm(torch::nn::LayerNormOptions({width}).eps(config.layer_norm_eps)));
  dropout = register_module("dropout", Dropout(config.hidden_dropout_prob));
}

at::Tensor ElectraEmbeddingsImpl::forward(const at::Tensor& input_ids, const at::Tensor& token_type_ids) {
  auto position_ids = at::arange(input_ids.size(1), input_ids.options()).unsqueeze(0);  // [1, S]
  // Same summation order as transformers: (word + token_type) + position.
  auto embeddings = word_embeddings(input_ids) + token_type_embeddings(token_type_ids);  // [B, S, E]
  embeddings = embeddings + position_embeddings(position_ids);
  return dropout(LayerNorm(embeddings));
}

}  // namespace bert
