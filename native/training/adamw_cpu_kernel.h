// One pass of AdamW over one fp32 parameter on the CPU: reads param, grad, exp_avg and exp_avg_sq once and writes
// three of them once, where torch's foreach AdamW makes seven passes (plus one more for clipping). The arithmetic is
// the foreach sequence element by element, in the same order and precision, so the results match torch.optim.AdamW.
#pragma once

#include <cstdint>

namespace bert {

struct AdamWStepScalars {
  float grad_scale;  // the clipping coefficient (1 when not clipping): grad.mul_(coef) first
  bool scale_grad;
  float decay;       // 1 - lr · weight_decay: param.mul_(decay)
  bool apply_decay;  // weight_decay != 0
  float beta1, one_minus_beta1;
  float beta2, one_minus_beta2;
  float bias_correction2_sqrt;
  float eps;
  float neg_step_size;  // -lr / bias_correction1
};

// All four arrays hold n contiguous floats; param, exp_avg and exp_avg_sq are updated in place. Parallel over n.
void adamw_step_cpu(float* param, const float* grad, float* exp_avg, float* exp_avg_sq, int64_t n,
                    const AdamWStepScalars& s);

}  // namespace bert
