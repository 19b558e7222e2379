#include "adamw.h"

#include <torch/version.h>

#include <cmath>
#include <map>
#include <stdexcept>

namespace bert {

AdamW::AdamW(std::vector<Group> groups, AdamWOptions options) : groups_(std::move(groups)), options_(options) {
  at::NoGradGuard no_grad;
  for (const auto& group : groups_) {
    std::vector<at::Tensor> m, v;
    for (const auto& p : group.params) {
      m.push_back(at::zeros_like(p, at::MemoryFormat::Preserve));
      v.push_back(at::zeros_like(p, at::MemoryFormat::Preserve));
    }
    exp_avg_.push_back(std::move(m));
    exp_avg_sq_.push_back(std::move(v));
  }
}

void AdamW::step(double lr) {
  at::NoGradGuard no_grad;
  step_ += 1;
  const double beta1 = options_.beta1, beta2 = options_.beta2;
  const double bias_correction1 = 1.0 - std::pow(beta1, static_cast<double>(step_));
  const double bias_correction2 = 1.0 - std::pow(beta2, static_cast<double>(step_));
  const double step_size = lr / bias_correction1;
  const double bias_correction2_sqrt = std::sqrt(bias_correction2);

  for (size_t g = 0; g < groups_.size(); ++g) {
    std::vector<at::Tensor> params, grads, exp_avgs, exp_avg_sqs;
    for (size_t i = 0; i < groups_[g].params.size(); ++i) {
      const auto& grad = groups_[g].params[i].grad();
      if (!grad.defined()) continue;
      params.push_back(groups_[g].params[i]);
      grads.push_back(grad);
      exp_avgs.push_back(exp_avg_[g][i]);
      exp_avg_sqs.push_back(exp_avg_sq_[g][i]);
    }
    if (params.empty()) continue;
    // The same sequence of operations as torch.optim.adamw's _multi_tensor_adamw.
    if (groups_[g].weight_decay != 0.0) at::_foreach_mul_(params, 1.0 - lr * groups_[g].weight_decay);
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

void AdamW::load_state_dict(const StateDict& state, int64_t step, const std::string& source) {
  std::map<std::string, at::Tensor> by_name(state.begin(), state.end());
  at::NoGradGuard no_grad;
  auto restore = [&](const std::string& key, at::Tensor& into) {
    auto found = by_name.find(key);
    if (found == by_name.end()) throw std::runtime_error(source + ": optimizer state has no '" + key + "'");
    if (found->second.sizes() != into.sizes()) {
      throw std::runtime_error(source + ": optimizer state '" + key + "' has shape " + c10::str(found->second.sizes()) +
                               ", expected " + c10::str(into.sizes()));
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
}

}  // namespace bert
