#include "js_errors.h"

#include "../common/error_message.h"

namespace bert {

Napi::Error coded_error(Napi::Env env, ErrorCode code, const std::string& message) {
  Napi::Error error = Napi::Error::New(env, message);
  set_error_code(error, code);
  return error;
}

void set_error_code(const Napi::Error& error, std::optional<ErrorCode> code) {
  if (code) error.Value().Set("code", Napi::String::New(error.Env(), error_code_name(*code)));
}

NativeFailure native_failure(const std::exception& e) { return {error_message(e), error_code_of(e)}; }

Napi::Error js_error(Napi::Env env, const std::exception& e) {
  const NativeFailure failure = native_failure(e);
  Napi::Error error = Napi::Error::New(env, failure.message);
  set_error_code(error, failure.code);
  return error;
}

Napi::Object error_codes_object(Napi::Env env) {
  Napi::Object codes = Napi::Object::New(env);
#define BERT_ERROR_CODE_PROPERTY(name, key) codes.Set(#key, error_code_name(ErrorCode::name));
  BERT_ERROR_CODES(BERT_ERROR_CODE_PROPERTY)
#undef BERT_ERROR_CODE_PROPERTY
  codes.Freeze();
  return codes;
}

}  // namespace bert
