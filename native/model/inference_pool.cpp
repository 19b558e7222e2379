#include "inference_pool.h"

#include <dlfcn.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <thread>
#include <vector>

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#endif

namespace bert {

namespace {

// How long an idle helper spins before it sleeps: longer than the gaps between the products of one forward (the
// element-wise work between them, tens of microseconds), short enough that a helper of a finished forward does not
// hold its core for long.
constexpr auto kSpin = std::chrono::microseconds(200);

inline void cpu_relax() {
#if defined(__x86_64__) || defined(__i386__)
  _mm_pause();
#else
  std::this_thread::yield();
#endif
}

class InferencePool {
 public:
  void Run(int threads, const std::function<void(int, int)>& task) {
    AddHelpers(threads - 1);
    task_ = &task;
    threads_ = threads;
    pending_.store(threads - 1, std::memory_order_relaxed);
    {
      // Under the mutex, so that a helper deciding to sleep sees the new generation or is woken.
      std::lock_guard<std::mutex> lock(mutex_);
      generation_.fetch_add(1, std::memory_order_release);
    }
    if (sleepers_.load(std::memory_order_acquire) > 0) wake_.notify_all();
    task(0, threads);
    // The helpers' share takes about as long as ours: wait actively, yielding now and then in case one of them was
    // descheduled.
    for (int spins = 1; pending_.load(std::memory_order_acquire) != 0; ++spins) {
      cpu_relax();
      if (spins % 4096 == 0) std::this_thread::yield();
    }
  }

 private:
  void AddHelpers(int count) {
    while (static_cast<int>(helpers_) < count) {
      const int index = static_cast<int>(++helpers_);  // the helper's thread index: 1, 2, ...
      // The generation it has seen is the one before the run that creates it, however late the thread starts.
      const uint64_t seen = generation_.load(std::memory_order_acquire);
      std::thread([this, index, seen] { Loop(index, seen); }).detach();
    }
  }

  void Loop(int index, uint64_t seen) {
    for (;;) {
      const auto deadline = std::chrono::steady_clock::now() + kSpin;
      uint64_t now_at;
      for (int spins = 1; (now_at = generation_.load(std::memory_order_acquire)) == seen; ++spins) {
        cpu_relax();
        // Now and then the core goes to whatever else is ready on it (OpenMP's worker during LibTorch's operations).
        if (spins % 64 == 0) std::this_thread::yield();
        if (spins % 256 == 0 && std::chrono::steady_clock::now() > deadline) {
          std::unique_lock<std::mutex> lock(mutex_);
          sleepers_.fetch_add(1, std::memory_order_acq_rel);
          wake_.wait(lock, [&] { return generation_.load(std::memory_order_acquire) != seen; });
          sleepers_.fetch_sub(1, std::memory_order_acq_rel);
        }
      }
      seen = now_at;
      if (index < threads_) {
        (*task_)(index, threads_);
        pending_.fetch_sub(1, std::memory_order_acq_rel);
      }
    }
  }

  std::atomic<uint64_t> generation_{0};
  std::atomic<int> pending_{0};
  std::atomic<int> sleepers_{0};
  std::mutex mutex_;
  std::condition_variable wake_;
  // Written by Run before the generation's release, read by helpers after its acquire.
  const std::function<void(int, int)>* task_ = nullptr;
  int threads_ = 1;
  size_t helpers_ = 0;  // Run's thread only
};

}  // namespace

void run_on_inference_threads(int threads, const std::function<void(int, int)>& task) {
  // One run at a time: every model has its own compute thread, and two forwards may reach here together. The one that
  // finds the pool taken runs its task alone rather than wait.
  static std::mutex in_use;
  std::unique_lock<std::mutex> claim(in_use, std::try_to_lock);
  if (threads <= 1 || !claim.owns_lock()) {
    task(0, 1);
    return;
  }
  // Never destroyed: detached helpers wait on it until the process exits.
  static InferencePool* pool = new InferencePool();
  pool->Run(threads, task);
}

namespace {

struct OpenMpThreadCount {
  int (*get)() = nullptr;
  void (*set)(int) = nullptr;
};

const OpenMpThreadCount& openmp() {
  static const OpenMpThreadCount found = [] {
    OpenMpThreadCount o;
    o.get = reinterpret_cast<int (*)()>(dlsym(RTLD_DEFAULT, "omp_get_max_threads"));
    o.set = reinterpret_cast<void (*)(int)>(dlsym(RTLD_DEFAULT, "omp_set_num_threads"));
    if (o.get == nullptr || o.set == nullptr) o = OpenMpThreadCount{};
    return o;
  }();
  return found;
}

}  // namespace

SerialAtenOps::SerialAtenOps(bool serial) {
  if (!serial || openmp().get == nullptr) return;
  previous_ = openmp().get();
  if (previous_ > 1) openmp().set(1);
}

SerialAtenOps::~SerialAtenOps() {
  if (previous_ > 1) openmp().set(previous_);
}

}  // namespace bert
