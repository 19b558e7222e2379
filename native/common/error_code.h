// The stable codes of the errors a caller may branch on, listed once: the JS Error of a native failure carries one as
// `code` ("ERR_MODEL_BUSY", ...), and the addon exports the list as `errorCodes` ({ MODEL_BUSY: 'ERR_MODEL_BUSY' }).
// Plain C++ (no N-API): the model, training and checkpoint code throws CodedError; native/addon/js_errors.h turns it
// into the JS Error. Messages stay free text for people; codes are what programs compare.
#pragma once

#include <c10/util/Exception.h>

#include <exception>
#include <new>
#include <optional>
#include <stdexcept>
#include <string>

#include "error_message.h"

namespace bert {

// X(Enumerator, JS_KEY): the JS code is "ERR_" JS_KEY. Append only; a code once published keeps its meaning.
#define BERT_ERROR_CODES(X)                                                                                        \
  X(ModelBusy, MODEL_BUSY)                            /* another call holds the model's lock; retry after it */    \
  X(ModelDisposed, MODEL_DISPOSED)                    /* dispose() was called: load the model again */             \
  X(ModelNotLoaded, MODEL_NOT_LOADED)                 /* used before load() resolved */                            \
  X(OptimizerNotConfigured, OPTIMIZER_NOT_CONFIGURED) /* training call before configureOptimizer() */              \
  X(NonFiniteLoss, NON_FINITE_LOSS)                   /* a training step's loss or gradient norm was NaN or inf */ \
  X(OutOfMemory, OUT_OF_MEMORY)                       /* host or device memory exhausted */                        \
  X(BadCheckpoint, BAD_CHECKPOINT)                    /* a checkpoint file cannot be opened or is malformed */     \
  X(CheckpointMismatch, CHECKPOINT_MISMATCH)          /* a readable checkpoint that does not fit the model */      \
  X(CheckpointWriteFailed, CHECKPOINT_WRITE_FAILED)   /* a checkpoint file could not be written */                 \
  X(NoDistributed, NO_DISTRIBUTED)                    /* this build's LibTorch has no c10d */                      \
  X(DistributedRendezvous, DISTRIBUTED_RENDEZVOUS)    /* the ranks did not all meet (timeout, address, port) */    \
  X(DistributedCollective, DISTRIBUTED_COLLECTIVE)    /* a collective failed: another rank exited or hung */       \
  X(ProcessGroupNotInitialized, PROCESS_GROUP_NOT_INITIALIZED) /* used before init() resolved */                   \
  X(ProcessGroupDestroyed, PROCESS_GROUP_DESTROYED)            /* used after destroy() */

enum class ErrorCode {
#define BERT_ERROR_CODE_ENUMERATOR(name, key) name,
  BERT_ERROR_CODES(BERT_ERROR_CODE_ENUMERATOR)
#undef BERT_ERROR_CODE_ENUMERATOR
};

// The JS `code`: "ERR_MODEL_BUSY".
constexpr const char* error_code_name(ErrorCode code) {
  switch (code) {
#define BERT_ERROR_CODE_NAME(name, key) \
  case ErrorCode::name:                 \
    return "ERR_" #key;
    BERT_ERROR_CODES(BERT_ERROR_CODE_NAME)
#undef BERT_ERROR_CODE_NAME
  }
  return "ERR_UNKNOWN";
}

// An error with a code; the message says what happened to a person.
class CodedError : public std::runtime_error {
 public:
  CodedError(ErrorCode code, const std::string& message) : std::runtime_error(message), code_(code) {}
  ErrorCode code() const { return code_; }

 private:
  ErrorCode code_;
};

// LibTorch reports exhausted memory as c10::OutOfMemoryError (CUDA), or as a plain c10::Error whose message says so
// (the CPU allocator); the standard library as std::bad_alloc.
inline bool is_out_of_memory(const std::exception& e) {
  if (dynamic_cast<const c10::OutOfMemoryError*>(&e) || dynamic_cast<const std::bad_alloc*>(&e)) return true;
  const std::string message = error_message(e);
  return message.find("out of memory") != std::string::npos ||
         message.find("can't allocate memory") != std::string::npos ||
         message.find("Cannot allocate memory") != std::string::npos;
}

// The code of any exception: a CodedError's own, OutOfMemory for exhausted memory, else none.
inline std::optional<ErrorCode> error_code_of(const std::exception& e) {
  if (const auto* coded = dynamic_cast<const CodedError*>(&e)) return coded->code();
  if (is_out_of_memory(e)) return ErrorCode::OutOfMemory;
  return std::nullopt;
}

}  // namespace bert
