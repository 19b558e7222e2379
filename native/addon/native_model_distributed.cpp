// NativeModel's data-parallel entry points: attach a ProcessGroup (trainStep then averages gradients over it,
// see native_model_training.cpp) and copy one rank's weights to all (DDP's initial broadcast).
#include <mutex>

#include <c10/core/GradMode.h>

#include "native_model.h"
#include "process_group_wrap.h"
#include "promise_worker.h"
#include "js_args.h"
#include "js_errors.h"

namespace bert {

namespace {

class BroadcastParametersWorker : public PromiseWorker {
 public:
  BroadcastParametersWorker(Napi::Env env, std::shared_ptr<ModelState> state, std::shared_ptr<ProcessGroup> group,
                            int root)
      : PromiseWorker(env), state_(std::move(state)), group_(std::move(group)), root_(root) {}

 protected:
  void Run() override {
    std::unique_lock<std::shared_mutex> lock(state_->mutex);
    c10::NoGradGuard no_grad;
    // Parameters and buffers, in the module's (identical on every rank) registration order.
    std::vector<at::Tensor> tensors;
    for (const auto& p : state_->model->parameters(true)) tensors.push_back(p);
    for (const auto& b : state_->model->buffers(true)) tensors.push_back(b);
    // Collectives need dense contiguous tensors; broadcast into a contiguous copy where one is not.
    std::vector<at::Tensor> contiguous;
    contiguous.reserve(tensors.size());
    for (const auto& t : tensors) contiguous.push_back(t.is_contiguous() ? t : t.contiguous());
    group_->broadcast(contiguous, root_, "broadcast of rank " + std::to_string(root_) + "'s weights");
    for (size_t i = 0; i < tensors.size(); ++i)
      if (!contiguous[i].is_same(tensors[i])) tensors[i].copy_(contiguous[i]);
  }
  Napi::Value Result(Napi::Env env) override { return env.Undefined(); }

 private:
  std::shared_ptr<ModelState> state_;
  std::shared_ptr<ProcessGroup> group_;
  int root_;
};

}  // namespace

Napi::Value NativeModel::SetProcessGroup(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  auto state = loaded_state(env);
  std::shared_ptr<ProcessGroup> group;
  if (info.Length() >= 1 && !info[0].IsNull() && !info[0].IsUndefined())
    group = ProcessGroupWrap::GroupOf(info[0], "processGroup");
  // DDP's bucket_cap_mb, in bytes.
  int64_t bucket_bytes = kDefaultBucketBytes;
  if (info.Length() >= 2 && !info[1].IsUndefined())
    bucket_bytes = integer_arg(info, 1, "bucketBytes", 1, int64_t{1} << 40);
  std::unique_lock<std::shared_mutex> lock(state->mutex, std::try_to_lock);
  if (!lock.owns_lock())
    throw coded_error(env, ErrorCode::ModelBusy, "the model is busy; set the process group before training starts");
  // The reducer's hooks go on this model's parameters; without a group they are removed with it.
  state->reducer.reset();
  if (group) {
    try {
      state->reducer = std::make_unique<GradientReducer>(group, state->model->parameters(true), bucket_bytes);
    } catch (const std::exception& e) {
      throw js_error(env, e);
    }
  }
  state->process_group = std::move(group);
  return env.Undefined();
}

Napi::Value NativeModel::BroadcastParameters(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  auto state = loaded_state(env);
  std::shared_ptr<ProcessGroup> group;
  {
    std::shared_lock<std::shared_mutex> lock(state->mutex, std::try_to_lock);
    if (!lock.owns_lock())
      throw coded_error(env, ErrorCode::ModelBusy, "the model is busy; broadcast the weights before training starts");
    group = state->process_group;
  }
  if (!group) throw Napi::Error::New(env, "broadcastParameters() needs a process group: call setProcessGroup() first");
  const int root = static_cast<int>(integer_arg(info, 0, "root", 0, group->world_size() - 1));
  auto* worker = new BroadcastParametersWorker(env, state, std::move(group), root);
  return worker->Queue();
}

}  // namespace bert
