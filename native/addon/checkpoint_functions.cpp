#include "checkpoint_functions.h"

#include <exception>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "../checkpoint/safetensors.h"
#include "../checkpoint/torch_bin.h"
#include "js_errors.h"

namespace bert {
namespace {

// What JavaScript gets per tensor: enough to compare a checkpoint against Python without moving the
// tensor data into JS.
struct TensorSummary {
  std::string name;
  std::string dtype;  // safetensors spelling: "F32", "F16", "BF16", ...
  std::vector<int64_t> shape;
  double checksum;  // sum of all elements as double (for tests)
};

bool has_suffix(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

// Reading a checkpoint takes seconds for real models, so it runs on the libuv thread pool and
// settles a promise; Execute() touches no JavaScript values.
class ReadCheckpointWorker final : public Napi::AsyncWorker {
 public:
  ReadCheckpointWorker(Napi::Env env, std::string path)
      : Napi::AsyncWorker(env, "bert-trainer.readCheckpoint"),
        path_(std::move(path)),
        deferred_(Napi::Promise::Deferred::New(env)) {}

  Napi::Promise Promise() const { return deferred_.Promise(); }

 protected:
  void Execute() override {
    try {
      // Hugging Face names the formats by extension: model.safetensors vs pytorch_model.bin / *.pt.
      const StateDict tensors = has_suffix(path_, ".safetensors") ? read_safetensors(path_) : read_torch_bin(path_);
      summaries_.reserve(tensors.size());
      for (const auto& [name, tensor] : tensors) {
        std::string dtype = safetensors_dtype_name(tensor.scalar_type());
        if (dtype.empty()) dtype = c10::toString(tensor.scalar_type());
        const auto sizes = tensor.sizes();
        summaries_.push_back({name, std::move(dtype), std::vector<int64_t>(sizes.begin(), sizes.end()),
                              tensor.to(at::kDouble).sum().item<double>()});
      }
    } catch (const std::exception& e) {
      NativeFailure failure = native_failure(e);  // ERR_BAD_CHECKPOINT from the readers
      error_code_ = failure.code;
      SetError(failure.message);
    } catch (...) {
      SetError(path_ + ": unknown error while reading the checkpoint");
    }
  }

  void OnOK() override {
    const Napi::Env env = Env();
    Napi::Array result = Napi::Array::New(env, summaries_.size());
    for (size_t i = 0; i < summaries_.size(); ++i) {
      const TensorSummary& s = summaries_[i];
      Napi::Object entry = Napi::Object::New(env);
      entry.Set("name", Napi::String::New(env, s.name));
      entry.Set("dtype", Napi::String::New(env, s.dtype));
      Napi::Array shape = Napi::Array::New(env, s.shape.size());
      for (size_t d = 0; d < s.shape.size(); ++d)
        shape.Set(static_cast<uint32_t>(d), Napi::Number::New(env, static_cast<double>(s.shape[d])));
      entry.Set("shape", shape);
      entry.Set("checksum", Napi::Number::New(env, s.checksum));
      result.Set(static_cast<uint32_t>(i), entry);
    }
    deferred_.Resolve(result);
  }

  void OnError(const Napi::Error& error) override {
    set_error_code(error, error_code_);
    deferred_.Reject(error.Value());
  }

 private:
  std::string path_;
  Napi::Promise::Deferred deferred_;
  std::optional<ErrorCode> error_code_;
  std::vector<TensorSummary> summaries_;
};

Napi::Value ReadCheckpoint(const Napi::CallbackInfo& info) {
  const Napi::Env env = info.Env();
  if (info.Length() < 1 || !info[0].IsString())
    throw Napi::TypeError::New(env, "readCheckpoint: `path` must be a string (the .safetensors or .bin file to read)");
  auto* worker = new ReadCheckpointWorker(env, info[0].As<Napi::String>().Utf8Value());
  Napi::Promise promise = worker->Promise();
  worker->Queue();  // the worker deletes itself after OnOK/OnError
  return promise;
}

}  // namespace

void RegisterCheckpointFunctions(Napi::Env env, Napi::Object exports) {
  exports.Set("readCheckpoint", Napi::Function::New(env, ReadCheckpoint, "readCheckpoint"));
}

}  // namespace bert
