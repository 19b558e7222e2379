// AdamW exactly as torch.optim.AdamW computes it (decoupled weight decay, bias correction, eps added after
// the square root), over parameter groups with their own weight decay: fp32 CPU parameters in one fused pass per
// parameter (adamw_cpu_kernel.h), fp32 parameters on a GPU with PyTorch's fused kernel (at::_fused_adamw_, what
// torch.optim.AdamW(fused=True) runs, its step counts on the device), everything else with multi-tensor (foreach)
// kernels.
#pragma once

#include <ATen/ATen.h>

#include <string>
#include <utility>
#include <vector>

#include "../checkpoint/state_dict.h"

namespace bert {

struct AdamWOptions {
  double beta1 = 0.9;
  double beta2 = 0.999;
  double eps = 1e-8;
  double weight_decay = 0.0;
};

class AdamW {
 public:
  struct Group {
    std::vector<std::string> names;
    std::vector<at::Tensor> params;
    double weight_decay;
  };

  AdamW(std::vector<Group> groups, AdamWOptions options);

  // One update with learning rate `lr` from the parameters' .grad(); parameters without a gradient are skipped,
  // as torch does. Increments step_count(). `grad_scale` (0-d, optional) multiplies every gradient first — the
  // clipping coefficient — without writing the gradients back where the fused CPU pass applies. `found_inf`
  // (1 element, optional; fp16 loss scaling): where it is non-zero the update is skipped — read on the host for CPU
  // parameters, inside the fused kernel on a GPU (no synchronisation; the device step counts do not advance).
  void step(double lr, const at::Tensor& grad_scale = at::Tensor(), const at::Tensor& found_inf = at::Tensor());

  // The update that a captured CUDA graph replays (training/cuda_graph_step.h): fused parameters on a GPU only, the
  // learning rate read from `lr` (0-d fp32 on their device) when the kernel runs, and step_count() left alone (the
  // caller counts each replay with count_step()). `grad_scale` and `found_inf` as for step().
  void device_step(const at::Tensor& lr, const at::Tensor& grad_scale, const at::Tensor& found_inf);
  void count_step() { step_ += 1; }
  bool fused_on_device() const { return fused_device_; }
  // Where the parameters, their state and their step counts live: a graph captured over them is valid while these
  // are the same.
  std::vector<const void*> storage_addresses() const;
  // Calls to step(). applied_steps() is the number that updated the weights: fewer after fp16 steps the GradScaler
  // skipped (on a GPU reading it synchronises). A checkpoint records both.
  int64_t step_count() const { return step_; }
  int64_t applied_steps() const;
  const AdamWOptions& options() const { return options_; }
  const std::vector<Group>& groups() const { return groups_; }

  // exp_avg.<name> and exp_avg_sq.<name> for every parameter (zeros before the first step).
  StateDict state_dict() const;
  // Restores what state_dict() returned, with step_count() and applied_steps() (fewer where fp16 steps were skipped:
  // AdamW's bias correction counts the applied ones, as torch's state['step'] does). Throws CheckpointError
  // (ERR_CHECKPOINT_MISMATCH) naming `source` and a missing key or a shape mismatch.
  void load_state_dict(const StateDict& state, int64_t step, int64_t applied_steps, const std::string& source);

 private:
  // Group g's parameters that have a gradient, with their gradients and state (and device step counts when fused).
  struct StepTensors {
    std::vector<at::Tensor> params, grads, exp_avgs, exp_avg_sqs, steps;
  };
  StepTensors with_gradients(size_t g) const;
  template <typename LearningRate>  // double, or a 0-d fp32 tensor on the device
  void fused_device_step(const LearningRate& lr, const at::Tensor& grad_scale, const at::Tensor& found_inf);

  std::vector<Group> groups_;
  AdamWOptions options_;
  std::vector<std::vector<at::Tensor>> exp_avg_, exp_avg_sq_;  // per group, per parameter
  bool fused_cpu_;     // every parameter and state is a contiguous fp32 CPU tensor
  bool fused_device_;  // every parameter is an fp32 tensor on one GPU: at::_fused_adamw_
  std::vector<std::vector<at::Tensor>> device_steps_;  // fused_device_: per group, per parameter, 0-d fp32
  int64_t step_ = 0;
  int64_t skipped_on_host_ = 0;  // CPU steps skipped for found_inf
};

}  // namespace bert
