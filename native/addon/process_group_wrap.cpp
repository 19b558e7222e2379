#include "process_group_wrap.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <utility>

#include "js_errors.h"
#include "promise_worker.h"

namespace bert {

namespace {

// Marks JS objects made by this class, so that GroupOf() never unwraps an unrelated object.
const napi_type_tag kProcessGroupTag = {0x6b1f2c4e9d3a4b71ULL, 0x8e5d0f6a2c7b9e13ULL};

int64_t integer_field(const Napi::Object& options, const char* field, int64_t min, int64_t max) {
  Napi::Value v = options.Get(field);
  if (!v.IsNumber())
    throw Napi::TypeError::New(options.Env(), std::string("distributed.") + field + " must be an integer");
  const double d = v.As<Napi::Number>().DoubleValue();
  if (!std::isfinite(d) || std::floor(d) != d)
    throw Napi::TypeError::New(options.Env(), std::string("distributed.") + field + " must be an integer");
  if (d < static_cast<double>(min) || d > static_cast<double>(max)) {
    throw Napi::RangeError::New(options.Env(), std::string("distributed.") + field + " must be in [" +
                                                   std::to_string(min) + ", " + std::to_string(max) + "], got " +
                                                   std::to_string(static_cast<int64_t>(d)));
  }
  return static_cast<int64_t>(d);
}

std::string string_field(const Napi::Object& options, const char* field) {
  Napi::Value v = options.Get(field);
  if (!v.IsString())
    throw Napi::TypeError::New(options.Env(), std::string("distributed.") + field + " must be a string");
  return v.As<Napi::String>().Utf8Value();
}

}  // namespace

// Rendezvous and backend creation block for as long as the other ranks take to start: a worker thread.
class ProcessGroupInitWorker : public PromiseWorker {
 public:
  ProcessGroupInitWorker(Napi::Env env, ProcessGroupWrap* owner, ProcessGroupOptions options)
      : PromiseWorker(env), owner_(owner), owner_ref_(Napi::Persistent(owner->Value())), options_(std::move(options)) {}

 protected:
  void Run() override { group_ = std::make_shared<ProcessGroup>(options_); }
  Napi::Value Result(Napi::Env env) override {
    owner_->group_ = std::move(group_);
    return env.Undefined();
  }
  void OnWorkComplete(Napi::Env env, napi_status status) override {
    owner_->initializing_ = false;  // also on failure: init() may be retried
    PromiseWorker::OnWorkComplete(env, status);
  }

 private:
  ProcessGroupWrap* owner_;
  Napi::ObjectReference owner_ref_;  // keeps owner_ alive until the worker completes
  ProcessGroupOptions options_;
  std::shared_ptr<ProcessGroup> group_;
};

// Runs one collective on a worker thread; the group is kept alive by the worker.
class CollectiveWorker : public PromiseWorker {
 public:
  enum class Kind { kAllReduce, kBarrier, kRelease };
  CollectiveWorker(Napi::Env env, std::shared_ptr<ProcessGroup> group, Kind kind, std::vector<double> values = {})
      : PromiseWorker(env), group_(std::move(group)), kind_(kind), values_(std::move(values)) {}

 protected:
  void Run() override {
    switch (kind_) {
      case Kind::kAllReduce: {
        // [n] float64: the metric counts and sums that evaluation reduces; float64 keeps integer counts exact.
        group_->all_reduce_host(values_, "all-reduce");
        break;
      }
      case Kind::kBarrier:
        group_->barrier("barrier");
        break;
      case Kind::kRelease:
        // The last reference: the backend's destructor joins its threads, which must not happen on the JS thread.
        group_.reset();
        break;
    }
  }
  Napi::Value Result(Napi::Env env) override {
    if (kind_ != Kind::kAllReduce) return env.Undefined();
    Napi::Float64Array out = Napi::Float64Array::New(env, values_.size());
    if (!values_.empty()) std::memcpy(out.Data(), values_.data(), values_.size() * sizeof(double));
    return out;
  }

