// A process group of PyTorch's distributed engine (c10d): rendezvous through a TCPStore on the master, then
// collectives over Gloo (CPU tensors) or NCCL (CUDA tensors, when LibTorch has it). One object per process,
// like torch.distributed's default group. Everything here blocks (network), so it only runs on worker threads.
//
// Built without c10d (a LibTorch without Gloo, see scripts/find-libtorch.js), the constructor throws a clear
// error and available() is false; nothing else in the addon changes.
//
// Failures are CodedErrors (native/common/error_code.h): ERR_DISTRIBUTED_RENDEZVOUS from the constructor,
// ERR_DISTRIBUTED_COLLECTIVE from a collective, ERR_NO_DISTRIBUTED without c10d.
#pragma once

#include <ATen/ATen.h>

#include <chrono>
#include <memory>
#include <string>
#include <vector>

namespace bert {

struct ProcessGroupOptions {
  int rank = 0;
  int world_size = 1;
  std::string master_addr = "127.0.0.1";
  int master_port = 29500;
  // Bounds the rendezvous and every collective: a peer that died or stopped answering fails the call after this
  // long instead of hanging it (torch's default is 30 minutes).
  std::chrono::milliseconds timeout{30 * 60 * 1000};
  std::string backend = "gloo";  // "gloo" or "nccl"
  // The model's device: NCCL reduces tensors on this GPU, so host values are staged there (see all_reduce_host).
  std::string device = "cpu";
};

class ProcessGroup {
 public:
  // Whether this build has c10d, and which backends it can create.
  static bool available();
  static std::vector<std::string> backends();

  // Rendezvous: blocks until all world_size ranks have connected, or throws after options.timeout.
  explicit ProcessGroup(const ProcessGroupOptions& options);
  ~ProcessGroup();
  ProcessGroup(const ProcessGroup&) = delete;
  ProcessGroup& operator=(const ProcessGroup&) = delete;

  int rank() const { return options_.rank; }

  // Sums host values (float64) over the ranks in place; staged through the group's GPU for NCCL.
  void all_reduce_host(std::vector<double>& values, const std::string& what);
  int world_size() const { return options_.world_size; }
  const ProcessGroupOptions& options() const { return options_; }

  // A started collective: wait() blocks until it is done, throwing like the blocking calls.
  class Pending {
   public:
    virtual ~Pending() = default;
    virtual void wait() = 0;
  };

  // Starts the in-place sum over all ranks of `tensor` (dense, contiguous) and returns at once.
  std::unique_ptr<Pending> all_reduce_sum_async(const at::Tensor& tensor, const std::string& what);
  // In-place sum over all ranks of each tensor. `what` names the operation in errors ("gradient all-reduce").
  void all_reduce_sum(std::vector<at::Tensor>& tensors, const std::string& what);
  // Sum of several independent groups of tensors, launched together so the backend can pipeline them, then
  // awaited in order (the gradient buckets).
  void all_reduce_sum_many(std::vector<std::vector<at::Tensor>>& groups, const std::string& what);
  // In place: every rank's tensors become root's.
  void broadcast(std::vector<at::Tensor>& tensors, int root, const std::string& what);
  void barrier(const std::string& what);

 private:
  struct Impl;
  [[noreturn]] void fail(const std::string& what, const std::exception& e) const;

  ProcessGroupOptions options_;
  std::unique_ptr<Impl> impl_;
};

}  // namespace bert
