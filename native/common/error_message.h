// The message of an exception for a person: LibTorch's errors without their C++ backtrace.
#pragma once

#include <c10/util/Exception.h>

#include <exception>
#include <string>

namespace bert {

inline std::string error_message(const std::exception& e) {
  if (const auto* torch_error = dynamic_cast<const c10::Error*>(&e)) return torch_error->what_without_backtrace();
  return e.what();
}

}  // namespace bert
