// Argument checks at the N-API boundary: each failure is a TypeError or RangeError naming the argument,
// so a bad call from JS never reaches LibTorch.
#pragma once

#include <ATen/ATen.h>
#include <napi.h>

#include <cstdint>
#include <string>
#include <vector>

#include "../model/bert_config.h"

namespace bert {

std::string string_arg(const Napi::CallbackInfo& info, size_t index, const char* name);
int64_t integer_arg(const Napi::CallbackInfo& info, size_t index, const char* name, int64_t min, int64_t max);
bool boolean_arg(const Napi::CallbackInfo& info, size_t index, const char* name);
std::vector<std::string> string_array_arg(const Napi::CallbackInfo& info, size_t index, const char* name);

// Options that arrive validated by the JS side (src/train/trainer-options.ts owns their ranges, the checkpoint readers
// the files'), only asserted here: a TypeError or RangeError "internal: <field> ...".
double number_option(const Napi::Object& options, const char* field);  // a finite number
// An integer >= min that int64_t holds exactly.
int64_t integer_option(const Napi::Object& options, const char* field, int64_t min);

// An Int32Array of exactly `length` elements, copied so that JS may reuse its buffer while native code runs.
std::vector<int32_t> int32_array_arg(const Napi::CallbackInfo& info, size_t index, const char* name, size_t length);

// The config object that src/config.ts produced (transformers' field names).
BertConfig config_from_js(const Napi::Object& object);

Napi::Array to_js_strings(Napi::Env env, const std::vector<std::string>& values);
Napi::Array to_js_shape(Napi::Env env, at::IntArrayRef sizes);

}  // namespace bert
