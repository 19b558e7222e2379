// The benchmark addon's functions (bert_trainer_bench.node, bench_addon.cpp). Each is synchronous: it blocks the JS
// thread for the whole measurement (a benchmark script has nothing else to do).
#pragma once

#include <napi.h>

namespace bert {

// optimizer_timing.cpp: timeAdamWStep(parameters, options) -> number[] (scripts/bench-optimizer.js)
Napi::Value TimeAdamWStep(const Napi::CallbackInfo& info);

// gemm_timing.cpp: timePackedGemm(options) -> { millis, isa, tileRows, kBlock } (scripts/bench/gemm.js)
Napi::Value TimePackedGemm(const Napi::CallbackInfo& info);

}  // namespace bert
