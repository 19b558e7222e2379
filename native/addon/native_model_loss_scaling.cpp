// NativeModel's fp16 loss-scaling state between steps (the scaling itself: native/training/grad_scaler.h): the
// GradScaler's state for checkpoints, torch.amp.GradScaler.state_dict()'s fields under torch's names, and the last
// step's overflow verdict when it is still pending (native/training/pending_overflow.h). Synchronous, on the JS
// thread, between steps: each takes the model's lock without waiting (ERR_MODEL_BUSY while a step runs).
#include <mutex>
#include <shared_mutex>

#include "js_args.h"
#include "js_errors.h"
#include "native_model.h"

namespace bert {

namespace {

std::unique_lock<std::shared_mutex> lock_between_steps(Napi::Env env, ModelState& state, const char* what) {
  std::unique_lock<std::shared_mutex> lock(state.mutex, std::try_to_lock);
  if (!lock.owns_lock()) {
    throw coded_error(env, ErrorCode::ModelBusy, std::string("the model is busy; ") + what + " between steps");
  }
  return lock;
}

}  // namespace

Napi::Value NativeModel::GetGradScalerState(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  auto state = loaded_state(env);
  auto lock = lock_between_steps(env, *state, "read the loss scale");
  if (!state->scaler) return env.Null();  // no fp16 step since configureOptimizer()
  const GradScalerState s = state->scaler->state();
  Napi::Object out = Napi::Object::New(env);
  out.Set("scale", s.scale);
  out.Set("growth_factor", s.growth_factor);
  out.Set("backoff_factor", s.backoff_factor);
  out.Set("growth_interval", static_cast<double>(s.growth_interval));
  out.Set("_growth_tracker", static_cast<double>(s.growth_tracker));
  return out;
}

Napi::Value NativeModel::SetGradScalerState(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  auto state = loaded_state(env);
  if (info.Length() < 1 || !(info[0].IsObject() || info[0].IsNull())) {
    throw Napi::TypeError::New(env, "internal: setGradScalerState(state: object | null)");
  }
  std::unique_ptr<GradScaler> scaler;
  if (info[0].IsObject()) {
    // Validated by the checkpoint reader (src/checkpoint/trainer-checkpoint.ts); asserted here.
    Napi::Object object = info[0].As<Napi::Object>();
    GradScalerState s;
    s.scale = number_option(object, "scale");
    s.growth_factor = number_option(object, "growth_factor");
    s.backoff_factor = number_option(object, "backoff_factor");
    s.growth_interval = integer_option(object, "growth_interval", 1);
    s.growth_tracker = integer_option(object, "_growth_tracker", 0);
    if (!(s.scale > 0) || !(s.growth_factor > 1) || !(s.backoff_factor > 0 && s.backoff_factor < 1) ||
        s.growth_tracker >= s.growth_interval) {
      throw Napi::RangeError::New(env,
                                  "internal: not a GradScaler state (scale > 0, growth_factor > 1, "
                                  "0 < backoff_factor < 1, _growth_tracker < growth_interval)");
    }
    scaler = std::make_unique<GradScaler>(state->device, s);
  }
  auto lock = lock_between_steps(env, *state, "set the loss scale");
  state->scaler = std::move(scaler);  // null: the next fp16 step starts from a new GradScaler's state
  return env.Undefined();
}

Napi::Value NativeModel::SettleOverflow(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  auto state = loaded_state(env);
  auto lock = lock_between_steps(env, *state, "read the last step's overflow");
  if (!state->pending_overflow) return env.Null();
  const bool overflow = settle_overflow(*state->pending_overflow);
  state->pending_overflow.reset();
  return Napi::Boolean::New(env, overflow);
}

Napi::Value NativeModel::GraphStats(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  auto state = loaded_state(env);
  auto lock = lock_between_steps(env, *state, "read the CUDA graph counts");
  if (!state->graphs) return env.Null();
  const bert::CudaGraphStats stats = state->graphs->stats();
  Napi::Object out = Napi::Object::New(env);
  out.Set("captures", static_cast<double>(stats.captures));
  out.Set("replays", static_cast<double>(stats.replays));
  out.Set("eagerSteps", static_cast<double>(stats.eager_steps));
  out.Set("dropped", static_cast<double>(stats.dropped));
  out.Set("disabledReason", stats.disabled_reason.empty() ? env.Null() : Napi::String::New(env, stats.disabled_reason));
  return out;
}

}  // namespace bert
