// NativeModel's training entry points: one optimizer step over accumulated micro-batches (the step itself:
// native/training/train_step.h), evaluation batches with their loss, in-place weight reloads, optimizer and RNG state
// for checkpoints. Here: reading the arguments, the model's lock, and the results as JS values.
#include <ATen/ATen.h>

#include <cmath>
#include <cstring>
#include <functional>
#include <mutex>

#include "../checkpoint/checkpoint_error.h"
#include "../checkpoint/checkpoint_file.h"
#include "../checkpoint/load_into_model.h"
#include "../checkpoint/safetensors.h"
#include "../common/error_message.h"
#include "../model/rng_state.h"
#include "../training/loss.h"
#include "../training/mixed_precision.h"
#include "../training/parameter_groups.h"
#include "../training/train_step.h"
#include "batch_arg.h"
#include "js_args.h"
#include "js_errors.h"
#include "native_model.h"
#include "promise_worker.h"

namespace bert {

namespace {

LossKind loss_kind_arg(const Napi::CallbackInfo& info, const Napi::Value& value) {
  if (!value.IsString()) throw Napi::TypeError::New(info.Env(), "problemType must be a string");
  try {
    return parse_loss_kind(value.As<Napi::String>().Utf8Value());
  } catch (const std::invalid_argument& e) {
    throw Napi::RangeError::New(info.Env(), e.what());
  }
}

std::vector<float> class_weights_arg(const Napi::Value& value, int64_t num_labels) {
  if (value.IsUndefined() || value.IsNull()) return {};
  if (!value.IsTypedArray() || value.As<Napi::TypedArray>().TypedArrayType() != napi_float32_array) {
    throw Napi::TypeError::New(value.Env(), "classWeights must be a Float32Array");
  }
  auto array = value.As<Napi::Float32Array>();
  if (static_cast<int64_t>(array.ElementLength()) != num_labels) {
    throw Napi::RangeError::New(value.Env(), "classWeights has " + std::to_string(array.ElementLength()) +
                                                 " values, expected numLabels = " + std::to_string(num_labels));
  }
  return std::vector<float>(array.Data(), array.Data() + array.ElementLength());
}

// undefined -> no mixed precision; otherwise 'no' | 'bf16'.
MixedPrecision mixed_precision_arg(Napi::Env env, const Napi::Value& value) {
  if (value.IsUndefined() || value.IsNull()) return MixedPrecision::None;
  if (!value.IsString()) throw Napi::TypeError::New(env, "mixedPrecision must be a string ('no', 'bf16' or 'fp16')");
  try {
    return parse_mixed_precision(value.As<Napi::String>().Utf8Value());
  } catch (const std::invalid_argument& e) {
    throw Napi::RangeError::New(env, e.what());
  }
}

Napi::Object step_result_to_js(Napi::Env env, const TrainStepResult& result) {
  Napi::Object out = Napi::Object::New(env);
  out.Set("loss", result.loss ? Napi::Value(Napi::Number::New(env, *result.loss)) : env.Null());
  out.Set("gradNorm", result.grad_norm ? Napi::Value(Napi::Number::New(env, *result.grad_norm)) : env.Null());
  Napi::Array micro = Napi::Array::New(env);
  for (size_t i = 0; i < result.micro_losses.size(); ++i) micro.Set(static_cast<uint32_t>(i), result.micro_losses[i]);
  out.Set("microLosses", micro);
  out.Set("skipped", result.skipped);
  out.Set("learningRate", result.learning_rate);
  out.Set("overflow", result.overflow ? Napi::Value(Napi::Boolean::New(env, *result.overflow)) : env.Null());
  out.Set("previousOverflow",
          result.previous_overflow ? Napi::Value(Napi::Boolean::New(env, *result.previous_overflow)) : env.Null());
  out.Set("optimizerStep", static_cast<double>(result.optimizer_step));
  out.Set("graphed", result.graphed);
  Napi::Array logged = Napi::Array::New(env, result.logged.size());
  for (size_t i = 0; i < result.logged.size(); ++i) {
    Napi::Object entry = Napi::Object::New(env);
    entry.Set("step", static_cast<double>(result.logged[i].step));
    entry.Set("loss", result.logged[i].loss);
    entry.Set("gradNorm", result.logged[i].grad_norm);
    logged.Set(static_cast<uint32_t>(i), entry);
  }
  out.Set("logged", logged);
  if (result.reduction) {
    Napi::Object reduction = Napi::Object::New(env);
    reduction.Set("buckets", static_cast<double>(result.reduction->buckets));
    reduction.Set("launchedDuringBackward", static_cast<double>(result.reduction->launched_during_backward));
    reduction.Set("gradientsCopied", static_cast<double>(result.reduction->gradients_copied));
    out.Set("reduction", reduction);
  }
  return out;
}

}  // namespace

// ---------------------------------------------------------------------------------------------------------------
class TrainStepWorker : public PromiseWorker {
 public:
  TrainStepWorker(Napi::Env env, std::shared_ptr<ModelState> state, std::vector<HostBatch> batches,
                  TrainStepOptions options)
      : PromiseWorker(env), state_(std::move(state)), batches_(std::move(batches)), options_(std::move(options)) {}

