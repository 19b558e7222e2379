// The BLAS's own thread count. OpenBLAS (Debian's LibTorch uses it for fp32 matrix products) keeps a thread pool of
// its own, sized once from OPENBLAS_NUM_THREADS or the core count; LibTorch's set_num_threads does not reach it, so
// setNumThreads(1) would still run every GEMM on all cores. Found at run time, so another BLAS is simply left alone.
#pragma once

namespace bert {

// Sets OpenBLAS's thread count when the process has OpenBLAS; returns false otherwise.
bool set_blas_threads(int threads);

}  // namespace bert
