// DistilBERT's Embeddings: word + position embeddings (no token types), LayerNorm (eps 1e-12), dropout.
// Learned positions only (sinusoidal_pos_embds false, transformers' default; src/model/architectures.ts rejects true).
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

  torch::nn::Embedding word_embeddings{nullptr};
  torch::nn::Embedding position_embeddings{nullptr};
  torch::nn::LayerNorm LayerNorm{nullptr};  // HF's attribute name, kept for the state-dict keys
  Dropout dropout{nullptr};
};
TORCH_MODULE(DistilBertEmbeddings);

}  // namespace bert
