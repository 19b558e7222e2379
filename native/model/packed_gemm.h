// The inference path's matrix products: y = x · Wᵀ + b with W packed once, when forward() first runs, into panels of
// 16 output columns ([N/16][K][16]: each panel's K x 16 block contiguous in the order the kernel reads it), the way
// ONNX Runtime prepacks its GEMM weights. A plain sgemm call re-packs W on every call: with few rows (one short text)
// that copy costs as much as the products, and MKL splits such small products poorly over threads.
//
// The kernel is the usual register-blocked one: 6 rows x 16 columns (one panel) of accumulators with AVX2 FMA, or 6
// (12 on Intel) rows x 32 columns (two panels) with AVX-512, where a register holds a whole panel row; x's rows are
// read in place (one broadcast element per row and k), so only W is packed. Blocked for the caches (96 rows of x by 256
// k in L2, a panel's 256 x 16 block of W in L1; k blocks of 768 on Intel, where L2 feeds W fast enough), the rows or
// the panels split over the threads (inference_pool.h). Each output is the sum of its K products in k order, from the
// bias, in both kernels: they give the same bits (a plain sgemm sums in other orders: the results agree within float
// rounding, about 1e-7 relative).
#pragma once

#include <ATen/ATen.h>

#include <cstdint>

namespace bert {

constexpr int64_t kPanelWidth = 16;

// Whether this CPU runs the kernel (x86-64 with AVX2 and FMA; AVX-512F, when present, is used too).
bool packed_gemm_available();

// How packed_gemm() runs on this CPU and environment: the kernel ("avx512" or "avx2"), its tile's rows, k per block.
struct PackedGemmBlocking {
  const char* isa;
  int64_t tile_rows, k_block;
};
PackedGemmBlocking packed_gemm_blocking();

struct PackedMatrix {
  int64_t n = 0, k = 0;  // output and input features; n is a multiple of kPanelWidth
  at::Tensor panels;     // float [n / 16, k, 16]
  at::Tensor bias;       // float [n], or undefined
};

// weight [n, k] (n a multiple of 16) and bias [n] (or undefined), fp32 on the CPU.
PackedMatrix pack_matrix(const at::Tensor& weight, const at::Tensor& bias);

// c[i, j] = bias[16 p0 + j] + Σ_k a[i, k] · W[16 p0 + j, k] for rows i < m and the columns of panels [p0, p1):
// a has row stride lda, c row stride ldc (column 0 of c is output column 16 p0). Runs on `threads` threads.
void packed_gemm(const float* a, int64_t m, int64_t lda, const PackedMatrix& b, int64_t p0, int64_t p1, float* c,
                 int64_t ldc, int threads);

// The same product on the calling thread, against panels the caller packed ([panel_count][k][16], 64-byte aligned;
// bias [16 panel_count] or null): attention's keys and values, packed per head (cpu_attention.h).
void packed_gemm_serial(const float* a, int64_t m, int64_t lda, const float* panels, int64_t panel_count, int64_t k,
                        const float* bias, float* c, int64_t ldc);

}  // namespace bert
