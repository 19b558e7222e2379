"""transformers itself as the parity reference: its BertForSequenceClassification, loaded as from_pretrained loads it.

Shared by test/fixtures/generate.py, reload_and_predict.py, train_reference.py and server.py. Needs the project's
.venv (scripts/install-deps.sh: torch 2.13 CPU, transformers 5.18); run with .venv/bin/python. Nothing is downloaded:
the Hugging Face Hub is switched off before transformers is imported, and every model comes from a local directory.
"""

from __future__ import annotations

import os

# Before transformers is imported: no Hub access, no progress bars or load reports on stdout/stderr.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")
os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")

from typing import Any, Dict, List, Optional, Sequence  # noqa: E402

import torch  # noqa: E402
import transformers  # noqa: E402
import json  # noqa: E402

from transformers import AutoModelForSequenceClassification, BertConfig, BertForSequenceClassification, BertModel  # noqa: E402

transformers.utils.logging.set_verbosity_error()
transformers.utils.logging.disable_progress_bar()

# The attention implementations the parity tests compare against: transformers' own eager code
# (modeling_bert.eager_attention_forward) and torch's scaled_dot_product_attention (from_pretrained's default).
ATTENTION_IMPLEMENTATIONS = ("eager", "sdpa")

# BertConfig fields the manifest records, in the order the fixtures have always listed them.
CONFIG_FIELDS = [
    "vocab_size", "hidden_size", "num_hidden_layers", "num_attention_heads", "intermediate_size", "hidden_act",
    "hidden_dropout_prob", "attention_probs_dropout_prob", "max_position_embeddings", "type_vocab_size",
    "initializer_range", "layer_norm_eps", "pad_token_id", "position_embedding_type", "use_cache",
    "classifier_dropout", "problem_type",
]


class HFReferenceError(Exception):
    """A model directory or input transformers cannot take (the message names what and why)."""


def versions() -> Dict[str, str]:
    return {"torch": torch.__version__, "transformers": transformers.__version__}


def check_attention(attn_implementation: str) -> str:
    if attn_implementation not in ATTENTION_IMPLEMENTATIONS:
        raise HFReferenceError(f"attnImplementation must be one of {', '.join(ATTENTION_IMPLEMENTATIONS)}, "
                             f"got {attn_implementation!r}")
    return attn_implementation


def load_classifier(model_dir: str, attn_implementation: str = "eager", strict: bool = False,
                    **config_overrides: Any):
    """``BertForSequenceClassification.from_pretrained(model_dir)`` in float32 (whatever dtype the checkpoint stores or
    config.json names), in eval mode. ``config_overrides`` are config fields from_pretrained sets (problem_type,
    dropout probabilities). Returns (model, loading info with sorted key lists). strict: a missing, unexpected or
    mismatched key is a HFReferenceError (what a directory bert-trainer wrote must satisfy)."""
    check_attention(attn_implementation)
    if not os.path.isfile(os.path.join(model_dir, "config.json")):
        raise HFReferenceError(f"{os.path.join(model_dir, 'config.json')} not found")
    try:
        # The architecture config.json's model_type names (BERT, RoBERTa, XLM-RoBERTa, DistilBERT, ELECTRA), as
        # AutoModelForSequenceClassification picks it; without a model_type, BERT (as BertForSequenceClassification reads it).
        with open(os.path.join(model_dir, "config.json")) as f:
            has_type = "model_type" in json.load(f)
        model_class = AutoModelForSequenceClassification if has_type else BertForSequenceClassification
        model, info = model_class.from_pretrained(
            model_dir, dtype=torch.float32, attn_implementation=attn_implementation, output_loading_info=True,
            local_files_only=True, **config_overrides)
    except (OSError, ValueError, RuntimeError, KeyError) as e:
        raise HFReferenceError(f"{model_dir}: transformers' from_pretrained failed: {e}") from None
    info = {k: sorted(v) if isinstance(v, (set, list, tuple)) else v for k, v in info.items()}
    if strict:
        problems = [f"{kind} {info[key]}" for kind, key in
                    (("missing", "missing_keys"), ("unexpected", "unexpected_keys"), ("mismatched", "mismatched_keys"))
                    if info.get(key)]
        if problems or info.get("error_msgs"):
            raise HFReferenceError(f"{model_dir}: strict load failed: {'; '.join(problems + list(info.get('error_msgs', [])))}")
    if model.config._attn_implementation != attn_implementation:
        raise HFReferenceError(f"asked for {attn_implementation} attention, transformers chose "
                             f"{model.config._attn_implementation}")
    model.eval()
    return model, info


def load_bert_model(model_dir: str, attn_implementation: str = "eager"):
    """A bare ``BertModel.from_pretrained`` (embeddings, encoder, pooler), float32, eval mode."""
    check_attention(attn_implementation)
    model = BertModel.from_pretrained(model_dir, dtype=torch.float32, attn_implementation=attn_implementation,
                                      local_files_only=True)
    model.eval()
    return model


