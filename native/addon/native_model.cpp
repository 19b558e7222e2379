#include "native_model.h"

#include <ATen/ATen.h>
#include <ATen/CPUGeneratorImpl.h>
#include <torch/nn/module.h>

#include <cstring>
#include <limits>
#include <mutex>

#include "../checkpoint/checkpoint_file.h"
#include "../checkpoint/load_into_model.h"
#include "../checkpoint/safetensors.h"
#include "../checkpoint/torch_bin.h"
#include "../model/init_weights.h"
#include "../training/host_batch.h"
#include "js_args.h"
#include "js_errors.h"
#include "promise_worker.h"

namespace bert {

// ---------------------------------------------------------------------------------------------------------------
// load: build the module, draw fresh weights from the seed, then copy in every checkpoint file.
class LoadWorker : public PromiseWorker {
 public:
  LoadWorker(Napi::Env env, NativeModel* owner, std::shared_ptr<ModelState> state, std::vector<std::string> files,
             bool ignore_mismatched_sizes, uint64_t seed, at::Device device)
      : PromiseWorker(env),
        owner_(owner),
        owner_ref_(Napi::Persistent(owner->Value())),
        state_(std::move(state)),
        files_(std::move(files)),
        ignore_mismatched_sizes_(ignore_mismatched_sizes),
        seed_(seed),
        device_(device) {}

 protected:
  void Run() override {
    std::unique_lock<std::shared_mutex> lock(state_->mutex);
    SequenceClassifier model = make_sequence_classifier(state_->config);
    init_bert_weights(*model, state_->config.initializer_range, at::make_generator<at::CPUGeneratorImpl>(seed_));
    std::vector<CheckpointFile> checkpoint;
    for (const auto& path : files_) checkpoint.push_back({path, read_checkpoint_file(path)});
    LoadOptions options;
    options.ignore_mismatched_sizes = ignore_mismatched_sizes_;
    options.base_model_prefix = model->base_model_prefix();
    report_ = load_into_model(*model, checkpoint, options);
    model->eval();
    model->to(device_);  // built and filled on the CPU (the same initial weights on every device), then moved
    state_->model = model;
    state_->device = device_;
  }

  Napi::Value Result(Napi::Env env) override {
    owner_->loading_ = false;
    owner_->loaded_ = true;
    Napi::Object report = Napi::Object::New(env);
    report.Set("missing", to_js_strings(env, report_.missing));
    report.Set("unexpected", to_js_strings(env, report_.unexpected));
    Napi::Array renamed = Napi::Array::New(env, report_.renamed.size());
    for (size_t i = 0; i < report_.renamed.size(); ++i) {
      Napi::Object pair = Napi::Object::New(env);
      pair.Set("from", report_.renamed[i].first);
      pair.Set("to", report_.renamed[i].second);
      renamed.Set(static_cast<uint32_t>(i), pair);
    }
    report.Set("renamed", renamed);
    report.Set("initialized", to_js_strings(env, report_.initialized));
    report.Set("mismatched", to_js_strings(env, report_.mismatched));
    return report;
  }

  void OnWorkComplete(Napi::Env env, napi_status status) override {
    owner_->loading_ = false;  // also on failure, so that a later load() may be tried
    PromiseWorker::OnWorkComplete(env, status);
  }

 private:
  NativeModel* owner_;
  Napi::ObjectReference owner_ref_;  // keeps owner_ alive until the worker completes
  std::shared_ptr<ModelState> state_;
  std::vector<std::string> files_;
  bool ignore_mismatched_sizes_;
  uint64_t seed_;
  at::Device device_;
  LoadReport report_;
};

// ---------------------------------------------------------------------------------------------------------------
// forward: eval-mode logits (and optionally the base model's outputs) for one batch.
class ForwardWorker : public PromiseWorker {
 public:
  ForwardWorker(Napi::Env env, std::shared_ptr<ModelState> state, std::vector<int32_t> ids, std::vector<int32_t> mask,
                std::vector<int32_t> types, int64_t batch, int64_t seq_len, bool with_hidden)
      : PromiseWorker(env),
        state_(std::move(state)),
        ids_(std::move(ids)),
        mask_(std::move(mask)),
        types_(std::move(types)),
        batch_(batch),
        seq_len_(seq_len),
        with_hidden_(with_hidden) {}

 protected:
  bool RunsOnComputeThread() const override { return true; }
  void Run() override {
    std::shared_lock<std::shared_mutex> lock(state_->mutex);
    c10::InferenceMode inference;
    auto as_ids = [&](std::vector<int32_t>& values) {  // [B, S] int64 on the model's device, as nn.Embedding wants
      return to_device(at::from_blob(values.data(), {batch_, seq_len_}, at::kInt).to(at::kLong), state_->device);
    };
    at::Tensor ids = as_ids(ids_);
    at::Tensor mask = mask_.empty() ? at::Tensor() : as_ids(mask_);
    at::Tensor types = types_.empty() ? at::Tensor() : as_ids(types_);
    auto& model = state_->model;
    auto out = model->forward_outputs(ids, mask, types);
    logits_ = out.logits.cpu().contiguous();  // [B, num_labels]
    if (with_hidden_) {
      if (out.pooler_output.defined()) pooled_ = out.pooler_output.cpu().contiguous();  // [B, H]
      hidden_ = out.last_hidden_state.cpu().contiguous();                               // [B, S, H]
    }
  }

