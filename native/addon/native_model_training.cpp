// NativeModel's training entry points: one optimizer step over accumulated micro-batches, evaluation
// batches with their loss, in-place weight reloads, optimizer and RNG state for checkpoints.
#include <ATen/ATen.h>
#include <ATen/CPUGeneratorImpl.h>

#include <cmath>
#include <cstring>
#include <functional>
#include <mutex>

#include "../checkpoint/checkpoint_file.h"
#include "../checkpoint/load_into_model.h"
#include "../checkpoint/safetensors.h"
#include "../training/grad_clip.h"
#include "../training/loss.h"
#include "host_batch.h"
#include "js_args.h"
#include "native_model.h"
#include "promise_worker.h"

namespace bert {

namespace {

// LibTorch reports exhausted memory as a c10::Error; say which batch did it, since that is what users can change.
[[noreturn]] void rethrow_with_batch(const std::exception& e, const HostBatch& batch) {
  std::string message = e.what();
  if (message.find("out of memory") != std::string::npos || message.find("can't allocate memory") != std::string::npos ||
      message.find("Cannot allocate memory") != std::string::npos) {
    throw std::runtime_error("out of memory in a training step with batch size " + std::to_string(batch.batch) +
                             " and sequence length " + std::to_string(batch.seq_len) +
                             " (lower batchSize or maxLength, or use gradientAccumulationSteps): " + message.substr(0, 300));
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
    throw Napi::RangeError::New(value.Env(), "classWeights has " + std::to_string(array.ElementLength()) + " values, expected numLabels = " +
                                                 std::to_string(num_labels));
  }
  return std::vector<float>(array.Data(), array.Data() + array.ElementLength());
}

double number_option(const Napi::Object& options, const char* field, double min, double max) {
  Napi::Value v = options.Get(field);
  if (!v.IsNumber()) throw Napi::TypeError::New(options.Env(), std::string(field) + " must be a number");
  double d = v.As<Napi::Number>().DoubleValue();
  if (!(d >= min && d <= max)) {
    throw Napi::RangeError::New(options.Env(), std::string(field) + " must be in [" + std::to_string(min) + ", " + std::to_string(max) + "]");
  }
  return d;
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
  };

  TrainStepWorker(Napi::Env env, std::shared_ptr<ModelState> state, std::vector<HostBatch> batches, Options options)
      : PromiseWorker(env), state_(std::move(state)), batches_(std::move(batches)), options_(std::move(options)) {}

 protected:
  void Run() override {
    std::unique_lock<std::shared_mutex> lock(state_->mutex);
    auto& model = state_->model;
    auto& optimizer = *state_->optimizer;
    const auto params = model->parameters();
    at::Tensor weights = options_.class_weights.empty()
                             ? at::Tensor()
                             : at::from_blob(options_.class_weights.data(), {static_cast<int64_t>(options_.class_weights.size())}, at::kFloat).clone();
    TrainModeScope train_mode(model);
    for (const auto& p : params) p.mutable_grad() = at::Tensor();  // set_to_none, as optimizer.zero_grad() does
    bool finite = true;
    for (const auto& batch : batches_) {
      try {
        at::Tensor logits = model->forward(batch.ids_tensor(), batch.mask_tensor(), batch.types_tensor());  // [B, L]
        at::Tensor loss = compute_loss(options_.kind, logits, batch.labels_tensor(options_.kind, state_->config.num_labels), weights);
        // transformers divides each micro-batch loss by the accumulation steps before backward.
        (loss / static_cast<double>(options_.accumulation_steps)).backward();
        double value = loss.item<double>();
        micro_losses_.push_back(value);
        finite = finite && std::isfinite(value);
      } catch (const std::exception& e) {
        for (const auto& p : params) p.mutable_grad() = at::Tensor();
        rethrow_with_batch(e, batch);
      }
    }
    grad_norm_ = clip_grad_norm(params, options_.max_grad_norm).item<double>();
    finite = finite && std::isfinite(grad_norm_);
    if (finite) {
      optimizer.step(options_.learning_rate);
    } else if (options_.skip_non_finite) {
      skipped_ = true;
    } else {
      for (const auto& p : params) p.mutable_grad() = at::Tensor();
      throw std::runtime_error("non-finite loss or gradient (loss " + std::to_string(mean_loss()) + ", gradient norm " +
                               std::to_string(grad_norm_) + "); the weights were not updated");
    }
    for (const auto& p : params) p.mutable_grad() = at::Tensor();
    step_ = optimizer.step_count();
  }

