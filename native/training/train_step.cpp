#include "train_step.h"

#include <cmath>
#include <stdexcept>
#include <string>

#include "../common/error_code.h"
#include "../common/error_message.h"
#include "grad_clip.h"

namespace bert {

namespace {

// Exhausted memory: say which batch did it, since that is what users can change.
[[noreturn]] void rethrow_with_batch(const std::exception& e, const HostBatch& batch) {
  if (error_code_of(e) == ErrorCode::OutOfMemory) {
    throw CodedError(ErrorCode::OutOfMemory,
                     "out of memory in a training step with batch size " + std::to_string(batch.batch) +
                         " and sequence length " + std::to_string(batch.seq_len) +
                         " (lower batchSize or maxLength, or use gradientAccumulationSteps): " + error_message(e));
  }
  throw;
}

// RAII: train mode for the step, back to eval mode (what forward() assumes) whatever happens.
struct TrainModeScope {
  explicit TrainModeScope(SequenceClassifier& m) : model(m) { model->train(); }
  ~TrainModeScope() { model->eval(); }
  SequenceClassifier& model;
};

[[noreturn]] void throw_non_finite(int64_t step, double loss, double norm, const std::string& consequence) {
  throw CodedError(ErrorCode::NonFiniteLoss, "non-finite loss at step " + std::to_string(step) + " (loss " +
                                                 std::to_string(loss) + ", gradient norm " + std::to_string(norm) +
                                                 "); " + consequence);
}

// Reads the losses that earlier deferred steps left on the device, in one transfer, into `logged`; throws for a
// non-finite one (an eager step's update has been applied already; a graphed step skipped its own).
void read_pending(std::vector<PendingLoss>& pending, std::vector<LoggedLoss>& logged) {
  if (pending.empty()) return;
  std::vector<at::Tensor> values;
  for (const auto& p : pending) {
    values.push_back(p.loss.to(at::kDouble));
    values.push_back(p.grad_norm.to(at::kDouble));
    // fp16: 1 where the scaler skipped the step for an overflow (its gradient norm is not finite, and that is fine).
    values.push_back(p.found_inf.defined() ? p.found_inf.reshape({}).to(at::kDouble)
                                           : at::zeros({}, p.loss.options().dtype(at::kDouble)));
  }
  at::Tensor host = at::stack(values).cpu();  // [3 · pending] float64
  std::vector<bool> overflowed, graphed;
  for (size_t i = 0; i < pending.size(); ++i) {
    logged.push_back({pending[i].step, host[3 * i].item<double>(), host[3 * i + 1].item<double>()});
    overflowed.push_back(host[3 * i + 2].item<double>() != 0.0);
    graphed.push_back(pending[i].graphed);
  }
  pending.clear();
  for (size_t i = 0; i < logged.size(); ++i) {
    const auto& entry = logged[i];
    if (!std::isfinite(entry.loss) || (!overflowed[i] && !std::isfinite(entry.grad_norm))) {
      throw_non_finite(entry.step, entry.loss, entry.grad_norm,
                       graphed[i] ? "it was read at a later logging step; its CUDA graph skipped that step's update, "
                                    "and the steps since then ran"
                                  : "it was read at a later logging step, so the weights were updated with it");
    }
  }
}

// The step as the graph replayed it: its summary read now, or left on the device for a later step, as the eager
// step reads or leaves its loss. A non-finite step's update was skipped inside the graph.
TrainStepResult finish_graphed_step(TrainStepContext& context, const GraphedStep& step,
                                    const TrainStepOptions& options) {
  TrainStepResult result;
  result.graphed = true;
  result.learning_rate = options.learning_rate;
  result.overflow = false;
  auto& optimizer = context.optimizer;
  const int64_t this_step = optimizer.step_count() + 1;
  if (options.skip_non_finite || options.read_loss) {
    at::Tensor values = step.summary.to(at::kDouble).cpu();  // [3] float64: loss, gradient norm, skipped
    const double loss = values[0].item<double>(), norm = values[1].item<double>();
    if (values[2].item<double>() != 0.0) {
      if (!options.skip_non_finite) throw_non_finite(this_step, loss, norm, "the weights were not updated");
      result.skipped = true;
    } else {
      optimizer.count_step();
    }
    read_pending(context.pending_losses, result.logged);
    result.logged.push_back({this_step, loss, norm});
    result.loss = loss;
    result.grad_norm = norm;
    result.micro_losses.push_back(loss);
  } else {
    optimizer.count_step();
    context.pending_losses.push_back({this_step, step.summary[0], step.summary[1], at::Tensor(), /*graphed=*/true});
  }
  result.optimizer_step = optimizer.step_count();
  return result;
}

TrainStepResult eager_train_step(TrainStepContext& context, const std::vector<HostBatch>& batches,
                                 const TrainStepOptions& options) {
  TrainStepResult result;
  auto& model = context.model;
  auto& optimizer = context.optimizer;
  const at::Device device = context.device;
  const auto params = model->parameters();
  auto clear_grads = [&] { clear_gradients(params); };
  const at::Tensor weights = class_weights_tensor(options.class_weights, device);  // [num_labels] or undefined
  // fp16: dynamic loss scaling (grad_scaler.h); its scale persists across steps.
  GradScaler* scaler = nullptr;
  if (options.mixed_precision == MixedPrecision::Float16) {
    if (!context.scaler) context.scaler = std::make_unique<GradScaler>(device);
    scaler = context.scaler.get();
  }
  TrainModeScope train_mode(model);
  clear_grads();
  std::vector<at::Tensor> micro_losses;  // 0-d, detached
  GradientReducer* reducer = context.reducer;
  if (reducer) reducer->attach_gradient_views();  // data-parallel: backward accumulates into the all-reduce buckets
  for (size_t i = 0; i < batches.size(); ++i) {
    const auto& batch = batches[i];
    try {
      at::Tensor loss = micro_batch_loss(model, options, device, batch.ids_tensor(device), batch.mask_tensor(device),
                                         batch.types_tensor(device),
                                         batch.labels_tensor(options.kind, context.num_labels, device), weights);
      // Data-parallel: the last micro-batch's backward all-reduces the (accumulated) gradients bucket by bucket as
      // they become final; the earlier ones accumulate locally (DDP's no_sync).
      if (reducer && i + 1 == batches.size()) reducer->prepare_for_backward();
      // transformers divides each micro-batch loss by the accumulation steps before backward.
      at::Tensor scaled = loss / static_cast<double>(options.accumulation_steps);
      (scaler ? scaler->scale_loss(scaled) : scaled).backward();
      micro_losses.push_back(loss.detach());
    } catch (const std::exception& e) {
      clear_grads();
      if (reducer) reducer->reset();
      rethrow_with_batch(e, batch);
    }
  }
  at::Tensor step_loss = at::stack(micro_losses).mean();  // 0-d
  if (reducer) {
    // DDP: gradients averaged over the ranks before clipping, so every rank clips and steps identically. The
    // logged loss is the ranks' mean too (transformers gathers it), i.e. the loss of the global batch.
    try {
      ProcessGroup& group = *context.process_group;
      reducer->finish();
      result.reduction = GradientReduction{reducer->bucket_count(), reducer->buckets_launched_during_backward(),
                                           reducer->gradients_copied()};
      std::vector<at::Tensor> loss{step_loss.reshape({1}).clone()};  // [1]
      group.all_reduce_sum(loss, "loss all-reduce");
      step_loss = loss[0].div(group.world_size()).reshape({});
    } catch (...) {
      clear_grads();
      throw;
    }
  }
  // fp16: the true gradients, and whether any overflowed (GradScaler.unscale_ before clipping, as transformers does).
  at::Tensor found_inf;  // [1] fp32, fp16 only
  if (scaler) {
    std::vector<at::Tensor> grads;
    for (const auto& p : params) grads.push_back(p.grad());
    found_inf = scaler->unscale(grads);
  }
  const GradNorm clipping = grad_norm(params, options.max_grad_norm);  // the optimizer applies the clipping
  const at::Tensor& norm_tensor = clipping.total;                      // 0-d
  const int64_t this_step = optimizer.step_count() + 1;
  // fp16: the previous step's verdict decides this update's learning rate; the GPU has finished that step by now.
  result.learning_rate = options.learning_rate;
  if (context.pending_overflow) {
    if (!options.learning_rate_after_skip) {
      throw std::logic_error("internal: step " + std::to_string(this_step) +
                             " follows a step whose overflow verdict is pending, but has no learning_rate_after_skip");
    }
    result.previous_overflow = settle_overflow(*context.pending_overflow);
    context.pending_overflow.reset();
    if (*result.previous_overflow) result.learning_rate = *options.learning_rate_after_skip;
  }
  auto update = [&] {
    optimizer.step(result.learning_rate, clipping.coefficient, found_inf);  // skips itself where found_inf is set
    if (scaler) scaler->update(found_inf);
  };

  if (options.skip_non_finite || options.read_loss) {
    // One read for everything pending plus this step.
    std::vector<at::Tensor> read{step_loss.to(at::kDouble), norm_tensor.to(at::kDouble)};
    if (found_inf.defined()) read.push_back(found_inf.reshape({}).to(at::kDouble));
    at::Tensor values = at::stack(read).cpu();                                // [2 or 3] float64
    at::Tensor micro_values = at::stack(micro_losses).to(at::kDouble).cpu();  // [micro-batches] float64
    const double loss = values[0].item<double>(), norm = values[1].item<double>();
    const bool overflow = found_inf.defined() && values[2].item<double>() != 0.0;  // fp16: a step the scaler skips
    if (!std::isfinite(loss) || (!overflow && !std::isfinite(norm))) {
      clear_grads();
      if (!options.skip_non_finite) {
        throw CodedError(ErrorCode::NonFiniteLoss, "non-finite loss at step " + std::to_string(this_step) + " (loss " +
                                                       std::to_string(loss) + ", gradient norm " +
                                                       std::to_string(norm) + "); the weights were not updated");
      }
      result.skipped = true;
      result.overflow = false;  // no update, so no verdict of the GradScaler's
    } else {
      update();
      result.skipped = overflow;
      result.overflow = overflow;
    }
    clear_grads();
    read_pending(context.pending_losses, result.logged);
    result.logged.push_back({this_step, loss, norm});
    result.loss = loss;
    result.grad_norm = norm;
    for (int64_t i = 0; i < micro_values.numel(); ++i) result.micro_losses.push_back(micro_values[i].item<double>());
  } else {
    update();
    clear_grads();
    context.pending_losses.push_back({this_step, step_loss, norm_tensor, found_inf});
    if (found_inf.defined()) {
      context.pending_overflow = defer_overflow(found_inf, this_step);
    } else {
      result.overflow = false;
    }
  }
  result.optimizer_step = optimizer.step_count();
  return result;
}

}  // namespace

at::Tensor micro_batch_loss(SequenceClassifier& model, const TrainStepOptions& options, at::Device device,
                            const at::Tensor& ids, const at::Tensor& mask, const at::Tensor& types,
                            const at::Tensor& labels, const at::Tensor& class_weights) {
  at::Tensor logits;  // [B, L]
  {
    AutocastScope autocast(options.mixed_precision, device);
    logits = model->forward(ids, mask, types);
  }
  // The loss in fp32 under mixed precision too.
  return compute_loss(options.kind, logits.to(at::kFloat), labels, class_weights);
}

void clear_gradients(const std::vector<at::Tensor>& params) {
  for (const auto& p : params) p.mutable_grad() = at::Tensor();
}

at::Tensor class_weights_tensor(const std::vector<float>& weights, at::Device device) {
  if (weights.empty()) return at::Tensor();
  return to_device(
      at::from_blob(const_cast<float*>(weights.data()), {static_cast<int64_t>(weights.size())}, at::kFloat).clone(),
      device);
}

TrainStepResult train_step(TrainStepContext& context, const std::vector<HostBatch>& batches,
                           const TrainStepOptions& options) {
  CudaGraphTrainSteps* graphs = context.graphs;
  if (!graphs || !graphs->accepts(context, batches, options)) return eager_train_step(context, batches, options);
  CudaGraphTrainSteps::StreamScope on_graph_stream(*graphs, context.device);
  std::optional<GraphedStep> graphed;
  try {
    graphed = graphs->run(context, batches.front(), options);
  } catch (const std::exception& e) {
    rethrow_with_batch(e, batches.front());
  }
  if (!graphed) return eager_train_step(context, batches, options);  // a shape's first step: the capture's warm-up
  return finish_graphed_step(context, *graphed, options);
}

}  // namespace bert
