#include "roberta_for_sequence_classification.h"

namespace bert {

RobertaModelImpl::RobertaModelImpl(const BertConfig& config) {
  embeddings = register_module("embeddings", RobertaEmbeddings(config));
  encoder = register_module("encoder", BertEncoder(config));
  dropout_generator = new_dropout_generator();
  bind_dropout_generator(*this, dropout_generator);
}

at::Tensor RobertaModelImpl::forward(const at::Tensor& input_ids, const at::Tensor& attention_mask,
                                     const at::Tensor& token_type_ids, bool first_positions_only) {
  auto hidden = embeddings(input_ids, token_types_or_zeros(input_ids, token_type_ids));  // [B, S, H]
  auto mask = encoder_mask(input_ids, attention_mask, hidden.scalar_type());             // [B, 1, 1, S]
  return first_positions_only ? encoder->forward_first_positions(hidden, mask) : encoder(hidden, mask);
}

RobertaForSequenceClassificationImpl::RobertaForSequenceClassificationImpl(const BertConfig& cfg) : config(cfg) {
  config.validate();
  // Registration order is the state-dict order: XLMRobertaForSequenceClassification creates its head first.
  if (config.model_type == "xlm-roberta")
    classifier = register_module("classifier", roberta_classification_head(config));
  roberta = register_module("roberta", RobertaModel(config));
  if (!classifier) classifier = register_module("classifier", roberta_classification_head(config));
  bind_dropout_generator(*this, roberta->dropout_generator);  // the head's dropout shares the encoder's stream
}

at::Tensor RobertaForSequenceClassificationImpl::forward(const at::Tensor& input_ids, const at::Tensor& attention_mask,
                                                         const at::Tensor& token_type_ids) {
  const bool first = first_positions_apply(input_ids, roberta->embeddings->word_embeddings->weight);
  return classifier(roberta->forward(input_ids, attention_mask, token_type_ids, first));  // [B, num_labels]
}

ClassifierOutputs RobertaForSequenceClassificationImpl::forward_outputs(const at::Tensor& input_ids,
                                                                        const at::Tensor& attention_mask,
                                                                        const at::Tensor& token_type_ids) {
  auto hidden = roberta->forward(input_ids, attention_mask, token_type_ids, false);  // [B, S, H]
  return {classifier(hidden), at::Tensor(), hidden};
}

}  // namespace bert
