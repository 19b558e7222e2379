#include "checkpoint_file.h"

#include "safetensors.h"
#include "torch_bin.h"

namespace bert {

StateDict read_checkpoint_file(const std::string& path) {
  const std::string ext = ".safetensors";
  if (path.size() >= ext.size() && path.compare(path.size() - ext.size(), ext.size(), ext) == 0)
    return read_safetensors(path);
  return read_torch_bin(path);
}

}  // namespace bert
