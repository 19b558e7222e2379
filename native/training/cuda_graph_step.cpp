#include "cuda_graph_step.h"

#include <algorithm>
#include <stdexcept>

#include "grad_clip.h"
#include "train_step.h"

#ifdef BERT_TRAINER_CUDA
#include <ATen/cuda/CUDAEvent.h>
#include <ATen/cuda/CUDAGraph.h>
#include <c10/cuda/CUDAGuard.h>
#include <c10/cuda/CUDAStream.h>
#endif

namespace bert {

#ifdef BERT_TRAINER_CUDA

namespace {

// What a captured step is specialised on: everything it reads that is not a tensor copied in before each replay.
struct GraphKey {
  int64_t batch = 0, seq_len = 0, num_labels = 0;
  bool mask = false, types = false;
  LossKind kind = LossKind::CrossEntropy;
  MixedPrecision precision = MixedPrecision::None;
  double max_grad_norm = 0.0;
  std::vector<float> class_weights;

  bool operator==(const GraphKey& o) const {
    return batch == o.batch && seq_len == o.seq_len && num_labels == o.num_labels && mask == o.mask &&
           types == o.types && kind == o.kind && precision == o.precision && max_grad_norm == o.max_grad_norm &&
           class_weights == o.class_weights;
  }
};

GraphKey key_of(const HostBatch& batch, const TrainStepOptions& options, int64_t num_labels) {
  GraphKey key;
  key.batch = batch.batch;
  key.seq_len = batch.seq_len;
  key.num_labels = num_labels;
  key.mask = !batch.mask.empty();
  key.types = !batch.types.empty();
  key.kind = options.kind;
  key.precision = options.mixed_precision;
  key.max_grad_norm = options.max_grad_norm;
  key.class_weights = options.class_weights;
  return key;
}

struct CapturedStep {
  GraphKey key;
  std::unique_ptr<at::cuda::CUDAGraph> graph;
  at::Tensor ids, mask, types, labels;  // [B, S] int64 (mask, types undefined when absent); labels [B] or [B, L]
  at::Tensor class_weights;             // [num_labels] or undefined
  at::Tensor summary;                   // [3] fp32, written by each replay
};

struct ShapeSteps {
  GraphKey key;
  int64_t steps = 0;  // steps of this shape since the graphs were last dropped
};

}  // namespace

struct CudaGraphTrainSteps::Impl {
  size_t max_graphs;
  std::optional<c10::cuda::CUDAStream> stream;
  at::cuda::MempoolId_t pool{0, 0};                   // one private pool for every graph: they never run at once
  std::vector<std::unique_ptr<CapturedStep>> graphs;  // at most max_graphs, for the shapes stepped most
  std::vector<ShapeSteps> shapes;                     // every shape stepped, with its count
  at::Tensor learning_rate;                           // 0-d fp32 on the device, read by every graph's AdamW
  std::vector<const void*> addresses;                 // the optimizer's storage the graphs were captured over

  std::vector<ShapeSteps>::iterator find_shape(const GraphKey& key) {
    return std::find_if(shapes.begin(), shapes.end(), [&](const ShapeSteps& s) { return s.key == key; });
  }
  int64_t count_step(const GraphKey& key) {
    auto it = find_shape(key);
    if (it == shapes.end()) it = shapes.insert(shapes.end(), ShapeSteps{key, 0});
    return ++it->steps;
  }
  int64_t steps_of(const GraphKey& key) {
    auto it = find_shape(key);
    return it == shapes.end() ? 0 : it->steps;
  }

