// The exception types for unreadable or unwritable checkpoint files.
// Their message always starts with the file, so that an error surfacing in JavaScript
// ("model.safetensors: tensor 'x': data_offsets [0, 12] hold 12 bytes but dtype F32 and
// shape [2, 2] need 16") tells the user which file to look at without a stack trace.
// Readers and writers throw only these; they never abort or assert, because a bad file must not
// take the Node.js process down. Their code (native/common/error_code.h) is ERR_BAD_CHECKPOINT for a file that
// cannot be read, ERR_CHECKPOINT_WRITE_FAILED for one that cannot be written, ERR_OUT_OF_MEMORY when memory ran out.
#pragma once

#include <c10/util/Exception.h>

#include <exception>
#include <new>
#include <stdexcept>
#include <string>

#include "../common/error_code.h"

namespace bert {

struct CheckpointError : CodedError {
  CheckpointError(const std::string& file, const std::string& detail, ErrorCode code = ErrorCode::BadCheckpoint)
      : CodedError(code, file + ": " + detail), file(file), detail(detail) {}

  std::string file;    // the checkpoint file (or a name for it when read from memory)
  std::string detail;  // what is wrong, naming the key / expected vs actual where it applies
};

// A checkpoint (or the state dict given for it) that cannot be written.
struct CheckpointWriteError : CheckpointError {
  CheckpointWriteError(const std::string& file, const std::string& detail)
      : CheckpointError(file, detail, ErrorCode::CheckpointWriteFailed) {}
};

// Runs `fn` and turns any other exception it throws (LibTorch's c10::Error, std::bad_alloc, ...) into
// a CheckpointError naming `file` and what we were `doing` ("cannot read", "cannot write"), with `code` (or
// ErrorCode::OutOfMemory when memory ran out).
template <typename Fn>
auto with_file_context(const std::string& file, const char* doing, ErrorCode code, Fn&& fn) -> decltype(fn()) {
  try {
    return fn();
  } catch (const CheckpointError&) {
    throw;
  } catch (const c10::Error& e) {
    throw CheckpointError(file, std::string(doing) + ": " + e.what_without_backtrace(),  // no C++ backtrace for users
                          is_out_of_memory(e) ? ErrorCode::OutOfMemory : code);
  } catch (const std::bad_alloc&) {
    throw CheckpointError(file, std::string(doing) + ": out of memory", ErrorCode::OutOfMemory);
  } catch (const std::exception& e) {
    throw CheckpointError(file, std::string(doing) + ": " + e.what(), code);
  }
}

}  // namespace bert
