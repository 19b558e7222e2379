#include "inference_buffers.h"

#include <cstdlib>
#include <iterator>
#include <list>
#include <map>
#include <mutex>
#include <new>
#include <vector>

namespace bert {

namespace {

class BufferCache {
 public:
  // A block of at least `bytes` (and at most twice that), reused or new; its capacity in `capacity`.
  void* take(size_t bytes, size_t& capacity) {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      auto it = by_size_.lower_bound(bytes);
      if (it != by_size_.end() && it->first <= 2 * bytes) {
        capacity = it->first;
        void* block = it->second->block;
        cached_ -= capacity;
        by_age_.erase(it->second);
        by_size_.erase(it);
        return block;
      }
    }
    capacity = (bytes + 63) / 64 * 64;
    void* block = std::aligned_alloc(64, capacity);
    if (block == nullptr) throw std::bad_alloc();
    return block;
  }

  // Keeps the block, freeing the blocks given back longest ago while the cache would exceed kMaxCachedBytes (a
  // workload that changes sizes then reuses its own buffers, not the old ones).
  void give_back(void* block, size_t capacity) {
    std::vector<void*> evicted;
    {
      std::lock_guard<std::mutex> lock(mutex_);
      if (capacity > kMaxCachedBytes) {
        evicted.push_back(block);
      } else {
        while (cached_ + capacity > kMaxCachedBytes) {
          const Entry oldest = by_age_.front();
          auto [first, last] = by_size_.equal_range(oldest.capacity);
          for (auto it = first; it != last; ++it) {
            if (it->second == by_age_.begin()) {
              by_size_.erase(it);
              break;
            }
          }
          by_age_.pop_front();
          cached_ -= oldest.capacity;
          evicted.push_back(oldest.block);
        }
        by_age_.push_back(Entry{block, capacity});
        by_size_.emplace(capacity, std::prev(by_age_.end()));
        cached_ += capacity;
      }
    }
    for (void* old : evicted) std::free(old);
  }

 private:
  struct Entry {
    void* block;
    size_t capacity;
  };
  std::mutex mutex_;
  std::list<Entry> by_age_;                                    // oldest first
  std::multimap<size_t, std::list<Entry>::iterator> by_size_;  // capacity -> entry
  size_t cached_ = 0;
};

// Never destroyed: tensors freed while the process exits may still give their blocks back.
BufferCache& cache() {
  static auto* instance = new BufferCache();
  return *instance;
}

}  // namespace

at::Tensor inference_empty(at::IntArrayRef sizes) {
  size_t bytes = sizeof(float);
  for (const int64_t size : sizes) bytes *= static_cast<size_t>(size);
  if (bytes == 0) return at::empty(sizes, at::kFloat);
  size_t capacity = 0;
  void* block = cache().take(bytes, capacity);
  return at::from_blob(
      block, sizes, [capacity](void* data) { cache().give_back(data, capacity); }, at::TensorOptions(at::kFloat));
}

}  // namespace bert
