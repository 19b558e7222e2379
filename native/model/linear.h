// A Linear layer applied as torch.nn.functional.linear applies it: at::linear, which folds a [B, S, in] input into
// one addmm with the bias inside the GEMM. LibTorch 1.13's C++ torch::nn::Linear::forward instead runs matmul and
// then `+= bias` for inputs of more than two dimensions: one more pass over the output, another rounding, and under
// bf16 autocast a bias added in fp32 where PyTorch adds it in bf16.
// Inside a forward() that packed its weights (packed_linear.h), the product is packed_gemm's over the packed weight.
#pragma once

#include <ATen/ATen.h>
#include <torch/nn/modules/linear.h>

#include "packed_linear.h"

namespace bert {

inline at::Tensor linear(const torch::nn::Linear& layer, const at::Tensor& input) {
  if (auto packed = packed_linear(layer, input)) return *packed;
  return at::linear(input, layer->weight, layer->bias);
}

}  // namespace bert
