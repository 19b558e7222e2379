// A restricted unpickler for the data.pkl that torch.save(state_dict) writes (pickle protocols 2-5).
// Python's pickle can call any importable function while loading, which is how malicious
// "pytorch_model.bin" files run code. This reader never imports or calls anything by name: it knows
// the handful of globals a state dict needs (collections.OrderedDict, torch._utils._rebuild_tensor_v2,
// the torch.*Storage types, ...), builds the corresponding C++ objects itself, and rejects every
// other global, opcode and argument shape with an error naming the file.
#pragma once

#include <ATen/ATen.h>

#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>

#include "state_dict.h"

namespace bert {

// Returns the raw bytes of the storage record named `key` in a persistent id
// ('storage', torch.FloatStorage, key, location, numel) - "data/<key>" in a torch.save zip - as a
// CPU storage. `expected_nbytes` is numel x element size from the persistent id (already checked
// for overflow); a loader backed by a real file ignores it and returns what the record holds. Called
// at most once per key: tensors naming the same key share the returned storage. The reader checks
// the returned byte size against `expected_nbytes`.
using StorageLoader = std::function<c10::Storage(const std::string& key, size_t expected_nbytes)>;

// Unpickles a state dict: the result must be a dict or OrderedDict of str -> tensor (an OrderedDict's
// `_metadata` state is accepted and ignored). Tensors are views on the loaded storages with the
// dtype, offset, sizes and strides the file records (bounds-checked). `file_for_errors` and
// `record_for_errors` name the checkpoint and the pickle record in error messages.
StateDict read_pickled_state_dict(const uint8_t* data, size_t size, const StorageLoader& load_storage,
                                  const std::string& file_for_errors,
                                  const std::string& record_for_errors = "data.pkl");

}  // namespace bert
