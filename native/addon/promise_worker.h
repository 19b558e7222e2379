// An AsyncWorker that settles a Promise: Execute runs on a libuv worker thread and never touches JS;
// any std::exception it throws (c10::Error is one) becomes a rejected Promise with the message, and with a `code`
// where it has one (a CodedError's, ERR_OUT_OF_MEMORY for exhausted memory: js_errors.h).
#pragma once

#include <ATen/Parallel.h>
#include <c10/util/Exception.h>
#include <napi.h>

#include <atomic>
#include <exception>
#include <optional>
#include <string>
#include <thread>

#include "../common/error_message.h"
#include "../parallel/blas_threads.h"
#include "compute_thread.h"
#include "js_errors.h"

namespace bert {

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
      NativeFailure failure = native_failure(e);
      error_code_ = failure.code;
      SetError(failure.message);
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
      deferred_.Reject(js_error(env, e).Value());
    }
  }
  void OnError(const Napi::Error& error) final {
    set_error_code(error, error_code_);
    deferred_.Reject(error.Value());
  }

  Napi::Promise::Deferred deferred_;
  std::optional<ErrorCode> error_code_;  // of what Execute caught; written on the worker thread before OnError
};

}  // namespace bert
