// The heads on the first token of RoBERTa (also XLM-RoBERTa) and ELECTRA: dropout, dense, an activation (tanh for
// RoBERTa, gelu for ELECTRA), dropout, out_proj. transformers' RobertaClassificationHead and
// ElectraClassificationHead, registered under their names ("classifier.dense", "classifier.out_proj").
#pragma once

#include <torch/nn/module.h>
#include <torch/nn/modules/linear.h>

#include "activation.h"
#include "bert_config.h"
#include "dropout.h"

namespace bert {

struct FirstTokenClassificationHeadImpl : torch::nn::Module {
  FirstTokenClassificationHeadImpl(const BertConfig& config, Activation activation);

  // features: [B, P, H] (P >= 1: the positions computed) -> logits [B, num_labels] from position 0
  at::Tensor forward(const at::Tensor& features);

  Activation activation;
  torch::nn::Linear dense{nullptr};
  Dropout dropout{nullptr};
  torch::nn::Linear out_proj{nullptr};
};
TORCH_MODULE(FirstTokenClassificationHead);

// RobertaClassificationHead: tanh.
inline FirstTokenClassificationHead roberta_classification_head(const BertConfig& config) {
  return FirstTokenClassificationHead(config, Activation::Tanh);
}
// ElectraClassificationHead: get_activation("gelu"), whatever hidden_act is.
inline FirstTokenClassificationHead electra_classification_head(const BertConfig& config) {
  return FirstTokenClassificationHead(config, Activation::Gelu);
}

}  // namespace bert
