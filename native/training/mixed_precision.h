// Mixed precision for training steps and evaluation: LibTorch's autocast runs matrix products in bf16 or fp16 on the
// model's device (CPU or CUDA), while the weights, their gradients and the optimizer state stay fp32 ("master
// weights") and the loss is computed in fp32. fp16's narrow range needs loss scaling: see grad_scaler.h.
#pragma once

#include <ATen/ATen.h>

#include <string>

namespace bert {

enum class MixedPrecision { None, BFloat16, Float16 };

// "no" | "bf16" | "fp16"; throws std::invalid_argument naming the accepted values.
MixedPrecision parse_mixed_precision(const std::string& name);

// Enables autocast on `device`'s type for this thread for its lifetime (nothing for MixedPrecision::None), then
// restores the previous state and drops the casts autocast cached (the low-precision copies of the weights, stale
// after the next update).
class AutocastScope {
 public:
  AutocastScope(MixedPrecision precision, at::Device device);
  ~AutocastScope();
  AutocastScope(const AutocastScope&) = delete;
  AutocastScope& operator=(const AutocastScope&) = delete;

 private:
  bool active_ = false;
  at::DeviceType device_type_ = at::kCPU;
  bool previous_enabled_ = false;
  at::ScalarType previous_dtype_ = at::kBFloat16;
};

}  // namespace bert
