// The benchmark addon, bert_trainer_bench.node (CMakeLists.txt's bert_trainer_bench target; not part of
// bert_trainer.node): single native functions timed alone, for scripts that compare their settings.
#include <napi.h>

#include "bench_functions.h"

namespace {

Napi::Object InitBenchAddon(Napi::Env env, Napi::Object exports) {
  exports.Set("timeAdamWStep", Napi::Function::New(env, bert::TimeAdamWStep, "timeAdamWStep"));
  exports.Set("timePackedGemm", Napi::Function::New(env, bert::TimePackedGemm, "timePackedGemm"));
  return exports;
}

}  // namespace

NODE_API_MODULE(bert_trainer_bench, InitBenchAddon)