  Napi::Value Result(Napi::Env env) override {
    Napi::Object out = Napi::Object::New(env);
    out.Set("loss", mean_loss());
    Napi::Array micro = Napi::Array::New(env, micro_losses_.size());
    for (size_t i = 0; i < micro_losses_.size(); ++i) micro.Set(static_cast<uint32_t>(i), micro_losses_[i]);
    out.Set("microLosses", micro);
    out.Set("gradNorm", grad_norm_);
    out.Set("skipped", skipped_);
    out.Set("optimizerStep", static_cast<double>(step_));
    return out;
  }

 private:
  double mean_loss() const {
    double sum = 0;
    for (double v : micro_losses_) sum += v;
    return micro_losses_.empty() ? 0.0 : sum / static_cast<double>(micro_losses_.size());
  }

  std::shared_ptr<ModelState> state_;
  std::vector<HostBatch> batches_;
  Options options_;
  std::vector<double> micro_losses_;
  double grad_norm_ = 0;
  bool skipped_ = false;
  int64_t step_ = 0;
};

// ---------------------------------------------------------------------------------------------------------------
class EvalBatchWorker : public PromiseWorker {
 public:
  EvalBatchWorker(Napi::Env env, std::shared_ptr<ModelState> state, HostBatch batch, LossKind kind, std::vector<float> weights)
      : PromiseWorker(env), state_(std::move(state)), batch_(std::move(batch)), kind_(kind), weights_(std::move(weights)) {}

 protected:
  void Run() override {
    std::shared_lock<std::shared_mutex> lock(state_->mutex);
    c10::InferenceMode inference;
    logits_ = state_->model->forward(batch_.ids_tensor(), batch_.mask_tensor(), batch_.types_tensor()).contiguous();
    if (batch_.has_labels) {
      at::Tensor w = weights_.empty() ? at::Tensor() : at::from_blob(weights_.data(), {static_cast<int64_t>(weights_.size())}, at::kFloat);
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
  if (!lock.owns_lock()) throw Napi::Error::New(env, "the model is busy; configure the optimizer before training starts");
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
  Napi::Array array = info[0].As<Napi::Array>();
  if (array.Length() == 0) throw Napi::RangeError::New(env, "trainStep needs at least one batch");
  std::vector<HostBatch> batches;
  for (uint32_t i = 0; i < array.Length(); ++i) {
    batches.push_back(host_batch_from_js(array.Get(i), "batches[" + std::to_string(i) + "]", state->config, opts.kind, true));
  }
  auto* worker = new TrainStepWorker(env, state, std::move(batches), std::move(opts));
  return worker->Queue();
}

Napi::Value NativeModel::EvalBatch(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  auto state = loaded_state(env);
  if (info.Length() < 2) throw Napi::TypeError::New(env, "evalBatch(batch, problemType, classWeights?)");
  LossKind kind = loss_kind_arg(info, info[1]);
  auto weights = class_weights_arg(info.Length() > 2 ? info[2] : env.Undefined(), state->config.num_labels);
  HostBatch batch = host_batch_from_js(info[0], "batch", state->config, kind, false);
  auto* worker = new EvalBatchWorker(env, state, std::move(batch), kind, std::move(weights));
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
    for (auto& entry : s.optimizer->state_dict()) tensors.emplace_back(entry.first, entry.second.to(at::kCPU).contiguous());
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
  loaded_state(env);
  at::Generator generator = at::detail::getDefaultCPUGenerator();
  at::Tensor bytes;
  {
    std::lock_guard<std::mutex> lock(generator.mutex());
    bytes = generator.get_state();
  }
  auto out = Napi::Uint8Array::New(env, static_cast<size_t>(bytes.numel()));
  std::memcpy(out.Data(), bytes.data_ptr<uint8_t>(), static_cast<size_t>(bytes.numel()));
  return out;
}

Napi::Value NativeModel::SetRngState(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  loaded_state(env);
  if (info.Length() < 1 || !info[0].IsTypedArray() || info[0].As<Napi::TypedArray>().TypedArrayType() != napi_uint8_array) {
    throw Napi::TypeError::New(env, "rngState must be a Uint8Array");
  }
  auto array = info[0].As<Napi::Uint8Array>();
  at::Tensor bytes = at::empty({static_cast<int64_t>(array.ElementLength())}, at::kByte);
  std::memcpy(bytes.data_ptr<uint8_t>(), array.Data(), array.ElementLength());
  at::Generator generator = at::detail::getDefaultCPUGenerator();
  try {
    std::lock_guard<std::mutex> lock(generator.mutex());
    generator.set_state(bytes);
  } catch (const std::exception& e) {
    throw Napi::RangeError::New(env, std::string("rngState is not a CPU generator state: ") + e.what());
  }
  return env.Undefined();
}

Napi::Value NativeModel::ManualSeed(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  auto seed = static_cast<uint64_t>(integer_arg(info, 0, "seed", 0, 9007199254740991LL));
  at::manual_seed(seed);
  return env.Undefined();
}

}  // namespace bert
