// BertModel: embeddings -> encoder (a stack of BertLayer) -> pooler (tanh(dense(first token))).
#pragma once

#include <torch/nn/module.h>
#include <torch/nn/modules/container/modulelist.h>
#include <torch/nn/modules/linear.h>

#include "bert_config.h"
#include "dropout.h"
#include "bert_embeddings.h"
#include "bert_layer.h"

namespace bert {

struct BertEncoderImpl : torch::nn::Module {
  explicit BertEncoderImpl(const BertConfig& config);
  at::Tensor forward(at::Tensor hidden, const at::Tensor& additive_mask);  // [B, S, H]
  // The last layer's output at the first positions only ([B, S, H] -> [B, P, H], P >= 1): what a sequence classifier
  // reads (BertLayerImpl::forward_first_positions; P from first_positions_to_compute).
  at::Tensor forward_first_positions(at::Tensor hidden, const at::Tensor& additive_mask);

  torch::nn::ModuleList layer{nullptr};  // keys "encoder.layer.<i>...."
};
TORCH_MODULE(BertEncoder);

struct BertPoolerImpl : torch::nn::Module {
  explicit BertPoolerImpl(const BertConfig& config);
  at::Tensor forward(const at::Tensor& hidden);  // [B, S, H] -> [B, H]

  torch::nn::Linear dense{nullptr};
};
TORCH_MODULE(BertPooler);

struct BertModelOutput {
  at::Tensor last_hidden_state;  // [B, S, H]
  at::Tensor pooler_output;      // [B, H]
};

struct BertModelImpl : torch::nn::Module {
  explicit BertModelImpl(const BertConfig& config);

  // input_ids: [B, S] int64; attention_mask: [B, S] (1 attend, 0 pad) or undefined for all ones;
  // token_type_ids: [B, S] int64 or undefined for zeros.
  BertModelOutput forward(const at::Tensor& input_ids, const at::Tensor& attention_mask,
                          const at::Tensor& token_type_ids);
  // The pooler output alone ([B, H]), equal to forward()'s, with the last layer computed for the positions the pooler
  // reads (fp32 on the CPU; elsewhere forward() itself).
  at::Tensor pooled_output(const at::Tensor& input_ids, const at::Tensor& attention_mask,
                           const at::Tensor& token_type_ids);

  BertConfig config;
  BertEmbeddings embeddings{nullptr};
  BertEncoder encoder{nullptr};
  BertPooler pooler{nullptr};
  std::shared_ptr<DropoutGenerator> dropout_generator;  // every Dropout of this model draws from it
};
TORCH_MODULE(BertModel);

// Whether the last encoder layer may be computed for the positions a head reads only (BertEncoderImpl::
// forward_first_positions): on the CPU for fp32 weights outside autocast (the bit-for-bit argument of
// first_positions.h), on GPUs always (the fused path takes any precision).
bool first_positions_apply(const at::Tensor& input_ids, const at::Tensor& embedding_weight);

// The encoder's inputs with transformers' defaults for what is not given: token types zeros ([B, S]), the attention
// mask all ones (-> [B, 1, 1, S] additive).
at::Tensor token_types_or_zeros(const at::Tensor& input_ids, const at::Tensor& token_type_ids);
at::Tensor encoder_mask(const at::Tensor& input_ids, const at::Tensor& attention_mask, at::ScalarType dtype);

// transformers' get_extended_attention_mask: [B, S] of 1/0 -> [B, 1, 1, S] of 0/finfo(dtype).min, added to scores.
at::Tensor additive_attention_mask(const at::Tensor& attention_mask, at::ScalarType dtype);

}  // namespace bert
