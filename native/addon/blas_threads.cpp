#include "blas_threads.h"

#include <dlfcn.h>

namespace bert {

bool set_blas_threads(int threads) {
  using SetThreads = void (*)(int);
  static const SetThreads set = reinterpret_cast<SetThreads>(dlsym(RTLD_DEFAULT, "openblas_set_num_threads"));
  if (set == nullptr) return false;
  set(threads);
  return true;
}

}  // namespace bert
