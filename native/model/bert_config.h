// The fields of a Hugging Face BertConfig (config.json) that shape the model, under transformers' names.
// The TypeScript side reads config.json, fills transformers' defaults and validates; this struct is what
// crosses the boundary, and `validate()` re-checks what the C++ code relies on.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

namespace bert {

struct BertConfig {
  int64_t vocab_size = 30522;
  int64_t hidden_size = 768;
  int64_t num_hidden_layers = 12;
  int64_t num_attention_heads = 12;
  int64_t intermediate_size = 3072;
  std::string hidden_act = "gelu";
  double hidden_dropout_prob = 0.1;
  double attention_probs_dropout_prob = 0.1;
  std::optional<double> classifier_dropout;  // null in config.json: falls back to hidden_dropout_prob
  int64_t max_position_embeddings = 512;
  int64_t type_vocab_size = 2;
  double initializer_range = 0.02;
  double layer_norm_eps = 1e-12;
  int64_t pad_token_id = 0;
  std::string position_embedding_type = "absolute";
  int64_t num_labels = 2;

  int64_t head_dim() const { return hidden_size / num_attention_heads; }
  double effective_classifier_dropout() const { return classifier_dropout.value_or(hidden_dropout_prob); }

  // Throws std::invalid_argument naming the field and the value.
  void validate() const;
};

}  // namespace bert