 protected:
  bool RunsOnComputeThread() const override { return true; }
  void Run() override {
    std::unique_lock<std::shared_mutex> lock(state_->mutex);
    if (!state_->graphs && state_->device.is_cuda()) state_->graphs = std::make_unique<CudaGraphTrainSteps>();
    TrainStepContext context{state_->model,
                             state_->device,
                             state_->config.num_labels,
                             *state_->optimizer,
                             state_->scaler,
                             state_->pending_losses,
                             state_->pending_overflow,
                             state_->reducer.get(),
                             state_->process_group.get(),
                             state_->graphs.get()};
    result_ = train_step(context, batches_, options_);
  }

  Napi::Value Result(Napi::Env env) override { return step_result_to_js(env, result_); }

 private:
  std::shared_ptr<ModelState> state_;
  std::vector<HostBatch> batches_;
  TrainStepOptions options_;
  TrainStepResult result_;
};

// ---------------------------------------------------------------------------------------------------------------
class EvalBatchWorker : public PromiseWorker {
 public:
  EvalBatchWorker(Napi::Env env, std::shared_ptr<ModelState> state, HostBatch batch, LossKind kind,
                  std::vector<float> weights, MixedPrecision precision)
      : PromiseWorker(env),
        state_(std::move(state)),
        batch_(std::move(batch)),
        kind_(kind),
        weights_(std::move(weights)),
        precision_(precision) {}

 protected:
  bool RunsOnComputeThread() const override { return true; }
  void Run() override {
    std::shared_lock<std::shared_mutex> lock(state_->mutex);
    c10::InferenceMode inference;
    {
      const at::Device device = state_->device;
      AutocastScope autocast(precision_, device);
      logits_ =
          state_->model->forward(batch_.ids_tensor(device), batch_.mask_tensor(device), batch_.types_tensor(device));
    }
    logits_ = logits_.to(at::kFloat).cpu().contiguous();
    if (batch_.has_labels) {
      at::Tensor w = weights_.empty()
                         ? at::Tensor()
                         : at::from_blob(weights_.data(), {static_cast<int64_t>(weights_.size())}, at::kFloat);
      loss_ = compute_loss(kind_, logits_, batch_.labels_tensor(kind_, state_->config.num_labels), w).item<double>();
    }
  }

  Napi::Value Result(Napi::Env env) override {
    Napi::Object out = Napi::Object::New(env);
    Napi::Float32Array logits = Napi::Float32Array::New(env, static_cast<size_t>(logits_.numel()));
    std::memcpy(logits.Data(), logits_.data_ptr<float>(), static_cast<size_t>(logits_.numel()) * sizeof(float));
    out.Set("logits", logits);
    out.Set("shape", to_js_shape(env, logits_.sizes()));
    out.Set("loss", batch_.has_labels ? Napi::Value(Napi::Number::New(env, loss_)) : env.Null());
    return out;
  }

 private:
  std::shared_ptr<ModelState> state_;
  HostBatch batch_;
  LossKind kind_;
  std::vector<float> weights_;
  MixedPrecision precision_;
  at::Tensor logits_;
  double loss_ = 0;
};

// ---------------------------------------------------------------------------------------------------------------
// A small worker for the state operations: runs `body` under the given lock kind.
template <bool Exclusive>
class StateWorker : public PromiseWorker {
 public:
  StateWorker(Napi::Env env, std::shared_ptr<ModelState> state, std::function<void(ModelState&)> body)
      : PromiseWorker(env), state_(std::move(state)), body_(std::move(body)) {}

 protected:
  void Run() override {
    if (Exclusive) {
      std::unique_lock<std::shared_mutex> lock(state_->mutex);
      body_(*state_);
    } else {
      std::shared_lock<std::shared_mutex> lock(state_->mutex);
      body_(*state_);
    }
  }
  Napi::Value Result(Napi::Env env) override { return env.Undefined(); }

