#include "activation.h"

#include <cmath>
#include <stdexcept>

namespace bert {

Activation parse_activation(const std::string& name) {
  if (name == "gelu") return Activation::Gelu;
  if (name == "gelu_new") return Activation::GeluNew;
  if (name == "gelu_pytorch_tanh") return Activation::GeluPytorchTanh;
  if (name == "relu") return Activation::Relu;
  if (name == "silu" || name == "swish") return Activation::Silu;
  if (name == "tanh") return Activation::Tanh;
  throw std::invalid_argument("config.hidden_act '" + name +
                              "' is not supported (supported: gelu, gelu_new, gelu_pytorch_tanh, relu, silu, tanh)");
}

at::Tensor apply_activation(Activation act, const at::Tensor& x) {
  switch (act) {
    case Activation::Gelu:
      return at::gelu(x);  // exact erf form, as transformers' "gelu"
    case Activation::GeluNew: {
      // transformers' NewGELUActivation spells the tanh approximation out:
      //   0.5 * x * (1.0 + tanh(k * (x + 0.044715 * pow(x, 3.0))))
      // Python evaluates it left to right; C++ leaves the operands' order open (GCC builds the right factor first).
      // The order the operations are created in is the order autograd sums x's three gradients in, which changes
      // their rounding (visible in bf16: a 1e-3 difference in the gradient norm), so each step is its own statement.
      const double k = std::sqrt(2.0 / M_PI);
      at::Tensor half_x = 0.5 * x;
      at::Tensor cube = at::pow(x, 3.0);
      at::Tensor inner = x + 0.044715 * cube;
      at::Tensor gate = 1.0 + at::tanh(k * inner);
      return half_x * gate;
    }
    case Activation::GeluPytorchTanh:
      return at::gelu(x, "tanh");
    case Activation::Relu:
      return at::relu(x);
    case Activation::Silu:
      return at::silu(x);
    case Activation::Tanh:
      return at::tanh(x);
  }
  throw std::logic_error("unreachable activation");
}

}  // namespace bert
