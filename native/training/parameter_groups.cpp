#include "parameter_groups.h"

namespace bert {

bool exempt_from_weight_decay(const std::string& name) {
  return name.find("bias") != std::string::npos || name.find("LayerNorm") != std::string::npos;
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
