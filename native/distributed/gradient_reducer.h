// DistributedDataParallel's gradient synchronisation, overlapped with the backward pass like DDP's Reducer: the
// parameters are grouped into buckets of about 25 MB (bucket_cap_mb) in reverse registration order (the order
// backward produces their gradients); a hook on each parameter's gradient accumulator marks its gradient final,
// and as soon as every gradient of the next bucket is final, the bucket's all-reduce is launched while backward goes
// on with the earlier layers. The gradients are views of their bucket's buffer (DDP's gradient_as_bucket_view), so
// backward accumulates into what is reduced and the mean lands in the gradients without copies. Buckets launch strictly
// in order, so every rank issues the same collectives in the same order whatever order its hooks fire in. finish() then
// averages over the ranks.
//
// With gradient accumulation only the step's last micro-batch is armed (DDP's no_sync for the others): the earlier
// micro-batches accumulate locally and their sum is reduced once.
#pragma once

#include <ATen/ATen.h>

#include <cstdint>
#include <memory>
#include <vector>

#include "process_group.h"

namespace bert {

constexpr int64_t kDefaultBucketBytes = 25 * 1024 * 1024;

class GradientReducer {
 public:
  // Registers the hooks on `params`' gradient accumulators (they stay registered until destruction).
  GradientReducer(std::shared_ptr<ProcessGroup> group, const std::vector<at::Tensor>& params,
                  int64_t bucket_bytes = kDefaultBucketBytes);
  ~GradientReducer();
  GradientReducer(const GradientReducer&) = delete;
  GradientReducer& operator=(const GradientReducer&) = delete;

  // At the start of a step, after the gradients were set to none: zeroes the buckets and makes every parameter's
  // gradient its view of its bucket, so that the step's backward passes accumulate into the buckets.
  void attach_gradient_views();
  // Before the backward of the step's last micro-batch: the next gradients to become final are reduced.
  void prepare_for_backward();
  // After that backward: launches the buckets not launched yet (a parameter without a gradient gets zeros, so all
  // ranks reduce the same tensors), waits for every bucket, and leaves each gradient the mean over the ranks.
  // Also used without prepare_for_backward(): then every bucket is reduced after backward, nothing overlapped.
  void finish();
  // Drops a half-done reduction after a failed step (the hooks stay, disarmed).
  void reset();

  ProcessGroup& group() { return *group_; }
  int64_t bucket_count() const;
  // Buckets of the last step launched from the hooks, i.e. while its backward was still running.
  int64_t buckets_launched_during_backward() const;
  // Gradients of the last step that were not their bucket's view when reduced (replaced rather than accumulated
  // into) and were copied in: 0 when backward accumulated into the buckets as intended.
  int64_t gradients_copied() const;

  struct State;  // shared with the autograd hooks (defined in the .cpp)

 private:
  std::shared_ptr<ProcessGroup> group_;
  std::shared_ptr<State> state_;  // shared with the hooks, which hold it weakly
};

}  // namespace bert
