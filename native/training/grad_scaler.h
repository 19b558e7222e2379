// Dynamic loss scaling for fp16 training, as torch.amp.GradScaler does it: the loss is multiplied by `scale` before
// backward; unscale() divides the gradients in place and flags a non-finite one in the same pass; the optimizer skips
// a flagged step (AdamW::step's found_inf); update() halves the scale after a flagged step and doubles it after
// growth_interval clean steps in a row. Every value stays on the model's device: nothing is read back per step.
#pragma once

#include <ATen/ATen.h>

#include <cstdint>
#include <vector>

namespace bert {

// torch.amp.GradScaler.state_dict(): what a checkpoint keeps so that a resumed fp16 run goes on with the scale it
// had. The defaults are a new GradScaler's (init_scale 2^16).
struct GradScalerState {
  double scale = 65536.0;
  double growth_factor = 2.0;
  double backoff_factor = 0.5;
  int64_t growth_interval = 2000;
  int64_t growth_tracker = 0;  // clean steps in a row (torch's _growth_tracker)
};

class GradScaler {
 public:
  explicit GradScaler(at::Device device, const GradScalerState& state = {});

  at::Tensor scale_loss(const at::Tensor& loss) const;  // loss · scale, in the loss's dtype

  // Divides every gradient by the scale in place; returns found_inf: a 1-element fp32 tensor, 1 when any gradient
  // element is inf or NaN.
  at::Tensor unscale(const std::vector<at::Tensor>& grads) const;

  // Backs off after a flagged step, grows after growth_interval clean steps (at::_amp_update_scale_).
  void update(const at::Tensor& found_inf);

  const at::Tensor& scale() const { return scale_; }  // 1-element fp32

  // The scale and growth tracker as they are now (read back from the device: a synchronisation on a GPU, for
  // checkpoints only), with the growth settings.
  GradScalerState state() const;

 private:
  double growth_factor_, backoff_factor_;
  int64_t growth_interval_;
  at::Tensor scale_;           // [1] fp32 on the device
  at::Tensor growth_tracker_;  // [1] int32: clean steps in a row
};

}  // namespace bert
