#include "gradient_reducer.h"

#include <c10/core/GradMode.h>

#include <torch/csrc/autograd/function.h>
#include <torch/csrc/autograd/function_hook.h>
#include <torch/csrc/autograd/variable.h>

#include <algorithm>
#include <mutex>
#include <stdexcept>
#include <utility>

namespace bert {

struct GradientReducer::State {
  struct Bucket {
    std::vector<size_t> params;  // indices into State::params
    int64_t numel = 0;           // elements of all its parameters
    size_t pending = 0;          // gradients of this bucket not final yet (this backward)
    // [sum of the bucket's numel]: the bucket's gradients, one after the other. Each parameter's .grad is a view of
    // its part (DDP's gradient_as_bucket_view), so backward accumulates straight into what is reduced: no copy in,
    // no copy out, no second set of gradients in memory. Allocated once, kept across steps.
    at::Tensor flat;
    std::unique_ptr<ProcessGroup::Pending> work;
  };

  std::shared_ptr<ProcessGroup> group;
  std::vector<at::Tensor> params;
  std::vector<size_t> bucket_of;   // param index -> bucket index
  std::vector<int64_t> offset_of;  // param index -> where its gradient starts in its bucket's buffer
  std::vector<Bucket> buckets;
  std::vector<bool> ready;  // per param, this backward
  size_t next_bucket = 0;   // buckets launch in order: the first not launched
  bool armed = false;
  int64_t launched_in_backward = 0;
  int64_t copied = 0;  // gradients found replaced (not their bucket view) at launch this step, and copied in
  std::mutex mutex;    // hooks may run on autograd's device threads (CUDA)
  // The accumulators are created on demand and held weakly by their tensors: keep them (and the hooks) alive.
  std::vector<decltype(torch::autograd::impl::grad_accumulator(std::declval<const at::Tensor&>()))> accumulators;
  std::vector<uintptr_t> hook_keys;

  // The view of `bucket.flat` that is parameter `index`'s gradient.
  at::Tensor view_of(const Bucket& bucket, size_t index) const {
    const at::Tensor& p = params[index];
    return bucket.flat.narrow(0, offset_of[index], p.numel()).view(p.sizes());
  }

  // The bucket's buffer, allocated (zeros) the first time.
  at::Tensor& buffer(Bucket& bucket) {
    if (!bucket.flat.defined())
      bucket.flat = at::zeros({bucket.numel}, params[bucket.params.front()].options().requires_grad(false));
    return bucket.flat;
  }

  // Zeroes every bucket and makes each parameter's gradient its view of it.
  void attach_views() {
    c10::NoGradGuard no_grad;
    for (auto& bucket : buckets) {
      buffer(bucket).zero_();
      for (size_t i : bucket.params) params[i].mutable_grad() = view_of(bucket, i);
    }
  }

  // Starts the bucket's all-reduce (sum, in place). A gradient that is not the bucket's view any more (one that
  // something replaced instead of accumulating into it) is copied in and the view put back first. Caller holds the
  // mutex.
  void launch(Bucket& bucket) {
    c10::NoGradGuard no_grad;
    buffer(bucket);  // allocated here when no step attached the views (then every gradient is copied in below)
    for (size_t i : bucket.params) {
      const at::Tensor& p = params[i];
      at::Tensor view = view_of(bucket, i);
      const at::Tensor& g = p.grad();
      if (g.defined() && g.data_ptr() == view.data_ptr() && g.strides() == view.strides()) continue;
      if (g.defined())
        view.copy_(g);
      else
        view.zero_();
      p.mutable_grad() = view;
      ++copied;
    }
    bucket.work = group->all_reduce_sum_async(bucket.flat, "gradient all-reduce");  // [numel] summed in place
  }

  // Launches every bucket from next_bucket on whose gradients are all final. Caller holds the mutex.
  void launch_ready() {
    while (next_bucket < buckets.size() && buckets[next_bucket].pending == 0) {
      launch(buckets[next_bucket]);
      ++next_bucket;
      ++launched_in_backward;
    }
  }

  void mark_ready(size_t index) {
    std::lock_guard<std::mutex> lock(mutex);
    if (!armed || ready[index]) return;
    ready[index] = true;
    --buckets[bucket_of[index]].pending;
    launch_ready();
  }

