// The inference path's Linear layers over weights packed once (packed_gemm.h). forward() and predict() pack the
// model's Linear weights the first time they run (a self-attention's query, key and value as one matrix, so that one
// product gives all three), keep the copies, and compute every product with them inside a UsePackedLinearWeights
// scope; elsewhere (training steps, evaluation, other threads) linear() is at::linear.
//
// The copies hold as much memory as the Linear weights themselves. They are dropped when a Trainer claims the model
// (its weights then change) and rebuilt by the next forward() (native_model.h).
#pragma once

#include <ATen/ATen.h>
#include <torch/nn/module.h>
#include <torch/nn/modules/linear.h>

#include <optional>
#include <unordered_map>

#include "packed_gemm.h"

namespace bert {

// Whether this build and CPU can pack (packed_gemm_available()).
bool packed_linear_available();

// The packed copies of a model's fp32 CPU Linear weights whose output size is a multiple of 16.
class PackedLinearWeights {
 public:
  explicit PackedLinearWeights(torch::nn::Module& model);
  // A Linear's packed weight (with its bias), or nullptr.
  const PackedMatrix* find(const at::Tensor& weight) const;
  // A self-attention's query, key and value weights packed as one [3H, H] matrix, found by the query's weight.
  const PackedMatrix* find_qkv(const at::Tensor& query_weight) const;

 private:
  std::unordered_map<const c10::TensorImpl*, PackedMatrix> linear_;
  std::unordered_map<const c10::TensorImpl*, PackedMatrix> qkv_;
};

// While alive, packed_linear() and packed_qkv() on this thread use `weights` (nullptr: none) on `threads` threads,
// then restore what they found.
class UsePackedLinearWeights {
 public:
  UsePackedLinearWeights(const PackedLinearWeights* weights, int threads);
  ~UsePackedLinearWeights();
  UsePackedLinearWeights(const UsePackedLinearWeights&) = delete;
  UsePackedLinearWeights& operator=(const UsePackedLinearWeights&) = delete;

 private:
  const PackedLinearWeights* previous_;
  int previous_threads_;
};

// The thread count this thread's UsePackedLinearWeights scope gives the inference path's kernels (1 outside one).
int packed_linear_threads();

// What follows the product in the same call.
enum class PackedPostOp { None, Gelu };

// layer(input) ([..., in] -> [..., out]), then the post-op, with the packed weight; nullopt when this thread has none
// for the layer.
std::optional<at::Tensor> packed_linear(const torch::nn::Linear& layer, const at::Tensor& input,
                                        PackedPostOp post_op = PackedPostOp::None);

struct QkvProjections {
  at::Tensor query, key, value;  // [B, Q, H], [B, S, H], [B, S, H] (views into one or two products)
};

// A self-attention's projections with its packed query-key-value matrix: queries from queries_from [B, Q, H], keys and
// values from hidden [B, S, H] (one product when they are the same tensor); nullopt when this thread has none.
std::optional<QkvProjections> packed_qkv(const at::Tensor& query_weight, const at::Tensor& queries_from,
                                         const at::Tensor& hidden);

}  // namespace bert
