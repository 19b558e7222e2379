#include "rng_state.h"

#include <ATen/Context.h>

#include <cstring>
#include <mutex>
#include <stdexcept>
#include <string>

#include "../common/error_code.h"
#include "../common/little_endian.h"

namespace bert {

namespace {

constexpr char kDeviceMagic[8] = {'B', 'T', 'R', 'N', 'G', 'C', 'U', '2'};
constexpr size_t kDeviceHeaderBytes = sizeof kDeviceMagic + DropoutGenerator::kStateBytes + 8;

bool has_device_magic(const uint8_t* bytes, size_t length) {
  return length >= sizeof kDeviceMagic && std::memcmp(bytes, kDeviceMagic, sizeof kDeviceMagic) == 0;
}

// LibTorch's generator of a GPU, locked as torch's own get_state / set_state lock it.
at::Generator device_generator(at::Device device) { return at::globalContext().defaultGenerator(device); }

}  // namespace

std::vector<uint8_t> save_rng_state(const DropoutGenerator& dropout, at::Device device) {
  const auto own = dropout.state();
  if (device.is_cpu()) return std::vector<uint8_t>(own.begin(), own.end());
  at::Generator generator = device_generator(device);
  at::Tensor state;
  {
    std::lock_guard<std::mutex> lock(generator.mutex());
    state = generator.get_state().contiguous();  // uint8 on the CPU
  }
  const auto n = static_cast<size_t>(state.numel());
  std::vector<uint8_t> out(kDeviceHeaderBytes + n);
  std::memcpy(out.data(), kDeviceMagic, sizeof kDeviceMagic);
  std::memcpy(out.data() + sizeof kDeviceMagic, own.data(), own.size());
  put_u64_le(out.data() + sizeof kDeviceMagic + own.size(), n);
  std::memcpy(out.data() + kDeviceHeaderBytes, state.data_ptr<uint8_t>(), n);
  return out;
}

void load_rng_state(DropoutGenerator& dropout, at::Device device, const uint8_t* bytes, size_t length) {
  const bool device_state = has_device_magic(bytes, length);
  if (device.is_cpu()) {
    if (device_state) {
      throw CodedError(ErrorCode::CheckpointMismatch,
                       "the state is a CUDA model's (format 2, \"BTRNGCU2\": its dropout masks came from the GPU's "
                       "generator), but this model is on the CPU; resume on a CUDA device");
    }
    dropout.set_state(bytes, length);
    return;
  }
  if (!device_state) {
    throw CodedError(ErrorCode::CheckpointMismatch,
                     "the state is a CPU model's (format 1, " + std::to_string(length) +
                         " bytes: its dropout masks came from the model's own Philox stream), but this model is on " +
                         device.str() + ", whose masks come from the GPU's generator; resume on the CPU");
  }
  if (length < kDeviceHeaderBytes) {
    throw std::invalid_argument("a CUDA model's state has " + std::to_string(length) + " bytes, expected at least " +
                                std::to_string(kDeviceHeaderBytes));
  }
  const uint64_t n = get_u64_le(bytes + sizeof kDeviceMagic + DropoutGenerator::kStateBytes);
  if (n != length - kDeviceHeaderBytes) {
    throw std::invalid_argument("a CUDA model's state says its device generator state has " + std::to_string(n) +
                                " bytes, but " + std::to_string(length - kDeviceHeaderBytes) + " follow");
  }
  at::Tensor state = at::empty({static_cast<int64_t>(n)}, at::TensorOptions().dtype(at::kByte));
  std::memcpy(state.data_ptr<uint8_t>(), bytes + kDeviceHeaderBytes, n);
  at::Generator generator = device_generator(device);
  {
    std::lock_guard<std::mutex> lock(generator.mutex());
    generator.set_state(state);  // c10::Error for a state of another size
  }
  dropout.set_state(bytes + sizeof kDeviceMagic, DropoutGenerator::kStateBytes);
}

}  // namespace bert
