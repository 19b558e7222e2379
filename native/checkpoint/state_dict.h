// A checkpoint's tensors by name, in file order, with the dtype the file stores.
// Readers return this; writers take it. Names are Hugging Face state-dict keys
// ("bert.encoder.layer.0.attention.self.query.weight"); mapping them to the model is not done here.
#pragma once

#include <ATen/ATen.h>

#include <string>
#include <utility>
#include <vector>

namespace bert {

using StateDict = std::vector<std::pair<std::string, at::Tensor>>;

}  // namespace bert
