#include "inference_buffers.h"

#include <cstdlib>
#include <iterator>
#include <list>
#include <map>
#include <mutex>
#include <new>
#include <vector>

#include <sys/mman.h>

namespace bert {

namespace {

constexpr size_t kHugePage = size_t{2} << 20;

// A new block of at least `bytes`, 64-byte aligned; from 2 MiB up, aligned to 2 MiB and its whole 2 MiB pages offered
// to the kernel as huge pages (one TLB entry where 512 small pages take 512, for buffers the products stream through;
// the tail past the last whole page stays in small pages, so nothing is rounded up).
void* allocate(size_t bytes, size_t& capacity) {
  const bool huge = bytes >= kHugePage;
  capacity = (bytes + 63) / 64 * 64;
  void* block = std::aligned_alloc(huge ? kHugePage : 64, capacity);
  if (block == nullptr) throw std::bad_alloc();
#ifdef MADV_HUGEPAGE
  if (huge) madvise(block, capacity / kHugePage * kHugePage, MADV_HUGEPAGE);  // advice: small pages work as well
#endif
  return block;
}

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
    return allocate(bytes, capacity);
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

size_t float_bytes(at::IntArrayRef sizes) {
  size_t bytes = sizeof(float);
  for (const int64_t size : sizes) bytes *= static_cast<size_t>(size);
  return bytes;
}

// Never destroyed: tensors freed while the process exits may still give their blocks back.
BufferCache& cache() {
  static auto* instance = new BufferCache();
  return *instance;
}

}  // namespace

at::Tensor inference_empty(at::IntArrayRef sizes) {
  const size_t bytes = float_bytes(sizes);
  if (bytes == 0) return at::empty(sizes, at::kFloat);
  size_t capacity = 0;
  void* block = cache().take(bytes, capacity);
  return at::from_blob(
      block, sizes, [capacity](void* data) { cache().give_back(data, capacity); }, at::TensorOptions(at::kFloat));
}

at::Tensor inference_weights_empty(at::IntArrayRef sizes) {
  const size_t bytes = float_bytes(sizes);
  if (bytes == 0) return at::empty(sizes, at::kFloat);
  size_t capacity = 0;
  return at::from_blob(
      allocate(bytes, capacity), sizes, [](void* data) { std::free(data); }, at::TensorOptions(at::kFloat));
}

}  // namespace bert
