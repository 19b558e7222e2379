#include "versions.h"

#include <ATen/detail/CUDAHooksInterface.h>
#include <dlfcn.h>
#include <torch/version.h>

#include <string>
#include <type_traits>
#include <utility>

namespace bert {

namespace {

bool cuda_built() {
#ifdef BERT_TRAINER_CUDA
  return true;
#else
  return false;
#endif
}

Napi::Value string_or_null(Napi::Env env, const std::string& value) {
  return value.empty() ? env.Null() : Napi::Value(Napi::String::New(env, value));
}

// CUDART_VERSION 13000 -> "13.0".
std::string cuda_runtime_version() {
  if (!cuda_built()) return "";
  try {
    const long v = at::detail::getCUDAHooks().versionCUDART();
    return std::to_string(v / 1000) + "." + std::to_string((v % 1000) / 10);
  } catch (const std::exception&) {
    return "";
  }
}

// Whether the hooks have versionRuntimeCuDNN (LibTorch 2.6, Debian 13's, has only versionCuDNN).
template <typename Hooks, typename = void>
struct HasRuntimeCudnn : std::false_type {};
template <typename Hooks>
struct HasRuntimeCudnn<Hooks, std::void_t<decltype(std::declval<const Hooks&>().versionRuntimeCuDNN())>>
    : std::true_type {};

// The cuDNN loaded at run time where the hooks can say, else the one the headers named.
template <typename Hooks>
long runtime_cudnn(const Hooks& hooks) {
  if constexpr (HasRuntimeCudnn<Hooks>::value) {
    return hooks.versionRuntimeCuDNN();
  } else {
    return hooks.versionCuDNN();
  }
}

// cuDNN 9 numbers versions major · 10000 + minor · 100 + patch, cuDNN 8 major · 1000 + minor · 100 + patch. The
// library loaded at run time, else the one the headers named.
std::string cudnn_version() {
  if (!cuda_built()) return "";
  long v = 0;
  try {
    v = runtime_cudnn(at::detail::getCUDAHooks());
  } catch (const std::exception&) {
    try {
      v = at::detail::getCUDAHooks().versionCuDNN();
    } catch (const std::exception&) {
      return "";
    }
  }
  if (v <= 0) return "";
  const long major_unit = v >= 90000 ? 10000 : 1000;
  const long rest = v % major_unit;
  return std::to_string(v / major_unit) + "." + std::to_string(rest / 100) + "." + std::to_string(rest % 100);
}

// NCCL, loaded with a CUDA LibTorch: ncclGetVersion gives major · 10000 + minor · 100 + patch (NCCL 2.9 and later).
std::string nccl_version() {
  if (!cuda_built()) return "";
  using GetVersion = int (*)(int*);
  auto get = reinterpret_cast<GetVersion>(dlsym(RTLD_DEFAULT, "ncclGetVersion"));
  int v = 0;
  if (!get || get(&v) != 0 || v <= 0) return "";
  return std::to_string(v / 10000) + "." + std::to_string((v % 10000) / 100) + "." + std::to_string(v % 100);
}

}  // namespace

Napi::Object NativeVersions(Napi::Env env) {
  Napi::Object out = Napi::Object::New(env);
  out.Set("libtorch", Napi::String::New(env, TORCH_VERSION));
  out.Set("cuda", string_or_null(env, cuda_runtime_version()));
  out.Set("cudnn", string_or_null(env, cudnn_version()));
  out.Set("nccl", string_or_null(env, nccl_version()));
  return out;
}

Napi::Object CudaInfo(Napi::Env env) {
  Napi::Object out = Napi::Object::New(env);
  out.Set("built", Napi::Boolean::New(env, cuda_built()));
  int count = 0;
  try {
    count = cuda_built() ? at::detail::getCUDAHooks().getNumGPUs() : 0;
  } catch (const std::exception&) {
    count = 0;  // no driver: no usable GPU
  }
  out.Set("deviceCount", Napi::Number::New(env, count));
  return out;
}

}  // namespace bert
