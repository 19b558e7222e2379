// JavaScript entry points for reading checkpoints from disk (the model's own save/load lives elsewhere).
#pragma once

#ifndef NAPI_VERSION
#define NAPI_VERSION 8
#endif
#include <napi.h>

namespace bert {

// Adds readCheckpoint(path: string): Promise<Array<{ name, dtype, shape, checksum }>> to `exports`.
void RegisterCheckpointFunctions(Napi::Env env, Napi::Object exports);

}  // namespace bert
