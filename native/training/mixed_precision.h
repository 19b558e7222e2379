// Mixed precision for training steps and evaluation: LibTorch's autocast runs matrix products in bf16 (on CPUs with
// AVX512-BF16/AMX these are several times faster than fp32), while the weights, their gradients and the optimizer
// state stay fp32 ("master weights") and the loss is computed in fp32.
#pragma once

#include <ATen/ATen.h>

#include <string>

namespace bert {

enum class MixedPrecision { None, BFloat16 };

// "no" | "bf16"; throws std::invalid_argument naming the accepted values.
MixedPrecision parse_mixed_precision(const std::string& name);

// Enables CPU autocast to bf16 on this thread for its lifetime (nothing for MixedPrecision::None), then restores the
// previous state and drops the casts autocast cached (the bf16 copies of the weights, stale after the next update).
class AutocastScope {
 public:
  explicit AutocastScope(MixedPrecision precision);
  ~AutocastScope();
  AutocastScope(const AutocastScope&) = delete;
  AutocastScope& operator=(const AutocastScope&) = delete;

 private:
  bool active_ = false;
  bool previous_enabled_ = false;
  at::ScalarType previous_dtype_ = at::kBFloat16;
};

}  // namespace bert
