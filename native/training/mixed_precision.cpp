#include "mixed_precision.h"

#include <ATen/autocast_mode.h>

#include <stdexcept>

namespace bert {

MixedPrecision parse_mixed_precision(const std::string& name) {
  if (name == "no") return MixedPrecision::None;
  if (name == "bf16") return MixedPrecision::BFloat16;
  if (name == "fp16") return MixedPrecision::Float16;
  throw std::invalid_argument("mixedPrecision must be 'no', 'bf16' or 'fp16', got '" + name + "'");
}

AutocastScope::AutocastScope(MixedPrecision precision, at::Device device) {
  if (precision == MixedPrecision::None) return;
  active_ = true;
  device_type_ = device.type();
  previous_enabled_ = at::autocast::is_autocast_enabled(device_type_);
  previous_dtype_ = at::autocast::get_autocast_dtype(device_type_);
  at::autocast::set_autocast_enabled(device_type_, true);
  at::autocast::set_autocast_dtype(device_type_, precision == MixedPrecision::Float16 ? at::kHalf : at::kBFloat16);
  at::autocast::increment_nesting();
}

AutocastScope::~AutocastScope() {
  if (!active_) return;
  if (at::autocast::decrement_nesting() == 0) at::autocast::clear_cache();
  at::autocast::set_autocast_enabled(device_type_, previous_enabled_);
  at::autocast::set_autocast_dtype(device_type_, previous_dtype_);
}

}  // namespace bert
