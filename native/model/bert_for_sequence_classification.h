// BertForSequenceClassification: BertModel, dropout on the pooled output, a linear classifier.
// Registered names give exactly Hugging Face's state-dict keys ("bert.encoder.layer.0...", "classifier.bias").
#pragma once

#include <torch/nn/module.h>
#include "dropout.h"
#include <torch/nn/modules/linear.h>

#include "bert_config.h"
#include "bert_model.h"
#include "sequence_classifier.h"

namespace bert {

struct BertForSequenceClassificationImpl : SequenceClassifierImpl {
  explicit BertForSequenceClassificationImpl(const BertConfig& config);

  // -> logits [B, num_labels]
  at::Tensor forward(const at::Tensor& input_ids, const at::Tensor& attention_mask,
                     const at::Tensor& token_type_ids) override;
  ClassifierOutputs forward_outputs(const at::Tensor& input_ids, const at::Tensor& attention_mask,
                                    const at::Tensor& token_type_ids) override;
  std::string base_model_prefix() const override { return "bert"; }

  BertConfig config;
  BertModel bert{nullptr};
  Dropout dropout{nullptr};
  torch::nn::Linear classifier{nullptr};

  DropoutGenerator& dropout_generator() override { return *bert->dropout_generator; }
};
TORCH_MODULE(BertForSequenceClassification);

}  // namespace bert
