#include "packed_gemm.h"

#include <algorithm>
#include <stdexcept>
#include <vector>

#include "inference_pool.h"

#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>
#define BERT_PACKED_GEMM 1
#endif

namespace bert {

namespace {

constexpr int64_t kMr = 6;    // rows of x per micro-tile
constexpr int64_t kKc = 256;  // k per block: a panel's kKc x 16 block of W (16 KiB) stays in L1
constexpr int64_t kMc = 96;   // rows of x per block: kMc x kKc of packed x (96 KiB) stays in L2

#ifdef BERT_PACKED_GEMM

// Rows [m0, m1) x k [k0, k0 + kc) of `a` as strips of 6 rows, each [kc][6] (rows past m1 are zeros).
void pack_rows(const float* a, int64_t lda, int64_t m0, int64_t m1, int64_t k0, int64_t kc, float* out) {
  for (int64_t i = m0; i < m1; i += kMr) {
    const int64_t rows = std::min(kMr, m1 - i);
    float* dst = out + ((i - m0) / kMr) * kc * kMr;
    for (int64_t r = 0; r < kMr; ++r) {
      if (r < rows) {
        const float* src = a + (i + r) * lda + k0;
        for (int64_t k = 0; k < kc; ++k) dst[k * kMr + r] = src[k];
      } else {
        for (int64_t k = 0; k < kc; ++k) dst[k * kMr + r] = 0.0f;
      }
    }
  }
}

// c[MR x 16] = (bias, or c itself when bias is null) + packed rows x panel block, over kc.
template <int MR>
__attribute__((target("avx2,fma"))) void micro_tile(int64_t kc, const float* a, const float* b, float* c, int64_t ldc,
                                                    const float* bias) {
  __m256 c00 = _mm256_setzero_ps(), c01 = c00, c10 = c00, c11 = c00, c20 = c00, c21 = c00, c30 = c00, c31 = c00,
         c40 = c00, c41 = c00, c50 = c00, c51 = c00;
  // Every row's statement, for the rows this tile has (MR is a constant: the others compile away).
#define BERT_ROWS(X)          \
  X(0)                        \
  if constexpr (MR > 1) X(1); \
  if constexpr (MR > 2) X(2); \
  if constexpr (MR > 3) X(3); \
  if constexpr (MR > 4) X(4); \
  if constexpr (MR > 5) X(5);
  if (bias != nullptr) {
    const __m256 b0 = _mm256_loadu_ps(bias), b1 = _mm256_loadu_ps(bias + 8);
#define BERT_FROM_BIAS(i) \
  {                       \
    c##i##0 = b0;         \
    c##i##1 = b1;         \
  }
    BERT_ROWS(BERT_FROM_BIAS)
#undef BERT_FROM_BIAS
  } else {
#define BERT_FROM_C(i)                          \
  {                                             \
    c##i##0 = _mm256_loadu_ps(c + i * ldc);     \
    c##i##1 = _mm256_loadu_ps(c + i * ldc + 8); \
  }
    BERT_ROWS(BERT_FROM_C)
#undef BERT_FROM_C
  }
#pragma GCC unroll 4
  for (int64_t k = 0; k < kc; ++k) {
    const __m256 b0 = _mm256_load_ps(b + k * kPanelWidth), b1 = _mm256_load_ps(b + k * kPanelWidth + 8);
    const float* ak = a + k * kMr;
#define BERT_FMA(i)                               \
  {                                               \
    const __m256 x = _mm256_broadcast_ss(ak + i); \
    c##i##0 = _mm256_fmadd_ps(x, b0, c##i##0);    \
    c##i##1 = _mm256_fmadd_ps(x, b1, c##i##1);    \
  }
    BERT_ROWS(BERT_FMA)
#undef BERT_FMA
  }
#define BERT_STORE(i)                           \
  {                                             \
    _mm256_storeu_ps(c + i * ldc, c##i##0);     \
    _mm256_storeu_ps(c + i * ldc + 8, c##i##1); \
  }
  BERT_ROWS(BERT_STORE)
#undef BERT_STORE
#undef BERT_ROWS
}

using MicroTile = void (*)(int64_t, const float*, const float*, float*, int64_t, const float*);
constexpr MicroTile kMicroTiles[kMr + 1] = {nullptr,       micro_tile<1>, micro_tile<2>, micro_tile<3>,
                                            micro_tile<4>, micro_tile<5>, micro_tile<6>};

// The strips of packed rows [m0, m1) times panel p's block [k0, k0 + kc), into c's columns of that panel.
void strips(const float* packed_rows, int64_t m0, int64_t m1, int64_t kc, const float* block, float* c, int64_t ldc,
            const float* bias) {
  for (int64_t i = m0; i < m1; i += kMr) {
    const int64_t rows = std::min(kMr, m1 - i);
    kMicroTiles[rows](kc, packed_rows + ((i - m0) / kMr) * kc * kMr, block, c + i * ldc, ldc, bias);
  }
}

// One thread's share: panels [p0, p1) of b, all m rows. `c` is output column 0 of panel `first_panel`.
void gemm_panels(const float* a, int64_t m, int64_t lda, const PackedMatrix& b, int64_t first_panel, int64_t p0,
                 int64_t p1, float* c, int64_t ldc) {
  const int64_t k = b.k;
  const float* panels = b.panels.data_ptr<float>();
  const float* bias = b.bias.defined() ? b.bias.data_ptr<float>() : nullptr;
  thread_local std::vector<float> rows_buffer;
  const int64_t strips_of = (std::min(m, kMc) + kMr - 1) / kMr;
  auto panel_block = [&](int64_t p, int64_t k0) { return panels + p * k * kPanelWidth + k0 * kPanelWidth; };
  auto panel_bias = [&](int64_t p, int64_t k0) { return k0 == 0 && bias ? bias + p * kPanelWidth : nullptr; };
  auto panel_out = [&](int64_t p) { return c + (p - first_panel) * kPanelWidth; };
  if (m <= kMc) {
    // Few rows: all of x packed once, then each panel read once from memory, block by block, every row against it.
    rows_buffer.resize(static_cast<size_t>(strips_of * kMr * k));
    for (int64_t k0 = 0; k0 < k; k0 += kKc) {
      pack_rows(a, lda, 0, m, k0, std::min(kKc, k - k0), rows_buffer.data() + k0 * strips_of * kMr);
    }
    for (int64_t p = p0; p < p1; ++p) {
      for (int64_t k0 = 0; k0 < k; k0 += kKc) {
        const int64_t kc = std::min(kKc, k - k0);
        const float* packed = rows_buffer.data() + k0 * strips_of * kMr;
        if (!bias && k0 == 0) {
          // No bias: the first block starts from zeros.
          for (int64_t i = 0; i < m; ++i) std::fill_n(panel_out(p) + i * ldc, kPanelWidth, 0.0f);
        }
        strips(packed, 0, m, kc, panel_block(p, k0), panel_out(p), ldc, panel_bias(p, k0));
      }
    }
    return;
  }
  rows_buffer.resize(static_cast<size_t>(strips_of * kMr * kKc));
  for (int64_t k0 = 0; k0 < k; k0 += kKc) {
    const int64_t kc = std::min(kKc, k - k0);
    for (int64_t m0 = 0; m0 < m; m0 += kMc) {
      const int64_t m1 = std::min(m, m0 + kMc);
      pack_rows(a, lda, m0, m1, k0, kc, rows_buffer.data());
      for (int64_t p = p0; p < p1; ++p) {
        if (!bias && k0 == 0) {
          for (int64_t i = m0; i < m1; ++i) std::fill_n(panel_out(p) + i * ldc, kPanelWidth, 0.0f);
        }
        strips(rows_buffer.data(), m0, m1, kc, panel_block(p, k0), panel_out(p) + 0, ldc, panel_bias(p, k0));
      }
    }
  }
}

#endif  // BERT_PACKED_GEMM

}  // namespace

bool packed_gemm_available() {
#ifdef BERT_PACKED_GEMM
  static const bool available = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
  return available;
#else
  return false;
#endif
}

PackedMatrix pack_matrix(const at::Tensor& weight, const at::Tensor& bias) {
  if (weight.dim() != 2 || weight.size(0) % kPanelWidth != 0 || weight.scalar_type() != at::kFloat ||
      !weight.device().is_cpu()) {
    throw std::invalid_argument("pack_matrix: an fp32 CPU weight [n, k] with n a multiple of 16 is required");
  }
  PackedMatrix out;
  out.n = weight.size(0);
  out.k = weight.size(1);
  // [n, k] -> [n/16, 16, k] -> [n/16, k, 16], contiguous.
  out.panels = weight.detach().reshape({out.n / kPanelWidth, kPanelWidth, out.k}).transpose(1, 2).contiguous();
  if (bias.defined()) out.bias = bias.detach().contiguous();
  return out;
}

void packed_gemm(const float* a, int64_t m, int64_t lda, const PackedMatrix& b, int64_t p0, int64_t p1, float* c,
                 int64_t ldc, int threads) {
#ifdef BERT_PACKED_GEMM
  const int64_t panels = p1 - p0;
  if (m <= 0 || panels <= 0) return;
  if (m >= kMc * threads) {
    // Many rows: each thread takes its own rows (whole strips) and every panel, so that no two threads pack the same
    // rows of x; W's panels are shared through the last-level cache.
    const int64_t strips = (m + kMr - 1) / kMr;
    run_on_inference_threads(threads, [&](int t, int count) {
      const int64_t r0 = std::min(m, strips * t / count * kMr), r1 = std::min(m, strips * (t + 1) / count * kMr);
      if (r1 > r0) gemm_panels(a + r0 * lda, r1 - r0, lda, b, p0, p0, p1, c + r0 * ldc, ldc);
    });
    return;
  }
  // Few rows: the threads split the panels (each reads its part of W once) and pack the rows alike.
  const int used = static_cast<int>(std::max<int64_t>(1, std::min<int64_t>(threads, panels)));
  run_on_inference_threads(used, [&](int t, int count) {
    const int64_t begin = p0 + panels * t / count, end = p0 + panels * (t + 1) / count;
    gemm_panels(a, m, lda, b, p0, begin, end, c, ldc);
  });
#else
  throw std::logic_error("packed_gemm is not built for this CPU");
#endif
}

}  // namespace bert
