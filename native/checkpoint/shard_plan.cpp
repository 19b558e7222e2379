#include "shard_plan.h"

#include <cstdio>

namespace bert {

namespace {

// "model.safetensors" -> "model-00002-of-00003.safetensors" (the suffix goes before the extension).
std::string shard_file_name(const std::string& file_name, size_t index, size_t count) {
  char suffix[32];
  std::snprintf(suffix, sizeof suffix, "-%05zu-of-%05zu", index + 1, count);
  const size_t dot = file_name.rfind('.');
  if (dot == std::string::npos) return file_name + suffix;
  return file_name.substr(0, dot) + suffix + file_name.substr(dot);
}

}  // namespace

ShardPlan plan_shards(const StateDict& tensors, const std::string& file_name, int64_t max_shard_bytes) {
  ShardPlan plan;
  std::vector<StateDict> groups;
  StateDict current;
  int64_t current_bytes = 0;
  for (const auto& entry : tensors) {
    const int64_t bytes = static_cast<int64_t>(entry.second.nbytes());
    plan.total_bytes += bytes;
    plan.total_parameters += entry.second.numel();
    if (bytes > max_shard_bytes) {  // too big for any shard: one of its own, the current shard stays open
      groups.push_back({entry});
      continue;
    }
    if (current_bytes + bytes > max_shard_bytes) {
      groups.push_back(std::move(current));
      current.clear();
      current_bytes = 0;
    }
    current.push_back(entry);
    current_bytes += bytes;
  }
  if (!current.empty()) groups.push_back(std::move(current));
  for (size_t i = 0; i < groups.size(); ++i) {
    std::string name = groups.size() == 1 ? file_name : shard_file_name(file_name, i, groups.size());
    plan.shards.push_back({std::move(name), std::move(groups[i])});
  }
  return plan;
}

}  // namespace bert
