#include "electra_for_sequence_classification.h"

#include "linear.h"

namespace bert {

ElectraModelImpl::ElectraModelImpl(const BertConfig& config) {
  embeddings = register_module("embeddings", ElectraEmbeddings(config));
  if (config.embedding_width() != config.hidden_size) {
    embeddings_project =
        register_module("embeddings_project", torch::nn::Linear(config.embedding_width(), config.hidden_size));
  }
  encoder = register_module("encoder", BertEncoder(config));
  dropout_generator = new_dropout_generator();
  bind_dropout_generator(*this, dropout_generator);
}

at::Tensor ElectraModelImpl::forward(const at::Tensor& input_ids, const at::Tensor& attention_mask,
                                     const at::Tensor& token_type_ids, bool first_positions_only) {
  auto hidden = embeddings(input_ids, token_types_or_zeros(input_ids, token_type_ids));  // [B, S, E]
  if (embeddings_project) hidden = linear(embeddings_project, hidden);                   // [B, S, H]
  auto mask = encoder_mask(input_ids, attention_mask, hidden.scalar_type());             // [B, 1, 1, S]
  return first_positions_only ? encoder->forward_first_positions(hidden, mask) : encoder(hidden, mask);
}

ElectraForSequenceClassificationImpl::ElectraForSequenceClassificationImpl(const BertConfig& cfg) : config(cfg) {
  config.validate();
  electra = register_module("electra", ElectraModel(config));
  classifier = register_module("classifier", electra_classification_head(config));
  bind_dropout_generator(*this, electra->dropout_generator);  // the head's dropout shares the encoder's stream
}

at::Tensor ElectraForSequenceClassificationImpl::forward(const at::Tensor& input_ids, const at::Tensor& attention_mask,
                                                         const at::Tensor& token_type_ids) {
  const bool first = first_positions_apply(input_ids, electra->embeddings->word_embeddings->weight);
  return classifier(electra->forward(input_ids, attention_mask, token_type_ids, first));  // [B, num_labels]
}

ClassifierOutputs ElectraForSequenceClassificationImpl::forward_outputs(const at::Tensor& input_ids,
                                                                        const at::Tensor& attention_mask,
                                                                        const at::Tensor& token_type_ids) {
  auto hidden = electra->forward(input_ids, attention_mask, token_type_ids, false);  // [B, S, H]
  return {classifier(hidden), at::Tensor(), hidden};
}

}  // namespace bert
