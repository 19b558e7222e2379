#include "loss.h"

#include <stdexcept>

namespace bert {

LossKind parse_loss_kind(const std::string& name) {
  if (name == "single_label_classification") return LossKind::CrossEntropy;
  if (name == "multi_label_classification") return LossKind::BinaryCrossEntropy;
  if (name == "regression") return LossKind::MeanSquaredError;
  throw std::invalid_argument("problemType '" + name +
                              "' is not one of single_label_classification, multi_label_classification, regression");
}

at::Tensor compute_loss(LossKind kind, const at::Tensor& logits, const at::Tensor& labels,
                        const at::Tensor& class_weights) {
  switch (kind) {
    case LossKind::CrossEntropy:
      // CrossEntropyLoss(weight)(logits.view(-1, L), labels.view(-1)); with weights the mean is weighted, as in torch.
      return at::cross_entropy_loss(logits.view({-1, logits.size(-1)}), labels.view({-1}), class_weights);
    case LossKind::BinaryCrossEntropy:
      return at::binary_cross_entropy_with_logits(logits, labels);
    case LossKind::MeanSquaredError:
      // transformers squeezes both sides when there is one label.
      if (logits.size(-1) == 1) return at::mse_loss(logits.squeeze(), labels.squeeze());
      return at::mse_loss(logits, labels);
  }
  throw std::logic_error("unreachable loss kind");
}

}  // namespace bert
