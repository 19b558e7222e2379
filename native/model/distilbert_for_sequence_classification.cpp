#include "distilbert_for_sequence_classification.h"

#include "bert_model.h"
#include "linear.h"

namespace bert {

DistilBertModelImpl::DistilBertModelImpl(const BertConfig& config) {
  embeddings = register_module("embeddings", DistilBertEmbeddings(config));
  transformer = register_module("transformer", Transformer(config));
  dropout_generator = new_dropout_generator();
  bind_dropout_generator(*this, dropout_generator);
}

at::Tensor DistilBertModelImpl::forward(const at::Tensor& input_ids, const at::Tensor& attention_mask) {
  auto hidden = embeddings(input_ids);                                                        // [B, S, dim]
  return transformer(hidden, encoder_mask(input_ids, attention_mask, hidden.scalar_type()));  // [B, S, dim]
}

DistilBertForSequenceClassificationImpl::DistilBertForSequenceClassificationImpl(const BertConfig& cfg) : config(cfg) {
  config.validate();
  distilbert = register_module("distilbert", DistilBertModel(config));
  pre_classifier = register_module("pre_classifier", torch::nn::Linear(config.hidden_size, config.hidden_size));
  classifier = register_module("classifier", torch::nn::Linear(config.hidden_size, config.num_labels));
  // seq_classif_dropout, which src/model/architectures.ts passes as classifier_dropout
  dropout = register_module("dropout", Dropout(config.effective_classifier_dropout()));
  bind_dropout_generator(*this, distilbert->dropout_generator);  // the head's dropout shares the encoder's stream
}

at::Tensor DistilBertForSequenceClassificationImpl::head(const at::Tensor& hidden) {
  auto pooled = at::relu(linear(pre_classifier, hidden.select(1, 0)));  // [B, dim]
  return linear(classifier, dropout(pooled));                           // [B, num_labels]
}

at::Tensor DistilBertForSequenceClassificationImpl::forward(const at::Tensor& input_ids,
                                                            const at::Tensor& attention_mask, const at::Tensor&) {
  return head(distilbert->forward(input_ids, attention_mask));
}

ClassifierOutputs DistilBertForSequenceClassificationImpl::forward_outputs(const at::Tensor& input_ids,
                                                                           const at::Tensor& attention_mask,
                                                                           const at::Tensor&) {
  auto hidden = distilbert->forward(input_ids, attention_mask);
  return {head(hidden), at::Tensor(), hidden};
}

}  // namespace bert
