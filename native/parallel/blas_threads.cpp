#include "blas_threads.h"

#include <dlfcn.h>

namespace bert {

namespace {

template <typename Fn>
Fn openblas_symbol(const char* name) {
  return reinterpret_cast<Fn>(dlsym(RTLD_DEFAULT, name));
}

}  // namespace

bool set_blas_threads(int threads) {
  static const auto set = openblas_symbol<void (*)(int)>("openblas_set_num_threads");
  if (set == nullptr) return false;
  set(threads);
  return true;
}

int blas_threads() {
  static const auto get = openblas_symbol<int (*)()>("openblas_get_num_threads");
  return get == nullptr ? 0 : get();
}

SingleThreadedBlas::SingleThreadedBlas() : previous_(blas_threads()) {
  if (previous_ > 1) set_blas_threads(1);
}

SingleThreadedBlas::~SingleThreadedBlas() {
  if (previous_ > 1) set_blas_threads(previous_);
}

}  // namespace bert
