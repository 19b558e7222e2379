// PyTorch's torch.save format (>= 1.6): a zip archive "<folder>/data.pkl" + "<folder>/data/<key>"
// storage records (+ "version", and "byteorder" from PyTorch 2.x), read and written through LibTorch's
// own caffe2::serialize::PyTorchStreamReader/Writer. This is Hugging Face's "pytorch_model.bin".
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

#include "state_dict.h"

namespace bert {

// Reads a torch.save(state_dict) file with the restricted unpickler (no code in the file can run).
// Refuses big-endian archives and legacy (pre-1.6) non-zip files with errors saying what to do.
StateDict read_torch_bin(const std::string& path);

// The same for a whole file held in memory (not kept); `name_for_errors` names it in messages.
StateDict read_torch_bin_from_memory(const uint8_t* data, size_t size, const std::string& name_for_errors);

// Writes `tensors` as torch.save(OrderedDict(tensors)) would: the pickle from pickle_state_dict, the
// storages as "data/<key>", a "byteorder" record ("little", as PyTorch 2.x writes) and the "version"
// record, all under the archive folder "archive/". Written atomically (temp file + rename).
void write_torch_bin(const std::string& path, const StateDict& tensors);

}  // namespace bert
