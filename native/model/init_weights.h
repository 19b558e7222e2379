// Fresh weights exactly as transformers' BertPreTrainedModel._init_weights draws them:
// Linear and Embedding weights ~ N(0, initializer_range), biases 0, the padding row 0, LayerNorm 1 and 0.
#pragma once

#include <ATen/core/Generator.h>
#include <torch/nn/module.h>

#include <c10/util/Optional.h>

namespace bert {

// `generator` makes the draw reproducible from a seed without touching the global RNG.
void init_bert_weights(torch::nn::Module& module, double initializer_range,
                       c10::optional<at::Generator> generator = c10::nullopt);

}  // namespace bert
