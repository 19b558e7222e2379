// Copies checkpoint tensors into a model the way transformers' from_pretrained matches keys:
// legacy LayerNorm gamma/beta renamed, bare BertModel checkpoints (no "bert." prefix) accepted,
// pretraining heads and position_ids buffers left out, missing weights keep their fresh init.
#pragma once

#include <torch/nn/module.h>

#include <string>
#include <utility>
#include <vector>

#include "state_dict.h"

namespace bert {

struct CheckpointFile {
  std::string path;
  StateDict tensors;
};

struct LoadReport {
  std::vector<std::string> missing;     // model keys absent from the checkpoint (left freshly initialised)
  std::vector<std::string> unexpected;  // checkpoint keys the model has no use for (e.g. cls.* heads)
  std::vector<std::pair<std::string, std::string>> renamed;  // checkpoint key -> model key
  std::vector<std::string> initialized;                      // model keys holding fresh weights (missing + mismatched)
  std::vector<std::string> mismatched;                       // re-initialised because of ignore_mismatched_sizes
};

struct LoadOptions {
  std::string base_model_prefix = "bert";
  bool ignore_mismatched_sizes = false;
};

// Throws CheckpointError naming the file, the key and expected-vs-actual: ERR_CHECKPOINT_MISMATCH for a shape the
// model does not have, ERR_BAD_CHECKPOINT for a key stored twice or a tensor that is not floating-point.
LoadReport load_into_model(torch::nn::Module& model, const std::vector<CheckpointFile>& files,
                           const LoadOptions& options);

// The model's parameters as fp32 contiguous CPU tensors under their Hugging Face names, in registration order.
StateDict model_state_dict(const torch::nn::Module& model);

}  // namespace bert
