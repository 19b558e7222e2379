#include "grad_clip.h"

#include <c10/core/GradMode.h>

namespace bert {

GradNorm grad_norm(const std::vector<at::Tensor>& params, double max_norm) {
  c10::NoGradGuard no_grad;
  std::vector<at::Tensor> norms;
  for (const auto& p : params)
    if (p.grad().defined()) norms.push_back(at::linalg_vector_norm(p.grad(), 2.0));
  if (norms.empty()) return {at::zeros({}), at::Tensor()};
  GradNorm out;
  out.total = at::linalg_vector_norm(at::stack(norms), 2.0);
  if (max_norm > 0) out.coefficient = at::clamp(max_norm / (out.total + 1e-6), c10::nullopt, 1.0);
  return out;
}

}  // namespace bert
