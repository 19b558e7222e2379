// The optimizer benchmark's function in bert_trainer_bench.node (bench_addon.cpp): times our AdamW step
// (native/training/adamw.h) alone, on parameters of the given names and shapes grouped as training groups them
// (native/training/parameter_groups.h), every gradient N(0, 1).
//   timeAdamWStep(parameters: { name, shape }[], options: { beta1, beta2, eps, weightDecay, learningRate, threads,
//                 warmup, repeats }) -> number[]: milliseconds of each of the `repeats` timed steps
// Synchronous: it blocks the JS thread for the whole measurement (a benchmark script has nothing else to do).
#include <ATen/ATen.h>
#include <ATen/Parallel.h>
#include <c10/core/GradMode.h>
#include <napi.h>

#include <chrono>
#include <cmath>
#include <string>
#include <vector>

#include "../common/error_message.h"
#include "../training/adamw.h"
#include "../training/parameter_groups.h"
#include "bench_functions.h"
#include "bench_options.h"

namespace bert {

namespace {

// [{ name, shape }] -> fp32 CPU parameters of those shapes, N(0, 0.02) (the values do not change the timing).
StateDict parameters_arg(const Napi::Value& value) {
  Napi::Env env = value.Env();
  if (!value.IsArray()) throw Napi::TypeError::New(env, "parameters must be an array of { name, shape }");
  Napi::Array array = value.As<Napi::Array>();
  StateDict parameters;
  c10::NoGradGuard no_grad;
  for (uint32_t i = 0; i < array.Length(); ++i) {
    const std::string where = "parameters[" + std::to_string(i) + "]";
    Napi::Value item = array.Get(i);
    if (!item.IsObject()) throw Napi::TypeError::New(env, where + " must be an object { name, shape }");
    Napi::Object entry = item.As<Napi::Object>();
    Napi::Value name = entry.Get("name"), shape = entry.Get("shape");
    if (!name.IsString()) throw Napi::TypeError::New(env, where + ".name must be a string");
    if (!shape.IsArray()) throw Napi::TypeError::New(env, where + ".shape must be an array of sizes");
    Napi::Array sizes_js = shape.As<Napi::Array>();
    std::vector<int64_t> sizes;
    for (uint32_t d = 0; d < sizes_js.Length(); ++d) {
      Napi::Value size = sizes_js.Get(d);
      const double s = size.IsNumber() ? size.As<Napi::Number>().DoubleValue() : -1.0;
      if (!(s >= 0 && s <= 1e12) || std::floor(s) != s) {
        throw Napi::RangeError::New(env, where + ".shape[" + std::to_string(d) + "] must be a non-negative integer");
      }
      sizes.push_back(static_cast<int64_t>(s));
    }
    at::Tensor param = at::empty(sizes, at::kFloat).normal_(0.0, 0.02);
    param.set_requires_grad(true);
    parameters.emplace_back(name.As<Napi::String>().Utf8Value(), param);
  }
  return parameters;
}

}  // namespace

Napi::Value TimeAdamWStep(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 2 || !info[1].IsObject()) {
    throw Napi::TypeError::New(env, "timeAdamWStep(parameters: { name, shape }[], options: object)");
  }
  StateDict parameters = parameters_arg(info[0]);
  Napi::Object options = info[1].As<Napi::Object>();
  AdamWOptions adamw;
  adamw.beta1 = number_field(options, "beta1");
  adamw.beta2 = number_field(options, "beta2");
  adamw.eps = number_field(options, "eps");
  adamw.weight_decay = number_field(options, "weightDecay");
  const double learning_rate = number_field(options, "learningRate");
  const int64_t threads = count_field(options, "threads", 1);
  const int64_t warmup = count_field(options, "warmup", 0);
  const int64_t repeats = count_field(options, "repeats", 1);

  std::vector<double> millis;
  try {
    at::set_num_threads(static_cast<int>(threads));
    AdamW optimizer(weight_decay_groups(parameters, adamw.weight_decay), adamw);
    for (auto& entry : parameters) entry.second.mutable_grad() = at::randn_like(entry.second);
    for (int64_t i = 0; i < warmup + repeats; ++i) {
      const auto start = std::chrono::steady_clock::now();
      optimizer.step(learning_rate);
      const auto end = std::chrono::steady_clock::now();
      if (i >= warmup) millis.push_back(std::chrono::duration<double, std::milli>(end - start).count());
    }
  } catch (const std::exception& e) {
    throw Napi::Error::New(env, error_message(e));
  }
  Napi::Array out = Napi::Array::New(env, millis.size());
  for (size_t i = 0; i < millis.size(); ++i) out.Set(static_cast<uint32_t>(i), millis[i]);
  return out;
}

}  // namespace bert