  void reset_locked() {
    armed = false;
    next_bucket = 0;
    launched_in_backward = 0;
    copied = 0;
    for (auto& b : buckets) {
      b.pending = b.params.size();
      b.work.reset();
    }
    std::fill(ready.begin(), ready.end(), false);
  }
};

namespace {

// Runs after a parameter's AccumulateGrad node: its .grad now holds this backward's gradient.
class ReadyHook : public torch::autograd::FunctionPostHook {
 public:
  ReadyHook(std::weak_ptr<GradientReducer::State> state, size_t index) : state_(std::move(state)), index_(index) {}
  torch::autograd::variable_list operator()(const torch::autograd::variable_list& outputs,
                                            const torch::autograd::variable_list& /*inputs*/) override {
    if (auto state = state_.lock()) state->mark_ready(index_);
    return outputs;
  }

 private:
  std::weak_ptr<GradientReducer::State> state_;
  size_t index_;
};

}  // namespace

GradientReducer::GradientReducer(std::shared_ptr<ProcessGroup> group, const std::vector<at::Tensor>& params,
                                 int64_t bucket_bytes)
    : group_(std::move(group)), state_(std::make_shared<State>()) {
  State& s = *state_;
  s.group = group_;
  for (const auto& p : params)
    if (p.requires_grad()) s.params.push_back(p);
  s.bucket_of.assign(s.params.size(), 0);
  s.offset_of.assign(s.params.size(), 0);
  s.ready.assign(s.params.size(), false);
  // Reverse registration order: the classifier and the last layers' gradients are final first.
  int64_t bytes = 0;
  for (size_t k = s.params.size(); k-- > 0;) {
    const at::Tensor& p = s.params[k];
    const int64_t n = p.numel() * static_cast<int64_t>(p.element_size());
    const bool fits = !s.buckets.empty() && bytes + n <= bucket_bytes &&
                      s.params[s.buckets.back().params.front()].scalar_type() == p.scalar_type() &&
                      s.params[s.buckets.back().params.front()].device() == p.device();
    if (!fits) {
      s.buckets.emplace_back();
      bytes = 0;
    }
    State::Bucket& bucket = s.buckets.back();
    bucket.params.push_back(k);
    s.bucket_of[k] = s.buckets.size() - 1;
    s.offset_of[k] = bucket.numel;
    bucket.numel += p.numel();
    bytes += n;
  }
  s.reset_locked();
  for (size_t k = 0; k < s.params.size(); ++k) {
    auto accumulator = torch::autograd::impl::grad_accumulator(s.params[k]);
    if (!accumulator) throw std::logic_error("a trainable parameter has no gradient accumulator (not a leaf tensor)");
    s.hook_keys.push_back(accumulator->add_post_hook(std::make_unique<ReadyHook>(state_, k)));
    s.accumulators.push_back(std::move(accumulator));
  }
}

GradientReducer::~GradientReducer() {
  State& s = *state_;
  for (size_t k = 0; k < s.accumulators.size(); ++k) s.accumulators[k]->del_post_hook(s.hook_keys[k]);
}

void GradientReducer::prepare_for_backward() {
  std::lock_guard<std::mutex> lock(state_->mutex);
  state_->reset_locked();
  state_->armed = group_->world_size() > 1;  // one process: nothing to reduce
}

void GradientReducer::attach_gradient_views() {
  std::lock_guard<std::mutex> lock(state_->mutex);
  if (group_->world_size() > 1) state_->attach_views();
}

void GradientReducer::reset() {
  std::lock_guard<std::mutex> lock(state_->mutex);
  state_->reset_locked();
}

int64_t GradientReducer::bucket_count() const { return static_cast<int64_t>(state_->buckets.size()); }

int64_t GradientReducer::gradients_copied() const {
  std::lock_guard<std::mutex> lock(state_->mutex);
  return state_->copied;
}

int64_t GradientReducer::buckets_launched_during_backward() const {
  std::lock_guard<std::mutex> lock(state_->mutex);
  return state_->launched_in_backward;
}

void GradientReducer::finish() {
  State& s = *state_;
  std::lock_guard<std::mutex> lock(s.mutex);
  s.armed = false;
  try {
    if (group_->world_size() > 1) {
      // The rest, in order (parameters whose gradient never became final this step get zeros in launch()).
      for (; s.next_bucket < s.buckets.size(); ++s.next_bucket) s.launch(s.buckets[s.next_bucket]);
      c10::NoGradGuard no_grad;
      const double scale = 1.0 / static_cast<double>(group_->world_size());
      for (auto& bucket : s.buckets) {
        bucket.work->wait();
        bucket.flat.mul_(scale);  // sum -> mean, in the gradients themselves (they are its views)
      }
    }
  } catch (...) {
    s.reset_locked();
    throw;
  }
  const int64_t launched = s.launched_in_backward, copied = s.copied;
  s.reset_locked();
  s.launched_in_backward = launched;
  s.copied = copied;
}

}  // namespace bert
