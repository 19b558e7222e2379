// What every sequence classifier of the BERT family is to the addon and the training step: logits from token ids,
// the base model's outputs for forward(outputHiddenStates), its dropout stream and the prefix of its base model's
// state-dict keys. make_sequence_classifier is the one dispatch on config.model_type.
#pragma once

#include <torch/nn/module.h>

#include <memory>
#include <string>

#include "bert_config.h"
#include "dropout_generator.h"

namespace bert {

struct ClassifierOutputs {
  at::Tensor logits;             // [B, num_labels]
  at::Tensor pooler_output;      // [B, H]; undefined for architectures without a pooler
  at::Tensor last_hidden_state;  // [B, S, H]
};

struct SequenceClassifierImpl : torch::nn::Module {
  // input_ids: [B, S] int64; attention_mask: [B, S] (1 attend, 0 pad) or undefined for all ones;
  // token_type_ids: [B, S] int64 or undefined for zeros (ignored by architectures without token types).
  // -> logits [B, num_labels], computing the last layer for the positions the head reads (first_positions.h).
  virtual at::Tensor forward(const at::Tensor& input_ids, const at::Tensor& attention_mask,
                             const at::Tensor& token_type_ids) = 0;
  // The logits with the base model's whole output.
  virtual ClassifierOutputs forward_outputs(const at::Tensor& input_ids, const at::Tensor& attention_mask,
                                            const at::Tensor& token_type_ids) = 0;
  virtual DropoutGenerator& dropout_generator() = 0;
  // transformers' base_model_prefix: "bert", "roberta", "distilbert", "electra".
  virtual std::string base_model_prefix() const = 0;
};

using SequenceClassifier = std::shared_ptr<SequenceClassifierImpl>;

// The architecture config.model_type names (BertConfig::validate has checked it).
SequenceClassifier make_sequence_classifier(const BertConfig& config);

}  // namespace bert
