// What this build runs on, for `versions` (like sharp's and onnxruntime's): LibTorch's version, and for a CUDA
// LibTorch the CUDA runtime, cuDNN and NCCL versions it loads (null where absent), plus the visible GPUs.
#pragma once

#include <napi.h>

namespace bert {

// { libtorch, cuda, cudnn, nccl } (strings or null).
Napi::Object NativeVersions(Napi::Env env);

// { built: whether this LibTorch has CUDA, deviceCount: GPUs it sees (0 without a driver or a GPU) }.
Napi::Object CudaInfo(Napi::Env env);

}  // namespace bert
