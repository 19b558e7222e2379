// Writes the data.pkl of a state dict byte-for-byte as Python's torch.save(OrderedDict) does (pickle
// protocol 2, collections.OrderedDict, torch._utils._rebuild_tensor_v2, torch.*Storage persistent
// ids, Python's memo numbering), so that torch.load(path, weights_only=True) in PyTorch 1.13 and 2.x
// reads our files exactly like its own.
#pragma once

#include <ATen/ATen.h>

#include <string>
#include <utility>
#include <vector>

#include "state_dict.h"

namespace bert {

struct PickledStateDict {
  std::string data_pkl;  // the pickle, for the archive's "data.pkl" record
  // Storage key ("0", "1", ...) -> the storage's whole byte range as a 1-D uint8 tensor (on the
  // tensors' device), for the "data/<key>" records. Tensors sharing a storage share one key, as in
  // torch.save; keys are numbered in order of first use.
  std::vector<std::pair<std::string, at::Tensor>> storages;
};

// Pickles `tensors` as an OrderedDict in the given order. Each tensor keeps its storage offset, sizes
// and strides (views of one storage stay views, like torch.save); persistent ids always say 'cpu', so
// the file loads without map_location whatever device the tensors were on. Throws CheckpointWriteError
// naming `file_for_errors` for dtypes torch.*Storage cannot hold, sparse or undefined tensors.
PickledStateDict pickle_state_dict(const StateDict& tensors, const std::string& file_for_errors);

}  // namespace bert
