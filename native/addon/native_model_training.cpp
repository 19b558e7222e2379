// NativeModel's training entry points: one optimizer step over accumulated micro-batches, evaluation
// batches with their loss, in-place weight reloads, optimizer and RNG state for checkpoints.
#include <ATen/ATen.h>

#include <chrono>
#include <cmath>
#include <cstring>
#include <functional>
#include <mutex>

#include "../checkpoint/checkpoint_file.h"
#include "../checkpoint/load_into_model.h"
#include "../checkpoint/safetensors.h"
#include "../training/grad_clip.h"
#include "../training/loss.h"
#include "../training/grad_scaler.h"
#include "../training/mixed_precision.h"
#include "host_batch.h"
#include "js_args.h"
#include "native_model.h"
#include "promise_worker.h"

namespace bert {

namespace {

// LibTorch reports exhausted memory as a c10::Error; say which batch did it, since that is what users can change.
[[noreturn]] void rethrow_with_batch(const std::exception& e, const HostBatch& batch) {
  std::string message = error_message(e);
  if (message.find("out of memory") != std::string::npos ||
      message.find("can't allocate memory") != std::string::npos ||
      message.find("Cannot allocate memory") != std::string::npos) {
    throw std::runtime_error("out of memory in a training step with batch size " + std::to_string(batch.batch) +
                             " and sequence length " + std::to_string(batch.seq_len) +
                             " (lower batchSize or maxLength, or use gradientAccumulationSteps): " + message);
  }
  throw;
}

// RAII: train mode for the step, back to eval mode (what forward() assumes) whatever happens.
struct TrainModeScope {
  explicit TrainModeScope(BertForSequenceClassification& m) : model(m) { model->train(); }
  ~TrainModeScope() { model->eval(); }
  BertForSequenceClassification& model;
};

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

double number_option(const Napi::Object& options, const char* field, double min, double max) {
  Napi::Value v = options.Get(field);
  if (!v.IsNumber()) throw Napi::TypeError::New(options.Env(), std::string(field) + " must be a number");
  double d = v.As<Napi::Number>().DoubleValue();
  if (!(d >= min && d <= max)) {
    throw Napi::RangeError::New(
        options.Env(), std::string(field) + " must be in [" + std::to_string(min) + ", " + std::to_string(max) + "]");
  }
  return d;
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

}  // namespace

// ---------------------------------------------------------------------------------------------------------------
class TrainStepWorker : public PromiseWorker {
 public:
  struct Options {
    double learning_rate, max_grad_norm;
    int64_t accumulation_steps;
    LossKind kind;
    std::vector<float> class_weights;
    bool skip_non_finite;
    // false: keep this step's loss and gradient norm on the device and read them with a later step, so that
    // a CUDA step does not wait for the GPU (transformers reads its running loss only at logging steps).
    bool read_loss;
    MixedPrecision mixed_precision;
  };

  TrainStepWorker(Napi::Env env, std::shared_ptr<ModelState> state, std::vector<HostBatch> batches, Options options)
      : PromiseWorker(env), state_(std::move(state)), batches_(std::move(batches)), options_(std::move(options)) {}

