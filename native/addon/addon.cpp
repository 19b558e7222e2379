// The addon's entry point: the model class and the checkpoint functions, plus what LibTorch this build uses and the
// codes its errors carry.
#include <napi.h>
#include <torch/version.h>
#include <ATen/Context.h>
#include <ATen/Parallel.h>

#include "checkpoint_functions.h"
#include "js_args.h"
#include "js_errors.h"
#include "native_model.h"
#include "process_group_wrap.h"
#include "promise_worker.h"
#include "versions.h"
#include "../model/bert_attention.h"
#include "../model/first_positions.h"

namespace bert {

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  exports.Set("NativeModel", NativeModel::Define(env));
  RegisterCheckpointFunctions(env, exports);
  RegisterDistributed(env, exports);
  exports.Set("errorCodes", error_codes_object(env));
  exports.Set("torchVersion", Napi::String::New(env, TORCH_VERSION));
  exports.Set("cudaAvailable", Napi::Boolean::New(env, at::hasCUDA()));
  exports.Set("versions", NativeVersions(env));
  exports.Set("cudaInfo", Napi::Function::New(
                              env, [](const Napi::CallbackInfo& info) -> Napi::Value { return CudaInfo(info.Env()); }));
  exports.Set("numThreads", Napi::Function::New(env, [](const Napi::CallbackInfo& info) -> Napi::Value {
                return Napi::Number::New(info.Env(), intra_op_threads());
              }));
  exports.Set("setNumThreads", Napi::Function::New(env, [](const Napi::CallbackInfo& info) -> Napi::Value {
                intra_op_threads() = static_cast<int>(integer_arg(info, 0, "threads", 1, 1024));
                return info.Env().Undefined();
              }));
  exports.Set("setFusedAttentionOnCpu", Napi::Function::New(env, [](const Napi::CallbackInfo& info) -> Napi::Value {
                set_fused_attention_on_cpu(boolean_arg(info, 0, "enabled"));
                return info.Env().Undefined();
              }));
  exports.Set("setInferencePath", Napi::Function::New(env, [](const Napi::CallbackInfo& info) -> Napi::Value {
                set_inference_path(boolean_arg(info, 0, "enabled"));
                return info.Env().Undefined();
              }));
  exports.Set("setLastLayerFirstPositions", Napi::Function::New(env, [](const Napi::CallbackInfo& info) -> Napi::Value {
                set_first_positions_enabled(boolean_arg(info, 0, "enabled"));
                return info.Env().Undefined();
              }));
  return exports;
}

}  // namespace bert

// NODE_API_MODULE wants a plain function name.
static Napi::Object InitAddon(Napi::Env env, Napi::Object exports) { return bert::Init(env, exports); }

NODE_API_MODULE(bert_trainer, InitAddon)
