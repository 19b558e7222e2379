#include "load_into_model.h"

#include <c10/core/GradMode.h>

#include <algorithm>
#include <map>
#include <set>
#include <sstream>
#include <stdexcept>

#include "checkpoint_error.h"

namespace bert {

namespace {

bool starts_with(const std::string& s, const std::string& prefix) { return s.compare(0, prefix.size(), prefix) == 0; }
bool ends_with(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

std::string shape_string(at::IntArrayRef sizes) {
  std::ostringstream out;
  out << "[";
  for (size_t i = 0; i < sizes.size(); ++i) out << (i ? ", " : "") << sizes[i];
  out << "]";
  return out.str();
}

// transformers renames the TF-era LayerNorm parameter names on load.
std::string modern_layer_norm_name(const std::string& key) {
  if (ends_with(key, "LayerNorm.gamma")) return key.substr(0, key.size() - 5) + "weight";
  if (ends_with(key, "LayerNorm.beta")) return key.substr(0, key.size() - 4) + "bias";
  return key;
}

// Buffers that older transformers versions saved and current ones recompute.
bool is_ignored_buffer(const std::string& key) {
  return ends_with(key, "embeddings.position_ids") || ends_with(key, "embeddings.token_type_ids");
}

}  // namespace

LoadReport load_into_model(torch::nn::Module& model, const std::vector<CheckpointFile>& files,
                           const LoadOptions& options) {
  LoadReport report;
  auto params = model.named_parameters(/*recurse=*/true);
  const std::string prefix = options.base_model_prefix + ".";

  // A checkpoint of the bare base model has no "bert." prefix: its keys load into model.bert.
  bool checkpoint_has_prefix = false;
  for (const auto& file : files)
    for (const auto& entry : file.tensors)
      if (starts_with(entry.first, prefix)) checkpoint_has_prefix = true;
  bool model_expects_prefix = false;
  for (const auto& p : params)
    if (starts_with(p.key(), prefix)) model_expects_prefix = true;
  const bool add_prefix = model_expects_prefix && !checkpoint_has_prefix;

  std::map<std::string, std::string> source_file;  // model key -> file it came from (duplicate detection)
  std::set<std::string> loaded;
  c10::NoGradGuard no_grad;
  for (const auto& file : files) {
    for (const auto& entry : file.tensors) {
      const std::string& original = entry.first;
      if (is_ignored_buffer(original)) continue;
      std::string key = modern_layer_norm_name(original);
      if (add_prefix && !starts_with(key, "cls.")) key = prefix + key;
      if (key != original) report.renamed.emplace_back(original, key);

      auto* param = params.find(key);
      if (param == nullptr) {
        report.unexpected.push_back(original);
        continue;
      }
      auto previous = source_file.find(key);
      if (previous != source_file.end()) {
        throw CheckpointError(file.path, "key '" + original + "' is also stored in " + previous->second);
      }
      source_file[key] = file.path;

      const at::Tensor& stored = entry.second;
      if (!at::isFloatingType(stored.scalar_type())) {
        throw CheckpointError(file.path, "key '" + original + "' has dtype " +
                                             std::string(c10::toString(stored.scalar_type())) +
                                             ", expected a floating-point tensor (F32, F16 or BF16)");
      }
      if (stored.sizes() != param->sizes()) {
        if (options.ignore_mismatched_sizes) {
          report.mismatched.push_back(key);
          report.initialized.push_back(key);
          continue;
        }
        throw CheckpointError(file.path,
                              "key '" + original + "' has shape " + shape_string(stored.sizes()) +
                                  ", the model expects " + shape_string(param->sizes()) +
                                  " (set ignoreMismatchedSizes to re-initialise a classifier of another size)",
                              ErrorCode::CheckpointMismatch);
      }
      param->copy_(stored.to(param->scalar_type()));
      loaded.insert(key);
    }
  }
  for (const auto& p : params) {
    if (!loaded.count(p.key()) &&
        std::find(report.mismatched.begin(), report.mismatched.end(), p.key()) == report.mismatched.end()) {
      report.missing.push_back(p.key());
      report.initialized.push_back(p.key());
    }
  }
  return report;
}

StateDict model_state_dict(const torch::nn::Module& model) {
  StateDict out;
  for (const auto& p : model.named_parameters(/*recurse=*/true)) {
    out.emplace_back(p.key(), p.value().detach().to(at::kCPU, at::kFloat).contiguous());
  }
  return out;
}

}  // namespace bert