  Napi::Value Result(Napi::Env env) override {
    Napi::Object out = Napi::Object::New(env);
    auto to_js = [&](const at::Tensor& t) {
      Napi::Float32Array array = Napi::Float32Array::New(env, static_cast<size_t>(t.numel()));
      std::memcpy(array.Data(), t.data_ptr<float>(), static_cast<size_t>(t.numel()) * sizeof(float));
      return array;
    };
    out.Set("logits", to_js(logits_));
    out.Set("shape", to_js_shape(env, logits_.sizes()));
    if (with_hidden_) {
      if (pooled_.defined()) out.Set("pooledOutput", to_js(pooled_));
      out.Set("lastHiddenState", to_js(hidden_));
      out.Set("hiddenShape", to_js_shape(env, hidden_.sizes()));
    }
    return out;
  }

 private:
  std::shared_ptr<ModelState> state_;
  std::vector<int32_t> ids_, mask_, types_;
  int64_t batch_, seq_len_;
  bool with_hidden_;
  at::Tensor logits_, pooled_, hidden_;
};

// ---------------------------------------------------------------------------------------------------------------
// saveWeights: model.safetensors and/or pytorch_model.bin, each written atomically by the checkpoint writers.
class SaveWorker : public PromiseWorker {
 public:
  SaveWorker(Napi::Env env, std::shared_ptr<ModelState> state, std::string dir, std::string format)
      : PromiseWorker(env), state_(std::move(state)), dir_(std::move(dir)), format_(std::move(format)) {}

 protected:
  void Run() override {
    std::shared_lock<std::shared_mutex> lock(state_->mutex);
    StateDict weights = model_state_dict(*state_->model);
    for (auto& entry : weights) entry.second = entry.second.cpu();  // the writers read host memory
    if (format_ == "safetensors" || format_ == "both") {
      written_.push_back(dir_ + "/model.safetensors");
      write_safetensors(written_.back(), weights, {{"format", "pt"}});
    }
    if (format_ == "pytorch" || format_ == "both") {
      written_.push_back(dir_ + "/pytorch_model.bin");
      write_torch_bin(written_.back(), weights);
    }
  }

  Napi::Value Result(Napi::Env env) override { return to_js_strings(env, written_); }

