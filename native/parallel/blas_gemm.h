// One fp32 GEMM straight into the BLAS (Fortran sgemm_), without going through LibTorch's dispatcher: for the many
// small per-(sequence, head) products of attention, where select() views and the mm dispatch cost about as much as
// the arithmetic. The call is the one LibTorch's addmm makes for the same operands (its transpose and
// leading-dimension choices, at::native::cpublas::gemm's normalisation), so the results are bit-identical to
// at::mm_out / at::addmm_out. Found at run time: where the process has no sgemm_ symbol (a BLAS linked privately into
// LibTorch), or the operands do not fit the BLAS call, it returns false and the caller uses LibTorch.
#pragma once

#include <cstdint>

namespace bert {

// Whether row_major_sgemm can run at all in this process (a BLAS sgemm_ is visible).
bool has_direct_sgemm();

// C[m, n] = alpha · A[m, k] · B[k, n] + beta · C, for strided row-major views: element (i, j) of A is
// a[i * a_row_stride + j * a_col_stride], likewise B; C has unit column stride and row stride ldc. beta 0 ignores C's
// contents (as the BLAS does). Returns false, doing nothing, where LibTorch would not call the BLAS directly.
bool row_major_sgemm(int64_t m, int64_t n, int64_t k, float alpha, const float* a, int64_t a_row_stride,
                     int64_t a_col_stride, const float* b, int64_t b_row_stride, int64_t b_col_stride, float beta,
                     float* c, int64_t ldc);

}  // namespace bert
