// rng_state.bin: every random stream a model's training steps draw from, so that a resumed run draws exactly what the
// uninterrupted run would have drawn. Nothing in a step is random but dropout; where its masks come from depends on
// the model's device:
//
// - On the CPU, from the model's own Philox stream only (dropout.h: every dtype, fp16 autocast's included; the one
//   exception is the test-only setFusedAttentionOnCpu, whose attention dropout is inside LibTorch's kernel). Format
//   1 is that stream's 24 bytes (DropoutGenerator::state(): "BTPHILOX", key, position), the same on every machine.
// - On a CUDA device, from LibTorch's generator of that device (at::dropout's kernel, and the attention dropout inside
//   scaled_dot_product_attention), which is Philox too but not ours: a seed and an offset. Format 2 adds its state:
//   "BTRNGCU2", the 24 bytes of format 1 (the model's own stream, unused there but kept with the model), the length
//   of the device generator's state (u64, little-endian) and that state (at::Generator::get_state()).
//
// The masks of one kind of device cannot be continued on the other, so loading format 2 into a model on the CPU, or
// format 1 into a model on a GPU, throws CodedError ERR_CHECKPOINT_MISMATCH saying which; a state of another GPU of
// the same kind (cuda:1's into cuda:0) is restored on the model's GPU. A malformed state throws
// std::invalid_argument, naming what is wrong.
#pragma once

#include <ATen/ATen.h>

#include <cstdint>
#include <vector>

#include "dropout_generator.h"

namespace bert {

std::vector<uint8_t> save_rng_state(const DropoutGenerator& dropout, at::Device device);

void load_rng_state(DropoutGenerator& dropout, at::Device device, const uint8_t* bytes, size_t length);

}  // namespace bert
