// How a state dict is split into checkpoint shards, exactly as huggingface_hub's split_torch_state_dict_into_shards
// (what transformers' save_pretrained(max_shard_size=...) calls) splits it: tensors in state-dict order; one larger
// than the limit gets a shard of its own; otherwise a new shard starts when the next tensor would tip the current one
// over the limit. Shards are named "<stem>-00001-of-00003<ext>"; a plan with one shard keeps the unsharded name.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "state_dict.h"

namespace bert {

struct CheckpointShard {
  std::string file_name;  // "model-00001-of-00003.safetensors", or "model.safetensors" when unsharded
  StateDict tensors;      // in state-dict order
};

struct ShardPlan {
  std::vector<CheckpointShard> shards;
  int64_t total_bytes = 0;       // the index's metadata.total_size: every tensor's bytes
  int64_t total_parameters = 0;  // the index's metadata.total_parameters (transformers' num_parameters())
  bool sharded() const { return shards.size() > 1; }
};

// `file_name` is the unsharded name ("model.safetensors", "pytorch_model.bin"); max_shard_bytes > 0.
ShardPlan plan_shards(const StateDict& tensors, const std::string& file_name, int64_t max_shard_bytes);

}  // namespace bert
