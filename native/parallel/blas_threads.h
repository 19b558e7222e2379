// The BLAS's own thread count. OpenBLAS (Debian's LibTorch uses it for fp32 matrix products) keeps a thread pool of
// its own, sized once from OPENBLAS_NUM_THREADS or the core count; LibTorch's set_num_threads does not reach it, so
// setNumThreads(1) would still run every GEMM on all cores. Found at run time, so another BLAS is simply left alone.
#pragma once

namespace bert {

// Sets OpenBLAS's thread count when the process has OpenBLAS; returns false otherwise.
bool set_blas_threads(int threads);

// OpenBLAS's thread count, or 0 when the process has no OpenBLAS.
int blas_threads();

// Runs the BLAS single-threaded for its lifetime (callers parallelise over many small products themselves), then
// restores the count it found. OpenBLAS's count is process-wide: one guard on the calling thread covers its workers.
class SingleThreadedBlas {
 public:
  SingleThreadedBlas();
  ~SingleThreadedBlas();
  SingleThreadedBlas(const SingleThreadedBlas&) = delete;
  SingleThreadedBlas& operator=(const SingleThreadedBlas&) = delete;

 private:
  int previous_;
};

// MKL (PyTorch's pip wheels link it into libtorch_cpu) counts threads per calling thread: on a thread that is itself
// one of a parallel loop's workers, a GEMM would otherwise open a nested OpenMP team per call, each one a round of
// futex wake-ups. Sequential MKL on this thread for the guard's lifetime; nothing where the process has no MKL.
class SequentialMklOnThisThread {
 public:
  SequentialMklOnThisThread();
  ~SequentialMklOnThisThread();
  SequentialMklOnThisThread(const SequentialMklOnThisThread&) = delete;
  SequentialMklOnThisThread& operator=(const SequentialMklOnThisThread&) = delete;

 private:
  int previous_;
};

}  // namespace bert
