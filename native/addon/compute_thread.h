// The one thread that runs the addon's tensor work (training steps, forward passes, evaluation).
// Why not libuv's worker pool: glibc gives every thread that allocates its own malloc arena and keeps freed
// activations there, and libgomp keeps an OpenMP team per calling thread, so steps that land on four different
// workers hold four arenas of activations and four thread teams. One thread keeps one of each; peak memory is then
// one step's, as in a Python training loop. File work (loading, saving) still runs on libuv's pool.
#pragma once

#include <functional>

namespace bert {

// Runs `task` on the compute thread and returns when it has finished; an exception it throws is rethrown here.
// Called from libuv worker threads (never from the JS thread: it blocks).
void run_on_compute_thread(const std::function<void()>& task);

}  // namespace bert
