// JS Errors with a `code` (the list: native/common/error_code.h). Synchronous entry points throw coded_error(); workers
// keep a NativeFailure of what their thread threw and build the Error on the main thread; the addon exports the codes
// as `errorCodes`.
#pragma once

#include <napi.h>

#include <exception>
#include <optional>
#include <string>

#include "../common/error_code.h"

namespace bert {

// An Error with `code` set, to throw from an entry point: throw coded_error(env, ErrorCode::ModelBusy, "...").
Napi::Error coded_error(Napi::Env env, ErrorCode code, const std::string& message);

// Sets `code` on a JS Error (nothing for no code).
void set_error_code(const Napi::Error& error, std::optional<ErrorCode> code);

// What a worker thread keeps of a native exception until the main thread builds the JS Error.
struct NativeFailure {
  std::string message;  // without LibTorch's backtrace
  std::optional<ErrorCode> code;
};
NativeFailure native_failure(const std::exception& e);

// The JS Error of a native exception: its message, and its code where it has one.
Napi::Error js_error(Napi::Env env, const std::exception& e);

// A frozen { MODEL_BUSY: 'ERR_MODEL_BUSY', ... } of every code.
Napi::Object error_codes_object(Napi::Env env);

}  // namespace bert
