#include "dropout_generator.h"

#include <cstring>
#include <stdexcept>

#include "../common/little_endian.h"

namespace bert {

namespace {

constexpr char kMagic[8] = {'B', 'T', 'P', 'H', 'I', 'L', 'O', 'X'};

}  // namespace

void DropoutGenerator::manual_seed(uint64_t seed) {
  std::lock_guard<std::mutex> lock(mutex_);
  seed_ = seed;
  offset_ = 0;
}

DropoutGenerator::Reservation DropoutGenerator::reserve(uint64_t blocks) {
  std::lock_guard<std::mutex> lock(mutex_);
  Reservation r{seed_, offset_};
  offset_ += blocks;
  return r;
}

std::array<uint8_t, DropoutGenerator::kStateBytes> DropoutGenerator::state() const {
  std::lock_guard<std::mutex> lock(mutex_);
  std::array<uint8_t, kStateBytes> out{};
  std::memcpy(out.data(), kMagic, sizeof kMagic);
  put_u64_le(out.data() + 8, seed_);
  put_u64_le(out.data() + 16, offset_);
  return out;
}

void DropoutGenerator::set_state(const uint8_t* bytes, size_t length) {
  if (length != kStateBytes) {
    throw std::invalid_argument("dropout generator state has " + std::to_string(length) + " bytes, expected " +
                                std::to_string(kStateBytes));
  }
  if (std::memcmp(bytes, kMagic, sizeof kMagic) != 0) {
    throw std::invalid_argument("dropout generator state does not start with \"BTPHILOX\"");
  }
  std::lock_guard<std::mutex> lock(mutex_);
  seed_ = get_u64_le(bytes + 8);
  offset_ = get_u64_le(bytes + 16);
}

}  // namespace bert