 private:
  std::shared_ptr<ProcessGroup> group_;
  Kind kind_;
  std::vector<double> values_;
};

Napi::Function ProcessGroupWrap::Define(Napi::Env env) {
  return DefineClass(env, "ProcessGroup",
                     {
                         InstanceMethod<&ProcessGroupWrap::Init>("init"),
                         InstanceMethod<&ProcessGroupWrap::AllReduce>("allReduce"),
                         InstanceMethod<&ProcessGroupWrap::Barrier>("barrier"),
                         InstanceMethod<&ProcessGroupWrap::Destroy>("destroy"),
                         InstanceAccessor<&ProcessGroupWrap::Rank>("rank"),
                         InstanceAccessor<&ProcessGroupWrap::WorldSize>("worldSize"),
                         InstanceAccessor<&ProcessGroupWrap::Backend>("backend"),
                     });
}

ProcessGroupWrap::ProcessGroupWrap(const Napi::CallbackInfo& info) : Napi::ObjectWrap<ProcessGroupWrap>(info) {
  info.This().As<Napi::Object>().TypeTag(&kProcessGroupTag);
}

std::shared_ptr<ProcessGroup> ProcessGroupWrap::GroupOf(const Napi::Value& value, const char* name) {
  Napi::Env env = value.Env();
  if (!value.IsObject() || !value.As<Napi::Object>().CheckTypeTag(&kProcessGroupTag)) {
    throw Napi::TypeError::New(env, std::string(name) + " must be a ProcessGroup");
  }
  return Unwrap(value.As<Napi::Object>())->initialized(env);
}

std::shared_ptr<ProcessGroup> ProcessGroupWrap::initialized(Napi::Env env) const {
  if (destroyed_) throw coded_error(env, ErrorCode::ProcessGroupDestroyed, "this ProcessGroup has been destroyed");
  if (!group_)
    throw coded_error(env, ErrorCode::ProcessGroupNotInitialized,
                      "this ProcessGroup is not initialized; await init() first");
  return group_;
}

Napi::Value ProcessGroupWrap::Init(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (destroyed_) throw coded_error(env, ErrorCode::ProcessGroupDestroyed, "this ProcessGroup has been destroyed");
  if (initializing_ || group_) throw Napi::Error::New(env, "init() may be called once per ProcessGroup");
  if (info.Length() < 1 || !info[0].IsObject())
    throw Napi::TypeError::New(env, "init(options) needs an options object");
  Napi::Object o = info[0].As<Napi::Object>();
  ProcessGroupOptions options;
  options.world_size = static_cast<int>(integer_field(o, "worldSize", 1, 1 << 20));
  options.rank = static_cast<int>(integer_field(o, "rank", 0, options.world_size - 1));
  options.master_addr = string_field(o, "masterAddr");
  if (options.master_addr.empty())
    throw Napi::RangeError::New(env, "distributed.masterAddr must be a non-empty host name or address");
  options.master_port = static_cast<int>(integer_field(o, "masterPort", 1, 65535));
  options.timeout = std::chrono::milliseconds(integer_field(o, "timeoutMs", 1, 7LL * 24 * 3600 * 1000));
  options.backend = string_field(o, "backend");
  Napi::Value device = o.Get("device");
  options.device = device.IsString() ? device.As<Napi::String>().Utf8Value() : "cpu";  // checked by src/device.ts
  const auto available = ProcessGroup::backends();
  if (std::find(available.begin(), available.end(), options.backend) == available.end()) {
    std::string list;
    for (const auto& b : available) list += (list.empty() ? "'" : ", '") + b + "'";
    throw Napi::RangeError::New(
        env, "distributed.backend '" + options.backend + "' is not available in this build" +
                 (list.empty() ? std::string(" (no distributed support)") : " (available: " + list + ")"));
  }
  initializing_ = true;
  auto* worker = new ProcessGroupInitWorker(env, this, std::move(options));
  return worker->Queue();
}

Napi::Value ProcessGroupWrap::AllReduce(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  auto group = initialized(env);
  if (info.Length() < 1 || !info[0].IsTypedArray() ||
      info[0].As<Napi::TypedArray>().TypedArrayType() != napi_float64_array) {
    throw Napi::TypeError::New(env, "allReduce(values) needs a Float64Array");
  }
  auto array = info[0].As<Napi::Float64Array>();
  // Copied: JS may reuse its buffer while the worker runs.
  std::vector<double> values(array.Data(), array.Data() + array.ElementLength());
  auto* worker = new CollectiveWorker(env, std::move(group), CollectiveWorker::Kind::kAllReduce, std::move(values));
  return worker->Queue();
}

Napi::Value ProcessGroupWrap::Barrier(const Napi::CallbackInfo& info) {
  auto* worker = new CollectiveWorker(info.Env(), initialized(info.Env()), CollectiveWorker::Kind::kBarrier);
  return worker->Queue();
}

Napi::Value ProcessGroupWrap::Destroy(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (initializing_) throw Napi::Error::New(env, "destroy() during init(); await init() first");
  destroyed_ = true;
  auto* worker = new CollectiveWorker(env, std::move(group_), CollectiveWorker::Kind::kRelease);
  return worker->Queue();
}

Napi::Value ProcessGroupWrap::Rank(const Napi::CallbackInfo& info) {
  return Napi::Number::New(info.Env(), initialized(info.Env())->rank());
}
Napi::Value ProcessGroupWrap::WorldSize(const Napi::CallbackInfo& info) {
  return Napi::Number::New(info.Env(), initialized(info.Env())->world_size());
}
Napi::Value ProcessGroupWrap::Backend(const Napi::CallbackInfo& info) {
  return Napi::String::New(info.Env(), initialized(info.Env())->options().backend);
}

void RegisterDistributed(Napi::Env env, Napi::Object exports) {
  exports.Set("ProcessGroup", ProcessGroupWrap::Define(env));
  Napi::Object support = Napi::Object::New(env);
  support.Set("available", ProcessGroup::available());
  Napi::Array backends = Napi::Array::New(env);
  for (const auto& b : ProcessGroup::backends()) backends.Set(backends.Length(), b);
  support.Set("backends", backends);
  exports.Set("distributed", support);
}

}  // namespace bert
