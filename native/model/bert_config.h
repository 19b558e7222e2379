// The fields of a Hugging Face BertConfig (config.json) that shape the model, under transformers' names: the encoder
// every architecture of the family shares. The TypeScript side reads each architecture's config.json
// (src/model/architectures.ts: DistilBERT's dim, n_layers, ... under BERT's names), fills transformers' defaults and
// validates; this struct is what crosses the boundary, and `validate()` re-checks what the C++ code relies on.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

namespace bert {

// config.json's model_type values with a native model (sequence_classifier.cpp builds them).
inline constexpr const char* kModelTypes[] = {"bert", "roberta", "xlm-roberta", "distilbert", "electra"};

struct BertConfig {
  std::string model_type = "bert";
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
  int64_t embedding_size = 0;         // ELECTRA: the embeddings' width (0: hidden_size), projected to hidden_size
  bool sinusoidal_pos_embds = false;  // DistilBERT: the position table starts as sinusoids (then trains as any weight)

  int64_t embedding_width() const { return embedding_size > 0 ? embedding_size : hidden_size; }

  // The longest sequence the position embeddings cover: RoBERTa counts positions from pad_token_id + 1.
  int64_t max_sequence_length() const {
    const bool offset = model_type == "roberta" || model_type == "xlm-roberta";
    return offset ? max_position_embeddings - pad_token_id - 1 : max_position_embeddings;
  }
  int64_t head_dim() const { return hidden_size / num_attention_heads; }
  double effective_classifier_dropout() const { return classifier_dropout.value_or(hidden_dropout_prob); }

  // Throws std::invalid_argument naming the field and the value.
  void validate() const;
};

}  // namespace bert
