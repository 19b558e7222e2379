#include "grad_scaler.h"

#include <c10/core/GradMode.h>

namespace bert {

GradScaler::GradScaler(at::Device device, const GradScalerState& state)
    : growth_factor_(state.growth_factor),
      backoff_factor_(state.backoff_factor),
      growth_interval_(state.growth_interval) {
  scale_ = at::full({1}, state.scale, at::TensorOptions().dtype(at::kFloat).device(device));
  growth_tracker_ = at::full({1}, state.growth_tracker, at::TensorOptions().dtype(at::kInt).device(device));
}

at::Tensor GradScaler::scale_loss(const at::Tensor& loss) const {
  return loss * scale_.to(loss.scalar_type()).squeeze();
}

at::Tensor GradScaler::unscale(const std::vector<at::Tensor>& grads) const {
  c10::NoGradGuard no_grad;
  at::Tensor found_inf = at::zeros({1}, scale_.options());
  // torch computes the reciprocal in double, then rounds it to fp32.
  const at::Tensor inv_scale = scale_.to(at::kDouble).reciprocal().to(at::kFloat);
  std::vector<at::Tensor> defined;
  for (const auto& g : grads)
    if (g.defined()) defined.push_back(g);
  if (!defined.empty()) at::_amp_foreach_non_finite_check_and_unscale_(defined, found_inf, inv_scale);
  return found_inf;
}

void GradScaler::update(const at::Tensor& found_inf) {
  c10::NoGradGuard no_grad;
  at::_amp_update_scale_(scale_, growth_tracker_, found_inf, growth_factor_, backoff_factor_, growth_interval_);
}

GradScalerState GradScaler::state() const {
  GradScalerState state;
  state.scale = scale_.item<float>();  // fp32 on the device: exact in a double
  state.growth_factor = growth_factor_;
  state.backoff_factor = backoff_factor_;
  state.growth_interval = growth_interval_;
  state.growth_tracker = growth_tracker_.item<int32_t>();
  return state;
}

}  // namespace bert