 private:
  std::shared_ptr<ModelState> state_;
  std::string dir_, format_;
  std::vector<std::string> written_;
};

// ---------------------------------------------------------------------------------------------------------------

Napi::Function NativeModel::Define(Napi::Env env) {
  return DefineClass(env, "NativeModel",
                     {
                         InstanceMethod<&NativeModel::Load>("load"),
                         InstanceMethod<&NativeModel::Forward>("forward"),
                         InstanceMethod<&NativeModel::SaveWeights>("saveWeights"),
                         InstanceMethod<&NativeModel::Parameters>("parameters"),
                         InstanceMethod<&NativeModel::Dispose>("dispose"),
                         InstanceMethod<&NativeModel::ConfigureOptimizer>("configureOptimizer"),
                         InstanceMethod<&NativeModel::TrainStep>("trainStep"),
                         InstanceMethod<&NativeModel::EvalBatch>("evalBatch"),
                         InstanceMethod<&NativeModel::LoadWeights>("loadWeights"),
                         InstanceMethod<&NativeModel::SaveOptimizerState>("saveOptimizerState"),
                         InstanceMethod<&NativeModel::LoadOptimizerState>("loadOptimizerState"),
                         InstanceMethod<&NativeModel::GetRngState>("getRngState"),
                         InstanceMethod<&NativeModel::SetRngState>("setRngState"),
                         InstanceMethod<&NativeModel::GetGradScalerState>("getGradScalerState"),
                         InstanceMethod<&NativeModel::SetGradScalerState>("setGradScalerState"),
                         InstanceMethod<&NativeModel::SettleOverflow>("settleOverflow"),
                         InstanceMethod<&NativeModel::ManualSeed>("manualSeed"),
                         InstanceMethod<&NativeModel::SetProcessGroup>("setProcessGroup"),
                         InstanceMethod<&NativeModel::BroadcastParameters>("broadcastParameters"),
                         InstanceAccessor<&NativeModel::IsDisposed>("disposed"),
                     });
}

NativeModel::NativeModel(const Napi::CallbackInfo& info) : Napi::ObjectWrap<NativeModel>(info) {
  if (info.Length() < 1 || !info[0].IsObject()) throw Napi::TypeError::New(info.Env(), "config must be an object");
  state_ = std::make_shared<ModelState>();
  state_->config = config_from_js(info[0].As<Napi::Object>());
}

std::shared_ptr<ModelState> NativeModel::loaded_state(Napi::Env env) const {
  if (disposed_) throw coded_error(env, ErrorCode::ModelDisposed, "this model has been disposed; load it again");
  if (!loaded_) throw coded_error(env, ErrorCode::ModelNotLoaded, "this model has no weights yet; await load() first");
  return state_;
}

Napi::Value NativeModel::Load(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (disposed_) throw coded_error(env, ErrorCode::ModelDisposed, "this model has been disposed; load it again");
  if (loading_ || loaded_) throw Napi::Error::New(env, "load() may be called once per model");
  auto files = string_array_arg(info, 0, "files");
  bool ignore_mismatched = boolean_arg(info, 1, "ignoreMismatchedSizes");
  auto seed = static_cast<uint64_t>(integer_arg(info, 2, "seed", 0, 9007199254740991LL));
  // JS resolved and checked the device (src/model/device.ts); this only parses it.
  at::Device device(at::kCPU);
  if (info.Length() > 3 && info[3].IsString()) {
    try {
      device = at::Device(info[3].As<Napi::String>().Utf8Value());
    } catch (const std::exception& e) {
      throw Napi::TypeError::New(env, "device: " + error_message(e));
    }
  }
  loading_ = true;
  auto* worker = new LoadWorker(env, this, state_, std::move(files), ignore_mismatched, seed, device);
  return worker->Queue();
}

Napi::Value NativeModel::Forward(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  auto state = loaded_state(env);
  const BertConfig& config = state->config;
  int64_t batch = integer_arg(info, 3, "batchSize", 1, std::numeric_limits<int32_t>::max());
  int64_t seq_len = integer_arg(info, 4, "sequenceLength", 1, config.max_sequence_length());
  bool with_hidden = info.Length() > 5 && boolean_arg(info, 5, "withHidden");
  if (batch * seq_len > (int64_t{1} << 31)) throw Napi::RangeError::New(env, "batchSize x sequenceLength is too large");
  const size_t n = static_cast<size_t>(batch * seq_len);
  auto ids = int32_array_arg(info, 0, "inputIds", n);
  auto optional = [&](size_t index, const char* name) {
    return info[index].IsNull() || info[index].IsUndefined() ? std::vector<int32_t>()
                                                             : int32_array_arg(info, index, name, n);
  };
  auto mask = optional(1, "attentionMask");
  auto types = optional(2, "tokenTypeIds");
  // Range checks here, on the calling thread, so bad ids are a RangeError rather than a LibTorch error.
  auto check_range = [&](const std::vector<int32_t>& values, const char* name, int32_t limit) {
    for (size_t i = 0; i < values.size(); ++i) {
      if (values[i] < 0 || values[i] >= limit) {
        throw Napi::RangeError::New(env, std::string(name) + "[" + std::to_string(i / seq_len) + "][" +
                                             std::to_string(i % seq_len) + "] = " + std::to_string(values[i]) +
                                             " is outside [0, " + std::to_string(limit) + ")");
      }
    }
  };
  check_range(ids, "inputIds", static_cast<int32_t>(config.vocab_size));
  check_range(mask, "attentionMask", 2);
  check_range(types, "tokenTypeIds", static_cast<int32_t>(config.type_vocab_size));
  auto* worker =
      new ForwardWorker(env, state, std::move(ids), std::move(mask), std::move(types), batch, seq_len, with_hidden);
  return worker->Queue();
}

Napi::Value NativeModel::SaveWeights(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  auto state = loaded_state(env);
  std::string dir = string_arg(info, 0, "dir");
  std::string format = string_arg(info, 1, "format");
  if (format != "safetensors" && format != "pytorch" && format != "both") {
    throw Napi::RangeError::New(env, "format must be 'safetensors', 'pytorch' or 'both', got '" + format + "'");
  }
  auto* worker = new SaveWorker(env, state, std::move(dir), std::move(format));
  return worker->Queue();
}

Napi::Value NativeModel::Parameters(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  auto state = loaded_state(env);
  std::shared_lock<std::shared_mutex> lock(state->mutex);
  auto params = state->model->named_parameters(true);
  Napi::Array out = Napi::Array::New(env, params.size());
  uint32_t i = 0;
  for (const auto& p : params) {
    Napi::Object entry = Napi::Object::New(env);
    entry.Set("name", p.key());
    entry.Set("shape", to_js_shape(env, p.value().sizes()));
    out.Set(i++, entry);
  }
  return out;
}

Napi::Value NativeModel::Dispose(const Napi::CallbackInfo& info) {
  // Workers hold their own reference to the state; the module is freed when the last of them finishes.
  disposed_ = true;
  if (!loading_) state_.reset();
  return info.Env().Undefined();
}

Napi::Value NativeModel::IsDisposed(const Napi::CallbackInfo& info) {
  return Napi::Boolean::New(info.Env(), disposed_);
}

}  // namespace bert
