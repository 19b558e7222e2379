#include "blas_gemm.h"

#include <dlfcn.h>

#include <algorithm>
#include <climits>

namespace bert {

namespace {

using SgemmFn = void (*)(const char* transa, const char* transb, const int* m, const int* n, const int* k,
                         const float* alpha, const float* a, const int* lda, const float* b, const int* ldb,
                         const float* beta, float* c, const int* ldc);

SgemmFn sgemm() {
  static const auto fn = reinterpret_cast<SgemmFn>(dlsym(RTLD_DEFAULT, "sgemm_"));
  return fn;
}

bool fits_int(int64_t v) { return v >= 0 && v <= INT_MAX; }

// How addmm hands a strided [rows, cols] operand to the column-major BLAS: with unit column stride, untransposed
// with its row stride as leading dimension; with unit row stride, transposed with its column stride. False where
// neither holds (LibTorch would copy it first).
bool blas_operand(int64_t rows, int64_t cols, int64_t row_stride, int64_t col_stride, bool* transposed, int64_t* ld) {
  if (col_stride == 1 && row_stride >= std::max<int64_t>(1, cols)) {
    *transposed = false, *ld = row_stride;
  } else if (row_stride == 1 && col_stride >= std::max<int64_t>(1, rows)) {
    *transposed = true, *ld = col_stride;
  } else {
    return false;
  }
  return true;
}

}  // namespace

bool has_direct_sgemm() { return sgemm() != nullptr; }

bool row_major_sgemm(int64_t m, int64_t n, int64_t k, float alpha, const float* a, int64_t a_row_stride,
                     int64_t a_col_stride, const float* b, int64_t b_row_stride, int64_t b_col_stride, float beta,
                     float* c, int64_t ldc) {
  const SgemmFn fn = sgemm();
  if (fn == nullptr || m == 0 || n == 0 || k == 0) return false;
  if (!(ldc >= std::max<int64_t>(1, n))) return false;
  // LibTorch's addmm_impl_cpu_ for a row-major result: it computes Cᵀ[n, m] = Bᵀ · Aᵀ in the BLAS's column-major
  // terms, with B ([k, n]) as the BLAS's first operand and A ([m, k]) as its second.
  bool trans_first, trans_second;
  int64_t ld_first, ld_second;
  if (!blas_operand(k, n, b_row_stride, b_col_stride, &trans_first, &ld_first)) return false;
  if (!blas_operand(m, k, a_row_stride, a_col_stride, &trans_second, &ld_second)) return false;
  // BLAS dimensions: the first operand is [n, k] (op applied), the second [k, m], the result [n, m].
  const int64_t bm = n, bn = m;
  // at::native::cpublas::internal::normalize_last_dims
  if (bn == 1) ldc = bm;
  if (trans_first) {
    if (bm == 1) ld_first = k;
  } else if (k == 1) {
    ld_first = bm;
  }
  if (trans_second) {
    if (k == 1) ld_second = bn;
  } else if (bn == 1) {
    ld_second = k;
  }
  // at::native::cpublas's use_blas_gemm
  if (!(fits_int(bm) && fits_int(bn) && fits_int(k) && fits_int(ld_first) && fits_int(ld_second) && fits_int(ldc)))
    return false;
  if (!(ld_first >= std::max<int64_t>(1, trans_first ? k : bm) &&
        ld_second >= std::max<int64_t>(1, trans_second ? bn : k) && ldc >= std::max<int64_t>(1, bm))) {
    return false;
  }
  const char ta = trans_first ? 't' : 'n', tb = trans_second ? 't' : 'n';
  const int im = static_cast<int>(bm), in = static_cast<int>(bn), ik = static_cast<int>(k);
  const int lda = static_cast<int>(ld_first), ldb = static_cast<int>(ld_second), ldc_i = static_cast<int>(ldc);
  fn(&ta, &tb, &im, &in, &ik, &alpha, b, &lda, a, &ldb, &beta, c, &ldc_i);
  return true;
}

}  // namespace bert
