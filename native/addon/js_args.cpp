#include "js_args.h"

#include <ATen/ATen.h>

#include <cmath>
#include <limits>

namespace bert {

namespace {
Napi::Value arg(const Napi::CallbackInfo& info, size_t index) {
  return index < info.Length() ? info[index] : info.Env().Undefined();
}

double number_field(const Napi::Object& object, const char* field) {
  Napi::Value value = object.Get(field);
  if (!value.IsNumber()) throw Napi::TypeError::New(object.Env(), std::string("config.") + field + " must be a number");
  return value.As<Napi::Number>().DoubleValue();
}

int64_t integer_field(const Napi::Object& object, const char* field) {
  double value = number_field(object, field);
  if (!std::isfinite(value) || std::floor(value) != value || std::fabs(value) > 9007199254740991.0) {
    throw Napi::TypeError::New(object.Env(), std::string("config.") + field + " must be an integer");
  }
  return static_cast<int64_t>(value);
}

std::string string_field(const Napi::Object& object, const char* field) {
  Napi::Value value = object.Get(field);
  if (!value.IsString()) throw Napi::TypeError::New(object.Env(), std::string("config.") + field + " must be a string");
  return value.As<Napi::String>().Utf8Value();
}
}  // namespace

std::string string_arg(const Napi::CallbackInfo& info, size_t index, const char* name) {
  Napi::Value value = arg(info, index);
  if (!value.IsString()) throw Napi::TypeError::New(info.Env(), std::string(name) + " must be a string");
  return value.As<Napi::String>().Utf8Value();
}

int64_t integer_arg(const Napi::CallbackInfo& info, size_t index, const char* name, int64_t min, int64_t max) {
  Napi::Value value = arg(info, index);
  if (!value.IsNumber()) throw Napi::TypeError::New(info.Env(), std::string(name) + " must be an integer");
  double number = value.As<Napi::Number>().DoubleValue();
  if (!std::isfinite(number) || std::floor(number) != number) {
    throw Napi::TypeError::New(info.Env(), std::string(name) + " must be an integer");
  }
  if (number < static_cast<double>(min) || number > static_cast<double>(max)) {
    throw Napi::RangeError::New(info.Env(), std::string(name) + " must be in [" + std::to_string(min) + ", " +
                                                std::to_string(max) + "], got " +
                                                std::to_string(static_cast<int64_t>(number)));
  }
  return static_cast<int64_t>(number);
}

double number_option(const Napi::Object& options, const char* field) {
  Napi::Value v = options.Get(field);
  if (!v.IsNumber()) throw Napi::TypeError::New(options.Env(), std::string("internal: ") + field + " must be a number");
  const double d = v.As<Napi::Number>().DoubleValue();
  if (!std::isfinite(d)) {
    throw Napi::RangeError::New(options.Env(),
                                std::string("internal: ") + field + " must be finite, got " + std::to_string(d));
  }
  return d;
}

int64_t integer_option(const Napi::Object& options, const char* field, int64_t min) {
  const double d = number_option(options, field);
  if (std::floor(d) != d || d < static_cast<double>(min) || d > 9007199254740991.0) {
    throw Napi::RangeError::New(options.Env(), std::string("internal: ") + field + " must be an integer >= " +
                                                   std::to_string(min) + ", got " + std::to_string(d));
  }
  return static_cast<int64_t>(d);
}

bool boolean_arg(const Napi::CallbackInfo& info, size_t index, const char* name) {
  Napi::Value value = arg(info, index);
  if (!value.IsBoolean()) throw Napi::TypeError::New(info.Env(), std::string(name) + " must be a boolean");
  return value.As<Napi::Boolean>().Value();
}

std::vector<std::string> string_array_arg(const Napi::CallbackInfo& info, size_t index, const char* name) {
  Napi::Value value = arg(info, index);
  if (!value.IsArray()) throw Napi::TypeError::New(info.Env(), std::string(name) + " must be an array of strings");
  Napi::Array array = value.As<Napi::Array>();
  std::vector<std::string> out;
  for (uint32_t i = 0; i < array.Length(); ++i) {
    Napi::Value item = array.Get(i);
    if (!item.IsString()) {
      throw Napi::TypeError::New(info.Env(), std::string(name) + "[" + std::to_string(i) + "] must be a string");
    }
    out.push_back(item.As<Napi::String>().Utf8Value());
  }
  return out;
}

std::vector<int32_t> int32_array_arg(const Napi::CallbackInfo& info, size_t index, const char* name, size_t length) {
  Napi::Value value = arg(info, index);
  if (!value.IsTypedArray() || value.As<Napi::TypedArray>().TypedArrayType() != napi_int32_array) {
    throw Napi::TypeError::New(info.Env(), std::string(name) + " must be an Int32Array");
  }
  Napi::Int32Array array = value.As<Napi::Int32Array>();
  if (array.ElementLength() != length) {
    throw Napi::RangeError::New(info.Env(), std::string(name) + " has " + std::to_string(array.ElementLength()) +
                                                " elements, expected " + std::to_string(length));
  }
  return std::vector<int32_t>(array.Data(), array.Data() + length);
}

BertConfig config_from_js(const Napi::Object& object) {
  BertConfig config;
  Napi::Value model_type = object.Get("model_type");
  if (!model_type.IsUndefined()) config.model_type = string_field(object, "model_type");
  Napi::Value embedding_size = object.Get("embedding_size");
  if (!embedding_size.IsUndefined() && !embedding_size.IsNull())
    config.embedding_size = integer_field(object, "embedding_size");
  Napi::Value sinusoidal = object.Get("sinusoidal_pos_embds");
  config.sinusoidal_pos_embds = sinusoidal.IsBoolean() && sinusoidal.As<Napi::Boolean>().Value();
  config.vocab_size = integer_field(object, "vocab_size");
  config.hidden_size = integer_field(object, "hidden_size");
  config.num_hidden_layers = integer_field(object, "num_hidden_layers");
  config.num_attention_heads = integer_field(object, "num_attention_heads");
  config.intermediate_size = integer_field(object, "intermediate_size");
  config.hidden_act = string_field(object, "hidden_act");
  config.hidden_dropout_prob = number_field(object, "hidden_dropout_prob");
  config.attention_probs_dropout_prob = number_field(object, "attention_probs_dropout_prob");
  Napi::Value classifier_dropout = object.Get("classifier_dropout");
  if (!classifier_dropout.IsNull() && !classifier_dropout.IsUndefined()) {
    config.classifier_dropout = number_field(object, "classifier_dropout");
  }
  config.max_position_embeddings = integer_field(object, "max_position_embeddings");
  config.type_vocab_size = integer_field(object, "type_vocab_size");
  config.initializer_range = number_field(object, "initializer_range");
  config.layer_norm_eps = number_field(object, "layer_norm_eps");
  config.pad_token_id = integer_field(object, "pad_token_id");
  config.position_embedding_type = string_field(object, "position_embedding_type");
  config.num_labels = integer_field(object, "num_labels");
  try {
    config.validate();
  } catch (const std::invalid_argument& e) {
    throw Napi::RangeError::New(object.Env(), e.what());
  }
  return config;
}

Napi::Array to_js_strings(Napi::Env env, const std::vector<std::string>& values) {
  Napi::Array out = Napi::Array::New(env, values.size());
  for (size_t i = 0; i < values.size(); ++i) out.Set(static_cast<uint32_t>(i), Napi::String::New(env, values[i]));
  return out;
}

Napi::Array to_js_shape(Napi::Env env, at::IntArrayRef sizes) {
  Napi::Array out = Napi::Array::New(env, sizes.size());
  for (size_t i = 0; i < sizes.size(); ++i)
    out.Set(static_cast<uint32_t>(i), Napi::Number::New(env, static_cast<double>(sizes[i])));
  return out;
}

}  // namespace bert
