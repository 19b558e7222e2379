#include "blas_threads.h"

#include <dlfcn.h>

namespace bert {

namespace {

template <typename Fn>
Fn blas_symbol(const char* name) {
  return reinterpret_cast<Fn>(dlsym(RTLD_DEFAULT, name));
}

}  // namespace

bool set_blas_threads(int threads) {
  static const auto set = blas_symbol<void (*)(int)>("openblas_set_num_threads");
  if (set == nullptr) return false;
  set(threads);
  return true;
}

int blas_threads() {
  static const auto get = blas_symbol<int (*)()>("openblas_get_num_threads");
  return get == nullptr ? 0 : get();
}

SingleThreadedBlas::SingleThreadedBlas() : previous_(blas_threads()) {
  if (previous_ > 1) set_blas_threads(1);
}

SingleThreadedBlas::~SingleThreadedBlas() {
  if (previous_ > 1) set_blas_threads(previous_);
}

namespace {

// MKL's mkl_set_num_threads_local: sets this thread's count (0 = back to the global one) and returns the previous.
using MklSetLocal = int (*)(int);
MklSetLocal mkl_set_local() {
  static const auto set = blas_symbol<MklSetLocal>("MKL_Set_Num_Threads_Local");
  return set;
}

}  // namespace

SequentialMklOnThisThread::SequentialMklOnThisThread() : previous_(-1) {
  if (const auto set = mkl_set_local()) previous_ = set(1);
}

SequentialMklOnThisThread::~SequentialMklOnThisThread() {
  if (previous_ >= 0) mkl_set_local()(previous_);
}

}  // namespace bert
