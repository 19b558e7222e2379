// fp16: whether the GradScaler skipped a step's update for an overflow (its found_inf), on its way to the host while
// the next step is queued. The learning-rate schedule does not advance after a skipped update (accelerate's
// AcceleratedScheduler), so the next update's learning rate depends on it; reading found_inf at once would make a
// GPU step wait for its own end (torch.amp.GradScaler.step does: .item()). Deferred instead, the next step reads it
// just before its own update, when the GPU has long finished the step it belongs to: a non-blocking copy to
// page-locked memory and an event recorded after it, so waiting for it never waits for the newer work queued behind
// it. On the CPU the flag is read directly.
#pragma once

#include <ATen/ATen.h>
#include <c10/core/Event.h>

#include <cstdint>
#include <memory>

namespace bert {

struct PendingOverflow {
  int64_t step;                        // the optimizer step it belongs to
  at::Tensor flag;                     // [1] fp32 on the host once `copied` has completed; non-zero: skipped
  std::shared_ptr<c10::Event> copied;  // a GPU's copy of the flag; null on the CPU
};

// Starts bringing `found_inf` (a step's [1] flag, on the model's device) to the host.
PendingOverflow defer_overflow(const at::Tensor& found_inf, int64_t step);

// Whether that step was skipped: waits for its copy (not for work queued after it).
bool settle_overflow(const PendingOverflow& pending);

}  // namespace bert
