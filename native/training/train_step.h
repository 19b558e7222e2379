// One optimizer step over accumulated micro-batches, as transformers' Trainer takes it: per micro-batch forward (under
// autocast with mixed precision), fp32 loss divided by the accumulation steps, backward (scaled by fp16's GradScaler);
// data-parallel: gradients and loss averaged over the ranks; fp16: gradients unscaled and checked for overflow;
// gradient norm and clipping coefficient; the AdamW update (skipped for an fp16 overflow, or for a non-finite loss with
// skip_non_finite); gradients cleared. The loss and gradient norm are read back now, or left on the device and read by
// a later step (read_loss false: a CUDA step then never waits for the GPU); so is fp16's verdict on whether the
// GradScaler skipped the update, which decides the next update's learning rate (pending_overflow.h).
//
// Errors: CodedError ERR_NON_FINITE_LOSS (a non-finite loss or gradient norm; the message names the step),
// ERR_OUT_OF_MEMORY (naming the micro-batch's size and sequence length). A failed micro-batch, gradient reduction or
// non-finite step leaves the gradients cleared.
#pragma once

#include <ATen/ATen.h>

#include <cstdint>
#include <memory>
#include <optional>
#include <vector>

#include "../distributed/gradient_reducer.h"
#include "../distributed/process_group.h"
#include "../model/sequence_classifier.h"
#include "adamw.h"
#include "cuda_graph_step.h"
#include "grad_scaler.h"
#include "host_batch.h"
#include "loss.h"
#include "mixed_precision.h"
#include "pending_overflow.h"

namespace bert {

// A step whose loss stayed on the device (read_loss false), read with a later step.
struct PendingLoss {
  int64_t step;
  at::Tensor loss;       // 0-d
  at::Tensor grad_norm;  // 0-d
  at::Tensor found_inf;  // [1], fp16 loss scaling only: the step was skipped for an overflow
  bool graphed = false;  // replayed from a CUDA graph, which skips a non-finite step's update itself
};

struct TrainStepOptions {
  double learning_rate = 0.0;
  // fp16, while the previous step's overflow verdict is pending (TrainStepContext::pending_overflow): the learning
  // rate of this update if that step turns out skipped. The schedule does not advance after a skipped update, so the
  // caller gives both: `learning_rate` for the schedule one step on (the previous update applied), this one for the
  // schedule where it was.
  std::optional<double> learning_rate_after_skip;
  double max_grad_norm = 0.0;      // <= 0: no clipping
  int64_t accumulation_steps = 1;  // each micro-batch loss is divided by this before backward
  LossKind kind = LossKind::CrossEntropy;
  std::vector<float> class_weights;  // [num_labels] (cross-entropy), or empty
  bool skip_non_finite = false;      // true: a non-finite step skips the update instead of throwing
  // false: keep this step's loss and gradient norm on the device and read them with a later step, so that
  // a CUDA step does not wait for the GPU (transformers reads its running loss only at logging steps).
  bool read_loss = true;
  MixedPrecision mixed_precision = MixedPrecision::None;
  // On a GPU: run the step as a captured CUDA graph where CudaGraphTrainSteps accepts it (cuda_graph_step.h).
  bool cuda_graphs = true;
};

// What a step works on and updates. The caller holds the model exclusively for the call.
struct TrainStepContext {
  SequenceClassifier& model;
  at::Device device;
  int64_t num_labels;
  AdamW& optimizer;
  std::unique_ptr<GradScaler>& scaler;       // fp16: created by the first fp16 step, its scale kept across steps
  std::vector<PendingLoss>& pending_losses;  // steps not read yet, oldest first
  std::optional<PendingOverflow>& pending_overflow;  // fp16: the previous step's verdict, when not read yet
  GradientReducer* reducer;                          // data-parallel (with process_group), else null
  ProcessGroup* process_group;
  CudaGraphTrainSteps* graphs = nullptr;  // the model's captured steps; null: every step eager
};

struct LoggedLoss {
  int64_t step;
  double loss, grad_norm;
};

// Data-parallel: the step's gradient buckets, those launched while backward ran, and gradients that had to be copied
// into their bucket (0: backward accumulated into the buckets).
struct GradientReduction {
  int64_t buckets, launched_during_backward, gradients_copied;
};

struct TrainStepResult {
  std::optional<double> loss;        // the mean of the unscaled micro-batch losses, when read
  std::optional<double> grad_norm;   // before clipping, when read
  std::vector<double> micro_losses;  // the unscaled micro-batch losses, when read
  std::vector<LoggedLoss> logged;    // every step read by this call, oldest first (pending ones, then this one)
  bool skipped = false;              // the update was skipped (skip_non_finite, or an fp16 overflow), when read
  double learning_rate = 0.0;        // the learning rate the update used (or would have used, when skipped)
  // fp16: whether the GradScaler skipped this step's update for an overflow — read now with the loss, else pending
  // (nullopt) until the next step settles it; false without loss scaling.
  std::optional<bool> overflow;
  // fp16: the previous step's verdict, when it was pending and this step settled it.
  std::optional<bool> previous_overflow;
  int64_t optimizer_step = 0;  // the optimizer's step count after this step
  bool graphed = false;        // the step was a CUDA graph's replay
  std::optional<GradientReduction> reduction;
};

// What an eager step and a captured one (cuda_graph_step.cpp) both do.
// A micro-batch's fp32 loss (0-d): forward under autocast (mixed precision), logits in fp32, the problem type's loss.
at::Tensor micro_batch_loss(SequenceClassifier& model, const TrainStepOptions& options, at::Device device,
                            const at::Tensor& ids, const at::Tensor& mask, const at::Tensor& types,
                            const at::Tensor& labels, const at::Tensor& class_weights);
// Every gradient set to none, as optimizer.zero_grad() does.
void clear_gradients(const std::vector<at::Tensor>& params);
// `weights` as a [num_labels] fp32 tensor on `device`, or undefined when empty.
at::Tensor class_weights_tensor(const std::vector<float>& weights, at::Device device);

// `batches`: the micro-batches of one optimizer step (at least one), each with labels.
TrainStepResult train_step(TrainStepContext& context, const std::vector<HostBatch>& batches,
                           const TrainStepOptions& options);

}  // namespace bert
