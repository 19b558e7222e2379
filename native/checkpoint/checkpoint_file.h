// One weights file of a Hugging Face model directory, whatever its format (chosen by extension:
// ".safetensors" is safetensors, anything else torch.save's zip format).
#pragma once

#include <string>

#include "state_dict.h"

namespace bert {

StateDict read_checkpoint_file(const std::string& path);

}  // namespace bert
