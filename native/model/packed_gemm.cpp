#include "packed_gemm.h"

#include <algorithm>
#include <cstdlib>
#include <stdexcept>
#include <string>

#include "inference_buffers.h"
#include "inference_pool.h"

#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>
#define BERT_PACKED_GEMM 1
#endif

namespace bert {

namespace {

constexpr int64_t kMr = 6;        // rows of x per micro-tile (AVX2)
constexpr int64_t kMaxMr = 12;    // and at most, on AVX-512
constexpr int64_t kKc = 256;      // k per block: a panel's kKc x 16 block of W (16 KiB) stays in L1
constexpr int64_t kTallKc = 768;  // k per block with the 12-row tile (k_block())
constexpr int64_t kMc = 96;       // rows of x per block: kMc x k_block() of x (96 or 288 KiB) stays in L2

#ifdef BERT_PACKED_GEMM

// Every row's statement, for the rows a tile has (MR is a constant: the others compile away).
#define BERT_ROWS(X)          \
  X(0)                        \
  if constexpr (MR > 1) X(1); \
  if constexpr (MR > 2) X(2); \
  if constexpr (MR > 3) X(3); \
  if constexpr (MR > 4) X(4); \
  if constexpr (MR > 5) X(5);
// Rows 6 to 11, which only the AVX-512 tile has registers for.
#define BERT_ROWS_HIGH(X)       \
  if constexpr (MR > 6) X(6);   \
  if constexpr (MR > 7) X(7);   \
  if constexpr (MR > 8) X(8);   \
  if constexpr (MR > 9) X(9);   \
  if constexpr (MR > 10) X(10); \
  if constexpr (MR > 11) X(11);

// c[MR x 16] = (bias, or c itself when bias is null) + rows of x x panel block, over kc. x's MR rows are read where
// they are (row stride lda): each k broadcasts one element of each row, so x needs no packing. AVX2: a panel's 16
// columns are two 8-wide registers.
template <int MR>
__attribute__((target("avx2,fma"))) void micro_tile_avx2(int64_t kc, const float* a, int64_t lda, const float* b,
                                                         int64_t /*panel_stride*/, float* c, int64_t ldc,
                                                         const float* bias) {
  __m256 c00 = _mm256_setzero_ps(), c01 = c00, c10 = c00, c11 = c00, c20 = c00, c21 = c00, c30 = c00, c31 = c00,
         c40 = c00, c41 = c00, c50 = c00, c51 = c00;
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
  const float *a0 = a, *a1 = a0 + (MR > 1 ? lda : 0), *a2 = a1 + (MR > 2 ? lda : 0), *a3 = a2 + (MR > 3 ? lda : 0),
              *a4 = a3 + (MR > 4 ? lda : 0), *a5 = a4 + (MR > 5 ? lda : 0);
#pragma GCC unroll 4
  for (int64_t k = 0; k < kc; ++k) {
    const __m256 b0 = _mm256_load_ps(b + k * kPanelWidth), b1 = _mm256_load_ps(b + k * kPanelWidth + 8);
#define BERT_FMA(i)                                 \
  {                                                 \
    const __m256 x = _mm256_broadcast_ss(a##i + k); \
    c##i##0 = _mm256_fmadd_ps(x, b0, c##i##0);      \
    c##i##1 = _mm256_fmadd_ps(x, b1, c##i##1);      \
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
}

// The same tile on AVX-512, NP panels wide (1 or 2) and up to 12 rows tall: a panel's 16 columns are one 16-wide
// register, so two adjacent panels (panel_stride floats apart in the packing, adjacent in c and in the bias) give
// MR x 2 accumulators, 24 of the 32 registers at 12 rows. Each output is the same sum in the same order as in the AVX2
// tile: both kernels, at every height, give the same bits.
template <int MR, int NP>
__attribute__((target("avx512f"))) void micro_tile_avx512(int64_t kc, const float* a, int64_t lda, const float* b,
                                                          int64_t panel_stride, float* c, int64_t ldc,
                                                          const float* bias) {
  __m512 c00 = _mm512_setzero_ps(), c01 = c00, c10 = c00, c11 = c00, c20 = c00, c21 = c00, c30 = c00, c31 = c00,
         c40 = c00, c41 = c00, c50 = c00, c51 = c00, c60 = c00, c61 = c00, c70 = c00, c71 = c00, c80 = c00, c81 = c00,
         c90 = c00, c91 = c00, c100 = c00, c101 = c00, c110 = c00, c111 = c00;
  if (bias != nullptr) {
    const __m512 b0 = _mm512_loadu_ps(bias), b1 = NP > 1 ? _mm512_loadu_ps(bias + 16) : b0;
#define BERT_FROM_BIAS(i) \
  {                       \
    c##i##0 = b0;         \
    c##i##1 = b1;         \
  }
    BERT_ROWS(BERT_FROM_BIAS)
    BERT_ROWS_HIGH(BERT_FROM_BIAS)
#undef BERT_FROM_BIAS
  } else {
#define BERT_FROM_C(i)                                                 \
  {                                                                    \
    c##i##0 = _mm512_loadu_ps(c + i * ldc);                            \
    if constexpr (NP > 1) c##i##1 = _mm512_loadu_ps(c + i * ldc + 16); \
  }
    BERT_ROWS(BERT_FROM_C)
    BERT_ROWS_HIGH(BERT_FROM_C)
#undef BERT_FROM_C
  }
  const float *a0 = a, *a1 = a0 + (MR > 1 ? lda : 0), *a2 = a1 + (MR > 2 ? lda : 0), *a3 = a2 + (MR > 3 ? lda : 0),
              *a4 = a3 + (MR > 4 ? lda : 0), *a5 = a4 + (MR > 5 ? lda : 0), *a6 = a5 + (MR > 6 ? lda : 0),
              *a7 = a6 + (MR > 7 ? lda : 0), *a8 = a7 + (MR > 8 ? lda : 0), *a9 = a8 + (MR > 9 ? lda : 0),
              *a10 = a9 + (MR > 10 ? lda : 0), *a11 = a10 + (MR > 11 ? lda : 0);
  const float* b_next = b + (NP > 1 ? panel_stride : 0);
#pragma GCC unroll 4
  for (int64_t k = 0; k < kc; ++k) {
    const __m512 b0 = _mm512_load_ps(b + k * kPanelWidth);
    const __m512 b1 = NP > 1 ? _mm512_load_ps(b_next + k * kPanelWidth) : b0;
#define BERT_FMA(i)                                                  \
  {                                                                  \
    const __m512 x = _mm512_set1_ps(a##i[k]);                        \
    c##i##0 = _mm512_fmadd_ps(x, b0, c##i##0);                       \
    if constexpr (NP > 1) c##i##1 = _mm512_fmadd_ps(x, b1, c##i##1); \
  }
    BERT_ROWS(BERT_FMA)
    BERT_ROWS_HIGH(BERT_FMA)
#undef BERT_FMA
  }
#define BERT_STORE(i)                                                  \
  {                                                                    \
    _mm512_storeu_ps(c + i * ldc, c##i##0);                            \
    if constexpr (NP > 1) _mm512_storeu_ps(c + i * ldc + 16, c##i##1); \
  }
  BERT_ROWS(BERT_STORE)
  BERT_ROWS_HIGH(BERT_STORE)
#undef BERT_STORE
}
#undef BERT_ROWS
#undef BERT_ROWS_HIGH

using MicroTile = void (*)(int64_t, const float*, int64_t, const float*, int64_t, float*, int64_t, const float*);
using MicroTiles = MicroTile[kMaxMr + 1];  // by the tile's rows, 1 to 6 (AVX2) or 12 (AVX-512)
constexpr MicroTiles kAvx2Tiles = {nullptr,
                                   micro_tile_avx2<1>,
                                   micro_tile_avx2<2>,
                                   micro_tile_avx2<3>,
                                   micro_tile_avx2<4>,
                                   micro_tile_avx2<5>,
                                   micro_tile_avx2<6>};
template <int NP>
constexpr MicroTiles kAvx512TilesOf = {nullptr,
                                       micro_tile_avx512<1, NP>,
                                       micro_tile_avx512<2, NP>,
                                       micro_tile_avx512<3, NP>,
                                       micro_tile_avx512<4, NP>,
                                       micro_tile_avx512<5, NP>,
                                       micro_tile_avx512<6, NP>,
                                       micro_tile_avx512<7, NP>,
                                       micro_tile_avx512<8, NP>,
                                       micro_tile_avx512<9, NP>,
                                       micro_tile_avx512<10, NP>,
                                       micro_tile_avx512<11, NP>,
                                       micro_tile_avx512<12, NP>};
const MicroTile* const kAvx512Tiles[3] = {nullptr, kAvx512TilesOf<1>, kAvx512TilesOf<2>};

// AVX-512 where the CPU has it, unless BERT_TRAINER_CPU_CAPABILITY=avx2 asks for the AVX2 kernel (read once).
bool has_avx512() {
  static const bool has = [] {
    const char* asked = std::getenv("BERT_TRAINER_CPU_CAPABILITY");
    return __builtin_cpu_supports("avx512f") && !(asked != nullptr && std::string(asked) == "avx2");
  }();
  return has;
}

// The environment's integer `name` where it is one in [1, max], else 0 (unset, or not such a number).
int64_t env_count(const char* name, int64_t max) {
  const char* asked = std::getenv(name);
  const int64_t n = asked != nullptr ? std::atoll(asked) : 0;
  return n >= 1 && n <= max ? n : 0;
}

// Panels a tile spans: 2 with AVX-512, 1 with AVX2.
int64_t tile_panels() { return has_avx512() ? 2 : 1; }

// Rows a tile takes at most: on AVX-512, 12 on Intel (two 512-bit FMA units a core empty 12 accumulators twice as fast
// as one, so the tile needs 24 to keep its loads per FMA low) and 6 elsewhere (AMD's Zen 4 runs a 512-bit FMA on
// 256-bit units, and taller tiles were no faster there). BERT_TRAINER_GEMM_TILE_ROWS=N (1 to 12) overrides it on
// AVX-512; AVX2's registers hold 6 rows. Read once. Any height gives the same bits: each output is the same sum.
int64_t tile_rows() {
  static const int64_t rows = [] {
    if (!has_avx512()) return kMr;
    if (const int64_t asked = env_count("BERT_TRAINER_GEMM_TILE_ROWS", kMaxMr)) return asked;
    return __builtin_cpu_is("intel") ? kMaxMr : kMr;
  }();
  return rows;
}

// k per block: kKc, or kTallKc where the 12-row tile is the CPU's default (Intel). There the tile's 24 accumulators
// empty fast enough that reloading and storing c between k blocks shows, and L2 feeds a panel pair's 768 x 32 block of
// W (96 KiB, past L1) as fast as the tile reads it. BERT_TRAINER_GEMM_K_BLOCK=N (1 to 65536) overrides it. Read once.
// No block size changes a bit of the result: between blocks c holds the exact partial sum.
int64_t k_block() {
  static const int64_t kc = [] {
    if (const int64_t asked = env_count("BERT_TRAINER_GEMM_K_BLOCK", 65536)) return asked;
    return has_avx512() && __builtin_cpu_is("intel") ? kTallKc : kKc;
  }();
  return kc;
}

// Rows [m0, m1) of x (from column k0: `a` points there) times the blocks [k0, k0 + kc) of `np` adjacent panels (the
// first at `block`, the next panel_stride floats on), into c's columns of those panels.
void strips(const float* a, int64_t lda, int64_t m0, int64_t m1, int64_t kc, const float* block, int64_t panel_stride,
            int64_t np, float* c, int64_t ldc, const float* bias) {
  const MicroTile* tiles = has_avx512() ? kAvx512Tiles[np] : kAvx2Tiles;
  // As few strips as the tile's rows allow, their heights as even as possible (32 rows in 6-row tiles: 6, 6, 5, 5, 5,
  // 5, not 6 x 5 + 2): a tile of 1 or 2 rows has too few accumulators to hide the FMA latency and runs at a fraction of
  // the rate.
  const int64_t mr = tile_rows(), rows = m1 - m0, count = (rows + mr - 1) / mr;
  for (int64_t s = 0, i = m0; s < count; ++s) {
    const int64_t height = rows / count + (s < rows % count ? 1 : 0);
    tiles[height](kc, a + i * lda, lda, block, panel_stride, c + i * ldc, ldc, bias);
    i += height;
  }
}

// A matrix's panels wherever they are: [panels][k][16] floats, 64-byte aligned, and the bias (or null).
struct Panels {
  const float* data;
  const float* bias;
  int64_t k;
};

Panels panels_of(const PackedMatrix& b) {
  return {b.panels.data_ptr<float>(), b.bias.defined() ? b.bias.data_ptr<float>() : nullptr, b.k};
}

// One thread's share: panels [p0, p1) of b, all m rows. `c` is output column 0 of panel `first_panel`.
void gemm_panels(const float* a, int64_t m, int64_t lda, const Panels& b, int64_t first_panel, int64_t p0, int64_t p1,
                 float* c, int64_t ldc) {
  const int64_t k = b.k;
  const float* panels = b.data;
  const float* bias = b.bias;
  auto panel_block = [&](int64_t p, int64_t k0) { return panels + p * k * kPanelWidth + k0 * kPanelWidth; };
  auto panel_bias = [&](int64_t p, int64_t k0) { return k0 == 0 && bias ? bias + p * kPanelWidth : nullptr; };
  auto panel_out = [&](int64_t p) { return c + (p - first_panel) * kPanelWidth; };
  auto zero_first_block = [&](int64_t p, int64_t np, int64_t m0, int64_t m1) {  // no bias: start from zeros
    for (int64_t i = m0; i < m1; ++i) std::fill_n(panel_out(p) + i * ldc, np * kPanelWidth, 0.0f);
  };
  const int64_t panel_stride = k * kPanelWidth, step = tile_panels(), block_k = k_block();
  if (m <= kMc) {
    // Few rows: each panel read once from memory, block by block, every row against it.
    for (int64_t p = p0; p < p1; p += step) {
      const int64_t np = std::min(step, p1 - p);
      for (int64_t k0 = 0; k0 < k; k0 += block_k) {
        if (!bias && k0 == 0) zero_first_block(p, np, 0, m);
        strips(a + k0, lda, 0, m, std::min(block_k, k - k0), panel_block(p, k0), panel_stride, np, panel_out(p), ldc,
               panel_bias(p, k0));
      }
    }
    return;
  }
  for (int64_t k0 = 0; k0 < k; k0 += block_k) {
    const int64_t kc = std::min(block_k, k - k0);
    for (int64_t m0 = 0; m0 < m; m0 += kMc) {
      const int64_t m1 = std::min(m, m0 + kMc);
      for (int64_t p = p0; p < p1; p += step) {
        const int64_t np = std::min(step, p1 - p);
        if (!bias && k0 == 0) zero_first_block(p, np, m0, m1);
        strips(a + k0, lda, m0, m1, kc, panel_block(p, k0), panel_stride, np, panel_out(p), ldc, panel_bias(p, k0));
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

PackedGemmBlocking packed_gemm_blocking() {
#ifdef BERT_PACKED_GEMM
  if (packed_gemm_available()) return {has_avx512() ? "avx512" : "avx2", tile_rows(), k_block()};
#endif
  return {"none", 0, 0};
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
  out.panels = inference_weights_empty({out.n / kPanelWidth, out.k, kPanelWidth});
  out.panels.copy_(weight.detach().reshape({out.n / kPanelWidth, kPanelWidth, out.k}).transpose(1, 2));
  if (bias.defined()) out.bias = bias.detach().contiguous();
  return out;
}

void packed_gemm(const float* a, int64_t m, int64_t lda, const PackedMatrix& b, int64_t p0, int64_t p1, float* c,
                 int64_t ldc, int threads) {
#ifdef BERT_PACKED_GEMM
  const int64_t panels = p1 - p0;
  if (m <= 0 || panels <= 0) return;
  if (m >= kMc * threads) {
    // Many rows: each thread takes its own rows (whole strips) and every panel, each keeping its own rows of x in
    // its L2; W's panels are shared through the last-level cache.
    const int64_t mr = tile_rows(), strips = (m + mr - 1) / mr;
    run_on_inference_threads(threads, [&](int t, int count) {
      const int64_t r0 = std::min(m, strips * t / count * mr), r1 = std::min(m, strips * (t + 1) / count * mr);
      if (r1 > r0) gemm_panels(a + r0 * lda, r1 - r0, lda, panels_of(b), p0, p0, p1, c + r0 * ldc, ldc);
    });
    return;
  }
  // Few rows: the threads split the panels in whole tiles (each reads its part of W once), every thread reading all
  // the rows.
  const int64_t step = tile_panels(), tiles = (panels + step - 1) / step;
  const int used = static_cast<int>(std::max<int64_t>(1, std::min<int64_t>(threads, tiles)));
  run_on_inference_threads(used, [&](int t, int count) {
    const int64_t begin = p0 + std::min(panels, tiles * t / count * step);
    const int64_t end = p0 + std::min(panels, tiles * (t + 1) / count * step);
    gemm_panels(a, m, lda, panels_of(b), p0, begin, end, c, ldc);
  });
#else
  throw std::logic_error("packed_gemm is not built for this CPU");
#endif
}

void packed_gemm_serial(const float* a, int64_t m, int64_t lda, const float* panels, int64_t panel_count, int64_t k,
                        const float* bias, float* c, int64_t ldc) {
#ifdef BERT_PACKED_GEMM
  if (m > 0 && panel_count > 0) gemm_panels(a, m, lda, Panels{panels, bias, k}, 0, 0, panel_count, c, ldc);
#else
  throw std::logic_error("packed_gemm is not built for this CPU");
#endif
}

}  // namespace bert
