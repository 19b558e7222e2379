#include "process_group.h"

#include <c10/util/Exception.h>

#include <cstdlib>
#include <functional>
#include <stdexcept>

#ifdef BERT_TRAINER_DISTRIBUTED
#include <torch/csrc/distributed/c10d/PrefixStore.hpp>
#include <torch/csrc/distributed/c10d/ProcessGroupGloo.hpp>
#include <torch/csrc/distributed/c10d/TCPStore.hpp>
#include <torch/version.h>
#ifdef BERT_TRAINER_NCCL
#include <torch/csrc/distributed/c10d/ProcessGroupNCCL.hpp>
#endif
#endif

#include "../common/error_code.h"

namespace bert {

namespace {

std::string describe(const std::exception& e) {
  if (const auto* torch_error = dynamic_cast<const c10::Error*>(&e)) return torch_error->what_without_backtrace();
  return e.what();
}

}  // namespace

#ifdef BERT_TRAINER_DISTRIBUTED

// LibTorch 2.x split ProcessGroup into a dispatching front and per-backend "Backend" objects; ProcessGroupGloo and
// ProcessGroupNCCL derive from Backend there and from ProcessGroup in 1.x. Both bases have the same collectives.
#if TORCH_VERSION_MAJOR >= 2
using CollectiveBackend = c10d::Backend;
#else
using CollectiveBackend = c10d::ProcessGroup;
#endif

struct ProcessGroup::Impl {
  c10::intrusive_ptr<c10d::Store> store;
  c10::intrusive_ptr<CollectiveBackend> backend;
};

bool ProcessGroup::available() { return true; }

std::vector<std::string> ProcessGroup::backends() {
#ifdef BERT_TRAINER_NCCL
  return {"gloo", "nccl"};
#else
  return {"gloo"};
#endif
}

namespace {

// The network device Gloo listens on. torch.distributed's rule: GLOO_SOCKET_IFNAME names the interface;
// otherwise the address this machine's hostname resolves to. A loopback master means a single-machine job,
// where the loopback device always works (a sandbox's hostname may not resolve).
std::shared_ptr<::gloo::transport::Device> gloo_device(const std::string& master_addr) {
  const char* interface = std::getenv("GLOO_SOCKET_IFNAME");
  if (interface != nullptr && *interface != '\0') {
    std::string first(interface);
    first = first.substr(0, first.find(','));  // torch accepts a list; one device is enough here
    return c10d::ProcessGroupGloo::createDeviceForInterface(first);
  }
  if (master_addr == "127.0.0.1" || master_addr == "localhost" || master_addr == "::1") {
    return c10d::ProcessGroupGloo::createDeviceForHostname("127.0.0.1");
  }
  return c10d::ProcessGroupGloo::createDefaultDevice();
}

}  // namespace

ProcessGroup::ProcessGroup(const ProcessGroupOptions& options) : options_(options), impl_(std::make_unique<Impl>()) {
  if (options.world_size < 1)
    throw std::invalid_argument("worldSize must be >= 1, got " + std::to_string(options.world_size));
  if (options.rank < 0 || options.rank >= options.world_size) {
    throw std::invalid_argument("rank must be in [0, " + std::to_string(options.world_size) + "), got " +
                                std::to_string(options.rank));
  }
  const std::string where = options.master_addr + ":" + std::to_string(options.master_port);
  try {
    c10d::TCPStoreOptions store_options;
    store_options.port = static_cast<std::uint16_t>(options.master_port);
    store_options.isServer = options.rank == 0;  // rank 0 hosts the store, as torchrun's static rendezvous does
    store_options.numWorkers = static_cast<std::size_t>(options.world_size);
    store_options.waitWorkers = true;  // the server returns once every rank has connected (or the timeout passed)
    store_options.timeout = options.timeout;
    // The store's classic server, which every LibTorch 2.x has: Debian 13's 2.6 is built without libuv, and asking
    // for the libuv one (TCPStoreOptions' default) fails there; libuv's pays off at thousands of ranks, not a handful.
    store_options.useLibUV = false;
    auto tcp = c10::make_intrusive<c10d::TCPStore>(options.master_addr, store_options);
    // One namespace per group, as torch prefixes its default group's keys.
    impl_->store = c10::make_intrusive<c10d::PrefixStore>("bert_trainer/default_pg/", tcp);
  } catch (const std::exception& e) {
    throw CodedError(ErrorCode::DistributedRendezvous,
                     "distributed rendezvous failed for rank " + std::to_string(options.rank) + " of " +
                         std::to_string(options.world_size) + " at " + where + " (timeout " +
                         std::to_string(options.timeout.count()) +
                         " ms; is the master reachable and did all ranks start?): " + describe(e));
  }
  try {
    if (options.backend == "gloo") {
      auto gloo_options = c10d::ProcessGroupGloo::Options::create(options.timeout);
      gloo_options->devices.push_back(gloo_device(options.master_addr));
      impl_->backend =
          c10::make_intrusive<c10d::ProcessGroupGloo>(impl_->store, options.rank, options.world_size, gloo_options);
    } else if (options.backend == "nccl") {
#ifdef BERT_TRAINER_NCCL
      auto nccl_options = c10d::ProcessGroupNCCL::Options::create();
      nccl_options->timeout = options.timeout;
      impl_->backend =
          c10::make_intrusive<c10d::ProcessGroupNCCL>(impl_->store, options.rank, options.world_size, nccl_options);
#else
      throw std::invalid_argument(
          "backend 'nccl' is not available in this build (LibTorch without NCCL or without CUDA); use 'gloo'");
#endif
    } else {
      throw std::invalid_argument("backend must be 'gloo' or 'nccl', got '" + options.backend + "'");
    }
  } catch (const std::invalid_argument&) {
    throw;
  } catch (const std::exception& e) {
    // Gloo and NCCL exchange their addresses through the store here, so a rank that never started shows up now.
    throw CodedError(
        ErrorCode::DistributedRendezvous,
        "distributed rendezvous failed for rank " + std::to_string(options.rank) + " of " +
            std::to_string(options.world_size) + " at " + where + " (timeout " +
            std::to_string(options.timeout.count()) + " ms; did all " + std::to_string(options.world_size) +
            " ranks start, with the same master address and port?): " + options.backend + ": " + describe(e));
  }
}

ProcessGroup::~ProcessGroup() = default;

void ProcessGroup::fail(const std::string& what, const std::exception& e) const {
  throw CodedError(ErrorCode::DistributedCollective,
                   "distributed " + what + " failed on rank " + std::to_string(options_.rank) + " of " +
                       std::to_string(options_.world_size) + " (" + options_.backend + ", timeout " +
                       std::to_string(options_.timeout.count()) +
                       " ms): another rank has probably exited or stopped responding: " + describe(e));
}

void ProcessGroup::all_reduce_sum(std::vector<at::Tensor>& tensors, const std::string& what) {
  std::vector<std::vector<at::Tensor>> one{tensors};
  all_reduce_sum_many(one, what);
}

void ProcessGroup::all_reduce_host(std::vector<double>& values, const std::string& what) {
  at::Tensor host = at::from_blob(values.data(), {static_cast<int64_t>(values.size())}, at::kDouble);  // [n]
  const bool staged = options_.backend == "nccl";
  std::vector<at::Tensor> tensors{staged ? host.to(at::Device(options_.device)) : host};
  all_reduce_sum(tensors, what);
  if (staged) host.copy_(tensors[0]);
}

void ProcessGroup::all_reduce_sum_many(std::vector<std::vector<at::Tensor>>& groups, const std::string& what) {
  try {
    c10d::AllreduceOptions opts;
    opts.reduceOp = c10d::ReduceOp::SUM;
    opts.timeout = options_.timeout;
    std::vector<c10::intrusive_ptr<c10d::Work>> works;
    works.reserve(groups.size());
    for (auto& group : groups) works.push_back(impl_->backend->allreduce(group, opts));
    for (auto& work : works) work->wait();
  } catch (const std::exception& e) {
    fail(what, e);
  }
}

namespace {

class PendingWork : public ProcessGroup::Pending {
 public:
  PendingWork(c10::intrusive_ptr<c10d::Work> work, std::vector<at::Tensor> tensors,
              std::function<void(const std::exception&)> fail)
      : work_(std::move(work)), tensors_(std::move(tensors)), fail_(std::move(fail)) {}
  void wait() override {
    try {
      work_->wait();
    } catch (const std::exception& e) {
      fail_(e);
    }
  }