def effective_config(config: BertConfig) -> Dict[str, Any]:
    """The config as the manifest and the tests read it: BertConfig's values (transformers' defaults for the fields
    config.json leaves out), id2label with string keys and label2id as config.json spells them, num_labels."""
    out: Dict[str, Any] = {}
    for key in CONFIG_FIELDS:
        # transformers 5 dropped position_embedding_type (absolute positions only); config.json files still carry it.
        out[key] = getattr(config, key, "absolute" if key == "position_embedding_type" else None)
    out["id2label"] = {str(int(k)): str(v) for k, v in config.id2label.items()}
    out["label2id"] = {str(v): int(k) for k, v in config.id2label.items()}
    out["num_labels"] = config.num_labels
    return out


def int_tensor(rows: Sequence[Sequence[int]], name: str) -> torch.Tensor:
    if not isinstance(rows, list) or not rows or not all(isinstance(r, list) and r for r in rows):
        raise HFReferenceError(f"{name} must be a non-empty list of non-empty lists")
    if len({len(r) for r in rows}) != 1:
        raise HFReferenceError(f"rows of {name} have different lengths")
    if not all(isinstance(x, int) and not isinstance(x, bool) for r in rows for x in r):
        raise HFReferenceError(f"{name}: entries must be integers")
    return torch.tensor(rows, dtype=torch.long)


def batch_tensors(inputs: Dict[str, Any], config: BertConfig) -> Dict[str, torch.Tensor]:
    """{"inputIds", "attentionMask"?, "tokenTypeIds"?} -> from_pretrained's keyword arguments (absent: all ones /
    all zeros, as transformers fills them in), range-checked against the config."""
    ids = int_tensor(inputs.get("inputIds"), "inputIds")
    out = {"input_ids": ids}
    for key, arg, fill in (("attentionMask", "attention_mask", 1), ("tokenTypeIds", "token_type_ids", 0)):
        t = int_tensor(inputs[key], key) if inputs.get(key) is not None else torch.full_like(ids, fill)
        if t.shape != ids.shape:
            raise HFReferenceError(f"{key} shape {list(t.shape)} != inputIds shape {list(ids.shape)}")
        out[arg] = t
    if ids.min() < 0 or ids.max() >= config.vocab_size:
        raise HFReferenceError(f"inputIds outside [0, {config.vocab_size})")
    types = out["token_type_ids"]
    if config.model_type == "distilbert":  # no token types: its forward takes none
        if types.any():
            raise HFReferenceError("tokenTypeIds must be zeros for distilbert")
        del out["token_type_ids"]
    elif types.min() < 0 or types.max() >= config.type_vocab_size:
        raise HFReferenceError(f"tokenTypeIds outside [0, {config.type_vocab_size})")
    if not bool(((out["attention_mask"] == 0) | (out["attention_mask"] == 1)).all()):
        raise HFReferenceError("attentionMask must be 0/1")
    if ids.shape[1] > config.max_position_embeddings:
        raise HFReferenceError(f"sequence length {ids.shape[1]} > max_position_embeddings {config.max_position_embeddings}")
    return out


def classifier_outputs(model, inputs: Dict[str, Any], labels: Optional[torch.Tensor] = None,
                       with_logits: bool = True) -> Dict[str, Any]:
    """An eval forward pass without gradients: logits (and the model's own loss with ``labels``) from the classifier,
    pooled output and last hidden state from its ``bert`` (or from ``model`` itself when it is a bare BertModel)."""
    bert = model if isinstance(model, BertModel) else model.base_model
    kwargs = batch_tensors(inputs, bert.config)
    exp: Dict[str, Any] = {}
    with torch.no_grad():
        if with_logits:
            out = model(**kwargs, labels=labels)
            exp["logits"] = out.logits.tolist()
            if out.loss is not None:
                exp["loss"] = float(out.loss)
        base = bert(**kwargs)
    if getattr(base, "pooler_output", None) is not None:  # RoBERTa's, DistilBERT's and ELECTRA's classifiers have none
        exp["pooledOutput"] = base.pooler_output.tolist()
    exp["lastHiddenState"] = base.last_hidden_state.tolist()
    return exp


def max_abs_diff(a: Any, b: Any) -> float:
    ta, tb = torch.tensor(a, dtype=torch.float64), torch.tensor(b, dtype=torch.float64)
    if ta.shape != tb.shape:
        raise HFReferenceError(f"shapes {list(ta.shape)} and {list(tb.shape)} differ")
    return float((ta - tb).abs().max()) if ta.numel() else 0.0


def named_parameter_shapes(model) -> List[List[Any]]:
    return [[n, list(p.shape)] for n, p in model.named_parameters()]
