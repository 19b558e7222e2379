// A HostBatch (native/training/host_batch.h) read from its JS object on the main thread, every value checked against
// the model's config: the checks guard memory (lengths, token and label indices), so they stay in C++.
#pragma once

#include <napi.h>

#include <string>

#include "../model/bert_config.h"
#include "../training/host_batch.h"
#include "../training/loss.h"

namespace bert {

// Reads { inputIds, attentionMask?, tokenTypeIds?, labels?, batchSize, sequenceLength } and checks every
// value against the config; `name` prefixes errors ("batches[3]").
HostBatch host_batch_from_js(const Napi::Value& value, const std::string& name, const BertConfig& config, LossKind kind,
                             bool labels_required);

}  // namespace bert
