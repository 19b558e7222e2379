#include "distilbert_embeddings.h"

#include <c10/core/GradMode.h>

#include <cmath>

namespace bert {

DistilBertEmbeddingsImpl::DistilBertEmbeddingsImpl(const BertConfig& config)
    : sinusoidal_pos_embds(config.sinusoidal_pos_embds) {
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

void DistilBertEmbeddingsImpl::init_sinusoidal_positions() {
  if (!sinusoidal_pos_embds) return;
  c10::NoGradGuard no_grad;
  at::Tensor table = position_embeddings->weight;  // [max_position_embeddings, dim]
  const int64_t positions = table.size(0), dim = table.size(1);
  auto values = at::empty({positions, dim}, at::kDouble);
  auto v = values.accessor<double, 2>();
  for (int64_t pos = 0; pos < positions; ++pos) {
    for (int64_t j = 0; j < dim; ++j) {
      // Computed in double as transformers' numpy does, then rounded to the table's float32.
      const double angle = static_cast<double>(pos) / std::pow(10000.0, 2.0 * static_cast<double>(j / 2) / dim);
      v[pos][j] = j % 2 == 0 ? std::sin(angle) : std::cos(angle);
    }
  }
  table.copy_(values);
}

at::Tensor DistilBertEmbeddingsImpl::forward(const at::Tensor& input_ids) {
  auto position_ids = at::arange(input_ids.size(1), input_ids.options()).unsqueeze(0);  // [1, S]
  auto embeddings = word_embeddings(input_ids) + position_embeddings(position_ids);     // [B, S, dim]
  return dropout(LayerNorm(embeddings));
}

}  // namespace bert
