// A training or evaluation batch that the addon copied out of JS typed arrays on the main thread, so that the worker
// thread owns its memory: token ids [B, S] and labels (class ids [B], or floats [B, L]).
#pragma once

#include <ATen/ATen.h>

#include <cstdint>
#include <vector>

#include "loss.h"

namespace bert {

struct HostBatch {
  int64_t batch = 0, seq_len = 0;
  std::vector<int32_t> ids, mask, types;
  std::vector<int32_t> class_labels;  // CrossEntropy
  std::vector<float> float_labels;    // BinaryCrossEntropy, MeanSquaredError: [B, L]
  bool has_labels = false;

  // On `device` (a CUDA device: copied from page-locked memory without blocking the host).
  at::Tensor ids_tensor(at::Device device = at::kCPU) const;
  at::Tensor mask_tensor(at::Device device = at::kCPU) const;   // undefined when absent
  at::Tensor types_tensor(at::Device device = at::kCPU) const;  // undefined when absent
  at::Tensor labels_tensor(LossKind kind, int64_t num_labels, at::Device device = at::kCPU) const;
};

// `host` (a CPU tensor) on `device`: itself for the CPU, else an asynchronous copy from page-locked memory.
at::Tensor to_device(const at::Tensor& host, at::Device device);

}  // namespace bert
