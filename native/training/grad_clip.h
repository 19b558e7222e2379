// torch.nn.utils.clip_grad_norm_: the 2-norm of all gradients together, and a scale of
// max_norm / (norm + 1e-6) clamped to 1 for every gradient.
#pragma once

#include <ATen/ATen.h>

#include <vector>

namespace bert {

struct GradNorm {
  at::Tensor total;        // 0-d: the norm before clipping
  at::Tensor coefficient;  // 0-d: min(max_norm / (total + 1e-6), 1); undefined when max_norm <= 0 (no clipping)
};

// Measures without touching the gradients: the optimizer applies the coefficient in its own pass (AdamW::step's
// grad_scale). 0-d tensors, so that CUDA callers need not synchronise.
GradNorm grad_norm(const std::vector<at::Tensor>& params, double max_norm);

}  // namespace bert
