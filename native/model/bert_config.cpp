#include "bert_config.h"

#include <stdexcept>

#include "activation.h"

namespace bert {

namespace {
void require_positive(const char* field, int64_t value) {
  if (value <= 0)
    throw std::invalid_argument(std::string("config.") + field + " must be a positive integer, got " +
                                std::to_string(value));
}
void require_probability(const char* field, double value) {
  if (!(value >= 0.0 && value < 1.0))
    throw std::invalid_argument(std::string("config.") + field + " must be in [0, 1), got " + std::to_string(value));
}
}  // namespace

void BertConfig::validate() const {
  require_positive("vocab_size", vocab_size);
  require_positive("hidden_size", hidden_size);
  require_positive("num_hidden_layers", num_hidden_layers);
  require_positive("num_attention_heads", num_attention_heads);
  require_positive("intermediate_size", intermediate_size);
  require_positive("max_position_embeddings", max_position_embeddings);
  require_positive("type_vocab_size", type_vocab_size);
  require_positive("num_labels", num_labels);
  if (hidden_size % num_attention_heads != 0) {
    throw std::invalid_argument("config.hidden_size (" + std::to_string(hidden_size) +
                                ") is not a multiple of config.num_attention_heads (" +
                                std::to_string(num_attention_heads) + ")");
  }
  require_probability("hidden_dropout_prob", hidden_dropout_prob);
  require_probability("attention_probs_dropout_prob", attention_probs_dropout_prob);
  if (classifier_dropout) require_probability("classifier_dropout", *classifier_dropout);
  if (!(layer_norm_eps > 0.0))
    throw std::invalid_argument("config.layer_norm_eps must be positive, got " + std::to_string(layer_norm_eps));
  if (!(initializer_range >= 0.0)) throw std::invalid_argument("config.initializer_range must be non-negative");
  if (pad_token_id < 0 || pad_token_id >= vocab_size) {
    throw std::invalid_argument("config.pad_token_id (" + std::to_string(pad_token_id) +
                                ") must be in [0, vocab_size=" + std::to_string(vocab_size) + ")");
  }
  if (position_embedding_type != "absolute") {
    throw std::invalid_argument("config.position_embedding_type '" + position_embedding_type +
                                "' is not supported (only 'absolute')");
  }
  parse_activation(hidden_act);  // throws naming the value
  bool known = false;
  std::string names;
  for (const char* name : kModelTypes) {
    known = known || model_type == name;
    names += std::string(names.empty() ? "" : ", ") + name;
  }
  if (!known)
    throw std::invalid_argument("config.model_type '" + model_type + "' is not supported (supported: " + names + ")");
  if (embedding_size < 0)
    throw std::invalid_argument("config.embedding_size must be positive, got " + std::to_string(embedding_size));
}

}  // namespace bert
