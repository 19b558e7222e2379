// The loss transformers' BertForSequenceClassification picks from problem_type.
#pragma once

#include <ATen/ATen.h>

#include <string>

namespace bert {

enum class LossKind {
  CrossEntropy,        // single_label_classification: integer labels [B]
  BinaryCrossEntropy,  // multi_label_classification: float multi-hot labels [B, L]
  MeanSquaredError,    // regression: float labels [B] (one label) or [B, L]
};

// Throws std::invalid_argument naming the value.
LossKind parse_loss_kind(const std::string& name);

// logits [B, L]; labels as above; class_weights [L] or undefined (cross-entropy only) -> scalar mean loss.
at::Tensor compute_loss(LossKind kind, const at::Tensor& logits, const at::Tensor& labels,
                        const at::Tensor& class_weights);

}  // namespace bert
