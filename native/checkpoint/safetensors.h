// Hugging Face safetensors files (https://github.com/huggingface/safetensors): an 8-byte little-endian
// header length N, N bytes of JSON describing each tensor's dtype, shape and byte range, then the raw
// little-endian tensor bytes. Reading validates exactly what the reference Rust implementation
// validates, so a file we accept is one `safetensors.torch.load_file` accepts and vice versa
// (plus a duplicate-key check, which serde_json would silently resolve).
#pragma once

#include <ATen/ATen.h>

#include <cstddef>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "state_dict.h"

namespace bert {

// The "__metadata__" string map (e.g. {"format": "pt"}), in file order.
using SafetensorsMetadata = std::vector<std::pair<std::string, std::string>>;

// Reads a .safetensors file (mapped once; each tensor is copied out into its own aligned storage).
// Throws CheckpointError naming the file (and tensor) when the file is invalid.
StateDict read_safetensors(const std::string& path, SafetensorsMetadata* metadata_out = nullptr);

// Parses a whole safetensors file held in memory; tensors are copied out, `data` is not kept.
// `file_for_errors` names the file in error messages.
StateDict parse_safetensors(const uint8_t* data, size_t size, const std::string& file_for_errors,
                            SafetensorsMetadata* metadata_out = nullptr);

// Writes `tensors` (in the given order, any device/layout: written contiguous, little-endian) as the
// reference writer lays files out: {"__metadata__":{...}, "name":{"dtype":..,"shape":..,"data_offsets":..}}
// compact JSON, padded with spaces to a multiple of 8 bytes. Written atomically (temp file + rename).
void write_safetensors(const std::string& path, const StateDict& tensors,
                       const std::vector<std::pair<std::string, std::string>>& metadata);

// The safetensors dtype name of a LibTorch dtype ("F32", "F16", "BF16", "F64", "I64", "I32", "I16",
// "I8", "U8", "BOOL"); an empty string for dtypes safetensors files of this library cannot hold.
std::string safetensors_dtype_name(at::ScalarType dtype);

}  // namespace bert
