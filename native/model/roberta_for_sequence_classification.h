// RobertaForSequenceClassification (also XLM-RoBERTa's): RobertaModel without its pooler (RobertaEmbeddings, BERT's
// encoder) and RobertaClassificationHead on the first token. Keys "roberta.embeddings...", "classifier.out_proj...".
#pragma once

#include <torch/nn/module.h>

#include <memory>

#include "bert_config.h"
#include "bert_model.h"
#include "classification_heads.h"
#include "roberta_embeddings.h"
#include "sequence_classifier.h"

namespace bert {

struct RobertaModelImpl : torch::nn::Module {
  explicit RobertaModelImpl(const BertConfig& config);

  // -> the last layer's output [B, S, H], or with first_positions_only its first positions [B, P, H]
  at::Tensor forward(const at::Tensor& input_ids, const at::Tensor& attention_mask, const at::Tensor& token_type_ids,
                     bool first_positions_only);

  RobertaEmbeddings embeddings{nullptr};
  BertEncoder encoder{nullptr};
  std::shared_ptr<DropoutGenerator> dropout_generator;  // every Dropout of this model draws from it
};
TORCH_MODULE(RobertaModel);

struct RobertaForSequenceClassificationImpl : SequenceClassifierImpl {
  explicit RobertaForSequenceClassificationImpl(const BertConfig& config);

  at::Tensor forward(const at::Tensor& input_ids, const at::Tensor& attention_mask,
                     const at::Tensor& token_type_ids) override;
  ClassifierOutputs forward_outputs(const at::Tensor& input_ids, const at::Tensor& attention_mask,
                                    const at::Tensor& token_type_ids) override;
  DropoutGenerator& dropout_generator() override { return *roberta->dropout_generator; }
  std::string base_model_prefix() const override { return "roberta"; }

  BertConfig config;
  RobertaModel roberta{nullptr};
  FirstTokenClassificationHead classifier{nullptr};
};

}  // namespace bert
