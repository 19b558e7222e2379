// torch.nn.utils.clip_grad_norm_: the 2-norm of all gradients together, and a scale of
// max_norm / (norm + 1e-6) clamped to 1 applied to every gradient.
#pragma once

#include <ATen/ATen.h>

#include <vector>

namespace bert {

// Returns the total norm before clipping (a 0-d tensor, so that CUDA callers need not synchronise).
// max_norm <= 0 only measures.
at::Tensor clip_grad_norm(const std::vector<at::Tensor>& params, double max_norm);

}  // namespace bert
