// BertEmbeddings: word + position + token-type embeddings, LayerNorm, dropout (transformers' BertEmbeddings).
#pragma once

#include <torch/nn/module.h>
#include "dropout.h"
#include <torch/nn/modules/embedding.h>
#include <torch/nn/modules/normalization.h>

#include "bert_config.h"

namespace bert {

struct BertEmbeddingsImpl : torch::nn::Module {
  explicit BertEmbeddingsImpl(const BertConfig& config);

  // input_ids, token_type_ids: [B, S] int64  ->  [B, S, H]
  at::Tensor forward(const at::Tensor& input_ids, const at::Tensor& token_type_ids);

  torch::nn::Embedding word_embeddings{nullptr};
  torch::nn::Embedding position_embeddings{nullptr};
  torch::nn::Embedding token_type_embeddings{nullptr};
  torch::nn::LayerNorm LayerNorm{nullptr};  // HF's attribute name, kept for the state-dict keys
  Dropout dropout{nullptr};
};
TORCH_MODULE(BertEmbeddings);

}  // namespace bert
