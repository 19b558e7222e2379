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
      // transformers' NewGELUActivation spells the tanh approximation out; keep its operation order.
      const double k = std::sqrt(2.0 / M_PI);
      return 0.5 * x * (1.0 + at::tanh(k * (x + 0.044715 * at::pow(x, 3.0))));
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
