#include "host_batch.h"

namespace bert {

namespace {

at::Tensor as_long(const std::vector<int32_t>& values, int64_t rows, int64_t cols) {
  // from_blob does not own the memory; .to(kLong) copies.
  return at::from_blob(const_cast<int32_t*>(values.data()), {rows, cols}, at::kInt).to(at::kLong);
}

}  // namespace

at::Tensor to_device(const at::Tensor& host, at::Device device) {
  if (!host.defined() || device.is_cpu()) return host;
  // A page-locked copy lets the transfer run asynchronously on the current stream; the caching host allocator keeps
  // that memory until the copy has finished.
  return host.pin_memory().to(device, /*non_blocking=*/true);
}

at::Tensor HostBatch::ids_tensor(at::Device device) const { return to_device(as_long(ids, batch, seq_len), device); }
at::Tensor HostBatch::mask_tensor(at::Device device) const {
  return mask.empty() ? at::Tensor() : to_device(as_long(mask, batch, seq_len), device);
}
at::Tensor HostBatch::types_tensor(at::Device device) const {
  return types.empty() ? at::Tensor() : to_device(as_long(types, batch, seq_len), device);
}

at::Tensor HostBatch::labels_tensor(LossKind kind, int64_t num_labels, at::Device device) const {
  if (kind == LossKind::CrossEntropy) {
    return to_device(at::from_blob(const_cast<int32_t*>(class_labels.data()), {batch}, at::kInt).to(at::kLong), device);
  }
  return to_device(at::from_blob(const_cast<float*>(float_labels.data()), {batch, num_labels}, at::kFloat).clone(),
                   device);
}

}  // namespace bert