 protected:
  bool RunsOnComputeThread() const override { return true; }
  void Run() override {
    std::unique_lock<std::shared_mutex> lock(state_->mutex);
    auto& model = state_->model;
    auto& optimizer = *state_->optimizer;
    const at::Device device = state_->device;
    const auto params = model->parameters();
    auto clear_grads = [&] {
      for (const auto& p : params) p.mutable_grad() = at::Tensor();  // set_to_none, as optimizer.zero_grad() does
    };
    at::Tensor weights =
        options_.class_weights.empty()
            ? at::Tensor()
            : to_device(at::from_blob(options_.class_weights.data(),
                                      {static_cast<int64_t>(options_.class_weights.size())}, at::kFloat)
                            .clone(),
                        device);
    // fp16: dynamic loss scaling (grad_scaler.h); its scale persists across steps.
    GradScaler* scaler = nullptr;
    if (options_.mixed_precision == MixedPrecision::Float16) {
      if (!state_->scaler) state_->scaler = std::make_unique<GradScaler>(device);
      scaler = state_->scaler.get();
    }
    TrainModeScope train_mode(model);
    clear_grads();
    std::vector<at::Tensor> micro_losses;  // 0-d, detached
    GradientReducer* reducer = state_->reducer.get();
    if (reducer) reducer->attach_gradient_views();  // data-parallel: backward accumulates into the all-reduce buckets
    for (size_t i = 0; i < batches_.size(); ++i) {
      const auto& batch = batches_[i];
      try {
        at::Tensor logits;  // [B, L] fp32
        {
          AutocastScope autocast(options_.mixed_precision, device);
          logits = model->forward(batch.ids_tensor(device), batch.mask_tensor(device), batch.types_tensor(device));
        }
        logits = logits.to(at::kFloat);  // the loss in fp32 under mixed precision too
        at::Tensor loss = compute_loss(options_.kind, logits,
                                       batch.labels_tensor(options_.kind, state_->config.num_labels, device), weights);
        // Data-parallel: the last micro-batch's backward all-reduces the (accumulated) gradients bucket by bucket as
        // they become final; the earlier ones accumulate locally (DDP's no_sync).
        if (reducer && i + 1 == batches_.size()) reducer->prepare_for_backward();
        // transformers divides each micro-batch loss by the accumulation steps before backward.
        at::Tensor scaled = loss / static_cast<double>(options_.accumulation_steps);
        (scaler ? scaler->scale_loss(scaled) : scaled).backward();
        micro_losses.push_back(loss.detach());
      } catch (const std::exception& e) {
        clear_grads();
        if (reducer) reducer->reset();
        rethrow_with_batch(e, batch);
      }
    }
    at::Tensor step_loss = at::stack(micro_losses).mean();  // 0-d
    if (reducer) {
      // DDP: gradients averaged over the ranks before clipping, so every rank clips and steps identically. The
      // logged loss is the ranks' mean too (transformers gathers it), i.e. the loss of the global batch.
      try {
        ProcessGroup& group = *state_->process_group;
        reducer->finish();
        reduction_ = Reduction{reducer->bucket_count(), reducer->buckets_launched_during_backward(),
                               reducer->gradients_copied()};
        std::vector<at::Tensor> loss{step_loss.reshape({1}).clone()};  // [1]
        group.all_reduce_sum(loss, "loss all-reduce");
        step_loss = loss[0].div(group.world_size()).reshape({});
      } catch (...) {
        clear_grads();
        throw;
      }
    }
    // fp16: the true gradients, and whether any overflowed (GradScaler.unscale_ before clipping, as transformers does).
    at::Tensor found_inf;
    if (scaler) {
      std::vector<at::Tensor> grads;
      for (const auto& p : params) grads.push_back(p.grad());
      found_inf = scaler->unscale(grads);
    }
    const GradNorm clipping = bert::grad_norm(params, options_.max_grad_norm);  // the optimizer applies the clipping
    const at::Tensor& grad_norm = clipping.total;                               // 0-d
    const int64_t this_step = optimizer.step_count() + 1;
    auto update = [&] {
      optimizer.step(options_.learning_rate, clipping.coefficient, found_inf);  // skips itself where found_inf is set
      if (scaler) scaler->update(found_inf);
    };

    if (options_.skip_non_finite || options_.read_loss) {
      // One read for everything pending plus this step.
      std::vector<at::Tensor> read{step_loss.to(at::kDouble), grad_norm.to(at::kDouble)};
      if (found_inf.defined()) read.push_back(found_inf.reshape({}).to(at::kDouble));
      at::Tensor values = at::stack(read).cpu();
      micro_values_ = at::stack(micro_losses).to(at::kDouble).cpu();
      const double loss = values[0].item<double>(), norm = values[1].item<double>();
      const bool overflow = found_inf.defined() && values[2].item<double>() != 0.0;  // fp16: a step the scaler skips
      if (!std::isfinite(loss) || (!overflow && !std::isfinite(norm))) {
        clear_grads();
        if (!options_.skip_non_finite) {
          throw std::runtime_error("non-finite loss at step " + std::to_string(this_step) + " (loss " +
                                   std::to_string(loss) + ", gradient norm " + std::to_string(norm) +
                                   "); the weights were not updated");
        }
        skipped_ = true;
      } else {
        update();
        skipped_ = overflow;
      }
      clear_grads();
      read_pending();
      logged_.push_back({this_step, loss, norm});
      current_ = {loss, norm};
    } else {
      update();
      clear_grads();
      state_->pending_losses.push_back({this_step, step_loss, grad_norm, found_inf});
    }
    step_ = optimizer.step_count();
  }

