#include "init_weights.h"

#include <c10/core/GradMode.h>

#include <torch/nn/modules/embedding.h>
#include <torch/nn/modules/linear.h>
#include <torch/nn/modules/normalization.h>

#include "distilbert_embeddings.h"

namespace bert {

void init_bert_weights(torch::nn::Module& root, double initializer_range, c10::optional<at::Generator> generator) {
  c10::NoGradGuard no_grad;
  // modules() visits the root and every descendant in registration order, like nn.Module.apply.
  for (const auto& module : root.modules(/*include_self=*/true)) {
    if (auto* linear = module->as<torch::nn::LinearImpl>()) {
      linear->weight.normal_(0.0, initializer_range, generator);
      if (linear->bias.defined()) linear->bias.zero_();
    } else if (auto* embedding = module->as<torch::nn::EmbeddingImpl>()) {
      embedding->weight.normal_(0.0, initializer_range, generator);
      if (auto pad = embedding->options.padding_idx()) embedding->weight[*pad].zero_();
    } else if (auto* norm = module->as<torch::nn::LayerNormImpl>()) {
      norm->weight.fill_(1.0);
      norm->bias.zero_();
    }
  }
  // After the generic pass, as transformers' DistilBERT _init_weights copies the sinusoids over the normal draw.
  for (const auto& module : root.modules(/*include_self=*/true)) {
    if (auto* embeddings = module->as<DistilBertEmbeddingsImpl>()) embeddings->init_sinusoidal_positions();
  }
}

}  // namespace bert
