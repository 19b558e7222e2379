// The threads the inference path's matrix products run on (packed_gemm.h): the calling thread plus helper threads that
// wait for work by spinning for a short while before they sleep.
//
// Why not LibTorch's OpenMP team: bert-trainer sets GOMP_SPINCOUNT=100 (src/engine/native.ts), so that idle OpenMP
// workers sleep at once and leave the cores to Node's event loop during training; every parallel region then wakes
// its workers with a futex and waits for them with another, about 0.1 ms on this 2-core VM. A forward of one short
// text runs some 40 regions of a few tens of microseconds each, so waking threads was half of it. These helpers spin
// through the gaps between the products of one forward (kSpinMicroseconds) and sleep when no product follows.
#pragma once

#include <functional>

namespace bert {

// Runs task(t, threads) for t = 0 .. threads-1, t = 0 on the calling thread, the others on helper threads, and
// returns when all have finished. threads <= 1, or a call made while another thread's run holds the helpers, runs
// task(0, 1) inline: the task must split its work by the count it is given. A task must not throw.
void run_on_inference_threads(int threads, const std::function<void(int, int)>& task);

// LibTorch's own operations (attention, LayerNorm, GELU, additions) on one thread for the guard's lifetime when
// `serial`, by OpenMP's thread count of the calling thread, then the count it found: for forwards so small that
// waking OpenMP's workers costs more than they save. Nothing where the process has no OpenMP.
class SerialAtenOps {
 public:
  explicit SerialAtenOps(bool serial);
  ~SerialAtenOps();
  SerialAtenOps(const SerialAtenOps&) = delete;
  SerialAtenOps& operator=(const SerialAtenOps&) = delete;

 private:
  int previous_ = 0;
};

}  // namespace bert
