#include "mixed_precision.h"

#include <ATen/autocast_mode.h>

#include <stdexcept>

namespace bert {

MixedPrecision parse_mixed_precision(const std::string& name) {
  if (name == "no") return MixedPrecision::None;
  if (name == "bf16") return MixedPrecision::BFloat16;
  throw std::invalid_argument("mixedPrecision must be 'no' or 'bf16', got '" + name + "'");
}

AutocastScope::AutocastScope(MixedPrecision precision) {
  if (precision == MixedPrecision::None) return;
  active_ = true;
  previous_enabled_ = at::autocast::is_autocast_enabled(at::kCPU);
  previous_dtype_ = at::autocast::get_autocast_dtype(at::kCPU);
  at::autocast::set_autocast_enabled(at::kCPU, true);
  at::autocast::set_autocast_dtype(at::kCPU, at::kBFloat16);
  at::autocast::increment_nesting();
}

AutocastScope::~AutocastScope() {
  if (!active_) return;
  if (at::autocast::decrement_nesting() == 0) at::autocast::clear_cache();
  at::autocast::set_autocast_enabled(at::kCPU, previous_enabled_);
  at::autocast::set_autocast_dtype(at::kCPU, previous_dtype_);
}

}  // namespace bert
