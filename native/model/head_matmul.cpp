#include "head_matmul.h"

#include <ATen/Parallel.h>
#include <ATen/ThreadLocalState.h>
#include <ATen/autocast_mode.h>
#include <torch/autograd.h>

#include "../parallel/blas_gemm.h"
#include "../parallel/blas_threads.h"

#include <cmath>
#include <cstring>

namespace bert {

namespace {

// alpha · ([B, H, m, k] x [B, H, k, n]) (+ additive, [B, 1, 1 or m, n]) -> [B, H, m, n], no autograd. The additive
// term is the GEMM's C operand (beta 1), copied into each output slice just before its GEMM, while it is in cache.
// Each slice's GEMM goes straight to the BLAS from raw pointers (row_major_sgemm: the call addmm would make), or
// through LibTorch where that is not possible.
// interleaved: the result is stored as [B, m, H, n] and returned as its [B, H, m, n] transposed view, the layout of a
// [B, S, hidden] activation split into heads: merging the heads back (transpose(1, 2).reshape) is then a view, not a
// copy. Each slice is the same GEMM with a longer row stride, so the values do not change.
at::Tensor parallel_head_mm(const at::Tensor& a, const at::Tensor& b, double alpha = 1.0,
                            const at::Tensor& additive_in = at::Tensor(), bool interleaved = false) {
  const int64_t batch = a.size(0), heads = a.size(1), m = a.size(2), k = a.size(3), n = b.size(3);
  at::Tensor out = interleaved ? at::empty({batch, m, heads, n}, a.options()).transpose(1, 2)
                               : at::empty({batch, heads, m, n}, a.options());
  const int64_t ldc = out.stride(2);  // n, or heads · n interleaved
  const at::Tensor additive = additive_in.defined() ? additive_in.contiguous() : additive_in;
  const float* a_data = a.data_ptr<float>();
  const float* b_data = b.data_ptr<float>();
  float* out_data = out.data_ptr<float>();
  const float* add_data = additive.defined() ? additive.data_ptr<float>() : nullptr;
  const int64_t add_rows = additive.defined() ? additive.size(2) : 0;  // 1 (broadcast over queries) or m
  // m == 1 or n == 1 results take another of addmm's layout branches: leave those to LibTorch.
  const bool direct = has_direct_sgemm() && m > 1 && n > 1;
  SingleThreadedBlas single_threaded;
  // OpenMP workers do not inherit this thread's autograd and inference-mode state; the products run under it.
  const at::ThreadLocalState caller_state;
  at::parallel_for(0, batch * heads, 1, [&](int64_t begin, int64_t end) {
    at::ThreadLocalStateGuard same_state(caller_state);
    SequentialMklOnThisThread sequential_mkl;
    for (int64_t i = begin; i < end; ++i) {
      const int64_t s = i / heads, h = i % heads;
      float* c = out_data + s * out.stride(0) + h * out.stride(1);
      if (add_data) {
        const float* rows = add_data + s * add_rows * n;
        for (int64_t r = 0; r < m; ++r) std::memcpy(c + r * ldc, rows + (add_rows == 1 ? 0 : r * n), sizeof(float) * n);
      }
      const float beta = add_data ? 1.0f : 0.0f;
      if (direct && row_major_sgemm(m, n, k, static_cast<float>(alpha), a_data + s * a.stride(0) + h * a.stride(1),
                                    a.stride(2), a.stride(3), b_data + s * b.stride(0) + h * b.stride(1), b.stride(2),
                                    b.stride(3), beta, c, ldc)) {
        continue;
      }
      at::Tensor slice = out.select(0, s).select(0, h);
      const at::Tensor a_sh = a.select(0, s).select(0, h), b_sh = b.select(0, s).select(0, h);
      if (add_data || alpha != 1.0) {
        at::addmm_out(slice, slice, a_sh, b_sh, beta, alpha);
      } else {
        at::mm_out(slice, a_sh, b_sh);
      }
    }
  });
  return out;
}

// A matrix BLAS can read in place: one of its last two strides is 1.
at::Tensor blas_ready(const at::Tensor& x) { return (x.stride(-1) == 1 || x.stride(-2) == 1) ? x : x.contiguous(); }

// Which attention product a HeadMatmulFunction computes, for the layouts of its result and gradients (see
// parallel_head_mm's `interleaved`): the gradients that flow back into a head-split [B, S, hidden] activation (q, k,
// v) and the context that is merged back into one are produced in that activation's layout.
enum HeadProduct : int {
  kPlainProduct = 0,  // everything [B, H, ·, ·] contiguous
  kScores = 1,        // q · kᵀ: a = q, b = kᵀ (a view of k); grad q and grad k interleaved
  kContext = 2,       // probs · v: result (the context) and grad v interleaved
};

struct HeadMatmulFunction : public torch::autograd::Function<HeadMatmulFunction> {
  // additive: null or a constant (passed by pointer: autograd neither tracks it nor sends a gradient to it).
  static at::Tensor forward(torch::autograd::AutogradContext* ctx, const at::Tensor& a, const at::Tensor& b,
                            double alpha, const at::Tensor* additive, int product) {
    ctx->save_for_backward({a, b});
    ctx->saved_data["alpha"] = alpha;
    ctx->saved_data["product"] = static_cast<int64_t>(product);
    return parallel_head_mm(a, b, alpha, additive ? *additive : at::Tensor(), product == kContext);
  }

