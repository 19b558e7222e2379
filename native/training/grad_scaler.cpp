#include "grad_scaler.h"

#include <c10/core/GradMode.h>

namespace bert {

GradScaler::GradScaler(at::Device device, GradScalerOptions options) : options_(options) {
  scale_ = at::full({1}, options.init_scale, at::TensorOptions().dtype(at::kFloat).device(device));
  growth_tracker_ = at::zeros({1}, at::TensorOptions().dtype(at::kInt).device(device));
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
  at::_amp_update_scale_(scale_, growth_tracker_, found_inf, options_.growth_factor, options_.backoff_factor,
                         options_.growth_interval);
}

}  // namespace bert