  Napi::Value Result(Napi::Env env) override {
    Napi::Object out = Napi::Object::New(env);
    const bool read = current_.has_value();
    out.Set("loss", read ? Napi::Value(Napi::Number::New(env, current_->first)) : env.Null());
    out.Set("gradNorm", read ? Napi::Value(Napi::Number::New(env, current_->second)) : env.Null());
    Napi::Array micro = Napi::Array::New(env);
    if (read) {
      for (int64_t i = 0; i < micro_values_.numel(); ++i)
        micro.Set(static_cast<uint32_t>(i), micro_values_[i].item<double>());
    }
    out.Set("microLosses", micro);
    out.Set("skipped", skipped_);
    out.Set("optimizerStep", static_cast<double>(step_));
    Napi::Array logged = Napi::Array::New(env, logged_.size());
    for (size_t i = 0; i < logged_.size(); ++i) {
      Napi::Object entry = Napi::Object::New(env);
      entry.Set("step", static_cast<double>(logged_[i].step));
      entry.Set("loss", logged_[i].loss);
      entry.Set("gradNorm", logged_[i].grad_norm);
      logged.Set(static_cast<uint32_t>(i), entry);
    }
    out.Set("logged", logged);
    if (reduction_) {
      Napi::Object reduction = Napi::Object::New(env);
      reduction.Set("buckets", static_cast<double>(reduction_->buckets));
      reduction.Set("launchedDuringBackward", static_cast<double>(reduction_->launched_during_backward));
      reduction.Set("gradientsCopied", static_cast<double>(reduction_->gradients_copied));
      out.Set("reduction", reduction);
    }
    return out;
  }

 private:
  struct Logged {
    int64_t step;
    double loss, grad_norm;
  };

  // Reads the losses that earlier deferred steps left on the device, in one transfer.
  void read_pending() {
    auto& pending = state_->pending_losses;
    if (pending.empty()) return;
    std::vector<at::Tensor> values;
    for (const auto& p : pending) {
      values.push_back(p.loss.to(at::kDouble));
      values.push_back(p.grad_norm.to(at::kDouble));
      // fp16: 1 where the scaler skipped the step for an overflow (its gradient norm is not finite, and that is fine).
      values.push_back(p.found_inf.defined() ? p.found_inf.reshape({}).to(at::kDouble)
                                             : at::zeros({}, p.loss.options().dtype(at::kDouble)));
    }
    at::Tensor host = at::stack(values).cpu();
    std::vector<bool> overflowed;
    for (size_t i = 0; i < pending.size(); ++i) {
      logged_.push_back({pending[i].step, host[3 * i].item<double>(), host[3 * i + 1].item<double>()});
      overflowed.push_back(host[3 * i + 2].item<double>() != 0.0);
    }
    pending.clear();
    for (size_t i = 0; i < logged_.size(); ++i) {
      const auto& entry = logged_[i];
      if (!std::isfinite(entry.loss) || (!overflowed[i] && !std::isfinite(entry.grad_norm))) {
        throw std::runtime_error("non-finite loss at step " + std::to_string(entry.step) + " (loss " +
                                 std::to_string(entry.loss) + ", gradient norm " + std::to_string(entry.grad_norm) +
                                 "); it was read at a later logging step, so the weights were updated with it");
      }
    }
  }

  std::shared_ptr<ModelState> state_;
  std::vector<HostBatch> batches_;
  Options options_;
  at::Tensor micro_values_;
  c10::optional<std::pair<double, double>> current_;
  std::vector<Logged> logged_;
  bool skipped_ = false;
  int64_t step_ = 0;
  struct Reduction {
    int64_t buckets, launched_during_backward, gradients_copied;
  };
  c10::optional<Reduction> reduction_;  // data-parallel: the step's gradient reduction
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
  adamw.beta1 = number_option(options, "beta1", 0.0, 0.999999999);
  adamw.beta2 = number_option(options, "beta2", 0.0, 0.999999999);
  adamw.eps = number_option(options, "eps", 0.0, 1.0);
  adamw.weight_decay = number_option(options, "weightDecay", 0.0, 1e6);
  std::unique_lock<std::shared_mutex> lock(state->mutex, std::try_to_lock);
  if (!lock.owns_lock())
    throw Napi::Error::New(env, "the model is busy; configure the optimizer before training starts");
  // transformers' Trainer: no weight decay on biases and LayerNorm weights.
  AdamW::Group decay{{}, {}, adamw.weight_decay}, no_decay{{}, {}, 0.0};
  for (const auto& p : state->model->named_parameters(true)) {
    const std::string& name = p.key();
    bool exempt = name.find("bias") != std::string::npos || name.find("LayerNorm") != std::string::npos;
    auto& group = exempt ? no_decay : decay;
    group.names.push_back(name);
    group.params.push_back(p.value());
  }
  state->optimizer = std::make_unique<AdamW>(std::vector<AdamW::Group>{decay, no_decay}, adamw);
  state->pending_losses.clear();  // unread losses of an earlier, failed fit do not belong to this one
  state->scaler.reset();          // fp16: a new fit starts from the initial loss scale, as a new GradScaler does
  return env.Undefined();
}

Napi::Value NativeModel::TrainStep(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  auto state = loaded_state(env);
  if (!state->optimizer) throw Napi::Error::New(env, "configureOptimizer() must be called before trainStep()");
  if (info.Length() < 2 || !info[0].IsArray() || !info[1].IsObject()) {
    throw Napi::TypeError::New(env, "trainStep(batches: object[], options: object)");
  }
  Napi::Object options = info[1].As<Napi::Object>();
  TrainStepWorker::Options opts;
  opts.kind = loss_kind_arg(info, options.Get("problemType"));
  opts.learning_rate = number_option(options, "learningRate", 0.0, 1e3);
  opts.max_grad_norm = number_option(options, "maxGradNorm", 0.0, 1e12);
  opts.accumulation_steps = static_cast<int64_t>(number_option(options, "accumulationSteps", 1, 1e6));
  opts.class_weights = class_weights_arg(options.Get("classWeights"), state->config.num_labels);
  opts.skip_non_finite = options.Get("skipNonFinite").ToBoolean().Value();
  Napi::Value read_loss = options.Get("readLoss");
  opts.read_loss = read_loss.IsUndefined() ? true : read_loss.ToBoolean().Value();
  opts.mixed_precision = mixed_precision_arg(env, options.Get("mixedPrecision"));
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
    LoadReport report = load_into_model(*s.model, checkpoint, LoadOptions{});
    if (!report.missing.empty()) {
      throw std::runtime_error(files.front() + ": checkpoint lacks '" + report.missing.front() + "' (and " +
                               std::to_string(report.missing.size() - 1) + " more) that the model needs");
    }
  });
  return worker->Queue();
}

