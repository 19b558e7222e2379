#include "batch_arg.h"

#include <cmath>
#include <limits>

namespace bert {

namespace {

int64_t integer_property(const Napi::Object& object, const std::string& name, const char* field, int64_t min,
                         int64_t max) {
  Napi::Value v = object.Get(field);
  double d = v.IsNumber() ? v.As<Napi::Number>().DoubleValue() : std::nan("");
  if (!std::isfinite(d) || std::floor(d) != d)
    throw Napi::TypeError::New(object.Env(), name + "." + field + " must be an integer");
  if (d < static_cast<double>(min) || d > static_cast<double>(max)) {
    throw Napi::RangeError::New(
        object.Env(), name + "." + field + " must be in [" + std::to_string(min) + ", " + std::to_string(max) + "]");
  }
  return static_cast<int64_t>(d);
}

template <typename T, napi_typedarray_type Kind>
std::vector<T> typed_property(const Napi::Object& object, const std::string& name, const char* field, size_t length,
                              const char* type_name, bool optional) {
  Napi::Value v = object.Get(field);
  if (optional && (v.IsUndefined() || v.IsNull())) return {};
  if (!v.IsTypedArray() || v.As<Napi::TypedArray>().TypedArrayType() != Kind) {
    throw Napi::TypeError::New(object.Env(), name + "." + field + " must be a " + type_name);
  }
  auto array = v.As<Napi::TypedArrayOf<T>>();
  if (array.ElementLength() != length) {
    throw Napi::RangeError::New(object.Env(), name + "." + field + " has " + std::to_string(array.ElementLength()) +
                                                  " elements, expected " + std::to_string(length));
  }
  return std::vector<T>(array.Data(), array.Data() + length);
}

void check_range(Napi::Env env, const std::vector<int32_t>& values, const std::string& what, int64_t seq_len,
                 int64_t limit) {
  for (size_t i = 0; i < values.size(); ++i) {
    if (values[i] < 0 || values[i] >= limit) {
      throw Napi::RangeError::New(env, what + "[" + std::to_string(i / seq_len) + "][" + std::to_string(i % seq_len) +
                                           "] = " + std::to_string(values[i]) + " is outside [0, " +
                                           std::to_string(limit) + ")");
    }
  }
}

}  // namespace

HostBatch host_batch_from_js(const Napi::Value& value, const std::string& name, const BertConfig& config, LossKind kind,
                             bool labels_required) {
  Napi::Env env = value.Env();
  if (!value.IsObject()) throw Napi::TypeError::New(env, name + " must be an object");
  Napi::Object object = value.As<Napi::Object>();
  HostBatch b;
  b.batch = integer_property(object, name, "batchSize", 1, std::numeric_limits<int32_t>::max());
  b.seq_len = integer_property(object, name, "sequenceLength", 1, config.max_sequence_length());
  if (b.batch * b.seq_len > (int64_t{1} << 31))
    throw Napi::RangeError::New(env, name + ": batchSize x sequenceLength is too large");
  const size_t n = static_cast<size_t>(b.batch * b.seq_len);
  b.ids = typed_property<int32_t, napi_int32_array>(object, name, "inputIds", n, "Int32Array", false);
  b.mask = typed_property<int32_t, napi_int32_array>(object, name, "attentionMask", n, "Int32Array", true);
  b.types = typed_property<int32_t, napi_int32_array>(object, name, "tokenTypeIds", n, "Int32Array", true);
  check_range(env, b.ids, name + ".inputIds", b.seq_len, config.vocab_size);
  check_range(env, b.mask, name + ".attentionMask", b.seq_len, 2);
  check_range(env, b.types, name + ".tokenTypeIds", b.seq_len, config.type_vocab_size);

  Napi::Value labels = object.Get("labels");
  if (labels.IsUndefined() || labels.IsNull()) {
    if (labels_required) throw Napi::TypeError::New(env, name + ".labels is required for training");
    return b;
  }
  b.has_labels = true;
  if (kind == LossKind::CrossEntropy) {
    b.class_labels = typed_property<int32_t, napi_int32_array>(object, name, "labels", static_cast<size_t>(b.batch),
                                                               "Int32Array", false);
    for (size_t i = 0; i < b.class_labels.size(); ++i) {
      if (b.class_labels[i] < 0 || b.class_labels[i] >= config.num_labels) {
        throw Napi::RangeError::New(env, name + ".labels[" + std::to_string(i) +
                                             "] = " + std::to_string(b.class_labels[i]) + " is outside [0, " +
                                             std::to_string(config.num_labels) + ")");
      }
    }
  } else {
    b.float_labels = typed_property<float, napi_float32_array>(
        object, name, "labels", static_cast<size_t>(b.batch * config.num_labels), "Float32Array", false);
    for (size_t i = 0; i < b.float_labels.size(); ++i) {
      if (!std::isfinite(b.float_labels[i])) {
        throw Napi::RangeError::New(env, name + ".labels[" + std::to_string(i) + "] is not a finite number");
      }
    }
  }
  return b;
}

}  // namespace bert
