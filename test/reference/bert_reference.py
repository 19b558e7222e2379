"""PyTorch reference implementation of Hugging Face ``BertForSequenceClassification``.

This module mirrors ``transformers/models/bert/modeling_bert.py`` (eager attention
path, absolute position embeddings) and ``BertConfig``'s field names and defaults,
module for module, so that

* ``BertForSequenceClassification(config).state_dict()`` has exactly the keys and
  shapes that transformers produces (``bert.embeddings.word_embeddings.weight``,
  ``bert.encoder.layer.{i}.attention.self.query.weight``, ..., ``classifier.bias``);
* the forward pass (embeddings -> encoder -> pooler -> dropout -> classifier) and
  the loss selection by ``problem_type`` give the same numbers as transformers.

Why it exists: ``transformers`` (and ``safetensors``) cannot be installed in this
environment (no network, no pip), yet bert-trainer has to match PyTorch exactly.
This file is the ground truth used by ``test/fixtures/generate.py`` to create the
parity fixtures and by ``test/reference/reload_and_predict.py`` to check the
checkpoints that bert-trainer writes. It depends only on torch and the stdlib.
"""

from __future__ import annotations

import copy
import math
from typing import Any, Dict, Mapping, Optional

import torch
import torch.nn.functional as F
from torch import nn

# --------------------------------------------------------------------------------------
# Config
# --------------------------------------------------------------------------------------

# transformers.BertConfig.__init__ defaults (plus the PretrainedConfig ones we use).
BERT_CONFIG_DEFAULTS: Dict[str, Any] = {
    "vocab_size": 30522,
    "hidden_size": 768,
    "num_hidden_layers": 12,
    "num_attention_heads": 12,
    "intermediate_size": 3072,
    "hidden_act": "gelu",
    "hidden_dropout_prob": 0.1,
    "attention_probs_dropout_prob": 0.1,
    "max_position_embeddings": 512,
    "type_vocab_size": 2,
    "initializer_range": 0.02,
    "layer_norm_eps": 1e-12,
    "pad_token_id": 0,
    "position_embedding_type": "absolute",
    "use_cache": True,
    "classifier_dropout": None,
    "problem_type": None,
}

VALID_PROBLEM_TYPES = ("regression", "single_label_classification", "multi_label_classification")


def resolve_config(raw: Optional[Mapping[str, Any]] = None, **overrides: Any) -> Dict[str, Any]:
    """Return the effective config: BertConfig defaults <- ``raw`` <- ``overrides``.

    Label handling follows PretrainedConfig: ``id2label`` (keys may be strings, as
    in config.json) decides ``num_labels``; otherwise ``num_labels`` (default 2)
    creates ``LABEL_i`` names. The returned ``id2label`` has string keys and
    ``label2id`` int values, i.e. the form transformers writes to config.json.
    """
    cfg: Dict[str, Any] = dict(BERT_CONFIG_DEFAULTS)
    merged: Dict[str, Any] = dict(raw or {})
    merged.update(overrides)
    # Only BertConfig fields are kept; config.json extras (architectures, model_type,
    # torch_dtype, transformers_version, _name_or_path, ...) are irrelevant here.
    cfg.update({k: v for k, v in merged.items() if k in BERT_CONFIG_DEFAULTS})

    id2label = merged.get("id2label")
    if id2label is not None:
        id2label = {str(int(k)): str(v) for k, v in id2label.items()}
        num_labels = len(id2label)
        if "num_labels" in merged and merged["num_labels"] != num_labels:
            raise ValueError(
                f"num_labels={merged['num_labels']} disagrees with id2label ({num_labels} entries)"
            )
    else:
        num_labels = int(merged.get("num_labels", 2))
        id2label = {str(i): f"LABEL_{i}" for i in range(num_labels)}
    cfg["id2label"] = id2label
    cfg["label2id"] = {v: int(k) for k, v in id2label.items()}
    cfg["num_labels"] = num_labels

    if cfg["problem_type"] is not None and cfg["problem_type"] not in VALID_PROBLEM_TYPES:
        raise ValueError(f"unknown problem_type {cfg['problem_type']!r}")
    if cfg["hidden_size"] % cfg["num_attention_heads"] != 0:
        raise ValueError(
            f"hidden_size ({cfg['hidden_size']}) is not a multiple of num_attention_heads "
            f"({cfg['num_attention_heads']})"
        )
    if cfg["position_embedding_type"] != "absolute":
        raise NotImplementedError(
            f"position_embedding_type={cfg['position_embedding_type']!r} is not implemented "
            "by this reference (only 'absolute')"
        )
    if cfg["hidden_act"] not in ACT2FN:
        raise ValueError(f"unknown hidden_act {cfg['hidden_act']!r}")
    return cfg


