// An AsyncWorker that settles a Promise: Execute runs on a libuv worker thread and never touches JS;
// any std::exception it throws (c10::Error is one) becomes a rejected Promise with the message.
#pragma once

#include <ATen/Parallel.h>
#include <c10/util/Exception.h>
#include <napi.h>

#include <atomic>
#include <exception>
#include <string>
#include <thread>

#include "../parallel/blas_threads.h"
#include "compute_thread.h"

namespace bert {

// The message of an exception for a JS Error: LibTorch's errors without their C++ backtrace.
inline std::string error_message(const std::exception& e) {
  if (const auto* torch_error = dynamic_cast<const c10::Error*>(&e)) return torch_error->what_without_backtrace();
  return e.what();
}

// LibTorch's intra-op thread count. OpenMP keeps it per calling thread, and libuv's worker threads start
// with its default (which can be 1), so every worker applies it before running.
inline std::atomic<int>& intra_op_threads() {
  static std::atomic<int> threads{static_cast<int>(std::max(1u, std::thread::hardware_concurrency()))};
  return threads;
}

class PromiseWorker : public Napi::AsyncWorker {
 public:
  explicit PromiseWorker(Napi::Env env) : Napi::AsyncWorker(env), deferred_(Napi::Promise::Deferred::New(env)) {}

  Napi::Promise Queue() {
    Napi::AsyncWorker::Queue();
    return deferred_.Promise();
  }

 protected:
  virtual void Run() = 0;                         // worker thread: no JS here
  virtual Napi::Value Result(Napi::Env env) = 0;  // main thread: build the resolved value
  // true: Run() goes to the addon's compute thread (tensor work); false: it runs on the libuv worker (file work).
  virtual bool RunsOnComputeThread() const { return false; }

 private:
  void Execute() final {
    try {
      auto body = [this] {
        if (at::get_num_threads() != intra_op_threads()) {
          at::set_num_threads(intra_op_threads());
          set_blas_threads(intra_op_threads());
        }
        Run();
      };
      if (RunsOnComputeThread()) {
        run_on_compute_thread(body);
      } else {
        body();
      }
    } catch (const std::exception& e) {
      SetError(error_message(e));
    } catch (...) {
      SetError("unknown native error");
    }
  }
  void OnOK() final {
    Napi::Env env = Env();
    Napi::HandleScope scope(env);
    try {
      deferred_.Resolve(Result(env));
    } catch (const Napi::Error& e) {
      deferred_.Reject(e.Value());
    } catch (const std::exception& e) {
      deferred_.Reject(Napi::Error::New(env, error_message(e)).Value());
    }
  }
  void OnError(const Napi::Error& error) final { deferred_.Reject(error.Value()); }

  Napi::Promise::Deferred deferred_;
};

// Runs a native entry point's body, turning std::exception into a JS Error (TypeError/RangeError pass through).
template <typename F>
Napi::Value guarded(Napi::Env env, F&& body) {
  try {
    return body();
  } catch (const Napi::Error&) {
    throw;
  } catch (const std::exception& e) {
    throw Napi::Error::New(env, error_message(e));
  }
}

}  // namespace bert
