// Which parameters get weight decay: transformers' Trainer rule (get_decay_parameter_names), no decay for biases and
// LayerNorm weights, everything else decays.
#pragma once

#include <string>
#include <vector>

#include "../checkpoint/state_dict.h"
#include "adamw.h"

namespace bert {

// true for a name that contains "bias" or "LayerNorm" ("bert.encoder.layer.0.output.LayerNorm.weight").
bool exempt_from_weight_decay(const std::string& name);

// Two AdamW groups, in this order and each in the order of `named_parameters`: the decayed parameters with
// `weight_decay`, then the exempt ones with 0. Both are returned even when one is empty.
std::vector<AdamW::Group> weight_decay_groups(const StateDict& named_parameters, double weight_decay);

}  // namespace bert