Napi::Value NativeModel::SaveOptimizerState(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  auto state = loaded_state(env);
  if (!state->optimizer) throw Napi::Error::New(env, "no optimizer state: configureOptimizer() was not called");
  std::string path = string_arg(info, 0, "path");
  auto* worker = new StateWorker<false>(env, state, [path](ModelState& s) {
    StateDict tensors;
    for (auto& entry : s.optimizer->state_dict())
      tensors.emplace_back(entry.first, entry.second.to(at::kCPU).contiguous());
    write_safetensors(path, tensors, {{"format", "pt"}, {"step", std::to_string(s.optimizer->step_count())}});
  });
  return worker->Queue();
}

Napi::Value NativeModel::LoadOptimizerState(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  auto state = loaded_state(env);
  if (!state->optimizer) throw Napi::Error::New(env, "configureOptimizer() must be called before loadOptimizerState()");
  std::string path = string_arg(info, 0, "path");
  auto* worker = new StateWorker<true>(env, state, [path](ModelState& s) {
    SafetensorsMetadata metadata;
    StateDict tensors = read_safetensors(path, &metadata);
    int64_t step = -1;
    for (const auto& kv : metadata)
      if (kv.first == "step") step = std::stoll(kv.second);
    if (step < 0) throw std::runtime_error(path + ": no 'step' in the optimizer state's metadata");
    s.optimizer->load_state_dict(tensors, step, path);
  });
  return worker->Queue();
}

Napi::Value NativeModel::GetRngState(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  auto state = loaded_state(env);
  const auto bytes = state->model->dropout_generator().state();
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
    state->model->dropout_generator().set_state(array.Data(), array.ElementLength());
  } catch (const std::exception& e) {
    throw Napi::RangeError::New(env, std::string("rngState is not a dropout generator state: ") + e.what());
  }
  return env.Undefined();
}

// For the optimizer benchmark: fills every gradient with N(0, 1) once, then times `repeats` AdamW steps alone.
class OptimizerTimingWorker : public PromiseWorker {
 public:
  OptimizerTimingWorker(Napi::Env env, std::shared_ptr<ModelState> state, int64_t repeats)
      : PromiseWorker(env), state_(std::move(state)), repeats_(repeats) {}

 protected:
  bool RunsOnComputeThread() const override { return true; }
  void Run() override {
    std::unique_lock<std::shared_mutex> lock(state_->mutex);
    const auto params = state_->model->parameters();
    for (const auto& p : params) p.mutable_grad() = at::randn_like(p);
    for (int64_t i = 0; i < repeats_; ++i) {
      auto start = std::chrono::steady_clock::now();
      state_->optimizer->step(1e-5);
      millis_.push_back(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count());
    }
    for (const auto& p : params) p.mutable_grad() = at::Tensor();
  }
  Napi::Value Result(Napi::Env env) override {
    Napi::Array out = Napi::Array::New(env, millis_.size());
    for (size_t i = 0; i < millis_.size(); ++i) out.Set(static_cast<uint32_t>(i), millis_[i]);
    return out;
  }

 private:
  std::shared_ptr<ModelState> state_;
  int64_t repeats_;
  std::vector<double> millis_;
};

Napi::Value NativeModel::TimeOptimizerStep(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  auto state = loaded_state(env);
  if (!state->optimizer) throw Napi::Error::New(env, "configureOptimizer() must be called before timeOptimizerStep()");
  auto repeats = integer_arg(info, 0, "repeats", 1, 10000);
  auto* worker = new OptimizerTimingWorker(env, state, repeats);
  return worker->Queue();
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
