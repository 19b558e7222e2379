// ElectraForSequenceClassification: ElectraModel (ElectraEmbeddings, embeddings_project when embedding_size differs
// from hidden_size, BERT's encoder; no pooler) and ElectraClassificationHead on the first token.
#pragma once

#include <torch/nn/module.h>
#include <torch/nn/modules/linear.h>

#include <memory>

#include "bert_config.h"
#include "bert_model.h"
#include "classification_heads.h"
#include "electra_embeddings.h"
#include "sequence_classifier.h"

namespace bert {

struct ElectraModelImpl : torch::nn::Module {
  explicit ElectraModelImpl(const BertConfig& config);

  // -> the last layer's output [B, S, H], or with first_positions_only its first positions [B, P, H]
  at::Tensor forward(const at::Tensor& input_ids, const at::Tensor& attention_mask, const at::Tensor& token_type_ids,
                     bool first_positions_only);

  ElectraEmbeddings embeddings{nullptr};
  torch::nn::Linear embeddings_project{nullptr};  // null when embedding_size == hidden_size
  BertEncoder encoder{nullptr};
  std::shared_ptr<DropoutGenerator> dropout_generator;  // every Dropout of this model draws from it
};
TORCH_MODULE(ElectraModel);

struct ElectraForSequenceClassificationImpl : SequenceClassifierImpl {
  explicit ElectraForSequenceClassificationImpl(const BertConfig& config);

  at::Tensor forward(const at::Tensor& input_ids, const at::Tensor& attention_mask,
                     const at::Tensor& token_type_ids) override;
  ClassifierOutputs forward_outputs(const at::Tensor& input_ids, const at::Tensor& attention_mask,
                                    const at::Tensor& token_type_ids) override;
  DropoutGenerator& dropout_generator() override { return *electra->dropout_generator; }
  std::string base_model_prefix() const override { return "electra"; }

  BertConfig config;
  ElectraModel electra{nullptr};
  FirstTokenClassificationHead classifier{nullptr};
};

}  // namespace bert
