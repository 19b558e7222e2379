// RobertaEmbeddings (also XLM-RoBERTa's): BERT's embeddings with positions counted from padding_idx + 1 over the
// tokens that are not padding (fairseq's make_positions); padding tokens get position padding_idx.
#pragma once

#include <torch/nn/module.h>
#include <torch/nn/modules/embedding.h>
#include <torch/nn/modules/normalization.h>

#include "bert_config.h"
#include "dropout.h"

namespace bert {

// transformers' create_position_ids_from_input_ids: [B, S] int64 -> [B, S] int64.
at::Tensor create_position_ids_from_input_ids(const at::Tensor& input_ids, int64_t padding_idx);

struct RobertaEmbeddingsImpl : torch::nn::Module {
  explicit RobertaEmbeddingsImpl(const BertConfig& config);

  // input_ids, token_type_ids: [B, S] int64  ->  [B, S, H]
  at::Tensor forward(const at::Tensor& input_ids, const at::Tensor& token_type_ids);

  int64_t padding_idx;
  torch::nn::Embedding word_embeddings{nullptr};
  torch::nn::Embedding token_type_embeddings{nullptr};
  torch::nn::LayerNorm LayerNorm{nullptr};  // HF's attribute name, kept for the state-dict keys
  Dropout dropout{nullptr};
  torch::nn::Embedding position_embeddings{nullptr};
};
TORCH_MODULE(RobertaEmbeddings);

}  // namespace bert
