#include "cpu_attention.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>

#include "inference_buffers.h"
#include "inference_pool.h"
#include "packed_gemm.h"

#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>
#define BERT_CPU_ATTENTION 1
#endif

namespace bert {

#ifdef BERT_CPU_ATTENTION

namespace {

// e^x for 8 floats (Cephes' expf: x = n ln 2 + r, a degree-5 polynomial in r, then 2^n), within about 2 ulp; 0 below
// about -87.7, where e^x is a denormal that cannot change a softmax sum of at least 1.
__attribute__((target("avx2,fma"))) __m256 exp8(__m256 x) {
  x = _mm256_min_ps(_mm256_max_ps(x, _mm256_set1_ps(-88.3762626647949f)), _mm256_set1_ps(88.3762626647949f));
  const __m256 n = _mm256_floor_ps(_mm256_fmadd_ps(x, _mm256_set1_ps(1.44269504088896341f), _mm256_set1_ps(0.5f)));
  x = _mm256_fnmadd_ps(n, _mm256_set1_ps(0.693359375f), x);  // ln 2 in two parts: r exact to float rounding
  x = _mm256_fnmadd_ps(n, _mm256_set1_ps(-2.12194440e-4f), x);
  __m256 y = _mm256_set1_ps(1.9875691500e-4f);
  y = _mm256_fmadd_ps(y, x, _mm256_set1_ps(1.3981999507e-3f));
  y = _mm256_fmadd_ps(y, x, _mm256_set1_ps(8.3334519073e-3f));
  y = _mm256_fmadd_ps(y, x, _mm256_set1_ps(4.1665795894e-2f));
  y = _mm256_fmadd_ps(y, x, _mm256_set1_ps(1.6666665459e-1f));
  y = _mm256_fmadd_ps(y, x, _mm256_set1_ps(5.0000001201e-1f));
  y = _mm256_fmadd_ps(y, _mm256_mul_ps(x, x), _mm256_add_ps(x, _mm256_set1_ps(1.0f)));
  const __m256i exponent = _mm256_slli_epi32(_mm256_add_epi32(_mm256_cvtps_epi32(n), _mm256_set1_epi32(127)), 23);
  return _mm256_mul_ps(y, _mm256_castsi256_ps(exponent));
}

__attribute__((target("avx2,fma"))) float horizontal(__m256 v, __m256 (*op)(__m256, __m256)) {
  v = op(v, _mm256_permute2f128_ps(v, v, 1));
  v = op(v, _mm256_shuffle_ps(v, v, 0x4e));
  v = op(v, _mm256_shuffle_ps(v, v, 0xb1));
  return _mm256_cvtss_f32(v);
}

__attribute__((target("avx2,fma"))) __m256 max8(__m256 a, __m256 b) { return _mm256_max_ps(a, b); }
__attribute__((target("avx2,fma"))) __m256 add8(__m256 a, __m256 b) { return _mm256_add_ps(a, b); }

// Each of `rows` rows of `width` scores (a multiple of 8; the columns past the keys hold -inf) becomes its softmax, in
// place. The same AVX2 code on every CPU, so the AVX-512 and AVX2 builds of a forward give the same bits.
__attribute__((target("avx2,fma"))) void softmax_rows(float* scores, int64_t rows, int64_t width) {
  for (int64_t i = 0; i < rows; ++i) {
    float* row = scores + i * width;
    __m256 top = _mm256_set1_ps(-std::numeric_limits<float>::infinity());
    for (int64_t j = 0; j < width; j += 8) top = _mm256_max_ps(top, _mm256_loadu_ps(row + j));
    const __m256 shift = _mm256_set1_ps(horizontal(top, max8));
    __m256 sum = _mm256_setzero_ps();
    for (int64_t j = 0; j < width; j += 8) {
      const __m256 e = exp8(_mm256_sub_ps(_mm256_loadu_ps(row + j), shift));
      _mm256_storeu_ps(row + j, e);
      sum = _mm256_add_ps(sum, e);
    }
    const __m256 inverse = _mm256_set1_ps(1.0f / horizontal(sum, add8));
    for (int64_t j = 0; j < width; j += 8) _mm256_storeu_ps(row + j, _mm256_mul_ps(_mm256_loadu_ps(row + j), inverse));
  }
}

// Where a [B, S, H] view's rows are: element (b, s, c) at data[b * batch + s * row + c].
struct Rows {
  const float* data;
  int64_t batch, row;
};

std::optional<Rows> rows_of(const at::Tensor& x) {
  if (x.dim() != 3 || x.scalar_type() != at::kFloat || !x.device().is_cpu() || x.stride(2) != 1) return std::nullopt;
  return Rows{x.data_ptr<float>(), x.stride(0), x.stride(1)};
}

}  // namespace

std::optional<at::Tensor> cpu_attention(const at::Tensor& query, const at::Tensor& key, const at::Tensor& value,
                                        int64_t num_heads, int64_t head_dim, const at::Tensor& additive_mask,
                                        int threads) {
  if (!packed_gemm_available() || head_dim % kPanelWidth != 0) return std::nullopt;
  const auto q = rows_of(query), k = rows_of(key), v = rows_of(value);
  if (!q || !k || !v) return std::nullopt;
  const int64_t batch = query.size(0), queries = query.size(1), keys = key.size(1), hidden = num_heads * head_dim;
  if (query.size(2) != hidden || key.sizes() != value.sizes() || key.size(0) != batch || key.size(2) != hidden ||
      keys == 0) {
    return std::nullopt;
  }
  if (additive_mask.defined() &&
      (additive_mask.dim() != 4 || additive_mask.size(1) != 1 || additive_mask.size(2) != 1 ||
       additive_mask.size(3) != keys || (additive_mask.size(0) != batch && additive_mask.size(0) != 1) ||
       additive_mask.scalar_type() != at::kFloat)) {
    return std::nullopt;
  }
  const int64_t padded = (keys + kPanelWidth - 1) / kPanelWidth * kPanelWidth;  // keys rounded up to whole panels
  // The scores' bias, once for all heads: the mask (0 without one) for the keys, -inf for the padding keys, so that
  // their scores come out -inf and their probabilities 0.
  const int64_t bias_rows = additive_mask.defined() ? additive_mask.size(0) : 1;
  at::Tensor bias = at::full({bias_rows, padded}, -std::numeric_limits<float>::infinity(), at::kFloat);  // [B or 1, S']
  if (additive_mask.defined()) {
    bias.narrow(1, 0, keys).copy_(additive_mask.reshape({bias_rows, keys}));
  } else {
    bias.narrow(1, 0, keys).zero_();
  }
  const float* bias_data = bias.data_ptr<float>();
  const int64_t bias_batch = bias_rows > 1 ? padded : 0;

  at::Tensor context = inference_empty({batch, queries, hidden});  // [B, Q, H]
  float* out = context.data_ptr<float>();
  const float scale = static_cast<float>(1.0 / std::sqrt(static_cast<double>(head_dim)));
  const int64_t pairs = batch * num_heads;
  const int used = static_cast<int>(std::max<int64_t>(1, std::min<int64_t>(threads, pairs)));

  // Each thread's scratch, allocated here (a task must not throw), every part 64-byte aligned for the panel loads.
  auto aligned = [](int64_t floats) { return (floats + 15) / 16 * 16; };
  const int64_t key_floats = padded * head_dim, value_floats = aligned(keys * head_dim);
  const int64_t per_thread = key_floats + value_floats + aligned(queries * padded);
  at::Tensor scratch = inference_empty({used * per_thread});
  float* scratch_data = scratch.data_ptr<float>();

  run_on_inference_threads(used, [&](int t, int count) {
    float* key_panels = scratch_data + t * per_thread;  // [S'/16][d][16]: kᵀ / √d, the padding keys 0
    float* value_panels = key_panels + key_floats;      // [d/16][S][16]
    float* scores = value_panels + value_floats;        // [Q, S']
    for (int64_t pair = pairs * t / count; pair < pairs * (t + 1) / count; ++pair) {
      const int64_t b = pair / num_heads, column = (pair % num_heads) * head_dim;
      const float* keys_at = k->data + b * k->batch + column;
      const float* values_at = v->data + b * v->batch + column;
      for (int64_t s = 0; s < padded; ++s) {
        float* panel = key_panels + (s / kPanelWidth) * head_dim * kPanelWidth + s % kPanelWidth;
        if (s < keys) {
          const float* key_row = keys_at + s * k->row;
          for (int64_t c = 0; c < head_dim; ++c) panel[c * kPanelWidth] = key_row[c] * scale;
        } else {
          for (int64_t c = 0; c < head_dim; ++c) panel[c * kPanelWidth] = 0.0f;
        }
      }
      for (int64_t p = 0; p < head_dim / kPanelWidth; ++p) {
        for (int64_t s = 0; s < keys; ++s) {
          std::memcpy(value_panels + (p * keys + s) * kPanelWidth, values_at + s * v->row + p * kPanelWidth,
                      kPanelWidth * sizeof(float));
        }
      }
      // scores [Q, S'] = q · (kᵀ / √d) + bias
      packed_gemm_serial(q->data + b * q->batch + column, queries, q->row, key_panels, padded / kPanelWidth, head_dim,
                         bias_data + b * bias_batch, scores, padded);
      softmax_rows(scores, queries, padded);
      // context [Q, d] of this head = probabilities [Q, S] · v [S, d]
      packed_gemm_serial(scores, queries, padded, value_panels, head_dim / kPanelWidth, keys, nullptr,
                         out + b * queries * hidden + column, hidden);
    }
  });
  return context;
}

#else

std::optional<at::Tensor> cpu_attention(const at::Tensor&, const at::Tensor&, const at::Tensor&, int64_t, int64_t,
                                        const at::Tensor&, int) {
  return std::nullopt;
}

#endif  // BERT_CPU_ATTENTION

}  // namespace bert
