// DistributedDataParallel's gradient synchronisation: after backward, every parameter's gradient becomes the
// mean over the ranks. Gradients are flattened into buckets of about 25 MB (DDP's bucket_cap_mb) so that a
// large model needs few collectives and a small one needs one; the buckets' all-reduces are launched together
// and awaited in order, so the backend overlaps their communication with each other.
#pragma once

#include <ATen/ATen.h>

#include <cstdint>
#include <vector>

#include "process_group.h"

namespace bert {

constexpr int64_t kDefaultBucketBytes = 25 * 1024 * 1024;

// Averages the gradients of `params` over `group` in place. A parameter without a gradient gets a zero one
// first, so that every rank reduces the same tensors in the same order whatever its batch used (BERT uses
// every parameter in every forward, so this does not change what AdamW sees).
void average_gradients(ProcessGroup& group, const std::vector<at::Tensor>& params, int64_t bucket_bytes = kDefaultBucketBytes);

}  // namespace bert