 private:
  c10::intrusive_ptr<c10d::Work> work_;
  std::vector<at::Tensor> tensors_;  // kept alive until the backend is done with them
  std::function<void(const std::exception&)> fail_;
};

}  // namespace

std::unique_ptr<ProcessGroup::Pending> ProcessGroup::all_reduce_sum_async(const at::Tensor& tensor,
                                                                          const std::string& what) {
  try {
    c10d::AllreduceOptions opts;
    opts.reduceOp = c10d::ReduceOp::SUM;
    opts.timeout = options_.timeout;
    std::vector<at::Tensor> tensors{tensor};
    auto work = impl_->backend->allreduce(tensors, opts);
    return std::make_unique<PendingWork>(std::move(work), std::move(tensors),
                                         [this, what](const std::exception& e) { fail(what, e); });
  } catch (const std::exception& e) {
    fail(what, e);
  }
}

void ProcessGroup::broadcast(std::vector<at::Tensor>& tensors, int root, const std::string& what) {
  try {
    c10d::BroadcastOptions opts;
    opts.rootRank = root;
    opts.timeout = options_.timeout;
    // One tensor per call: Gloo's broadcast takes a single tensor per process (per device).
    std::vector<c10::intrusive_ptr<c10d::Work>> works;
    for (auto& tensor : tensors) {
      std::vector<at::Tensor> one{tensor};
      works.push_back(impl_->backend->broadcast(one, opts));
    }
    for (auto& work : works) work->wait();
  } catch (const std::exception& e) {
    fail(what, e);
  }
}

void ProcessGroup::barrier(const std::string& what) {
  try {
    c10d::BarrierOptions opts;
    opts.timeout = options_.timeout;
    impl_->backend->barrier(opts)->wait();
  } catch (const std::exception& e) {
    fail(what, e);
  }
}

#else  // no c10d in this LibTorch

struct ProcessGroup::Impl {};

bool ProcessGroup::available() { return false; }
std::vector<std::string> ProcessGroup::backends() { return {}; }

ProcessGroup::ProcessGroup(const ProcessGroupOptions& options) : options_(options) {
  throw CodedError(
      ErrorCode::NoDistributed,
      "this build of bert-trainer has no distributed support: the LibTorch it was built against lacks PyTorch's c10d "
      "with Gloo (on Debian: apt-get install libgloo-dev, then rebuild with `npm rebuild bert-trainer`)");
}
ProcessGroup::~ProcessGroup() = default;
void ProcessGroup::fail(const std::string& what, const std::exception& e) const {
  throw CodedError(ErrorCode::DistributedCollective, what + ": " + describe(e));
}
void ProcessGroup::all_reduce_sum(std::vector<at::Tensor>&, const std::string& what) {
  throw std::logic_error(what + ": no distributed support");
}
void ProcessGroup::all_reduce_host(std::vector<double>&, const std::string& what) {
  throw std::logic_error(what + ": no distributed support");
}
std::unique_ptr<ProcessGroup::Pending> ProcessGroup::all_reduce_sum_async(const at::Tensor&, const std::string& what) {
  throw std::logic_error(what + ": no distributed support");
}
void ProcessGroup::all_reduce_sum_many(std::vector<std::vector<at::Tensor>>&, const std::string& what) {
  throw std::logic_error(what + ": no distributed support");
}
void ProcessGroup::broadcast(std::vector<at::Tensor>&, int, const std::string& what) {
  throw std::logic_error(what + ": no distributed support");
}
void ProcessGroup::barrier(const std::string& what) { throw std::logic_error(what + ": no distributed support"); }

#endif

}  // namespace bert
