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
#include "../checkpoint/shard_plan.h"
#include "../checkpoint/torch_bin.h"
#include "../model/init_weights.h"
#include "../training/host_batch.h"
#include "js_args.h"
#include "js_errors.h"
#include "promise_worker.h"
#include "../model/bert_attention.h"
#include "../model/inference_pool.h"

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

// A Float32Array over a contiguous fp32 CPU tensor's memory, which it keeps alive (no copy); a copy where the runtime
// allows no external buffers.
Napi::Float32Array float32_array_over(Napi::Env env, const at::Tensor& tensor) {
  const size_t length = static_cast<size_t>(tensor.numel());
  if (length > 0) {
    auto* owner = new at::Tensor(tensor);
    napi_value buffer = nullptr;
    const napi_status status = napi_create_external_arraybuffer(
        env, owner->data_ptr<float>(), length * sizeof(float),
        [](napi_env, void*, void* hint) { delete static_cast<at::Tensor*>(hint); }, owner, &buffer);
    if (status == napi_ok) return Napi::Float32Array::New(env, length, Napi::ArrayBuffer(env, buffer), 0);
    delete owner;
    if (Napi::Env(env).IsExceptionPending()) Napi::Env(env).GetAndClearPendingException();
  }
  Napi::Float32Array array = Napi::Float32Array::New(env, length);
  if (length > 0) std::memcpy(array.Data(), tensor.data_ptr<float>(), length * sizeof(float));
  return array;
}

// Up to this many activations (batch x sequence x hidden), LibTorch's own operations of a forward run on one thread:
// below OpenMP's grain size most of them do anyway, and attention, LayerNorm and GELU over so few rows take less time
// than waking a worker (the products still run on every thread: packed_gemm.h).
constexpr int64_t kSerialForwardElements = int64_t{1} << 16;
class ForwardWorker : public PromiseWorker {
 public:
  // ids, mask, types: [B, S] int64 CPU tensors made from the JS arrays on the calling thread; mask and types may be
  // undefined (all ones, all zeros).
  ForwardWorker(Napi::Env env, std::shared_ptr<ModelState> state, at::Tensor ids, at::Tensor mask, at::Tensor types,
                bool with_hidden)
      : PromiseWorker(env),
        state_(std::move(state)),
        ids_(std::move(ids)),
        mask_(std::move(mask)),
        types_(std::move(types)),
        with_hidden_(with_hidden) {}

 protected:
  bool RunsOnComputeThread() const override { return true; }
  void Run() override {
    std::shared_lock<std::shared_mutex> lock(state_->mutex);
    c10::InferenceMode inference;
    auto on_device = [&](const at::Tensor& t) { return t.defined() ? to_device(t, state_->device) : t; };
    at::Tensor ids = on_device(ids_), mask = on_device(mask_), types = on_device(types_);
    auto& model = state_->model;
    const int threads = at::get_num_threads();
    const std::shared_ptr<const PackedLinearWeights> packed = packed_weights();
    // The products run on the inference threads (packed_gemm.h); a small forward's other operations on this one.
    UsePackedLinearWeights use_packed(packed.get(), threads);
    SerialAtenOps serial(packed && ids.numel() * state_->config.hidden_size <= kSerialForwardElements);
    if (!with_hidden_) {
      // What the classifier reads, and only that: the last layer for the first position.
      logits_ = model->forward(ids, mask, types).cpu().contiguous();  // [B, num_labels]
      return;
    }
    auto out = model->forward_outputs(ids, mask, types);
    logits_ = out.logits.cpu().contiguous();                                          // [B, num_labels]
    if (out.pooler_output.defined()) pooled_ = out.pooler_output.cpu().contiguous();  // [B, H]
    hidden_ = out.last_hidden_state.cpu().contiguous();                               // [B, S, H]
  }

