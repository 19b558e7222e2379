// Training steps on a GPU as CUDA graphs: forward, loss, backward, gradient norm and the AdamW update of one batch
// shape captured once and replayed, so a step costs one launch instead of a thousand kernel launches from the host
// (an eager bert-base step on an H200 waits for the host, not the GPU). The first step of a shape runs eagerly on the
// graphs' stream (the warm-up capture needs: cuBLAS workspaces, autocast, the optimizer's state); its second is
// captured, then replayed. At most max_graphs are kept, for the shapes stepped most. Before a replay the batch is
// copied into the graph's input tensors and the learning rate into the device tensor the captured AdamW reads; dropout
// draws from the device generator as an eager step would.
//
// A captured step skips its update where the loss or gradient norm is not finite (found_inf of the fused AdamW), as
// an eager step that reads its loss does; the caller reads the step's [loss, gradient norm, non-finite] summary now
// or later. Graphs are dropped when the parameters or optimizer state move (a load, a new optimizer), and all of
// them stop being used after a capture fails (the step then runs eagerly; stats() says why).
#pragma once

#include <ATen/ATen.h>

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "host_batch.h"
#include "loss.h"
#include "mixed_precision.h"

namespace bert {

struct TrainStepContext;
struct TrainStepOptions;

struct CudaGraphStats {
  // eager_steps: accepted steps run eagerly (a shape's first, or one without a graph while every slot is taken by
  // shapes stepped at least half as often).
  int64_t captures = 0, replays = 0, eager_steps = 0, dropped = 0;
  std::string disabled_reason;  // empty while graphs are used
};

// One step's outcome on the device, read by the caller when it wants (train_step.h).
struct GraphedStep {
  at::Tensor summary;  // [3] fp32: loss, gradient norm before clipping, 1 where the update was skipped (non-finite)
};

class CudaGraphTrainSteps {
 public:
  explicit CudaGraphTrainSteps(size_t max_graphs = 8);
  ~CudaGraphTrainSteps();
  CudaGraphTrainSteps(const CudaGraphTrainSteps&) = delete;
  CudaGraphTrainSteps& operator=(const CudaGraphTrainSteps&) = delete;

  // Whether this step can run as a graph: a CUDA build, the model and fused AdamW on a GPU, one micro-batch, no
  // data-parallel reducer, no fp16 loss scaling (its overflow verdict is settled on the host), graphs not disabled.
  bool accepts(const TrainStepContext& context, const std::vector<HostBatch>& batches,
               const TrainStepOptions& options) const;

  // Makes the graphs' stream current for the scope, ordered after the work queued before it and before the work
  // queued after it (events, no host wait). Every accepted step runs inside one, eager warm-ups too.
  class StreamScope {
   public:
    StreamScope(CudaGraphTrainSteps& owner, at::Device device);
    ~StreamScope();
    StreamScope(const StreamScope&) = delete;
    StreamScope& operator=(const StreamScope&) = delete;

   private:
    struct State;
    std::unique_ptr<State> state_;
  };

  // The step as a graph (captured now if this is its shape's second step), or nullopt: the caller runs it eagerly
  // inside the StreamScope (a shape's first step, or graphs just disabled by a failed capture).
  std::optional<GraphedStep> run(TrainStepContext& context, const HostBatch& batch, const TrainStepOptions& options);

  CudaGraphStats stats() const { return stats_; }

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
  CudaGraphStats stats_;
};

}  // namespace bert