  void synchronize() {
    if (stream) stream->synchronize();
  }
  void drop_all() {
    synchronize();  // no graph is destroyed while it may still run
    graphs.clear();
    shapes.clear();
  }
};

CudaGraphTrainSteps::CudaGraphTrainSteps(size_t max_graphs) : impl_(std::make_unique<Impl>()) {
  impl_->max_graphs = std::max<size_t>(max_graphs, 1);
}

CudaGraphTrainSteps::~CudaGraphTrainSteps() {
  try {
    impl_->drop_all();
  } catch (...) {
  }
}

bool CudaGraphTrainSteps::accepts(const TrainStepContext& context, const std::vector<HostBatch>& batches,
                                  const TrainStepOptions& options) const {
  return options.cuda_graphs && stats_.disabled_reason.empty() && context.device.is_cuda() && batches.size() == 1 &&
         context.reducer == nullptr && options.mixed_precision != MixedPrecision::Float16 &&
         !context.pending_overflow && context.optimizer.fused_on_device();
}

struct CudaGraphTrainSteps::StreamScope::State {
  explicit State(c10::DeviceIndex index)
      : device_guard(index), previous(c10::cuda::getCurrentCUDAStream(index)), current(previous) {}
  c10::cuda::CUDAGuard device_guard;
  c10::cuda::CUDAStream previous, current;
};

CudaGraphTrainSteps::StreamScope::StreamScope(CudaGraphTrainSteps& owner, at::Device device) {
  const c10::DeviceIndex index = device.has_index() ? device.index() : c10::cuda::current_device();
  state_ = std::make_unique<State>(index);
  auto& stream = owner.impl_->stream;
  if (!stream) stream = c10::cuda::getStreamFromPool(/*isHighPriority=*/false, index);
  at::cuda::CUDAEvent queued;  // the graphs' stream starts after what is queued on the current one
  queued.record(state_->previous);
  queued.block(*stream);
  state_->current = *stream;
  c10::cuda::setCurrentCUDAStream(*stream);
}

CudaGraphTrainSteps::StreamScope::~StreamScope() {
  try {
    at::cuda::CUDAEvent done;  // and what is queued after the scope starts after the step
    done.record(state_->current);
    done.block(state_->previous);
  } catch (...) {
  }
  c10::cuda::setCurrentCUDAStream(state_->previous);
}

std::optional<GraphedStep> CudaGraphTrainSteps::run(TrainStepContext& context, const HostBatch& batch,
                                                    const TrainStepOptions& options) {
  Impl& s = *impl_;
  auto& model = context.model;
  auto& optimizer = context.optimizer;
  const at::Device device = context.device;

  // Graphs hold the addresses they were captured over: new parameters or optimizer state make them stale.
  std::vector<const void*> addresses = optimizer.storage_addresses();
  if (addresses != s.addresses) {
    stats_.dropped += static_cast<int64_t>(s.graphs.size());
    s.drop_all();
    s.addresses = std::move(addresses);
  }

  const GraphKey key = key_of(batch, options, context.num_labels);
  const int64_t steps = s.count_step(key);
  auto found = std::find_if(s.graphs.begin(), s.graphs.end(), [&](const auto& g) { return g->key == key; });
  CapturedStep* step = found == s.graphs.end() ? nullptr : found->get();
  if (!step) {
    if (steps == 1) {  // a shape's first step: eager, on the graphs' stream (the capture's warm-up)
      stats_.eager_steps += 1;
      return std::nullopt;
    }
    if (s.graphs.size() >= s.max_graphs) {
      // Every slot taken: a shape takes the slot of the least stepped one only once it has been stepped twice as
      // often, so that shapes coming round in turn (more of them than slots) keep their graphs instead of evicting
      // each other, and a capture, at every step.
      auto least = std::min_element(s.graphs.begin(), s.graphs.end(), [&](const auto& a, const auto& b) {
        return s.steps_of(a->key) < s.steps_of(b->key);
      });
      if (steps < 2 * s.steps_of((*least)->key)) {
        stats_.eager_steps += 1;
        return std::nullopt;
      }
      s.synchronize();  // it may still be running
      s.graphs.erase(least);
      stats_.dropped += 1;
    }
  }

  if (!s.learning_rate.defined()) s.learning_rate = at::empty({}, at::TensorOptions(at::kFloat).device(device));
  s.learning_rate.fill_(options.learning_rate);

  if (step) {
    // The batch into the graph's inputs (its host copy, then a device copy, both queued on this stream).
    step->ids.copy_(batch.ids_tensor(device), /*non_blocking=*/true);
    if (step->mask.defined()) step->mask.copy_(batch.mask_tensor(device), true);
    if (step->types.defined()) step->types.copy_(batch.types_tensor(device), true);
    step->labels.copy_(batch.labels_tensor(options.kind, context.num_labels, device), true);
  } else {
    auto captured = std::make_unique<CapturedStep>();
    captured->key = key;
    captured->ids = batch.ids_tensor(device);
    captured->mask = batch.mask_tensor(device);
    captured->types = batch.types_tensor(device);
    captured->labels = batch.labels_tensor(options.kind, context.num_labels, device);
    captured->class_weights = class_weights_tensor(options.class_weights, device);
    if (s.pool == at::cuda::MempoolId_t{0, 0}) s.pool = at::cuda::graph_pool_handle();
    const auto params = model->parameters();
    clear_gradients(params);
    captured->graph = std::make_unique<at::cuda::CUDAGraph>();
    model->train();
    try {
      captured->graph->capture_begin(s.pool);
      at::Tensor loss = micro_batch_loss(model, options, device, captured->ids, captured->mask, captured->types,
                                         captured->labels, captured->class_weights);  // 0-d
      loss.backward();
      const GradNorm clipping = grad_norm(params, options.max_grad_norm);
      // [1]: 1 where the loss or the gradient norm is not finite; the fused AdamW then leaves everything as it was.
      at::Tensor skipped = at::logical_not(at::logical_and(at::isfinite(loss.detach()), at::isfinite(clipping.total)))
                               .to(at::kFloat)
                               .reshape({1});
      optimizer.device_step(s.learning_rate, clipping.coefficient, skipped);
      captured->summary = at::stack({loss.detach(), clipping.total, skipped.reshape({})});  // [3]
      captured->graph->capture_end();
    } catch (const std::exception& e) {
      try {
        captured->graph->capture_end();  // ends the stream's capture if the failure left it open
      } catch (...) {
      }
      model->eval();
      clear_gradients(params);
      captured.reset();
      stats_.disabled_reason = std::string("capture failed: ") + e.what();
      s.drop_all();
      return std::nullopt;
    }
    model->eval();
    clear_gradients(params);  // the gradients live in the graph's pool; outside it they are cleared, as after any step
    stats_.captures += 1;
    s.graphs.push_back(std::move(captured));
    step = s.graphs.back().get();
  }

  step->graph->replay();
  stats_.replays += 1;
  return GraphedStep{step->summary.clone()};  // the next replay overwrites the graph's own
}

#else  // no CUDA in this LibTorch: every step is eager

struct CudaGraphTrainSteps::Impl {};

CudaGraphTrainSteps::CudaGraphTrainSteps(size_t) : impl_(std::make_unique<Impl>()) {
  stats_.disabled_reason = "this build's LibTorch has no CUDA";
}

CudaGraphTrainSteps::~CudaGraphTrainSteps() = default;

bool CudaGraphTrainSteps::accepts(const TrainStepContext&, const std::vector<HostBatch>&,
                                  const TrainStepOptions&) const {
  return false;
}

struct CudaGraphTrainSteps::StreamScope::State {};

CudaGraphTrainSteps::StreamScope::StreamScope(CudaGraphTrainSteps&, at::Device) {}

CudaGraphTrainSteps::StreamScope::~StreamScope() = default;

std::optional<GraphedStep> CudaGraphTrainSteps::run(TrainStepContext&, const HostBatch&, const TrainStepOptions&) {
  return std::nullopt;
}

#endif

}  // namespace bert
