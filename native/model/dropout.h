// Dropout as one parallel pass: the keep mask comes from the model's Philox stream (counter-based, so every thread
// draws its own part), the kept values are scaled by 1/(1-p) as torch.nn.Dropout does, and backward reuses the
// 1-byte mask. LibTorch 1.13's dropout on CPU draws a float mask with a serial bernoulli_ and keeps it (4 bytes per
// element) for backward; this one is faster and keeps a quarter of the memory. The masks differ from PyTorch's
// (different generator), the distribution does not: each element is zeroed with probability p, independently.
#pragma once

#include <memory>

#include <torch/nn/module.h>

#include "dropout_generator.h"

namespace bert {

// x: any shape; returns a tensor of x's shape. Training only (callers return x in eval mode or for p == 0).
at::Tensor philox_dropout(const at::Tensor& x, double p, DropoutGenerator& generator);

// The same dropout for part of a larger tensor that is never built: x's last dimension holds rows that sit every
// `row_stride` elements in it (row r at elements [r · row_stride, r · row_stride + row length)), and each element
// gets the decision that element of the whole tensor would get; the stream advances past the whole tensor. Used for
// the last encoder layer, which computes only the first position (see BertEncoderImpl).
at::Tensor philox_dropout_rows(const at::Tensor& x, double p, DropoutGenerator& generator, int64_t row_stride);

struct DropoutImpl : torch::nn::Module {
  explicit DropoutImpl(double p) : p(p) {}
  at::Tensor forward(const at::Tensor& x);
  // Rows of a larger tensor (philox_dropout_rows); row_stride 0: x is the whole tensor (forward).
  at::Tensor forward_rows(const at::Tensor& x, int64_t row_stride);

  double p;
  std::shared_ptr<DropoutGenerator> generator;  // set by bind_dropout_generator on the model that owns this module
};
TORCH_MODULE(Dropout);

// Points every Dropout under `root` (itself included) at `generator`.
void bind_dropout_generator(torch::nn::Module& root, const std::shared_ptr<DropoutGenerator>& generator);

// A fresh generator keyed from LibTorch's default CPU generator's seed (torch::manual_seed before construction makes
// it reproducible) and the number of models created so far in this process.
std::shared_ptr<DropoutGenerator> new_dropout_generator();

}  // namespace bert