 private:
  std::shared_ptr<ModelState> state_;
  std::function<void(ModelState&)> body_;
};

// ---------------------------------------------------------------------------------------------------------------

Napi::Value NativeModel::ConfigureOptimizer(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  auto state = loaded_state(env);
  if (info.Length() < 1 || !info[0].IsObject()) throw Napi::TypeError::New(env, "optimizer options must be an object");
  Napi::Object options = info[0].As<Napi::Object>();
  AdamWOptions adamw;
  adamw.beta1 = number_option(options, "beta1");
  adamw.beta2 = number_option(options, "beta2");
  adamw.eps = number_option(options, "eps");
  adamw.weight_decay = number_option(options, "weightDecay");
  std::unique_lock<std::shared_mutex> lock(state->mutex, std::try_to_lock);
  if (!lock.owns_lock()) {
    throw coded_error(env, ErrorCode::ModelBusy, "the model is busy; configure the optimizer before training starts");
  }
  StateDict named_parameters;
  for (const auto& p : state->model->named_parameters(true)) named_parameters.emplace_back(p.key(), p.value());
  state->optimizer = std::make_unique<AdamW>(weight_decay_groups(named_parameters, adamw.weight_decay), adamw);
  state->pending_losses.clear();  // unread losses of an earlier, failed fit do not belong to this one
  state->pending_overflow.reset();
  state->scaler.reset();  // fp16: a new fit starts from the initial loss scale, as a new GradScaler does
  state->graphs.reset();  // captured over the previous optimizer's state
  return env.Undefined();
}

Napi::Value NativeModel::TrainStep(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  auto state = loaded_state(env);
  if (!state->optimizer) {
    throw coded_error(env, ErrorCode::OptimizerNotConfigured, "configureOptimizer() must be called before trainStep()");
  }
  if (info.Length() < 2 || !info[0].IsArray() || !info[1].IsObject()) {
    throw Napi::TypeError::New(env, "trainStep(batches: object[], options: object)");
  }
  Napi::Object options = info[1].As<Napi::Object>();
  TrainStepOptions opts;
  opts.kind = loss_kind_arg(info, options.Get("problemType"));
  opts.learning_rate = number_option(options, "learningRate");
  if (!options.Get("learningRateAfterSkip").IsUndefined()) {
    opts.learning_rate_after_skip = number_option(options, "learningRateAfterSkip");
  }
  opts.max_grad_norm = number_option(options, "maxGradNorm");
  opts.accumulation_steps = integer_option(options, "accumulationSteps", 1);
  opts.class_weights = class_weights_arg(options.Get("classWeights"), state->config.num_labels);
  opts.skip_non_finite = options.Get("skipNonFinite").ToBoolean().Value();
  Napi::Value read_loss = options.Get("readLoss");
  opts.read_loss = read_loss.IsUndefined() ? true : read_loss.ToBoolean().Value();
  opts.mixed_precision = mixed_precision_arg(env, options.Get("mixedPrecision"));
  Napi::Value cuda_graphs = options.Get("cudaGraphs");
  opts.cuda_graphs = cuda_graphs.IsUndefined() ? true : cuda_graphs.ToBoolean().Value();
  Napi::Array array = info[0].As<Napi::Array>();
  if (array.Length() == 0) throw Napi::RangeError::New(env, "trainStep needs at least one batch");
  std::vector<HostBatch> batches;
  for (uint32_t i = 0; i < array.Length(); ++i) {
    batches.push_back(
        host_batch_from_js(array.Get(i), "batches[" + std::to_string(i) + "]", state->config, opts.kind, true));
  }
  auto* worker = new TrainStepWorker(env, state, std::move(batches), std::move(opts));
  return worker->Queue();
}

Napi::Value NativeModel::EvalBatch(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  auto state = loaded_state(env);
  if (info.Length() < 2)
    throw Napi::TypeError::New(env, "evalBatch(batch, problemType, classWeights?, mixedPrecision?)");
  LossKind kind = loss_kind_arg(info, info[1]);
  auto weights = class_weights_arg(info.Length() > 2 ? info[2] : env.Undefined(), state->config.num_labels);
  MixedPrecision precision = mixed_precision_arg(env, info.Length() > 3 ? info[3] : env.Undefined());
  HostBatch batch = host_batch_from_js(info[0], "batch", state->config, kind, false);
  auto* worker = new EvalBatchWorker(env, state, std::move(batch), kind, std::move(weights), precision);
  return worker->Queue();
}

Napi::Value NativeModel::LoadWeights(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  auto state = loaded_state(env);
  auto files = string_array_arg(info, 0, "files");
  auto* worker = new StateWorker<true>(env, state, [files](ModelState& s) {
    std::vector<CheckpointFile> checkpoint;
    for (const auto& path : files) checkpoint.push_back({path, read_checkpoint_file(path)});
    LoadOptions options;
    options.base_model_prefix = s.model->base_model_prefix();
    LoadReport report = load_into_model(*s.model, checkpoint, options);
    if (!report.missing.empty()) {
      throw CheckpointError(files.front(),
                            "checkpoint lacks '" + report.missing.front() + "' (and " +
                                std::to_string(report.missing.size() - 1) + " more) that the model needs",
                            ErrorCode::CheckpointMismatch);
    }
  });
  return worker->Queue();
}

Napi::Value NativeModel::SaveOptimizerState(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  auto state = loaded_state(env);
  if (!state->optimizer) {
    throw coded_error(env, ErrorCode::OptimizerNotConfigured,
                      "no optimizer state: configureOptimizer() was not called");
  }
  std::string path = string_arg(info, 0, "path");
  auto* worker = new StateWorker<false>(env, state, [path](ModelState& s) {
    StateDict tensors;
    for (auto& entry : s.optimizer->state_dict())
      tensors.emplace_back(entry.first, entry.second.to(at::kCPU).contiguous());
    // step: optimizer steps taken (fit()'s global step); applied_steps: those that updated the weights (fewer where
    // fp16's loss scaling skipped some), what AdamW's bias correction counts.
    write_safetensors(path, tensors,
                      {{"format", "pt"},
                       {"step", std::to_string(s.optimizer->step_count())},
                       {"applied_steps", std::to_string(s.optimizer->applied_steps())}});
  });
  return worker->Queue();
}

Napi::Value NativeModel::LoadOptimizerState(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  auto state = loaded_state(env);
  if (!state->optimizer) {
    throw coded_error(env, ErrorCode::OptimizerNotConfigured,
                      "configureOptimizer() must be called before loadOptimizerState()");
  }
  std::string path = string_arg(info, 0, "path");
  auto* worker = new StateWorker<true>(env, state, [path](ModelState& s) {
    SafetensorsMetadata metadata;
    StateDict tensors = read_safetensors(path, &metadata);
    // A count in the metadata: -1 when absent.
    auto count = [&](const char* key) -> int64_t {
      for (const auto& kv : metadata) {
        if (kv.first != key) continue;
        size_t used = 0;
        int64_t value = -1;
        try {
          value = std::stoll(kv.second, &used);
        } catch (const std::exception&) {
        }
        if (used != kv.second.size() || value < 0) {
          throw CheckpointError(path, std::string("the optimizer state's '") + key + "' metadata '" + kv.second +
                                          "' is not an integer >= 0");
        }
        return value;
      }
      return -1;
    };
    const int64_t step = count("step");
    if (step < 0) throw CheckpointError(path, "no 'step' in the optimizer state's metadata");
    int64_t applied = count("applied_steps");
    if (applied < 0) applied = step;  // written before fp16 steps could be skipped: every step applied
    if (applied > step) {
      throw CheckpointError(path, "the optimizer state's 'applied_steps' metadata " + std::to_string(applied) +
                                      " is more than its 'step' " + std::to_string(step));
    }
    s.optimizer->load_state_dict(tensors, step, applied, path);
  });
  return worker->Queue();
}

Napi::Value NativeModel::GetRngState(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  auto state = loaded_state(env);
  const auto bytes = save_rng_state(state->model->dropout_generator(), state->device);
  auto out = Napi::Uint8Array::New(env, bytes.size());
  std::memcpy(out.Data(), bytes.data(), bytes.size());
  return out;
}

Napi::Value NativeModel::SetRngState(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  auto state = loaded_state(env);
  if (info.Length() < 1 || !info[0].IsTypedArray() ||
      info[0].As<Napi::TypedArray>().TypedArrayType() != napi_uint8_array) {
    throw Napi::TypeError::New(env, "rngState must be a Uint8Array");
  }
  auto array = info[0].As<Napi::Uint8Array>();
  try {
    load_rng_state(state->model->dropout_generator(), state->device, array.Data(), array.ElementLength());
  } catch (const CodedError& e) {
    throw coded_error(env, e.code(), std::string("rngState does not fit this model: ") + e.what());
  } catch (const std::exception& e) {
    throw Napi::RangeError::New(env, std::string("rngState is not a dropout generator state: ") + error_message(e));
  }
  return env.Undefined();
}

Napi::Value NativeModel::ManualSeed(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  auto state = loaded_state(env);
  auto seed = static_cast<uint64_t>(integer_arg(info, 0, "seed", 0, 9007199254740991LL));
  at::manual_seed(seed);                                // LibTorch's generator: weight initialisation
  state->model->dropout_generator().manual_seed(seed);  // this model's dropout masks
  return env.Undefined();
}

}  // namespace bert
