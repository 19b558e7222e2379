// The GEMM benchmark's function in bert_trainer_bench.node (bench_addon.cpp): times the inference path's matrix product
// (native/model/packed_gemm.h) alone, y[m, n] = x[m, k] · Wᵀ + b with W packed once, on the inference threads.
//   timePackedGemm({ m, k, n, threads, warmup, repeats }) -> { millis: number[] (each timed call), isa, tileRows,
//                  kBlock (how packed_gemm ran: the environment's BERT_TRAINER_GEMM_* settings, read once a process) }
#include <ATen/ATen.h>
#include <napi.h>

#include <chrono>
#include <stdexcept>
#include <string>
#include <vector>

#include "../common/error_message.h"
#include "../model/packed_gemm.h"
#include "bench_functions.h"
#include "bench_options.h"

namespace bert {

Napi::Value TimePackedGemm(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 1 || !info[0].IsObject()) {
    throw Napi::TypeError::New(env, "timePackedGemm(options: { m, k, n, threads, warmup, repeats })");
  }
  Napi::Object options = info[0].As<Napi::Object>();
  const int64_t m = count_field(options, "m", 1), k = count_field(options, "k", 1), n = count_field(options, "n", 1);
  const int64_t threads = count_field(options, "threads", 1);
  const int64_t warmup = count_field(options, "warmup", 0), repeats = count_field(options, "repeats", 1);
  if (n % kPanelWidth != 0) {
    throw Napi::RangeError::New(env, "options.n must be a multiple of " + std::to_string(kPanelWidth));
  }
  if (!packed_gemm_available()) throw Napi::Error::New(env, "this CPU does not run the packed GEMM (AVX2 and FMA)");

  std::vector<double> millis;
  try {
    const at::Tensor weight = at::randn({n, k}) * 0.02, bias = at::randn({n}) * 0.02;  // [n, k], [n]
    const at::Tensor x = at::randn({m, k});                                            // [m, k]
    at::Tensor y = at::empty({m, n});                                                  // [m, n]
    const PackedMatrix packed = pack_matrix(weight, bias);
    const int64_t panels = n / kPanelWidth;
    for (int64_t i = 0; i < warmup + repeats; ++i) {
      const auto start = std::chrono::steady_clock::now();
      packed_gemm(x.data_ptr<float>(), m, k, packed, 0, panels, y.data_ptr<float>(), n, static_cast<int>(threads));
      const auto end = std::chrono::steady_clock::now();
      if (i >= warmup) millis.push_back(std::chrono::duration<double, std::milli>(end - start).count());
    }
    // The product is checked, so a setting that computes the wrong thing cannot look fast.
    const double error = (y - at::addmm(bias, x, weight.t())).abs().max().item<double>();
    if (!(error <= 1e-3)) throw std::runtime_error("packed_gemm differs from addmm by " + std::to_string(error));
  } catch (const std::exception& e) {
    throw Napi::Error::New(env, error_message(e));
  }
  const PackedGemmBlocking blocking = packed_gemm_blocking();
  Napi::Object out = Napi::Object::New(env);
  Napi::Array times = Napi::Array::New(env, millis.size());
  for (size_t i = 0; i < millis.size(); ++i) times.Set(static_cast<uint32_t>(i), millis[i]);
  out.Set("millis", times);
  out.Set("isa", blocking.isa);
  out.Set("tileRows", static_cast<double>(blocking.tile_rows));
  out.Set("kBlock", static_cast<double>(blocking.k_block));
  return out;
}

}  // namespace bert
