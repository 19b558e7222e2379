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

}  // namespace

bool has_direct_sgemm() { return sgemm() != nullptr; }

bool row_major_sgemm(int64_t m, int64_t n, int64_t k, float alpha, const float* a, int64_t a_row_stride,
                     int64_t a_col_stride, const float* b, int64_t b_row_stride, int64_t b_col_stride, float beta,
                     float* c, int64_t ldc) {
  const SgemmFn fn = sgemm();
  if (fn == nullptr || m == 0 || n == 0 || k == 0) return false;
  if (!(ldc >= std::max<int64_t>(1, n))) return false;
  // LibTorch's addmm_impl_cpu_ for a row-major result: it computes Cᵀ[n, m] = Bᵀ · Aᵀ in the BLAS's column-major
  // terms, with B as the BLAS's first operand. An operand whose column stride is 1 is passed untransposed with its
  // row stride as leading dimension; one whose row stride is 1, transposed with its column stride.
  bool trans_first, trans_second;
  int64_t ld_first, ld_second;
  if (b_col_stride == 1 && b_row_stride >= std::max<int64_t>(1, n)) {
    trans_first = false, ld_first = b_row_stride;
  } else if (b_row_stride == 1 && b_col_stride >= std::max<int64_t>(1, k)) {
    trans_first = true, ld_first = b_col_stride;
  } else {
    return false;
  }
  if (a_col_stride == 1 && a_row_stride >= std::max<int64_t>(1, k)) {
    trans_second = false, ld_second = a_row_stride;
  } else if (a_row_stride == 1 && a_col_stride >= std::max<int64_t>(1, m)) {
    trans_second = true, ld_second = a_col_stride;
  } else {
    return false;
  }
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
  if (!(fits_int(bm) && fits_int(bn) && fits_int(k) && fits_int(ld_first) && fits_int(ld_second) && fits_int(ldc))) return false;
  if (!(ld_first >= std::max<int64_t>(1, trans_first ? k : bm) && ld_second >= std::max<int64_t>(1, trans_second ? bn : k) &&
        ldc >= std::max<int64_t>(1, bm))) {
    return false;
  }
  const char ta = trans_first ? 't' : 'n', tb = trans_second ? 't' : 'n';
  const int im = static_cast<int>(bm), in = static_cast<int>(bn), ik = static_cast<int>(k);
  const int lda = static_cast<int>(ld_first), ldb = static_cast<int>(ld_second), ldc_i = static_cast<int>(ldc);
  fn(&ta, &tb, &im, &in, &ik, &alpha, b, &lda, a, &ldb, &beta, c, &ldc_i);
  return true;
}

}  // namespace bert
