// Reading the benchmark addon's options (bert_trainer_bench.node): a number or a count field of an options object,
// with a TypeError or RangeError that names the field. The scripts that call these pass what they parsed themselves.
#pragma once

#include <napi.h>

#include <cmath>
#include <cstdint>
#include <string>

namespace bert {

inline double number_field(const Napi::Object& object, const char* field) {
  Napi::Value v = object.Get(field);
  if (!v.IsNumber() || !std::isfinite(v.As<Napi::Number>().DoubleValue())) {
    throw Napi::TypeError::New(object.Env(), std::string("options.") + field + " must be a finite number");
  }
  return v.As<Napi::Number>().DoubleValue();
}

inline int64_t count_field(const Napi::Object& object, const char* field, int64_t min) {
  const double d = number_field(object, field);
  if (std::floor(d) != d || d < static_cast<double>(min) || d > 1e9) {
    throw Napi::RangeError::New(object.Env(), std::string("options.") + field + " must be an integer >= " +
                                                  std::to_string(min) + ", got " + std::to_string(d));
  }
  return static_cast<int64_t>(d);
}

}  // namespace bert
