#include "dropout.h"

#include <ATen/CPUGeneratorImpl.h>
#include <ATen/Parallel.h>
#include <torch/autograd.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <stdexcept>

#include "philox.h"

namespace bert {

namespace {

constexpr int64_t kGrainBlocks = 4096;  // 16 Ki elements per task: big enough to amortise a task, small for balance

template <typename scalar_t>
void dropout_forward_kernel(const scalar_t* x, scalar_t* y, bool* keep_mask, int64_t n, uint64_t key,
                            uint64_t first_block, uint64_t drop_below, scalar_t scale) {
  const int64_t blocks = (n + 3) / 4;  // one Philox call gives 4 words: 4 elements
  at::parallel_for(0, blocks, kGrainBlocks, [&](int64_t begin, int64_t end) {
    for (int64_t b = begin; b < end; ++b) {
      const auto words = philox4x32_10(first_block + static_cast<uint64_t>(b), 0, key);
      const int64_t base = b * 4;
      const int64_t count = std::min<int64_t>(4, n - base);
      for (int64_t j = 0; j < count; ++j) {
        const bool keep = words[j] >= drop_below;  // P(word < drop_below) = drop_below / 2^32 = p
        keep_mask[base + j] = keep;
        y[base + j] = keep ? x[base + j] * scale : scalar_t(0);
      }
    }
  });
}

template <typename scalar_t>
void dropout_backward_kernel(const scalar_t* grad_out, const bool* keep_mask, scalar_t* grad_in, int64_t n, scalar_t scale) {
  at::parallel_for(0, n, kGrainBlocks * 4, [&](int64_t begin, int64_t end) {
    for (int64_t i = begin; i < end; ++i) grad_in[i] = keep_mask[i] ? grad_out[i] * scale : scalar_t(0);
  });
}

// torch.nn.Dropout scales kept values by a mask holding 1/(1-p) in the input's dtype (bernoulli_ then div_(1-p)),
// so the scale is computed in that dtype too: the kept values are bit-identical to PyTorch's.
template <typename scalar_t>
scalar_t keep_scale(double p) {
  return scalar_t(1) / static_cast<scalar_t>(1.0 - p);
}

struct PhiloxDropoutFunction : public torch::autograd::Function<PhiloxDropoutFunction> {
  static at::Tensor forward(torch::autograd::AutogradContext* ctx, const at::Tensor& input, double p,
                            DropoutGenerator* generator) {
    at::Tensor x = input.contiguous();
    at::Tensor y = at::empty_like(x, at::MemoryFormat::Contiguous);
    at::Tensor keep = at::empty(x.sizes(), x.options().dtype(at::kBool));
    const int64_t n = x.numel();
    const auto reservation = generator->reserve(static_cast<uint64_t>((n + 3) / 4));
    const uint64_t drop_below = static_cast<uint64_t>(std::llround(p * 4294967296.0));  // p · 2^32
    AT_DISPATCH_FLOATING_TYPES_AND(at::kBFloat16, x.scalar_type(), "philox_dropout", [&] {
      const scalar_t scale = keep_scale<scalar_t>(p);
      dropout_forward_kernel<scalar_t>(x.data_ptr<scalar_t>(), y.data_ptr<scalar_t>(), keep.data_ptr<bool>(), n,
                                       reservation.key, reservation.first_block, drop_below, scale);
    });
    ctx->save_for_backward({keep});
    ctx->saved_data["p"] = p;
    return y;
  }

  static torch::autograd::variable_list backward(torch::autograd::AutogradContext* ctx,
                                                 torch::autograd::variable_list grad_outputs) {
    const at::Tensor keep = ctx->get_saved_variables()[0];
    const double p = ctx->saved_data["p"].toDouble();
    at::Tensor grad = grad_outputs[0].contiguous();
    at::Tensor grad_in = at::empty_like(grad, at::MemoryFormat::Contiguous);
    AT_DISPATCH_FLOATING_TYPES_AND(at::kBFloat16, grad.scalar_type(), "philox_dropout_backward", [&] {
      dropout_backward_kernel<scalar_t>(grad.data_ptr<scalar_t>(), keep.data_ptr<bool>(), grad_in.data_ptr<scalar_t>(),
                                        grad.numel(), keep_scale<scalar_t>(p));
    });
    return {grad_in, at::Tensor(), at::Tensor()};
  }
};

}  // namespace

at::Tensor philox_dropout(const at::Tensor& x, double p, DropoutGenerator& generator) {
  return PhiloxDropoutFunction::apply(x, p, &generator);
}

at::Tensor DropoutImpl::forward(const at::Tensor& x) {
  if (!is_training() || p == 0.0) return x;
  const auto dtype = x.scalar_type();
  if (!x.device().is_cpu() || (dtype != at::kFloat && dtype != at::kDouble && dtype != at::kBFloat16)) {
    return at::dropout(x, p, /*train=*/true);  // other devices and dtypes: LibTorch's own kernel and generator
  }
  if (!generator) throw std::logic_error("Dropout used before bind_dropout_generator");
  return philox_dropout(x, p, *generator);
}

void bind_dropout_generator(torch::nn::Module& root, const std::shared_ptr<DropoutGenerator>& generator) {
  if (auto* self = root.as<DropoutImpl>()) self->generator = generator;
  for (const auto& module : root.modules(/*include_self=*/false)) {
    if (auto* dropout = module->as<DropoutImpl>()) dropout->generator = generator;
  }
}

std::shared_ptr<DropoutGenerator> new_dropout_generator() {
  // Reads the default generator's seed without drawing from it, so creating a model leaves the stream that weight
  // initialisation draws from untouched; the construction count keeps models created under one seed apart.
  static std::atomic<uint64_t> constructed{0};
  uint64_t seed = at::detail::getDefaultCPUGenerator().current_seed() + 0x9E3779B97F4A7C15ull * ++constructed;
  seed = (seed ^ (seed >> 30)) * 0xBF58476D1CE4E5B9ull;  // splitmix64's finaliser: nearby inputs, unrelated keys
  seed = (seed ^ (seed >> 27)) * 0x94D049BB133111EBull;
  return std::make_shared<DropoutGenerator>(seed ^ (seed >> 31));
}

}  // namespace bert
