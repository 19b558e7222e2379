// DistilBertForSequenceClassification: DistilBertModel (embeddings, transformer; no token types, no pooler), then on
// the first token pre_classifier, ReLU, dropout (seq_classif_dropout) and classifier.
#pragma once

#include <torch/nn/module.h>
#include <torch/nn/modules/linear.h>

#include <memory>

#include "bert_config.h"
#include "distilbert_embeddings.h"
#include "distilbert_transformer.h"
#include "dropout.h"
#include "sequence_classifier.h"

namespace bert {

struct DistilBertModelImpl : torch::nn::Module {
  explicit DistilBertModelImpl(const BertConfig& config);
  // input_ids: [B, S]; attention_mask: [B, S] or undefined  ->  [B, S, dim]
  at::Tensor forward(const at::Tensor& input_ids, const at::Tensor& attention_mask);

  DistilBertEmbeddings embeddings{nullptr};
  Transformer transformer{nullptr};
  std::shared_ptr<DropoutGenerator> dropout_generator;  // every Dropout of this model draws from it
};
TORCH_MODULE(DistilBertModel);

struct DistilBertForSequenceClassificationImpl : SequenceClassifierImpl {
  explicit DistilBertForSequenceClassificationImpl(const BertConfig& config);

  // token_type_ids are ignored: DistilBERT has none.
  at::Tensor forward(const at::Tensor& input_ids, const at::Tensor& attention_mask,
                     const at::Tensor& token_type_ids) override;
  ClassifierOutputs forward_outputs(const at::Tensor& input_ids, const at::Tensor& attention_mask,
                                    const at::Tensor& token_type_ids) override;
  DropoutGenerator& dropout_generator() override { return *distilbert->dropout_generator; }
  std::string base_model_prefix() const override { return "distilbert"; }

  // The head on the last hidden state [B, S, dim] -> [B, num_labels].
  at::Tensor head(const at::Tensor& hidden);

  BertConfig config;
  DistilBertModel distilbert{nullptr};
  torch::nn::Linear pre_classifier{nullptr};
  torch::nn::Linear classifier{nullptr};
  Dropout dropout{nullptr};
};

}  // namespace bert