  // The model's reordered Linear weights when the inference path computes this forward (fp32 on the CPU), built
  // here the first time and after the weights may have changed; null otherwise.
  std::shared_ptr<const PackedLinearWeights> packed_weights() {
    const auto parameters = state_->model->parameters();
    if (!inference_path_enabled() || !state_->device.is_cpu() || parameters.empty() ||
        parameters.front().scalar_type() != at::kFloat || !packed_linear_available()) {
      return nullptr;
    }
    std::lock_guard<std::mutex> guard(state_->packed_mutex);
    if (state_->packed_stale.exchange(false) || !state_->packed_weights) {
      state_->packed_weights.reset();  // the old copies go before the new ones are made
      state_->packed_weights = std::make_shared<const PackedLinearWeights>(*state_->model);
    }
    return state_->packed_weights;
  }

  Napi::Value Result(Napi::Env env) override {
    Napi::Object out = Napi::Object::New(env);
    auto to_js = [&](const at::Tensor& t) { return float32_array_over(env, t); };
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
  at::Tensor ids_, mask_, types_;
  bool with_hidden_;
  at::Tensor logits_, pooled_, hidden_;
};

namespace {

// An Int32Array argument of batch x seq_len values in [0, limit), read once into the [B, S] int64 tensor the
// embeddings take (no intermediate copy); a RangeError naming the first value outside. `all_equal_to`: set to whether
// every value equals it (an attention mask of ones is then left out).
at::Tensor id_matrix_arg(const Napi::CallbackInfo& info, size_t index, const char* name, int64_t batch, int64_t seq_len,
                         int32_t limit, int32_t all_equal_to = -1, bool* all_equal = nullptr) {
  Napi::Value value = info[index];
  if (!value.IsTypedArray() || value.As<Napi::TypedArray>().TypedArrayType() != napi_int32_array) {
    throw Napi::TypeError::New(info.Env(), std::string(name) + " must be an Int32Array");
  }
  Napi::Int32Array array = value.As<Napi::Int32Array>();
  const size_t n = static_cast<size_t>(batch * seq_len);
  if (array.ElementLength() != n) {
    throw Napi::RangeError::New(info.Env(), std::string(name) + " has " + std::to_string(array.ElementLength()) +
                                                " elements, expected " + std::to_string(n));
  }
  at::Tensor out = at::empty({batch, seq_len}, at::kLong);
  int64_t* dst = out.data_ptr<int64_t>();
  const int32_t* src = array.Data();
  bool equal = true;
  for (size_t i = 0; i < n; ++i) {
    const int32_t v = src[i];
    if (v < 0 || v >= limit) {
      throw Napi::RangeError::New(info.Env(), std::string(name) + "[" + std::to_string(i / seq_len) + "][" +
                                                  std::to_string(i % seq_len) + "] = " + std::to_string(v) +
                                                  " is outside [0, " + std::to_string(limit) + ")");
    }
    equal = equal && v == all_equal_to;
    dst[i] = v;
  }
  if (all_equal) *all_equal = equal;
  return out;
}

}  // namespace

// ---------------------------------------------------------------------------------------------------------------
// saveWeights: model.safetensors and/or pytorch_model.bin, each split into shards as transformers splits them when
// the weights exceed maxShardBytes; every file is written atomically by the checkpoint writers. Resolves with
// { files, indexes }: the weight files written, and for each sharded format what its index JSON records (the JS side
// writes the index, then removes stale weight files of the format).
class SaveWorker : public PromiseWorker {
 public:
  SaveWorker(Napi::Env env, std::shared_ptr<ModelState> state, std::string dir, std::string format,
             int64_t max_shard_bytes)
      : PromiseWorker(env),
        state_(std::move(state)),
        dir_(std::move(dir)),
        format_(std::move(format)),
        max_shard_bytes_(max_shard_bytes) {}

 protected:
  void Run() override {
    std::shared_lock<std::shared_mutex> lock(state_->mutex);
    weights_ = model_state_dict(*state_->model);
    for (auto& entry : weights_) entry.second = entry.second.cpu();  // the writers read host memory
    if (format_ == "safetensors" || format_ == "both") {
      write_format("model.safetensors", [](const std::string& path, const StateDict& tensors) {
        write_safetensors(path, tensors, {{"format", "pt"}});
      });
    }
    if (format_ == "pytorch" || format_ == "both") write_format("pytorch_model.bin", write_torch_bin);
  }

