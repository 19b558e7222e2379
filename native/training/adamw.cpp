#include "adamw.h"

#include <c10/core/GradMode.h>

#include "adamw_cpu_kernel.h"
#include "../checkpoint/checkpoint_error.h"

#include <torch/version.h>

#include <cmath>
#include <map>
#include <stdexcept>

namespace bert {

AdamW::AdamW(std::vector<Group> groups, AdamWOptions options) : groups_(std::move(groups)), options_(options) {
  c10::NoGradGuard no_grad;
  for (const auto& group : groups_) {
    std::vector<at::Tensor> m, v;
    for (const auto& p : group.params) {
      m.push_back(at::zeros_like(p, at::MemoryFormat::Preserve));
      v.push_back(at::zeros_like(p, at::MemoryFormat::Preserve));
    }
    exp_avg_.push_back(std::move(m));
    exp_avg_sq_.push_back(std::move(v));
  }
  fused_cpu_ = true;
  fused_device_ = true;
  for (const auto& group : groups_) {
    for (const auto& p : group.params) {
      if (!p.device().is_cpu() || p.scalar_type() != at::kFloat || !p.is_contiguous()) fused_cpu_ = false;
      if (!p.device().is_cuda() || p.scalar_type() != at::kFloat || p.device() != groups_[0].params[0].device())
        fused_device_ = false;
    }
  }
  if (fused_device_) {
    for (const auto& group : groups_) {
      std::vector<at::Tensor> steps;
      for (const auto& p : group.params) steps.push_back(at::zeros({}, p.options()));
      device_steps_.push_back(std::move(steps));
    }
  }
}

AdamW::StepTensors AdamW::with_gradients(size_t g) const {
  StepTensors t;
  for (size_t i = 0; i < groups_[g].params.size(); ++i) {
    const auto& grad = groups_[g].params[i].grad();
    if (!grad.defined()) continue;
    t.params.push_back(groups_[g].params[i]);
    t.grads.push_back(grad);
    t.exp_avgs.push_back(exp_avg_[g][i]);
    t.exp_avg_sqs.push_back(exp_avg_sq_[g][i]);
    if (fused_device_) t.steps.push_back(device_steps_[g][i]);
  }
  return t;
}

int64_t AdamW::applied_steps() const {
  if (!fused_device_) return step_ - skipped_on_host_;
  for (const auto& steps : device_steps_)
    if (!steps.empty()) return static_cast<int64_t>(steps[0].item<double>());
  return step_;
}

void AdamW::step(double lr, const at::Tensor& grad_scale, const at::Tensor& found_inf) {
  c10::NoGradGuard no_grad;
  step_ += 1;
  if (fused_device_) {
    fused_device_step(lr, grad_scale, found_inf);
    return;
  }
  // Off the GPU a flagged step is read here, as torch.amp.GradScaler.step reads found_inf with .item().
  if (found_inf.defined() && found_inf.item<float>() != 0.0f) {
    skipped_on_host_ += 1;
    return;
  }
  const int64_t applied = step_ - skipped_on_host_;
  const double beta1 = options_.beta1, beta2 = options_.beta2;
  const double bias_correction1 = 1.0 - std::pow(beta1, static_cast<double>(applied));
  const double bias_correction2 = 1.0 - std::pow(beta2, static_cast<double>(applied));
  const double step_size = lr / bias_correction1;
  const double bias_correction2_sqrt = std::sqrt(bias_correction2);

  for (size_t g = 0; g < groups_.size(); ++g) {
    StepTensors t = with_gradients(g);
    if (t.params.empty()) continue;
    auto &params = t.params, &grads = t.grads, &exp_avgs = t.exp_avgs, &exp_avg_sqs = t.exp_avg_sqs;
    const double weight_decay = groups_[g].weight_decay;

    if (fused_cpu_) {
      // Scalars rounded to float as the foreach kernels round a double Scalar for a float tensor.
      AdamWStepScalars s{};
      s.scale_grad = grad_scale.defined();
      s.grad_scale = s.scale_grad ? grad_scale.item<float>() : 1.0f;
      s.apply_decay = weight_decay != 0.0;
      s.decay = static_cast<float>(1.0 - lr * weight_decay);
      s.beta1 = static_cast<float>(beta1), s.one_minus_beta1 = static_cast<float>(1.0 - beta1);
      s.beta2 = static_cast<float>(beta2), s.one_minus_beta2 = static_cast<float>(1.0 - beta2);
      s.bias_correction2_sqrt = static_cast<float>(bias_correction2_sqrt);
      s.eps = static_cast<float>(options_.eps);
      s.neg_step_size = static_cast<float>(-step_size);
      for (size_t i = 0; i < params.size(); ++i) {
        const at::Tensor grad =
            grads[i].scalar_type() == at::kFloat ? grads[i].contiguous() : grads[i].to(at::kFloat).contiguous();
        adamw_step_cpu(params[i].data_ptr<float>(), grad.data_ptr<float>(), exp_avgs[i].data_ptr<float>(),
                       exp_avg_sqs[i].data_ptr<float>(), params[i].numel(), s);
      }
      continue;
    }

    if (grad_scale.defined()) {
      for (auto& grad : grads) grad.mul_(grad_scale);
    }
    // The same sequence of operations as torch.optim.adamw's _multi_tensor_adamw.
    if (weight_decay != 0.0) at::_foreach_mul_(params, 1.0 - lr * weight_decay);
#if TORCH_VERSION_MAJOR >= 2
    at::_foreach_lerp_(exp_avgs, grads, 1.0 - beta1);
#else
    at::_foreach_mul_(exp_avgs, beta1);
    at::_foreach_add_(exp_avgs, grads, 1.0 - beta1);
#endif
    at::_foreach_mul_(exp_avg_sqs, beta2);
    at::_foreach_addcmul_(exp_avg_sqs, grads, grads, 1.0 - beta2);
    auto denom = at::_foreach_sqrt(exp_avg_sqs);
    at::_foreach_div_(denom, bias_correction2_sqrt);
    at::_foreach_add_(denom, options_.eps);
    at::_foreach_addcdiv_(params, exp_avgs, denom, -step_size);
  }
}

// torch.optim.adamw._fused_adamw: step counts advanced on the device, the kernel skips the update where found_inf
// is set, and the counts are stepped back for those, so no value is read back.
template <typename LearningRate>
void AdamW::fused_device_step(const LearningRate& lr, const at::Tensor& grad_scale, const at::Tensor& found_inf) {
  for (size_t g = 0; g < groups_.size(); ++g) {
    StepTensors t = with_gradients(g);
    if (t.params.empty()) continue;
    auto &params = t.params, &grads = t.grads, &exp_avgs = t.exp_avgs, &exp_avg_sqs = t.exp_avg_sqs, &steps = t.steps;
    if (grad_scale.defined()) at::_foreach_mul_(grads, grad_scale);  // the clipping coefficient, on the device
    at::_foreach_add_(steps, 1.0);
    at::_fused_adamw_(params, grads, exp_avgs, exp_avg_sqs, /*max_exp_avg_sqs=*/{}, steps, lr, options_.beta1,
                      options_.beta2, groups_[g].weight_decay, options_.eps, /*amsgrad=*/false, /*maximize=*/false,
                      /*grad_scale=*/c10::nullopt,
                      found_inf.defined() ? c10::optional<at::Tensor>(found_inf) : c10::nullopt);
    if (found_inf.defined()) at::_foreach_sub_(steps, std::vector<at::Tensor>(steps.size(), found_inf.reshape({})));
  }
}

void AdamW::device_step(const at::Tensor& lr, const at::Tensor& grad_scale, const at::Tensor& found_inf) {
  if (!fused_device_) throw std::logic_error("internal: AdamW::device_step needs fp32 parameters on one GPU");
#if TORCH_VERSION_MAJOR > 2 || (TORCH_VERSION_MAJOR == 2 && TORCH_VERSION_MINOR >= 2)
  c10::NoGradGuard no_grad;
  fused_device_step(lr, grad_scale, found_inf);  // _fused_adamw_.tensor_lr: the rate is read on the device
#else
  (void)lr, (void)grad_scale, (void)found_inf;
  throw std::logic_error("internal: AdamW::device_step needs LibTorch 2.2 or later (_fused_adamw_ with a tensor lr)");
#endif
}

std::vector<const void*> AdamW::storage_addresses() const {
  std::vector<const void*> out;
  for (size_t g = 0; g < groups_.size(); ++g) {
    for (size_t i = 0; i < groups_[g].params.size(); ++i) {
      out.push_back(groups_[g].params[i].data_ptr());
      out.push_back(exp_avg_[g][i].data_ptr());
      out.push_back(exp_avg_sq_[g][i].data_ptr());
      if (fused_device_) out.push_back(device_steps_[g][i].data_ptr());
    }
  }
  return out;
}

StateDict AdamW::state_dict() const {
  StateDict out;
  for (size_t g = 0; g < groups_.size(); ++g) {
    for (size_t i = 0; i < groups_[g].params.size(); ++i) {
      out.emplace_back("exp_avg." + groups_[g].names[i], exp_avg_[g][i]);
      out.emplace_back("exp_avg_sq." + groups_[g].names[i], exp_avg_sq_[g][i]);
    }
  }
  return out;
}

void AdamW::load_state_dict(const StateDict& state, int64_t step, int64_t applied_steps, const std::string& source) {
  std::map<std::string, at::Tensor> by_name(state.begin(), state.end());
  c10::NoGradGuard no_grad;
  auto restore = [&](const std::string& key, at::Tensor& into) {
    auto found = by_name.find(key);
    if (found == by_name.end())
      throw CheckpointError(source, "optimizer state has no '" + key + "'", ErrorCode::CheckpointMismatch);
    if (found->second.sizes() != into.sizes()) {
      throw CheckpointError(source,
                            "optimizer state '" + key + "' has shape " + c10::str(found->second.sizes()) +
                                ", expected " + c10::str(into.sizes()),
                            ErrorCode::CheckpointMismatch);
    }
    into.copy_(found->second);
  };
  for (size_t g = 0; g < groups_.size(); ++g) {
    for (size_t i = 0; i < groups_[g].params.size(); ++i) {
      restore("exp_avg." + groups_[g].names[i], exp_avg_[g][i]);
      restore("exp_avg_sq." + groups_[g].names[i], exp_avg_sq_[g][i]);
    }
  }
  step_ = step;
  skipped_on_host_ = step - applied_steps;
  for (auto& steps : device_steps_)
    for (auto& t : steps) t.fill_(static_cast<double>(applied_steps));
}

}  // namespace bert
