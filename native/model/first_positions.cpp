#include "first_positions.h"

#include <torch/autograd.h>

#include <algorithm>
#include <atomic>

namespace bert {

namespace {

std::atomic<bool> enabled{true};

// OpenBLAS's small-matrix limit on M·N·K (sgemm_small_matrix_permit in its SKYLAKEX kernels).
constexpr double kSmallGemmLimit = 1e6;

// [B, P, ...] -> [B, S, ...]: the rows at positions [0, P), zeros elsewhere.
at::Tensor pad_positions(const at::Tensor& rows, int64_t seq_len) {
  auto sizes = rows.sizes().vec();
  sizes[1] = seq_len;
  auto full = at::zeros(sizes, rows.options());
  full.narrow(1, 0, rows.size(1)).copy_(rows);
  return full;
}

bool needs_graph(std::initializer_list<at::Tensor> tensors) {
  if (!at::GradMode::is_enabled()) return false;
  return std::any_of(tensors.begin(), tensors.end(),
                     [](const at::Tensor& t) { return t.defined() && t.requires_grad(); });
}

struct FirstPositionsLinear : public torch::autograd::Function<FirstPositionsLinear> {
  static at::Tensor forward(torch::autograd::AutogradContext* ctx, const at::Tensor& rows, const at::Tensor& weight,
                            const at::Tensor& bias, int64_t seq_len) {
    at::Tensor x = rows.contiguous();  // [B, P, in]: at::linear's addmm path, as for the full [B, S, in]
    ctx->save_for_backward({x, weight});
    ctx->saved_data["seq_len"] = seq_len;
    return at::linear(x, weight, bias);  // [B, P, out]
  }

  static torch::autograd::variable_list backward(torch::autograd::AutogradContext* ctx,
                                                 torch::autograd::variable_list grad_outputs) {
    const auto saved = ctx->get_saved_variables();
    const at::Tensor& x = saved[0];
    const at::Tensor& weight = saved[1];
    const int64_t seq_len = ctx->saved_data["seq_len"].toInt();
    const int64_t in = x.size(-1), out = weight.size(0);
    at::Tensor grad = grad_outputs[0].contiguous();  // [B, P, out]
    // What addmm's backward computes (mm_mat1_backward / mm_mat2_backward in PyTorch's FunctionsManual, with
    // mat2 = weightᵀ): input gradient grad · weight over the B·P rows; weight gradient gradᵀ · input and bias
    // gradient Σ grad over all B·S rows, the rows nothing reads being zeros.
    at::Tensor grad_input = grad.view({-1, out}).mm(weight).view(x.sizes());
    at::Tensor grad_full = pad_positions(grad, seq_len).view({-1, out});  // [B·S, out]
    at::Tensor x_full = pad_positions(x, seq_len).view({-1, in});         // [B·S, in]
    at::Tensor grad_weight = grad_full.t().mm(x_full);                    // [out, in]
    at::Tensor grad_bias = grad_full.sum({0}, /*keepdim=*/true).view({out});
    return {grad_input, grad_weight, grad_bias, at::Tensor()};
  }
};

struct FirstPositionsLayerNorm : public torch::autograd::Function<FirstPositionsLayerNorm> {
  static at::Tensor forward(torch::autograd::AutogradContext* ctx, const at::Tensor& rows, const at::Tensor& weight,
                            const at::Tensor& bias, double eps, int64_t seq_len) {
    at::Tensor x = rows.contiguous();
    const int64_t width = x.size(-1);
    auto [y, mean, rstd] = at::native_layer_norm(x, {width}, weight, bias, eps);  // mean, rstd: [B, P, 1]
    ctx->save_for_backward({x, mean, rstd, weight, bias});
    ctx->saved_data["seq_len"] = seq_len;
    return y;
  }

  static torch::autograd::variable_list backward(torch::autograd::AutogradContext* ctx,
                                                 torch::autograd::variable_list grad_outputs) {
    const auto saved = ctx->get_saved_variables();
    const at::Tensor& x = saved[0];
    const int64_t seq_len = ctx->saved_data["seq_len"].toInt();
    const int64_t positions = x.size(1), width = x.size(-1);
    // native_layer_norm's backward over all B·S rows, as for the full input: rows of zero gradient (and zero input,
    // mean and rstd) add exact zeros to the weight and bias sums, and their input gradients are not needed.
    auto [grad_full, grad_weight, grad_bias] = at::native_layer_norm_backward(
        pad_positions(grad_outputs[0].contiguous(), seq_len), pad_positions(x, seq_len), {width},
        pad_positions(saved[1], seq_len), pad_positions(saved[2], seq_len), saved[3], saved[4], {true, true, true});
    return {grad_full.narrow(1, 0, positions), grad_weight, grad_bias, at::Tensor(), at::Tensor()};
  }
};

}  // namespace

void set_first_positions_enabled(bool on) { enabled.store(on); }
bool first_positions_enabled() { return enabled.load(); }

int64_t first_positions_to_compute(int64_t batch, int64_t seq_len, int64_t hidden, int64_t intermediate) {
  // The smallest GEMM after attention: the output projection, [rows, H] x [H, H] (the feed-forward ones have I).
  const double per_row = static_cast<double>(hidden) * static_cast<double>(std::min(hidden, intermediate));
  if (static_cast<double>(batch) * static_cast<double>(seq_len) * per_row <= kSmallGemmLimit) return seq_len;
  int64_t positions = 1;
  while (positions < seq_len &&
         static_cast<double>(batch) * static_cast<double>(positions) * per_row <= kSmallGemmLimit) {
    ++positions;
  }
  return positions;
}

at::Tensor first_positions_linear(const at::Tensor& rows, const torch::nn::Linear& layer, int64_t seq_len) {
  if (!needs_graph({rows, layer->weight, layer->bias}))
    return at::linear(rows.contiguous(), layer->weight, layer->bias);
  return FirstPositionsLinear::apply(rows, layer->weight, layer->bias, seq_len);
}

at::Tensor first_positions_layer_norm(const at::Tensor& rows, const torch::nn::LayerNorm& norm, int64_t seq_len) {
  const double eps = norm->options.eps();
  if (!needs_graph({rows, norm->weight, norm->bias})) {
    return at::layer_norm(rows, {rows.size(-1)}, norm->weight, norm->bias, eps);
  }
  return FirstPositionsLayerNorm::apply(rows, norm->weight, norm->bias, eps, seq_len);
}

at::Tensor first_positions_dropout(const at::Tensor& rows, Dropout& dropout, int64_t seq_len) {
  const int64_t batch = rows.size(0), positions = rows.size(1), width = rows.size(2);
  // Sequence b's rows are elements [b·S·C, b·S·C + P·C) of the full [B, S, C] tensor.
  return dropout->forward_rows(rows.reshape({batch, positions * width}), seq_len * width)
      .view({batch, positions, width});
}

}  // namespace bert
