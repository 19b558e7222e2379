// The random stream of one model's dropout: a Philox key (the seed) and the next unused counter block.
// One per model, not LibTorch's process-wide CPU generator, so two models training in one process draw independent
// masks and a checkpoint's 24-byte state resumes exactly this model's stream.
#pragma once

#include <array>
#include <cstdint>
#include <mutex>
#include <string>

namespace bert {

class DropoutGenerator {
 public:
  static constexpr size_t kStateBytes = 24;  // "BTPHILOX", seed (u64 LE), offset (u64 LE)

  explicit DropoutGenerator(uint64_t seed) : seed_(seed) {}

  void manual_seed(uint64_t seed);

  struct Reservation {
    uint64_t key;
    uint64_t first_block;
  };
  // Reserves `blocks` consecutive counter blocks (4 random words each) for one dropout call.
  Reservation reserve(uint64_t blocks);

  std::array<uint8_t, kStateBytes> state() const;
  // Throws std::invalid_argument (naming expected vs actual) when `bytes` is not a state written by state().
  void set_state(const uint8_t* bytes, size_t length);

 private:
  mutable std::mutex mutex_;
  uint64_t seed_;
  uint64_t offset_ = 0;
};

}  // namespace bert