# --------------------------------------------------------------------------------------
# Activations (transformers/activations.py ACT2FN)
# --------------------------------------------------------------------------------------


def gelu_new(x: torch.Tensor) -> torch.Tensor:
    """transformers NewGELUActivation (tanh approximation, as in Google BERT / GPT-2)."""
    return 0.5 * x * (1.0 + torch.tanh(math.sqrt(2.0 / math.pi) * (x + 0.044715 * torch.pow(x, 3.0))))


def gelu_fast(x: torch.Tensor) -> torch.Tensor:
    return 0.5 * x * (1.0 + torch.tanh(x * 0.7978845608 * (1.0 + 0.044715 * x * x)))


ACT2FN = {
    "gelu": lambda x: F.gelu(x),  # exact erf gelu (GELUActivation)
    "gelu_python": lambda x: x * 0.5 * (1.0 + torch.erf(x / math.sqrt(2.0))),
    "gelu_new": gelu_new,
    "gelu_pytorch_tanh": lambda x: F.gelu(x, approximate="tanh"),
    "gelu_fast": gelu_fast,
    "quick_gelu": lambda x: x * torch.sigmoid(1.702 * x),
    "relu": F.relu,
    "relu6": F.relu6,
    "silu": F.silu,
    "swish": F.silu,
    "tanh": torch.tanh,
    "sigmoid": torch.sigmoid,
    "linear": lambda x: x,
}


# --------------------------------------------------------------------------------------
# Modules (attribute names give HF's state-dict keys)
# --------------------------------------------------------------------------------------


class BertEmbeddings(nn.Module):
    def __init__(self, config: Dict[str, Any]):
        super().__init__()
        self.word_embeddings = nn.Embedding(
            config["vocab_size"], config["hidden_size"], padding_idx=config["pad_token_id"]
        )
        self.position_embeddings = nn.Embedding(config["max_position_embeddings"], config["hidden_size"])
        self.token_type_embeddings = nn.Embedding(config["type_vocab_size"], config["hidden_size"])
        self.LayerNorm = nn.LayerNorm(config["hidden_size"], eps=config["layer_norm_eps"])
        self.dropout = nn.Dropout(config["hidden_dropout_prob"])
        # Non-persistent buffers, as in transformers: not part of state_dict().
        self.register_buffer(
            "position_ids", torch.arange(config["max_position_embeddings"]).expand((1, -1)), persistent=False
        )
        self.register_buffer(
            "token_type_ids", torch.zeros(self.position_ids.size(), dtype=torch.long), persistent=False
        )

    def forward(self, input_ids: torch.Tensor, token_type_ids: Optional[torch.Tensor] = None) -> torch.Tensor:
        seq_length = input_ids.shape[1]
        position_ids = self.position_ids[:, :seq_length]
        if token_type_ids is None:
            token_type_ids = self.token_type_ids[:, :seq_length].expand(input_ids.shape[0], seq_length)
        embeddings = self.word_embeddings(input_ids) + self.token_type_embeddings(token_type_ids)
        embeddings = embeddings + self.position_embeddings(position_ids)
        embeddings = self.LayerNorm(embeddings)
        return self.dropout(embeddings)


class BertSelfAttention(nn.Module):
    def __init__(self, config: Dict[str, Any]):
        super().__init__()
        self.num_attention_heads = config["num_attention_heads"]
        self.attention_head_size = config["hidden_size"] // config["num_attention_heads"]
        self.all_head_size = self.num_attention_heads * self.attention_head_size
        self.query = nn.Linear(config["hidden_size"], self.all_head_size)
        self.key = nn.Linear(config["hidden_size"], self.all_head_size)
        self.value = nn.Linear(config["hidden_size"], self.all_head_size)
        self.dropout = nn.Dropout(config["attention_probs_dropout_prob"])

    def transpose_for_scores(self, x: torch.Tensor) -> torch.Tensor:
        new_shape = x.size()[:-1] + (self.num_attention_heads, self.attention_head_size)
        return x.view(new_shape).permute(0, 2, 1, 3)

    def forward(self, hidden_states: torch.Tensor, attention_mask: Optional[torch.Tensor]) -> torch.Tensor:
        query_layer = self.transpose_for_scores(self.query(hidden_states))
        key_layer = self.transpose_for_scores(self.key(hidden_states))
        value_layer = self.transpose_for_scores(self.value(hidden_states))
        attention_scores = torch.matmul(query_layer, key_layer.transpose(-1, -2))
        attention_scores = attention_scores / math.sqrt(self.attention_head_size)
        if attention_mask is not None:
            attention_scores = attention_scores + attention_mask
        attention_probs = F.softmax(attention_scores, dim=-1)
        attention_probs = self.dropout(attention_probs)
        context_layer = torch.matmul(attention_probs, value_layer)
        context_layer = context_layer.permute(0, 2, 1, 3).contiguous()
        return context_layer.view(context_layer.size()[:-2] + (self.all_head_size,))


