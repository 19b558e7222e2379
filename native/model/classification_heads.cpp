#include "classification_heads.h"

#include "linear.h"

namespace bert {

FirstTokenClassificationHeadImpl::FirstTokenClassificationHeadImpl(const BertConfig& config, Activation act)
    : activation(act) {
  dense = register_module("dense", torch::nn::Linear(config.hidden_size, config.hidden_size));
  dropout = register_module("dropout", Dropout(config.effective_classifier_dropout()));
  out_proj = register_module("out_proj", torch::nn::Linear(config.hidden_size, config.num_labels));
}

at::Tensor FirstTokenClassificationHeadImpl::forward(const at::Tensor& features) {
  auto x = dropout(features.select(1, 0));  // [B, H]: the <s> / [CLS] token
  x = dropout(apply_activation(activation, linear(dense, x)));
  return linear(out_proj, x);  // [B, num_labels]
}

}  // namespace bert
