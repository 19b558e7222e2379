// hidden_act as transformers' ACT2FN maps it.
#pragma once

#include <ATen/ATen.h>

#include <string>

namespace bert {

enum class Activation { Gelu, GeluNew, GeluPytorchTanh, Relu, Silu, Tanh };

// Throws std::invalid_argument naming the value and the supported ones.
Activation parse_activation(const std::string& name);

at::Tensor apply_activation(Activation act, const at::Tensor& x);

}  // namespace bert