  Napi::Value Result(Napi::Env env) override {
    Napi::Object result = Napi::Object::New(env);
    result.Set("files", to_js_strings(env, written_));
    Napi::Array indexes = Napi::Array::New(env, indexes_.size());
    for (size_t i = 0; i < indexes_.size(); ++i) {
      const Index& index = indexes_[i];
      Napi::Object weight_map = Napi::Object::New(env);
      for (const auto& shard : index.plan.shards) {
        for (const auto& entry : shard.tensors) weight_map.Set(entry.first, shard.file_name);
      }
      Napi::Object out = Napi::Object::New(env);
      out.Set("file", index.file_name);
      out.Set("totalSize", static_cast<double>(index.plan.total_bytes));
      out.Set("totalParameters", static_cast<double>(index.plan.total_parameters));
      out.Set("weightMap", weight_map);
      indexes.Set(static_cast<uint32_t>(i), out);
    }
    result.Set("indexes", indexes);
    return result;
  }

 private:
  struct Index {
    std::string file_name;  // "model.safetensors.index.json"
    ShardPlan plan;
  };

  template <typename Writer>
  void write_format(const std::string& file_name, Writer write) {
    ShardPlan plan = plan_shards(weights_, file_name, max_shard_bytes_);
    for (const auto& shard : plan.shards) {
      written_.push_back(dir_ + "/" + shard.file_name);
      write(written_.back(), shard.tensors);
    }
    if (plan.sharded()) indexes_.push_back({file_name + ".index.json", std::move(plan)});
  }

  std::shared_ptr<ModelState> state_;
  std::string dir_, format_;
  int64_t max_shard_bytes_;
  StateDict weights_;
  std::vector<std::string> written_;
  std::vector<Index> indexes_;
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
                         InstanceMethod<&NativeModel::DropInferenceWeights>("dropInferenceWeights"),
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
                         InstanceMethod<&NativeModel::GraphStats>("cudaGraphStats"),
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
  // Range checks here, on the calling thread, so bad ids are a RangeError rather than a LibTorch error.
  at::Tensor ids = id_matrix_arg(info, 0, "inputIds", batch, seq_len, static_cast<int32_t>(config.vocab_size));
  auto present = [&](size_t index) { return !info[index].IsNull() && !info[index].IsUndefined(); };
  at::Tensor mask, types;
  if (present(1)) {
    bool all_ones = false;
    mask = id_matrix_arg(info, 1, "attentionMask", batch, seq_len, 2, 1, &all_ones);
    if (all_ones) mask = at::Tensor();  // the default: nothing to mask
  }
  if (present(2))
    types = id_matrix_arg(info, 2, "tokenTypeIds", batch, seq_len, static_cast<int32_t>(config.type_vocab_size));
  auto* worker = new ForwardWorker(env, state, std::move(ids), std::move(mask), std::move(types), with_hidden);
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
  // Bytes per shard (checked by src/model/shard-size.ts); Number.MAX_SAFE_INTEGER means one file.
  int64_t max_shard_bytes = integer_arg(info, 2, "maxShardBytes", 1, int64_t{1} << 53);
  auto* worker = new SaveWorker(env, state, std::move(dir), std::move(format), max_shard_bytes);
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

Napi::Value NativeModel::DropInferenceWeights(const Napi::CallbackInfo& info) {
  if (!state_) return info.Env().Undefined();
  state_->packed_stale.store(true);
  // Freed now unless a forward() is building them (it then keeps them for itself; the next one rebuilds).
  std::unique_lock<std::mutex> guard(state_->packed_mutex, std::try_to_lock);
  if (guard.owns_lock()) state_->packed_weights.reset();
  return info.Env().Undefined();
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
