// The one exception type for unreadable or unwritable checkpoint files.
// Its message always starts with the file, so that an error surfacing in JavaScript
// ("model.safetensors: tensor 'x': data_offsets [0, 12] hold 12 bytes but dtype F32 and
// shape [2, 2] need 16") tells the user which file to look at without a stack trace.
// Readers and writers throw only this; they never abort or assert, because a bad file must not
// take the Node.js process down.
#pragma once

#include <c10/util/Exception.h>

#include <exception>
#include <stdexcept>
#include <string>

namespace bert {

struct CheckpointError : std::runtime_error {
  CheckpointError(const std::string& file, const std::string& detail)
      : std::runtime_error(file + ": " + detail), file(file), detail(detail) {}

  std::string file;    // the checkpoint file (or a name for it when read from memory)
  std::string detail;  // what is wrong, naming the key / expected vs actual where it applies
};

// Runs `fn` and turns any other exception it throws (LibTorch's c10::Error, std::bad_alloc, ...) into
// a CheckpointError naming `file` and what we were `doing` ("cannot read", "cannot write").
template <typename Fn>
auto with_file_context(const std::string& file, const char* doing, Fn&& fn) -> decltype(fn()) {
  try {
    return fn();
  } catch (const CheckpointError&) {
    throw;
  } catch (const c10::Error& e) {
    throw CheckpointError(file, std::string(doing) + ": " + e.what_without_backtrace());  // no C++ backtrace for users
  } catch (const std::bad_alloc&) {
    throw CheckpointError(file, std::string(doing) + ": out of memory");
  } catch (const std::exception& e) {
    throw CheckpointError(file, std::string(doing) + ": " + e.what());
  }
}

}  // namespace bert
