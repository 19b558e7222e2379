#include "adamw_cpu_kernel.h"

#include <ATen/Parallel.h>
#include <torch/version.h>

#include <cmath>

#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>
#define BERT_ADAMW_AVX2 1
#endif

namespace bert {

namespace {

constexpr int64_t kGrain = 1 << 15;  // elements per task

// The exp_avg update: torch 1.13's foreach AdamW does mul_(beta1) then add_(grad, alpha=1-beta1), whose vector
// kernel is fmadd(grad, alpha, exp_avg); torch 2.x does lerp_(grad, 1-beta1), i.e. fma(w, grad - m, m) for w < 0.5.
inline float exp_avg_update(float m, float g, const AdamWStepScalars& s) {
#if TORCH_VERSION_MAJOR >= 2
  return s.one_minus_beta1 < 0.5f ? std::fma(s.one_minus_beta1, g - m, m) : std::fma(-s.beta1, g - m, g);
#else
  return std::fma(g, s.one_minus_beta1, m * s.beta1);
#endif
}

void step_scalar(float* p, const float* grad, float* m, float* v, int64_t begin, int64_t end,
                 const AdamWStepScalars& s) {
  for (int64_t i = begin; i < end; ++i) {
    const float g = s.scale_grad ? grad[i] * s.grad_scale : grad[i];
    float param = s.apply_decay ? p[i] * s.decay : p[i];
    const float ma = exp_avg_update(m[i], g, s);
    const float va = v[i] * s.beta2 + s.one_minus_beta2 * g * g;  // addcmul_: self + (value · t1) · t2
    const float denom = std::sqrt(va) / s.bias_correction2_sqrt + s.eps;
    param = param + s.neg_step_size * ma / denom;  // addcdiv_: self + (value · t1) / t2
    p[i] = param, m[i] = ma, v[i] = va;
  }
}

#ifdef BERT_ADAMW_AVX2
__attribute__((target("avx2,fma"))) void step_avx2(float* p, const float* grad, float* m, float* v, int64_t begin,
                                                   int64_t end, const AdamWStepScalars& s) {
  const __m256 grad_scale = _mm256_set1_ps(s.grad_scale), decay = _mm256_set1_ps(s.decay);
  const __m256 beta1 = _mm256_set1_ps(s.beta1), one_minus_beta1 = _mm256_set1_ps(s.one_minus_beta1);
  const __m256 beta2 = _mm256_set1_ps(s.beta2), one_minus_beta2 = _mm256_set1_ps(s.one_minus_beta2);
  const __m256 bc2_sqrt = _mm256_set1_ps(s.bias_correction2_sqrt), eps = _mm256_set1_ps(s.eps);
  const __m256 neg_step = _mm256_set1_ps(s.neg_step_size);
  int64_t i = begin;
  for (; i + 8 <= end; i += 8) {
    __m256 g = _mm256_loadu_ps(grad + i);
    if (s.scale_grad) g = _mm256_mul_ps(g, grad_scale);
    __m256 param = _mm256_loadu_ps(p + i);
    if (s.apply_decay) param = _mm256_mul_ps(param, decay);
    const __m256 m0 = _mm256_loadu_ps(m + i);
#if TORCH_VERSION_MAJOR >= 2
    const __m256 ma = s.one_minus_beta1 < 0.5f ? _mm256_fmadd_ps(one_minus_beta1, _mm256_sub_ps(g, m0), m0)
                                               : _mm256_fnmadd_ps(beta1, _mm256_sub_ps(g, m0), g);
#else
    const __m256 ma = _mm256_fmadd_ps(g, one_minus_beta1, _mm256_mul_ps(m0, beta1));
#endif
    const __m256 va = _mm256_add_ps(_mm256_mul_ps(_mm256_loadu_ps(v + i), beta2),
                                    _mm256_mul_ps(_mm256_mul_ps(one_minus_beta2, g), g));
    const __m256 denom = _mm256_add_ps(_mm256_div_ps(_mm256_sqrt_ps(va), bc2_sqrt), eps);
    param = _mm256_add_ps(param, _mm256_div_ps(_mm256_mul_ps(neg_step, ma), denom));
    _mm256_storeu_ps(p + i, param);
    _mm256_storeu_ps(m + i, ma);
    _mm256_storeu_ps(v + i, va);
  }
  step_scalar(p, grad, m, v, i, end, s);
}

bool cpu_has_avx2_fma() {
  static const bool has = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
  return has;
}
#endif

}  // namespace

void adamw_step_cpu(float* param, const float* grad, float* exp_avg, float* exp_avg_sq, int64_t n,
                    const AdamWStepScalars& s) {
  at::parallel_for(0, n, kGrain, [&](int64_t begin, int64_t end) {
#ifdef BERT_ADAMW_AVX2
    if (cpu_has_avx2_fma()) return step_avx2(param, grad, exp_avg, exp_avg_sq, begin, end, s);
#endif
    step_scalar(param, grad, exp_avg, exp_avg_sq, begin, end, s);
  });
}

}  // namespace bert
