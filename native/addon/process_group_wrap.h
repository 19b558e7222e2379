// The JS ProcessGroup: `new ProcessGroup()`, then `await init({ rank, worldSize, masterAddr, masterPort,
// timeoutMs, backend })` (the rendezvous runs on a worker thread), collectives as Promises, `await destroy()`.
// A NativeModel given it with setProcessGroup() averages its gradients over the group in trainStep.
#pragma once

#include <napi.h>

#include <memory>

#include "../distributed/process_group.h"

namespace bert {

class ProcessGroupWrap : public Napi::ObjectWrap<ProcessGroupWrap> {
 public:
  static Napi::Function Define(Napi::Env env);
  explicit ProcessGroupWrap(const Napi::CallbackInfo& info);

  // The initialized group behind a JS ProcessGroup; a TypeError naming `name` when `value` is not one, an Error
  // when it is not initialized (ERR_PROCESS_GROUP_NOT_INITIALIZED) or already destroyed (ERR_PROCESS_GROUP_DESTROYED).
  static std::shared_ptr<ProcessGroup> GroupOf(const Napi::Value& value, const char* name);

 private:
  Napi::Value Init(const Napi::CallbackInfo& info);       // (options) -> Promise<void>
  Napi::Value AllReduce(const Napi::CallbackInfo& info);  // (Float64Array) -> Promise<Float64Array>, the sum over ranks
  Napi::Value Barrier(const Napi::CallbackInfo& info);    // () -> Promise<void>
  Napi::Value Destroy(const Napi::CallbackInfo& info);    // () -> Promise<void>
  Napi::Value Rank(const Napi::CallbackInfo& info);
  Napi::Value WorldSize(const Napi::CallbackInfo& info);
  Napi::Value Backend(const Napi::CallbackInfo& info);

  std::shared_ptr<ProcessGroup> initialized(Napi::Env env) const;

  std::shared_ptr<ProcessGroup> group_;  // set when init() resolves, released by destroy()
  bool initializing_ = false;
  bool destroyed_ = false;
  friend class ProcessGroupInitWorker;
};

// Adds ProcessGroup and `distributed: { available, backends }` to the addon's exports.
void RegisterDistributed(Napi::Env env, Napi::Object exports);

}  // namespace bert
