#include "parameter_groups.h"

#include <algorithm>
#include <cctype>
#include <regex>

namespace bert {

bool exempt_from_weight_decay(const std::string& name) {
  // transformers' Trainer.get_decay_parameter_names: LayerNorm modules, and names whose lowercase form matches bias,
  // layernorm, rmsnorm, (^|.)norm($|.) or _norm($|.) (DistilBERT's sa_layer_norm and output_layer_norm among them).
  static const std::regex forbidden(R"(bias|layernorm|rmsnorm|(?:^|\.)norm(?:$|\.)|_norm(?:$|\.))");
  std::string lower = name;
  std::transform(lower.begin(), lower.end(), lower.begin(), [](unsigned char c) { return std::tolower(c); });
  return std::regex_search(lower, forbidden);
}

std::vector<AdamW::Group> weight_decay_groups(const StateDict& named_parameters, double weight_decay) {
  AdamW::Group decay{{}, {}, weight_decay}, no_decay{{}, {}, 0.0};
  for (const auto& [name, param] : named_parameters) {
    auto& group = exempt_from_weight_decay(name) ? no_decay : decay;
    group.names.push_back(name);
    group.params.push_back(param);
  }
  return {decay, no_decay};
}

}  // namespace bert
