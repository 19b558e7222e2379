#include "distilbert_embeddings.h"

namespace bert {

DistilBertEmbeddingsImpl::DistilBertEmbeddingsImpl(const BertConfig& config) {
  word_embeddings = register_module(
      "word_embeddings",
      torch::nn::Embedding(
          torch::nn::EmbeddingOptions(config.vocab_size, config.hidden_size).padding_idx(config.pad_token_id)));
  position_embeddings =
      register_module("position_embeddings", torch::nn::Embedding(config.max_position_embeddings, config.hidden_size));
  LayerNorm = register_module(
      "LayerNorm", torch::nn::LayerNorm(torch::nn::LayerNormOptions({config.hidden_size}).eps(config.layer_norm_eps)));
  dropout = register_module("dropout", Dropout(config.hidden_dropout_prob));
}

at::Tensor DistilBertEmbeddingsImpl::forward(const at::Tensor& input_ids) {
  auto position_ids = at::arange(input_ids.size(1), input_ids.options()).unsqueeze(0);  // [1, S]
  auto embeddings = word_embeddings(input_ids) + position_embeddings(position_ids);     // [B, S, dim]
  return dropout(LayerNorm(embeddings));
}

}  // namespace bert
