#include "pending_overflow.h"

#include <c10/core/impl/VirtualGuardImpl.h>

namespace bert {

PendingOverflow defer_overflow(const at::Tensor& found_inf, int64_t step) {
  const at::Device device = found_inf.device();
  if (device.is_cpu()) return {step, found_inf, nullptr};
  at::Tensor host = at::empty(found_inf.sizes(), found_inf.options().device(at::kCPU).pinned_memory(true));
  host.copy_(found_inf, /*non_blocking=*/true);
  auto copied = std::make_shared<c10::Event>(device.type());
  copied->record(c10::impl::VirtualGuardImpl(device.type()).getStream(device));
  return {step, host, copied};
}

bool settle_overflow(const PendingOverflow& pending) {
  if (pending.copied) pending.copied->synchronize();
  return pending.flag.item<float>() != 0.0f;
}

}  // namespace bert
