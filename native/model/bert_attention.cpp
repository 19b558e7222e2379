#include "bert_attention.h"
#include "cpu_attention.h"
#include "head_matmul.h"
#include "linear.h"

#include <ATen/autocast_mode.h>
#include <c10/core/InferenceMode.h>

#include <atomic>
#include <cmath>

namespace bert {

namespace {
std::atomic<bool> fused_attention_on_cpu{false};
std::atomic<bool> inference_path{true};
}  // namespace

bool uses_fused_attention(const at::Device& device) { return !device.is_cpu() || fused_attention_on_cpu.load(); }
void set_fused_attention_on_cpu(bool enabled) { fused_attention_on_cpu.store(enabled); }

bool uses_inference_path(const at::Tensor& x) {
  return inference_path.load() && c10::InferenceMode::is_enabled() && x.device().is_cpu() &&
         x.scalar_type() == at::kFloat && !at::autocast::is_autocast_enabled(at::kCPU) &&
         !fused_attention_on_cpu.load();
}
void set_inference_path(bool enabled) { inference_path.store(enabled); }
bool inference_path_enabled() { return inference_path.load(); }

BertSelfAttentionImpl::BertSelfAttentionImpl(const BertConfig& config)
    : num_heads(config.num_attention_heads), head_dim(config.head_dim()) {
  query = register_module("query", torch::nn::Linear(config.hidden_size, config.hidden_size));
  key = register_module("key", torch::nn::Linear(config.hidden_size, config.hidden_size));
  value = register_module("value", torch::nn::Linear(config.hidden_size, config.hidden_size));
  dropout = register_module("dropout", Dropout(config.attention_probs_dropout_prob));
}

at::Tensor BertSelfAttentionImpl::forward(const at::Tensor& hidden, const at::Tensor& additive_mask) {
  return multi_head_attention(query, key, value, dropout, num_heads, head_dim, hidden, additive_mask);
}

at::Tensor BertSelfAttentionImpl::forward_inference(const at::Tensor& queries_from, const at::Tensor& hidden,
                                                    const at::Tensor& additive_mask) {
  return inference_attention(query, key, value, num_heads, head_dim, queries_from, hidden, additive_mask);
}

namespace {
// [B, len, H] -> [B, nh, len, hd]
at::Tensor split_heads(const at::Tensor& x, int64_t num_heads, int64_t head_dim) {
  return x.view({x.size(0), x.size(1), num_heads, head_dim}).transpose(1, 2);
}
}  // namespace

at::Tensor multi_head_attention(const torch::nn::Linear& query, const torch::nn::Linear& key,
                                const torch::nn::Linear& value, Dropout& dropout, int64_t num_heads, int64_t head_dim,
                                const at::Tensor& hidden, const at::Tensor& additive_mask) {
  if (uses_fused_attention(hidden.device()))
    return fused_attention(query, key, value, dropout, num_heads, head_dim, hidden, hidden, additive_mask);
  if (uses_inference_path(hidden))
    return inference_attention(query, key, value, num_heads, head_dim, hidden, hidden, additive_mask);
  const int64_t batch = hidden.size(0), seq_len = hidden.size(1);
  auto q = split_heads(linear(query, hidden), num_heads, head_dim);
  auto k = split_heads(linear(key, hidden), num_heads, head_dim);
  auto v = split_heads(linear(value, hidden), num_heads, head_dim);

  // (q · kᵀ) / sqrt(head_dim) + mask, in the GEMMs: [B, nh, S, S]
  auto scores = attention_scores(q, k.transpose(-1, -2), std::sqrt(static_cast<double>(head_dim)), additive_mask);
  auto probs = dropout(at::softmax(scores, -1));
  auto context = attention_context(probs, v);  // [B, nh, S, hd], stored as [B, S, nh, hd]
  return context.transpose(1, 2).reshape({batch, seq_len, num_heads * head_dim});  // [B, S, H]: a view
}

at::Tensor fused_attention(const torch::nn::Linear& query, const torch::nn::Linear& key, const torch::nn::Linear& value,
                           Dropout& dropout, int64_t num_heads, int64_t head_dim, const at::Tensor& queries_from,
                           const at::Tensor& hidden, const at::Tensor& additive_mask) {
  const int64_t batch = hidden.size(0), queries = queries_from.size(1);
  auto q = split_heads(linear(query, queries_from), num_heads, head_dim);
  auto k = split_heads(linear(key, hidden), num_heads, head_dim);
  auto v = split_heads(linear(value, hidden), num_heads, head_dim);
  // PyTorch's fused kernels (flash / memory-efficient), what transformers' "sdpa" attention runs. The padding mask
  // goes in as booleans (true: attend), exact in every precision; dropout on the probabilities is inside the kernel.
  auto attend =
      additive_mask.defined() ? c10::optional<at::Tensor>(additive_mask.eq(0)) : c10::nullopt;  // [B, 1, 1, S]
  auto context =
      at::scaled_dot_product_attention(q, k, v, attend, dropout->is_training() ? dropout->p : 0.0);  // [B, nh, Q, hd]
  return context.transpose(1, 2).reshape({batch, queries, num_heads * head_dim});                    // [B, Q, H]
}

at::Tensor BertSelfAttentionImpl::forward_fused(const at::Tensor& queries_from, const at::Tensor& hidden,
                                                const at::Tensor& additive_mask) {
  return fused_attention(query, key, value, dropout, num_heads, head_dim, queries_from, hidden, additive_mask);
}

at::Tensor inference_attention(const torch::nn::Linear& query, const torch::nn::Linear& key,
                               const torch::nn::Linear& value, int64_t num_heads, int64_t head_dim,
                               const at::Tensor& queries_from, const at::Tensor& hidden,
                               const at::Tensor& additive_mask) {
  const int64_t batch = hidden.size(0), queries = queries_from.size(1);
  at::Tensor q, k, v;
  if (auto packed = packed_qkv(query->weight, queries_from, hidden)) {  // one product for the three
    if (auto context = cpu_attention(packed->query, packed->key, packed->value, num_heads, head_dim, additive_mask,
                                     packed_linear_threads())) {
      return *context;  // [B, Q, H]
    }
    q = split_heads(packed->query, num_heads, head_dim);
    k = split_heads(packed->key, num_heads, head_dim);
    v = split_heads(packed->value, num_heads, head_dim);
  } else {
    q = split_heads(linear(query, queries_from), num_heads, head_dim);
    k = split_heads(linear(key, hidden), num_heads, head_dim);
    v = split_heads(linear(value, hidden), num_heads, head_dim);
  }
  auto mask = additive_mask.defined() ? c10::optional<at::Tensor>(additive_mask) : c10::nullopt;  // [B, 1, 1, S]
  auto context = at::scaled_dot_product_attention(q, k, v, mask, 0.0);                            // [B, nh, Q, hd]
  return context.transpose(1, 2).reshape({batch, queries, num_heads * head_dim});                 // [B, Q, H]
}

BertSelfOutputImpl::BertSelfOutputImpl(const BertConfig& config) {
  dense = register_module("dense", torch::nn::Linear(config.hidden_size, config.hidden_size));
  LayerNorm = register_module(
      "LayerNorm", torch::nn::LayerNorm(torch::nn::LayerNormOptions({config.hidden_size}).eps(config.layer_norm_eps)));
  dropout = register_module("dropout", Dropout(config.hidden_dropout_prob));
}

at::Tensor BertSelfOutputImpl::forward(const at::Tensor& hidden, const at::Tensor& residual) {
  return LayerNorm(dropout(linear(dense, hidden)) + residual);
}

BertAttentionImpl::BertAttentionImpl(const BertConfig& config) {
  self = register_module("self", BertSelfAttention(config));
  output = register_module("output", BertSelfOutput(config));
}

at::Tensor BertAttentionImpl::forward(const at::Tensor& hidden, const at::Tensor& additive_mask) {
  return output(self(hidden, additive_mask), hidden);
}

}  // namespace bert
