#include "head_matmul.h"

#include <ATen/Parallel.h>
#include <ATen/ThreadLocalState.h>
#include <ATen/autocast_mode.h>
#include <torch/autograd.h>

#include "../parallel/blas_threads.h"

namespace bert {

namespace {

// [B, H, m, k] x [B, H, k, n] -> [B, H, m, n], no autograd.
at::Tensor parallel_head_mm(const at::Tensor& a, const at::Tensor& b) {
  const int64_t batch = a.size(0), heads = a.size(1);
  at::Tensor out = at::empty({batch, heads, a.size(2), b.size(3)}, a.options());
  SingleThreadedBlas single_threaded;
  // OpenMP workers do not inherit this thread's autograd and inference-mode state; the products run under it.
  const at::ThreadLocalState caller_state;
  at::parallel_for(0, batch * heads, 1, [&](int64_t begin, int64_t end) {
    at::ThreadLocalStateGuard same_state(caller_state);
    for (int64_t i = begin; i < end; ++i) {
      const int64_t s = i / heads, h = i % heads;
      at::Tensor slice = out.select(0, s).select(0, h);
      at::mm_out(slice, a.select(0, s).select(0, h), b.select(0, s).select(0, h));
    }
  });
  return out;
}

// A matrix BLAS can read in place: one of its last two strides is 1.
at::Tensor blas_ready(const at::Tensor& x) {
  return (x.stride(-1) == 1 || x.stride(-2) == 1) ? x : x.contiguous();
}

struct HeadMatmulFunction : public torch::autograd::Function<HeadMatmulFunction> {
  static at::Tensor forward(torch::autograd::AutogradContext* ctx, const at::Tensor& a, const at::Tensor& b) {
    ctx->save_for_backward({a, b});
    return parallel_head_mm(a, b);
  }

  static torch::autograd::variable_list backward(torch::autograd::AutogradContext* ctx,
                                                 torch::autograd::variable_list grad_outputs) {
    const auto saved = ctx->get_saved_variables();
    const at::Tensor& a = saved[0];
    const at::Tensor& b = saved[1];
    const at::Tensor grad = blas_ready(grad_outputs[0]);  // [B, H, m, n]
    at::Tensor grad_a, grad_b;
    if (ctx->needs_input_grad(0)) grad_a = parallel_head_mm(grad, b.transpose(-1, -2));  // [B, H, m, k]
    if (ctx->needs_input_grad(1)) grad_b = parallel_head_mm(a.transpose(-1, -2), grad);  // [B, H, k, n]
    return {grad_a, grad_b};
  }
};

}  // namespace

at::Tensor head_matmul(const at::Tensor& a, const at::Tensor& b) {
  const bool plain_fp32_cpu = a.device().is_cpu() && b.device().is_cpu() && a.scalar_type() == at::kFloat &&
                              b.scalar_type() == at::kFloat && a.dim() == 4 && b.dim() == 4 && !at::autocast::is_cpu_enabled();
  if (!plain_fp32_cpu) return at::matmul(a, b);
  return HeadMatmulFunction::apply(blas_ready(a), blas_ready(b));
}

}  // namespace bert
