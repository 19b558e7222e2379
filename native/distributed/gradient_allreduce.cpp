#include "gradient_allreduce.h"

#include <utility>

namespace bert {

namespace {

// Consecutive gradients of one dtype and device, up to bucket_bytes (a single larger gradient is its own bucket).
struct Bucket {
  std::vector<at::Tensor> grads;
  int64_t bytes = 0;
};

std::vector<Bucket> make_buckets(const std::vector<at::Tensor>& grads, int64_t bucket_bytes) {
  std::vector<Bucket> buckets;
  for (const auto& g : grads) {
    const int64_t bytes = g.numel() * static_cast<int64_t>(g.element_size());
    bool fits = !buckets.empty() && buckets.back().bytes + bytes <= bucket_bytes &&
                buckets.back().grads.front().scalar_type() == g.scalar_type() &&
                buckets.back().grads.front().device() == g.device();
    if (!fits) buckets.emplace_back();
    buckets.back().grads.push_back(g);
    buckets.back().bytes += bytes;
  }
  return buckets;
}

}  // namespace

void average_gradients(ProcessGroup& group, const std::vector<at::Tensor>& params, int64_t bucket_bytes) {
  at::NoGradGuard no_grad;
  std::vector<at::Tensor> grads;
  grads.reserve(params.size());
  for (const auto& p : params) {
    if (!p.requires_grad()) continue;
    if (!p.grad().defined()) p.mutable_grad() = at::zeros_like(p);
    grads.push_back(p.grad());
  }
  if (grads.empty() || group.world_size() == 1) return;

  std::vector<Bucket> buckets = make_buckets(grads, bucket_bytes);
  // One flat tensor per bucket: [sum of the bucket's numel]. at::cat of flattened views copies once.
  std::vector<std::vector<at::Tensor>> flats;
  flats.reserve(buckets.size());
  for (const auto& bucket : buckets) {
    std::vector<at::Tensor> pieces;
    pieces.reserve(bucket.grads.size());
    for (const auto& g : bucket.grads) pieces.push_back(g.reshape({-1}));
    flats.push_back({at::cat(pieces)});
  }
  group.all_reduce_sum_many(flats, "gradient all-reduce");
  // Sum -> mean, then back into each gradient (views of the flat buffer, in the bucket's order).
  const double scale = 1.0 / static_cast<double>(group.world_size());
  for (size_t b = 0; b < buckets.size(); ++b) {
    at::Tensor flat = flats[b][0].mul_(scale);
    int64_t offset = 0;
    for (auto& g : buckets[b].grads) {
      const int64_t n = g.numel();
      g.copy_(flat.narrow(0, offset, n).view(g.sizes()));
      offset += n;
    }
  }
}

}  // namespace bert
