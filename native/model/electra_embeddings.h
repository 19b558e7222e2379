// ElectraEmbeddings: BERT's embeddings at embedding_size (which may differ from hidden_size; ElectraModel then
// projects them with embeddings_project).
#pragma once

#include <torch/nn/module.h>
#include <torch/nn/modules/embedding.h>
#include <torch/nn/modules/normalization.h>

#include "bert_config.h"
#include "dropout.h"

namespace bert {

struct ElectraEmbeddingsImpl : torch::nn::Module {
  explicit ElectraEmbeddingsImpl(const BertConfig& config);

  // input_ids, token_type_ids: [B, S] int64  ->  [B, S, E]
  at::Tensor forward(const at::Tensor& input_ids, const at::Tensor& token_type_ids);

  torch::nn::Embedding word_embeddings{nullptr};
  torch::nn::Embedding position_embeddings{nullptr};
  torch::nn::Embedding token_type_embeddings{nullptr};
  torch::nn::LayerNorm LayerNorm{nullptr};  // HF's attribute name, kept for the state-dict keys
  Dropout dropout{nullptr};
};
TORCH_MODULE(ElectraEmbeddings);

}  // namespace bert