class BertSelfOutput(nn.Module):
    def __init__(self, config: Dict[str, Any]):
        super().__init__()
        self.dense = nn.Linear(config["hidden_size"], config["hidden_size"])
        self.LayerNorm = nn.LayerNorm(config["hidden_size"], eps=config["layer_norm_eps"])
        self.dropout = nn.Dropout(config["hidden_dropout_prob"])

    def forward(self, hidden_states: torch.Tensor, input_tensor: torch.Tensor) -> torch.Tensor:
        hidden_states = self.dropout(self.dense(hidden_states))
        return self.LayerNorm(hidden_states + input_tensor)


class BertAttention(nn.Module):
    def __init__(self, config: Dict[str, Any]):
        super().__init__()
        self.self = BertSelfAttention(config)
        self.output = BertSelfOutput(config)

    def forward(self, hidden_states: torch.Tensor, attention_mask: Optional[torch.Tensor]) -> torch.Tensor:
        return self.output(self.self(hidden_states, attention_mask), hidden_states)


class BertIntermediate(nn.Module):
    def __init__(self, config: Dict[str, Any]):
        super().__init__()
        self.dense = nn.Linear(config["hidden_size"], config["intermediate_size"])
        self.intermediate_act_fn = ACT2FN[config["hidden_act"]]

    def forward(self, hidden_states: torch.Tensor) -> torch.Tensor:
        return self.intermediate_act_fn(self.dense(hidden_states))


class BertOutput(nn.Module):
    def __init__(self, config: Dict[str, Any]):
        super().__init__()
        self.dense = nn.Linear(config["intermediate_size"], config["hidden_size"])
        self.LayerNorm = nn.LayerNorm(config["hidden_size"], eps=config["layer_norm_eps"])
        self.dropout = nn.Dropout(config["hidden_dropout_prob"])

    def forward(self, hidden_states: torch.Tensor, input_tensor: torch.Tensor) -> torch.Tensor:
        hidden_states = self.dropout(self.dense(hidden_states))
        return self.LayerNorm(hidden_states + input_tensor)


class BertLayer(nn.Module):
    def __init__(self, config: Dict[str, Any]):
        super().__init__()
        self.attention = BertAttention(config)
        self.intermediate = BertIntermediate(config)
        self.output = BertOutput(config)

    def forward(self, hidden_states: torch.Tensor, attention_mask: Optional[torch.Tensor]) -> torch.Tensor:
        attention_output = self.attention(hidden_states, attention_mask)
        return self.output(self.intermediate(attention_output), attention_output)


class BertEncoder(nn.Module):
    def __init__(self, config: Dict[str, Any]):
        super().__init__()
        self.layer = nn.ModuleList([BertLayer(config) for _ in range(config["num_hidden_layers"])])

    def forward(self, hidden_states: torch.Tensor, attention_mask: Optional[torch.Tensor]) -> torch.Tensor:
        for layer_module in self.layer:
            hidden_states = layer_module(hidden_states, attention_mask)
        return hidden_states


class BertPooler(nn.Module):
    def __init__(self, config: Dict[str, Any]):
        super().__init__()
        self.dense = nn.Linear(config["hidden_size"], config["hidden_size"])
        self.activation = nn.Tanh()

    def forward(self, hidden_states: torch.Tensor) -> torch.Tensor:
        return self.activation(self.dense(hidden_states[:, 0]))


def get_extended_attention_mask(attention_mask: torch.Tensor, dtype: torch.dtype = torch.float32) -> torch.Tensor:
    """ModuleUtilsMixin.get_extended_attention_mask for a 2-D mask (encoder, not decoder)."""
    if attention_mask.dim() == 3:
        extended = attention_mask[:, None, :, :]
    elif attention_mask.dim() == 2:
        extended = attention_mask[:, None, None, :]
    else:
        raise ValueError(f"wrong shape for attention_mask {tuple(attention_mask.shape)}")
    extended = extended.to(dtype=dtype)
    return (1.0 - extended) * torch.finfo(dtype).min


class BertPreTrainedModel(nn.Module):
    def _init_weights(self, module: nn.Module) -> None:
        """transformers BertPreTrainedModel._init_weights."""
        std = self.config["initializer_range"]
        if isinstance(module, nn.Linear):
            module.weight.data.normal_(mean=0.0, std=std)
            if module.bias is not None:
                module.bias.data.zero_()
        elif isinstance(module, nn.Embedding):
            module.weight.data.normal_(mean=0.0, std=std)
            if module.padding_idx is not None:
                module.weight.data[module.padding_idx].zero_()
        elif isinstance(module, nn.LayerNorm):
            module.bias.data.zero_()
            module.weight.data.fill_(1.0)

    def post_init(self) -> None:
        self.apply(self._init_weights)


