// The last encoder layer of a sequence classifier, computed for the positions the classifier reads.
//
// BertForSequenceClassification reads one position of the last layer's output: the pooler takes position 0. The last
// layer's attention still needs every position (keys and values, and queries so that its gradients are the full
// computation's), but after attention every operation is row by row: the output projection, its LayerNorm, the
// feed-forward block and the last LayerNorm only need the rows that are read. Those are 75% of a layer's weight
// FLOPs (H² + 2HI of 4H² + 2HI), forward and input gradient; on a 4-layer model, a sixth of the step's GEMM work.
//
// The values stay PyTorch's, bit for bit:
// - Forward and input gradients are the same per-row products (a GEMM's row does not depend on the other rows) as
//   long as the smaller GEMMs take the same BLAS kernel; OpenBLAS sends GEMMs with M·N·K <= 1e6 to "small matrix"
//   kernels that round differently, so enough leading positions are computed to stay above that
//   (first_positions_to_compute).
// - Weight, bias and LayerNorm-parameter gradients are sums over all B·S rows in the full computation, whose other
//   rows are exact zeros (nothing reads them). They are computed here over the same B·S rows, zeros included, by the
//   same ATen calls as PyTorch's autograd (addmm's and native_layer_norm's backward), so every partial sum is the
//   same. That keeps the weight-gradient GEMMs at full size: the saving is the forward and input-gradient GEMMs.
#pragma once

#include <ATen/ATen.h>
#include <torch/nn/modules/linear.h>
#include <torch/nn/modules/normalization.h>

#include "dropout.h"

namespace bert {

// On by default. Off, the last layer computes every position (BertModelImpl::pooled_output then runs the whole
// model): the tests compare the two, and a benchmark can measure what it saves. Process-wide.
void set_first_positions_enabled(bool enabled);
bool first_positions_enabled();

// How many leading positions of each sequence the last layer computes after attention: the fewest whose GEMMs stay
// with OpenBLAS's regular kernel (see above), or seq_len when the full computation is itself that small (nothing to
// gain). hidden, intermediate: the layer's sizes.
int64_t first_positions_to_compute(int64_t batch, int64_t seq_len, int64_t hidden, int64_t intermediate);

// at::linear over rows [B, P, in] that stand for positions [0, P) of a [B, S, in] input (S = seq_len): forward and
// input gradient over the B·P rows, weight and bias gradients summed over B·S rows as the full computation does.
at::Tensor first_positions_linear(const at::Tensor& rows, const torch::nn::Linear& layer, int64_t seq_len);

// LayerNorm over such rows, its weight and bias gradients summed as the full computation sums them.
at::Tensor first_positions_layer_norm(const at::Tensor& rows, const torch::nn::LayerNorm& norm, int64_t seq_len);

// Dropout over such rows [B, P, C]: each element gets the decision the full [B, S, C] tensor's element would get.
at::Tensor first_positions_dropout(const at::Tensor& rows, Dropout& dropout, int64_t seq_len);

}  // namespace bert
