#include "sequence_classifier.h"

#include <stdexcept>

#include "bert_for_sequence_classification.h"
#include "distilbert_for_sequence_classification.h"
#include "electra_for_sequence_classification.h"
#include "roberta_for_sequence_classification.h"

namespace bert {

SequenceClassifier make_sequence_classifier(const BertConfig& config) {
  config.validate();
  if (config.model_type == "bert") return std::make_shared<BertForSequenceClassificationImpl>(config);
  // XLM-RoBERTa is RoBERTa's code under another name (transformers' modeling_xlm_roberta is a copy).
  if (config.model_type == "roberta" || config.model_type == "xlm-roberta")
    return std::make_shared<RobertaForSequenceClassificationImpl>(config);
  if (config.model_type == "distilbert") return std::make_shared<DistilBertForSequenceClassificationImpl>(config);
  if (config.model_type == "electra") return std::make_shared<ElectraForSequenceClassificationImpl>(config);
  throw std::invalid_argument("config.model_type '" + config.model_type + "' has no native model");
}

}  // namespace bert
