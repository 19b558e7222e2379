// DistilBERT's Embeddings: word + position embeddings (no token types), LayerNorm (eps 1e-12), dropout.
// With sinusoidal_pos_embds the position table starts as sinusoids (init_sinusoidal_positions, as transformers'
// _init_weights fills it) and is a trained weight like any other from there, as in transformers 5.
#pragma once

#include <torch/nn/module.h>
#include <torch/nn/modules/embedding.h>
#include <torch/nn/modules/normalization.h>

#include "bert_config.h"
#include "dropout.h"

namespace bert {

struct DistilBertEmbeddingsImpl : torch::nn::Module {
  explicit DistilBertEmbeddingsImpl(const BertConfig& config);

  // input_ids: [B, S] int64  ->  [B, S, dim]
  at::Tensor forward(const at::Tensor& input_ids);

  // With sinusoidal_pos_embds, position_embeddings[pos, 2i] = sin(pos / 10000^(2i/dim)), [pos, 2i+1] = cos(...).
  void init_sinusoidal_positions();

  bool sinusoidal_pos_embds = false;

  torch::nn::Embedding word_embeddings{nullptr};
  torch::nn::Embedding position_embeddings{nullptr};
  torch::nn::LayerNorm LayerNorm{nullptr};  // HF's attribute name, kept for the state-dict keys
  Dropout dropout{nullptr};
};
TORCH_MODULE(DistilBertEmbeddings);

}  // namespace bert
