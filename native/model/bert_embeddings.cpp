#include "bert_embeddings.h"

namespace bert {

BertEmbeddingsImpl::BertEmbeddingsImpl(const BertConfig& config) {
  // Registration order is the state-dict order transformers writes.
  word_embeddings = register_module(
      "word_embeddings",
      torch::nn::Embedding(
          torch::nn::EmbeddingOptions(config.vocab_size, config.hidden_size).padding_idx(config.pad_token_id)));
  position_embeddings =
      register_module("position_embeddings", torch::nn::Embedding(config.max_position_embeddings, config.hidden_size));
  token_type_embeddings =
      register_module("token_type_embeddings", torch::nn::Embedding(config.type_vocab_size, config.hidden_size));
  LayerNorm = register_module(
      "LayerNorm", torch::nn::LayerNorm(torch::nn::LayerNormOptions({config.hidden_size}).eps(config.layer_norm_eps)));
  dropout = register_module("dropout", Dropout(config.hidden_dropout_prob));
}

at::Tensor BertEmbeddingsImpl::forward(const at::Tensor& input_ids, const at::Tensor& token_type_ids) {
  const int64_t seq_len = input_ids.size(1);
  auto position_ids = at::arange(seq_len, input_ids.options()).unsqueeze(0);  // [1, S]
  // Same summation order as transformers: (word + token_type) + position.
  auto embeddings = word_embeddings(input_ids) + token_type_embeddings(token_type_ids);  // [B, S, H]
  embeddings = embeddings + position_embeddings(position_ids);
  return dropout(LayerNorm(embeddings));
}

}  // namespace bert