class BertModel(BertPreTrainedModel):
    """Bare encoder: state-dict keys ``embeddings.*``, ``encoder.*``, ``pooler.*``."""

    def __init__(self, config: Mapping[str, Any], add_pooling_layer: bool = True):
        super().__init__()
        self.config = resolve_config(config)
        self.embeddings = BertEmbeddings(self.config)
        self.encoder = BertEncoder(self.config)
        self.pooler = BertPooler(self.config) if add_pooling_layer else None
        self.post_init()

    def forward(
        self,
        input_ids: torch.Tensor,
        attention_mask: Optional[torch.Tensor] = None,
        token_type_ids: Optional[torch.Tensor] = None,
    ):
        """Returns ``(last_hidden_state, pooler_output)``."""
        if attention_mask is None:
            attention_mask = torch.ones(input_ids.shape, dtype=torch.long, device=input_ids.device)
        embedding_output = self.embeddings(input_ids, token_type_ids)
        extended_mask = get_extended_attention_mask(attention_mask, embedding_output.dtype)
        sequence_output = self.encoder(embedding_output, extended_mask)
        pooled_output = self.pooler(sequence_output) if self.pooler is not None else None
        return sequence_output, pooled_output


class BertForSequenceClassification(BertPreTrainedModel):
    def __init__(self, config: Mapping[str, Any]):
        super().__init__()
        self.config = resolve_config(config)
        self.num_labels = self.config["num_labels"]
        self.bert = BertModel(self.config)
        classifier_dropout = (
            self.config["classifier_dropout"]
            if self.config["classifier_dropout"] is not None
            else self.config["hidden_dropout_prob"]
        )
        self.dropout = nn.Dropout(classifier_dropout)
        self.classifier = nn.Linear(self.config["hidden_size"], self.num_labels)
        self.post_init()

    def forward(
        self,
        input_ids: torch.Tensor,
        attention_mask: Optional[torch.Tensor] = None,
        token_type_ids: Optional[torch.Tensor] = None,
        labels: Optional[torch.Tensor] = None,
        return_hidden: bool = False,
    ):
        """Returns ``{"logits", "loss"}`` (loss None without labels); with
        ``return_hidden`` also ``last_hidden_state`` and ``pooler_output``."""
        sequence_output, pooled_output = self.bert(input_ids, attention_mask, token_type_ids)
        logits = self.classifier(self.dropout(pooled_output))
        loss = None
        if labels is not None:
            problem_type = self.config["problem_type"]
            if problem_type is None:  # transformers infers it and stores it on the config
                if self.num_labels == 1:
                    problem_type = "regression"
                elif self.num_labels > 1 and labels.dtype in (torch.long, torch.int):
                    problem_type = "single_label_classification"
                else:
                    problem_type = "multi_label_classification"
            if problem_type == "regression":
                if self.num_labels == 1:
                    loss = F.mse_loss(logits.squeeze(), labels.squeeze())
                else:
                    loss = F.mse_loss(logits, labels)
            elif problem_type == "single_label_classification":
                loss = F.cross_entropy(logits.view(-1, self.num_labels), labels.view(-1))
            else:
                loss = F.binary_cross_entropy_with_logits(logits, labels)
        out = {"logits": logits, "loss": loss}
        if return_hidden:
            out["last_hidden_state"] = sequence_output
            out["pooler_output"] = pooled_output
        return out


# --------------------------------------------------------------------------------------
# Checkpoint key helpers (what transformers does when loading)
# --------------------------------------------------------------------------------------

# Keys a transformers BertForSequenceClassification ignores when they are unexpected.
IGNORABLE_UNEXPECTED_PREFIXES = ("cls.",)
IGNORABLE_UNEXPECTED_KEYS = ("bert.embeddings.position_ids", "bert.embeddings.token_type_ids",
                             "embeddings.position_ids", "embeddings.token_type_ids")


def fix_legacy_key(key: str) -> str:
    """LayerNorm.gamma/beta -> LayerNorm.weight/bias (transformers renames these on load)."""
    if key.endswith("LayerNorm.gamma"):
        return key[: -len("gamma")] + "weight"
    if key.endswith("LayerNorm.beta"):
        return key[: -len("beta")] + "bias"
    return key


def is_ignorable_unexpected(key: str) -> bool:
    return key in IGNORABLE_UNEXPECTED_KEYS or key.startswith(IGNORABLE_UNEXPECTED_PREFIXES)


def copy_config(cfg: Mapping[str, Any]) -> Dict[str, Any]:
    return copy.deepcopy(dict(cfg))