  static torch::autograd::variable_list backward(torch::autograd::AutogradContext* ctx,
                                                 torch::autograd::variable_list grad_outputs) {
    const auto saved = ctx->get_saved_variables();
    const at::Tensor& a = saved[0];
    const at::Tensor& b = saved[1];
    const double alpha = ctx->saved_data["alpha"].toDouble();
    const auto product = ctx->saved_data["product"].toInt();
    const at::Tensor grad = blas_ready(grad_outputs[0]);  // [B, H, m, n]
    at::Tensor grad_a, grad_b;
    if (ctx->needs_input_grad(0)) {  // [B, H, m, k]
      grad_a = parallel_head_mm(grad, b.transpose(-1, -2), alpha, at::Tensor(), product == kScores);
    }
    if (ctx->needs_input_grad(1)) {  // [B, H, k, n]
      if (product == kScores) {
        // b is kᵀ: grad k = gradᵀ · a, each element the same sum of the same products as (aᵀ · grad)ᵀ, produced in
        // k's interleaved layout and handed back transposed.
        grad_b = parallel_head_mm(grad.transpose(-1, -2), a, alpha, at::Tensor(), true).transpose(-1, -2);
      } else {
        grad_b = parallel_head_mm(a.transpose(-1, -2), grad, alpha, at::Tensor(), product == kContext);
      }
    }
    return {grad_a, grad_b, at::Tensor(), at::Tensor(), at::Tensor()};  // a, b, alpha, additive, product
  }
};

}  // namespace

namespace {

bool plain_fp32_cpu(const at::Tensor& a, const at::Tensor& b) {
  return a.device().is_cpu() && b.device().is_cpu() && a.scalar_type() == at::kFloat && b.scalar_type() == at::kFloat &&
         a.dim() == 4 && b.dim() == 4 && !at::autocast::is_autocast_enabled(at::kCPU);
}

}  // namespace

at::Tensor head_matmul(const at::Tensor& a, const at::Tensor& b) {
  if (!plain_fp32_cpu(a, b)) return at::matmul(a, b);
  return HeadMatmulFunction::apply(blas_ready(a), blas_ready(b), 1.0, static_cast<const at::Tensor*>(nullptr),
                                   static_cast<int>(kPlainProduct));
}

at::Tensor attention_context(const at::Tensor& probs, const at::Tensor& v) {
  if (!plain_fp32_cpu(probs, v)) return at::matmul(probs, v);
  return HeadMatmulFunction::apply(blas_ready(probs), blas_ready(v), 1.0, static_cast<const at::Tensor*>(nullptr),
                                   static_cast<int>(kContext));
}

// 2^k: then x · (1 / divisor) is exactly x / divisor (barring subnormals), so the GEMM's alpha changes no bit.
bool power_of_two(double x) {
  int exponent = 0;
  return x > 0 && std::frexp(x, &exponent) == 0.5;
}

at::Tensor attention_scores(const at::Tensor& q, const at::Tensor& k_t, double scale_divisor,
                            const at::Tensor& additive_mask) {
  const bool fused = plain_fp32_cpu(q, k_t) && power_of_two(scale_divisor) && additive_mask.device().is_cpu() &&
                     additive_mask.scalar_type() == at::kFloat && additive_mask.dim() == 4 &&
                     additive_mask.size(0) == q.size(0) && additive_mask.size(1) == 1 &&
                     (additive_mask.size(2) == 1 || additive_mask.size(2) == q.size(2)) &&
                     additive_mask.size(3) == k_t.size(3) && !additive_mask.requires_grad();
  if (!fused) return head_matmul(q, k_t) / scale_divisor + additive_mask;
  return HeadMatmulFunction::apply(blas_ready(q), blas_ready(k_t), 1.0 / scale_divisor, &additive_mask,
                                   static_cast<int>(kScores));
}

}  // namespace bert
