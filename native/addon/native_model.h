// The JS-facing model object. It owns the LibTorch module through a shared state that every queued
// worker keeps alive, so dispose() never frees memory a running worker still uses.
#pragma once

#include <napi.h>

#include <atomic>
#include <memory>
#include <mutex>
#include <optional>
#include <shared_mutex>

#include "../model/bert_config.h"
#include "../model/packed_linear.h"
#include "../model/sequence_classifier.h"
#include "../distributed/gradient_reducer.h"
#include "../distributed/process_group.h"
#include "../training/adamw.h"
#include "../training/grad_scaler.h"
#include "../training/train_step.h"

namespace bert {

struct ModelState {
  BertConfig config;
  SequenceClassifier model;                         // null until load() resolves
  at::Device device{at::kCPU};                      // where the weights live and every step computes
  std::shared_mutex mutex;                          // shared: forward/save; exclusive: load and training steps
  std::unique_ptr<AdamW> optimizer;                 // created by configureOptimizer()
  std::unique_ptr<GradScaler> scaler;               // created by the first fp16 step; reset with the optimizer
  std::vector<PendingLoss> pending_losses;          // guarded by mutex
  std::optional<PendingOverflow> pending_overflow;  // fp16: the last step's verdict, not read yet; guarded by mutex
  std::unique_ptr<CudaGraphTrainSteps> graphs;      // a GPU model's captured training steps; guarded by mutex
  // Set by setProcessGroup(): trainStep then averages gradients (the reducer, overlapped with the backward pass)
  // and the logged loss over the group's ranks.
  std::shared_ptr<ProcessGroup> process_group;  // guarded by mutex
  std::unique_ptr<GradientReducer> reducer;     // guarded by mutex
  // forward()'s reordered Linear weights (model/packed_linear.h), built by the first forward() that uses them. When the
  // weights may change (a Trainer claims the model: dropInferenceWeights()), they are marked stale, freed when no
  // forward() is building them, and rebuilt by the next forward().
  std::mutex packed_mutex;
  std::shared_ptr<const PackedLinearWeights> packed_weights;  // guarded by packed_mutex
  std::atomic<bool> packed_stale{false};
};

class NativeModel : public Napi::ObjectWrap<NativeModel> {
 public:
  static Napi::Function Define(Napi::Env env);
  explicit NativeModel(const Napi::CallbackInfo& info);  // new NativeModel(config)

 private:
  Napi::Value Load(
      const Napi::CallbackInfo& info);  // (files: string[], ignoreMismatchedSizes, seed, device) -> Promise<report>
  Napi::Value Forward(
      const Napi::CallbackInfo& info);  // (ids, mask, types, batch, seqLen, withHidden) -> Promise<outputs>
  Napi::Value SaveWeights(const Napi::CallbackInfo& info);  // (dir, format) -> Promise<string[]>
  Napi::Value Parameters(const Napi::CallbackInfo& info);   // -> [{ name, shape }]
  Napi::Value Dispose(const Napi::CallbackInfo& info);
  Napi::Value DropInferenceWeights(const Napi::CallbackInfo& info);  // before anything changes the weights

  // Training (native_model_training.cpp).
  Napi::Value ConfigureOptimizer(const Napi::CallbackInfo& info);  // ({ beta1, beta2, eps, weightDecay })
  Napi::Value TrainStep(
      const Napi::CallbackInfo& info);  // (batches[], options) -> Promise<{ loss, microLosses, gradNorm, skipped }>
  Napi::Value EvalBatch(
      const Napi::CallbackInfo& info);  // (batch, problemType, classWeights) -> Promise<{ logits, shape, loss }>
  Napi::Value LoadWeights(const Napi::CallbackInfo& info);         // (files) -> Promise<report>, in place
  Napi::Value SaveOptimizerState(const Napi::CallbackInfo& info);  // (path) -> Promise<void>
  Napi::Value LoadOptimizerState(const Napi::CallbackInfo& info);  // (path) -> Promise<void>
  Napi::Value GetRngState(const Napi::CallbackInfo& info);         // -> Uint8Array
  Napi::Value SetRngState(const Napi::CallbackInfo& info);         // (Uint8Array)
  Napi::Value GetGradScalerState(const Napi::CallbackInfo& info);  // -> { scale, ... } | null
  Napi::Value SetGradScalerState(const Napi::CallbackInfo& info);  // ({ scale, ... } | null)
  Napi::Value SettleOverflow(const Napi::CallbackInfo& info);      // -> boolean | null
  Napi::Value GraphStats(const Napi::CallbackInfo& info);          // -> { captures, replays, ... } | null
  Napi::Value ManualSeed(const Napi::CallbackInfo& info);          // (seed)

  // Data-parallel training (native_model_distributed.cpp).
  Napi::Value SetProcessGroup(const Napi::CallbackInfo& info);      // (ProcessGroup | null, bucketBytes?)
  Napi::Value BroadcastParameters(const Napi::CallbackInfo& info);  // (root) -> Promise<void>
  Napi::Value IsDisposed(const Napi::CallbackInfo& info);

  // Throws ERR_MODEL_DISPOSED / ERR_MODEL_NOT_LOADED.
  std::shared_ptr<ModelState> loaded_state(Napi::Env env) const;

  std::shared_ptr<ModelState> state_;
  // Main-thread bookkeeping (workers never read these).
  bool loading_ = false;
  bool loaded_ = false;
  bool disposed_ = false;
  friend class LoadWorker;
};

}  // namespace bert
