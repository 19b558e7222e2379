#include "packed_linear.h"

#include <algorithm>
#include <unordered_set>

#include "bert_attention.h"
#include "inference_buffers.h"

namespace bert {

namespace {

thread_local const PackedLinearWeights* current_weights = nullptr;
thread_local int current_threads = 1;

// An input's rows as the kernel reads them: m rows of `k` values, `lda` apart (a copy when they are not evenly
// spaced with unit stride).
struct Rows {
  at::Tensor holder;
  const float* data;
  int64_t m, lda;
};

Rows rows_of(const at::Tensor& input) {
  const int64_t k = input.size(-1);
  if (input.stride(-1) == 1) {
    if (input.dim() == 2) return {input, input.data_ptr<float>(), input.size(0), input.stride(0)};
    if (input.dim() == 3 && (input.size(1) == 1 || input.stride(0) == input.size(1) * input.stride(1))) {
      const int64_t lda = input.size(1) == 1 ? input.stride(0) : input.stride(1);
      return {input, input.data_ptr<float>(), input.size(0) * input.size(1), lda};
    }
  }
  at::Tensor dense = input.contiguous();
  return {dense, dense.data_ptr<float>(), dense.numel() / k, k};
}

// The product over panels [p0, p1) of `b`, as a tensor shaped like `input` with the columns as its last size.
at::Tensor product(const at::Tensor& input, const PackedMatrix& b, int64_t p0, int64_t p1) {
  const Rows rows = rows_of(input);
  auto sizes = input.sizes().vec();
  sizes.back() = (p1 - p0) * kPanelWidth;
  at::Tensor out = inference_empty(sizes);
  packed_gemm(rows.data, rows.m, rows.lda, b, p0, p1, out.data_ptr<float>(), sizes.back(), current_threads);
  return out;
}

bool packable(const at::Tensor& weight) {
  return weight.defined() && weight.dim() == 2 && weight.device().is_cpu() && weight.scalar_type() == at::kFloat &&
         weight.size(0) % kPanelWidth == 0;
}

bool usable(const at::Tensor& input) {
  return input.defined() && input.device().is_cpu() && input.scalar_type() == at::kFloat && input.dim() >= 2;
}

}  // namespace

bool packed_linear_available() { return packed_gemm_available(); }

PackedLinearWeights::PackedLinearWeights(torch::nn::Module& model) {
  std::unordered_set<const c10::TensorImpl*> in_attention;
  for (const auto& module : model.modules()) {
    const auto* attention = dynamic_cast<const BertSelfAttentionImpl*>(module.get());
    if (attention == nullptr) continue;
    const auto& q = attention->query;
    const auto& k = attention->key;
    const auto& v = attention->value;
    if (!packable(q->weight) || !packable(k->weight) || !packable(v->weight)) continue;
    qkv_.emplace(q->weight.unsafeGetTensorImpl(),
                 pack_matrix(at::cat({q->weight, k->weight, v->weight}), at::cat({q->bias, k->bias, v->bias})));
    for (const auto* w : {&q->weight, &k->weight, &v->weight}) in_attention.insert(w->unsafeGetTensorImpl());
  }
  for (const auto& module : model.modules()) {
    const auto* layer = dynamic_cast<const torch::nn::LinearImpl*>(module.get());
    if (layer == nullptr || !packable(layer->weight) || in_attention.count(layer->weight.unsafeGetTensorImpl())) {
      continue;
    }
    linear_.emplace(layer->weight.unsafeGetTensorImpl(), pack_matrix(layer->weight, layer->bias));
  }
}

const PackedMatrix* PackedLinearWeights::find(const at::Tensor& weight) const {
  auto it = linear_.find(weight.unsafeGetTensorImpl());
  return it == linear_.end() ? nullptr : &it->second;
}

const PackedMatrix* PackedLinearWeights::find_qkv(const at::Tensor& query_weight) const {
  auto it = qkv_.find(query_weight.unsafeGetTensorImpl());
  return it == qkv_.end() ? nullptr : &it->second;
}

int packed_linear_threads() { return current_threads; }

UsePackedLinearWeights::UsePackedLinearWeights(const PackedLinearWeights* weights, int threads)
    : previous_(current_weights), previous_threads_(current_threads) {
  current_weights = weights;
  current_threads = std::max(1, threads);
}

UsePackedLinearWeights::~UsePackedLinearWeights() {
  current_weights = previous_;
  current_threads = previous_threads_;
}

std::optional<at::Tensor> packed_linear(const torch::nn::Linear& layer, const at::Tensor& input, PackedPostOp post_op) {
  if (current_weights == nullptr || !usable(input)) return std::nullopt;
  const PackedMatrix* packed = current_weights->find(layer->weight);
  if (packed == nullptr || input.size(-1) != packed->k) return std::nullopt;
  at::Tensor out = product(input, *packed, 0, packed->n / kPanelWidth);
  if (post_op == PackedPostOp::Gelu) at::gelu_(out);  // the exact (erf) GELU, in place
  return out;
}

std::optional<QkvProjections> packed_qkv(const at::Tensor& query_weight, const at::Tensor& queries_from,
                                         const at::Tensor& hidden) {
  if (current_weights == nullptr || !usable(queries_from) || !usable(hidden)) return std::nullopt;
  const PackedMatrix* packed = current_weights->find_qkv(query_weight);
  if (packed == nullptr || hidden.size(-1) != packed->k) return std::nullopt;
  const int64_t width = packed->n / 3, panels = width / kPanelWidth;
  if (width % kPanelWidth != 0) return std::nullopt;
  if (queries_from.is_same(hidden)) {
    at::Tensor all = product(hidden, *packed, 0, 3 * panels);  // [B, S, 3H]
    return QkvProjections{all.narrow(-1, 0, width), all.narrow(-1, width, width), all.narrow(-1, 2 * width, width)};
  }
  at::Tensor query = product(queries_from, *packed, 0, panels);         // [B, Q, H]
  at::Tensor key_value = product(hidden, *packed, panels, 3 * panels);  // [B, S, 2H]
  return QkvProjections{query, key_value.narrow(-1, 0, width), key_value.narrow(-1, width, width)};
}

}  // namespace bert
