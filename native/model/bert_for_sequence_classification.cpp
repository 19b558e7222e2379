#include "bert_for_sequence_classification.h"
#include "linear.h"

namespace bert {

BertForSequenceClassificationImpl::BertForSequenceClassificationImpl(const BertConfig& cfg) : config(cfg) {
  config.validate();
  bert = register_module("bert", BertModel(config));
  dropout = register_module("dropout", Dropout(config.effective_classifier_dropout()));
  classifier = register_module("classifier", torch::nn::Linear(config.hidden_size, config.num_labels));
  bind_dropout_generator(*this, bert->dropout_generator);  // the classifier's dropout shares the encoder's stream
}

at::Tensor BertForSequenceClassificationImpl::forward(const at::Tensor& input_ids, const at::Tensor& attention_mask,
                                                      const at::Tensor& token_type_ids) {
  auto pooled = bert->pooled_output(input_ids, attention_mask, token_type_ids);  // [B, H]: only what is read
  return linear(classifier, dropout(pooled));                                    // [B, num_labels]
}

ClassifierOutputs BertForSequenceClassificationImpl::forward_outputs(const at::Tensor& input_ids,
                                                                     const at::Tensor& attention_mask,
                                                                     const at::Tensor& token_type_ids) {
  auto base = bert->forward(input_ids, attention_mask, token_type_ids);
  return {linear(classifier, dropout(base.pooler_output)), base.pooler_output, base.last_hidden_state};
}

}  // namespace bert
