"""PyTorch reference for the training-parity tests: what transformers' Trainer + torch do.

Usage:
    /usr/bin/python3 test/reference/train_reference.py <spec.json>
    /usr/bin/python3 test/reference/train_reference.py --self-test

<spec.json> (see test/reference/README.md for every field and its default):
    {"modelDir": "...", "outputFile": "...", "batches": [{"inputIds": [[..]], "attentionMask": [[..]],
     "tokenTypeIds": [[..]] (optional), "labels": [..]}, ...],
     "problemType": null|"single_label_classification"|"multi_label_classification"|"regression",
     "classWeights": null|[w0, ...], "learningRate": 5e-5, "weightDecay": 0.0, "adamBeta1": 0.9,
     "adamBeta2": 0.999, "adamEpsilon": 1e-8, "maxGradNorm": 1.0, "gradientAccumulationSteps": 1,
     "lrScheduler": "linear"|"cosine"|"constant"|"constant_with_warmup", "warmupSteps": 0,
     "totalSteps": n, "dropout": false}

Prints {"losses", "microLosses", "learningRates", "gradNorms", "steps"} as JSON on stdout and
writes every named parameter (HF names, F32) to outputFile. Exits 1 with a message on stderr
on a bad spec, 2 on bad usage.

The loop replicates (without importing transformers) Trainer._inner_training_loop with
logging_steps=1 and one epoch over the given micro-batches, in order:

    model.train(); model.zero_grad()
    for each micro-batch:            loss = model loss (problem_type as transformers)
                                     (loss / divisor).backward(); tr_loss += (loss / divisor).detach()
    after every gradientAccumulationSteps micro-batches, and after the last one:
        grad_norm = clip_grad_norm_(model.parameters(), maxGradNorm)   (if maxGradNorm > 0)
        lr = scheduler.get_last_lr()[0]; optimizer.step(); scheduler.step(); model.zero_grad()
        logged loss = tr_loss (float32 sum of the scaled micro-batch losses); tr_loss = 0

with torch.optim.AdamW over transformers' two parameter groups and LambdaLR schedules
mirroring transformers.optimization. Only torch and the stdlib are used.
"""

from __future__ import annotations

import json
import math
import os
import sys
import tempfile
from collections import OrderedDict
from functools import partial
from typing import Any, Dict, List, Optional, Tuple

import torch
import torch.nn.functional as F
from torch import nn

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import safetensors_io  # noqa: E402
from bert_reference import BertForSequenceClassification, resolve_config  # noqa: E402
from philox_dropout import use_philox_dropout  # noqa: E402
from reload_and_predict import ReloadError, load_reference_model, read_checkpoint_dir  # noqa: E402


class SpecError(Exception):
    pass


SCHEDULERS = ("linear", "cosine", "constant", "constant_with_warmup")
PROBLEM_TYPES = ("single_label_classification", "multi_label_classification", "regression")
PARTIAL_GROUP_DIVISORS = ("accumulation_steps", "group_size")

SPEC_DEFAULTS: Dict[str, Any] = {
    "problemType": None,
    "classWeights": None,
    "learningRate": 5e-5,  # TrainingArguments defaults
    "weightDecay": 0.0,
    "adamBeta1": 0.9,
    "adamBeta2": 0.999,
    "adamEpsilon": 1e-8,
    "maxGradNorm": 1.0,
    "gradientAccumulationSteps": 1,
    "lrScheduler": "linear",
    "warmupSteps": 0,
    "totalSteps": None,  # None: the number of optimizer steps this spec runs
    "dropout": False,
    "seed": 0,  # with "dropout": true, the key of the Philox dropout stream (as Trainer seed)
    "partialGroupDivisor": "accumulation_steps",
    "mixedPrecision": "no",  # "bf16": forward under torch.autocast("cpu", bfloat16), loss in fp32 (the Trainer's option)
}
MIXED_PRECISIONS = ("no", "bf16")

# --------------------------------------------------------------------------------------
# Schedules: transformers.optimization (lambdas applied by torch.optim.lr_scheduler.LambdaLR)
# --------------------------------------------------------------------------------------


def _constant_lambda(_: int) -> float:
    return 1.0


def _constant_with_warmup_lambda(current_step: int, *, num_warmup_steps: int) -> float:
    if current_step < num_warmup_steps:
        return float(current_step) / float(max(1.0, num_warmup_steps))
    return 1.0


def _linear_lambda(current_step: int, *, num_warmup_steps: int, num_training_steps: int) -> float:
    if current_step < num_warmup_steps:
        return float(current_step) / float(max(1, num_warmup_steps))
    return max(0.0, float(num_training_steps - current_step) / float(max(1, num_training_steps - num_warmup_steps)))


def _cosine_lambda(
    current_step: int, *, num_warmup_steps: int, num_training_steps: int, num_cycles: float = 0.5
) -> float:
    if current_step < num_warmup_steps:
        return float(current_step) / float(max(1, num_warmup_steps))
    progress = float(current_step - num_warmup_steps) / float(max(1, num_training_steps - num_warmup_steps))
    return max(0.0, 0.5 * (1.0 + math.cos(math.pi * float(num_cycles) * 2.0 * progress)))


def lr_lambda_for(name: str, warmup_steps: int, total_steps: int):
    if name == "linear":
        return partial(_linear_lambda, num_warmup_steps=warmup_steps, num_training_steps=total_steps)
    if name == "cosine":
        return partial(_cosine_lambda, num_warmup_steps=warmup_steps, num_training_steps=total_steps)
    if name == "constant":
        return _constant_lambda
    if name == "constant_with_warmup":
        return partial(_constant_with_warmup_lambda, num_warmup_steps=warmup_steps)
    raise SpecError(f"unknown lrScheduler {name!r} (expected one of {', '.join(SCHEDULERS)})")


def expected_learning_rates(spec: Dict[str, Any], steps: int) -> List[float]:
    """base_lr * lambda(k) for k = 0..steps-1: what LambdaLR hands optimizer step k."""
    fn = lr_lambda_for(spec["lrScheduler"], spec["warmupSteps"], spec["totalSteps"])
    return [spec["learningRate"] * fn(k) for k in range(steps)]


# --------------------------------------------------------------------------------------
# Optimizer parameter groups: Trainer.get_decay_parameter_names / create_optimizer
# --------------------------------------------------------------------------------------


def get_parameter_names(model: nn.Module, forbidden_layer_types) -> List[str]:
    """transformers.trainer_pt_utils.get_parameter_names: parameter names not inside forbidden layers."""
    result: List[str] = []
    for name, child in model.named_children():
        if isinstance(child, tuple(forbidden_layer_types)):
            continue
        result += [f"{name}.{n}" for n in get_parameter_names(child, forbidden_layer_types)]
    result += list(model._parameters.keys())
    return result


def decay_parameter_names(model: nn.Module) -> List[str]:
    return [n for n in get_parameter_names(model, [nn.LayerNorm]) if "bias" not in n]


def make_optimizer(model: nn.Module, spec: Dict[str, Any]) -> torch.optim.AdamW:
    decay = set(decay_parameter_names(model))
    groups = [
        {"params": [p for n, p in model.named_parameters() if n in decay and p.requires_grad],
         "weight_decay": spec["weightDecay"]},
        {"params": [p for n, p in model.named_parameters() if n not in decay and p.requires_grad],
         "weight_decay": 0.0},
    ]
    return torch.optim.AdamW(
        groups, lr=spec["learningRate"], betas=(spec["adamBeta1"], spec["adamBeta2"]), eps=spec["adamEpsilon"]
    )


# --------------------------------------------------------------------------------------
# Loss: BertForSequenceClassification.forward's loss, plus optional class weights for CE
# --------------------------------------------------------------------------------------


def effective_problem_type(configured: Optional[str], num_labels: int, labels: torch.Tensor) -> str:
    """transformers' inference when config.problem_type is None."""
    if configured is not None:
        return configured
    if num_labels == 1:
        return "regression"
    if num_labels > 1 and labels.dtype in (torch.long, torch.int):
        return "single_label_classification"
    return "multi_label_classification"


def compute_loss(
    logits: torch.Tensor, labels: torch.Tensor, problem_type: str, num_labels: int,
    class_weights: Optional[torch.Tensor],
) -> torch.Tensor:
    if problem_type == "regression":
        if num_labels == 1:
            return F.mse_loss(logits.squeeze(), labels.squeeze())
        return F.mse_loss(logits, labels)
    if problem_type == "single_label_classification":
        return F.cross_entropy(logits.view(-1, num_labels), labels.view(-1), weight=class_weights)
    return F.binary_cross_entropy_with_logits(logits, labels)


# --------------------------------------------------------------------------------------
# Spec parsing
# --------------------------------------------------------------------------------------


def _is_int(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def _is_num(v: Any) -> bool:
    return (isinstance(v, (int, float)) and not isinstance(v, bool)) and math.isfinite(v)


def normalise_spec(raw: Dict[str, Any], need_files: bool = True) -> Dict[str, Any]:
    if not isinstance(raw, dict):
        raise SpecError("spec must be a JSON object")
    spec = dict(SPEC_DEFAULTS)
    spec.update(raw)
    if need_files:
        for key in ("modelDir", "outputFile"):
            if not isinstance(spec.get(key), str) or not spec[key]:
                raise SpecError(f"{key} must be a non-empty string")
    if not isinstance(spec.get("batches"), list) or not spec["batches"]:
        raise SpecError("batches must be a non-empty list of micro-batches")
    for key in ("learningRate", "weightDecay", "adamBeta1", "adamBeta2", "adamEpsilon"):
        if not _is_num(spec[key]):
            raise SpecError(f"{key} must be a finite number")
        spec[key] = float(spec[key])
    if spec["learningRate"] < 0 or spec["weightDecay"] < 0 or spec["adamEpsilon"] < 0:
        raise SpecError("learningRate, weightDecay and adamEpsilon must be >= 0")
    if not (0 <= spec["adamBeta1"] < 1 and 0 <= spec["adamBeta2"] < 1):
        raise SpecError("adamBeta1 / adamBeta2 must be in [0, 1)")
    mgn = spec["maxGradNorm"]
    if mgn is not None and (not _is_num(mgn) or mgn < 0):
        raise SpecError("maxGradNorm must be null or a number >= 0")
    spec["maxGradNorm"] = None if mgn is None or mgn == 0 else float(mgn)
    ga = spec["gradientAccumulationSteps"]
    if not _is_int(ga) or ga < 1:
        raise SpecError("gradientAccumulationSteps must be an integer >= 1")
    if spec["lrScheduler"] not in SCHEDULERS:
        raise SpecError(f"lrScheduler must be one of {', '.join(SCHEDULERS)}")
    if not _is_int(spec["warmupSteps"]) or spec["warmupSteps"] < 0:
        raise SpecError("warmupSteps must be an integer >= 0")
    n_micro = len(spec["batches"])
    n_steps = -(-n_micro // ga)  # the last, possibly partial, group is stepped too
    if spec["totalSteps"] is None:
        spec["totalSteps"] = n_steps
    if not _is_int(spec["totalSteps"]) or spec["totalSteps"] < 1:
        raise SpecError("totalSteps must be an integer >= 1")
    if spec["problemType"] is not None and spec["problemType"] not in PROBLEM_TYPES:
        raise SpecError(f"problemType must be null or one of {', '.join(PROBLEM_TYPES)}")
    cw = spec["classWeights"]
    if cw is not None and (not isinstance(cw, list) or not cw or not all(_is_num(w) for w in cw)):
        raise SpecError("classWeights must be null or a non-empty list of finite numbers")
    if not isinstance(spec["dropout"], bool):
        raise SpecError("dropout must be true or false")
    if not _is_int(spec["seed"]):
        raise SpecError("seed must be an integer")
    if spec["partialGroupDivisor"] not in PARTIAL_GROUP_DIVISORS:
        raise SpecError(f"partialGroupDivisor must be one of {', '.join(PARTIAL_GROUP_DIVISORS)}")
    if spec["mixedPrecision"] not in MIXED_PRECISIONS:
        raise SpecError(f"mixedPrecision must be one of {', '.join(MIXED_PRECISIONS)}")
    return spec


def _int_matrix(batch: Dict[str, Any], key: str, idx: int, like: Optional[torch.Tensor]) -> Optional[torch.Tensor]:
    val = batch.get(key)
    if val is None:
        return None
    if not isinstance(val, list) or not val or not all(isinstance(r, list) and r for r in val):
        raise SpecError(f"batches[{idx}].{key} must be a non-empty list of non-empty lists")
    if len({len(r) for r in val}) != 1:
        raise SpecError(f"batches[{idx}].{key}: rows have different lengths")
    if not all(_is_int(x) for r in val for x in r):
        raise SpecError(f"batches[{idx}].{key}: entries must be integers")
    t = torch.tensor(val, dtype=torch.long)
    if like is not None and t.shape != like.shape:
        raise SpecError(f"batches[{idx}].{key} shape {list(t.shape)} != inputIds shape {list(like.shape)}")
    return t


def build_micro_batches(spec: Dict[str, Any], cfg: Dict[str, Any]) -> List[Dict[str, Any]]:
    """Tensors per micro-batch, labels typed like transformers' default data collator
    (flat ints -> int64, anything else -> float32), then float32 for regression / multi-label."""
    num_labels = cfg["num_labels"]
    out = []
    for i, b in enumerate(spec["batches"]):
        if not isinstance(b, dict):
            raise SpecError(f"batches[{i}] must be an object")
        ids = _int_matrix(b, "inputIds", i, None)
        if ids is None:
            raise SpecError(f"batches[{i}].inputIds is required")
        mask = _int_matrix(b, "attentionMask", i, ids)
        types = _int_matrix(b, "tokenTypeIds", i, ids)
        if ids.min() < 0 or ids.max() >= cfg["vocab_size"]:
            raise SpecError(f"batches[{i}].inputIds outside [0, {cfg['vocab_size']})")
        if types is not None and (types.min() < 0 or types.max() >= cfg["type_vocab_size"]):
            raise SpecError(f"batches[{i}].tokenTypeIds outside [0, {cfg['type_vocab_size']})")
        if mask is not None and not bool(((mask == 0) | (mask == 1)).all()):
            raise SpecError(f"batches[{i}].attentionMask must be 0/1")
        if ids.shape[1] > cfg["max_position_embeddings"]:
            raise SpecError(f"batches[{i}]: sequence length {ids.shape[1]} > max_position_embeddings")
        raw_labels = b.get("labels")
        if not isinstance(raw_labels, list) or len(raw_labels) != ids.shape[0]:
            raise SpecError(f"batches[{i}].labels must be a list with one entry per row ({ids.shape[0]})")
        flat_ints = all(_is_int(x) for x in raw_labels)
        try:
            labels = torch.tensor(raw_labels, dtype=torch.long if flat_ints else torch.float32)
        except (TypeError, ValueError) as e:
            raise SpecError(f"batches[{i}].labels: {e}") from None
        problem_type = effective_problem_type(cfg["problem_type"], num_labels, labels)
        if problem_type == "single_label_classification":
            if not flat_ints:
                raise SpecError(f"batches[{i}].labels must be integer class ids for {problem_type}")
            if labels.dim() != 1 or labels.min() < 0 or labels.max() >= num_labels:
                raise SpecError(f"batches[{i}].labels must be class ids in [0, {num_labels})")
        else:
            labels = labels.to(torch.float32)
            if not bool(torch.isfinite(labels).all()):
                raise SpecError(f"batches[{i}].labels must be finite")
            if problem_type == "multi_label_classification" and tuple(labels.shape) != (ids.shape[0], num_labels):
                raise SpecError(f"batches[{i}].labels must have shape [{ids.shape[0]}, {num_labels}] "
                                f"for {problem_type}")
            if problem_type == "regression" and num_labels > 1 and tuple(labels.shape) != (ids.shape[0], num_labels):
                raise SpecError(f"batches[{i}].labels must have shape [{ids.shape[0]}, {num_labels}] "
                                f"for regression with {num_labels} labels")
        out.append({"input_ids": ids, "attention_mask": mask, "token_type_ids": types,
                    "labels": labels, "problem_type": problem_type})
    return out


def apply_config_overrides(raw_cfg: Dict[str, Any], spec: Dict[str, Any]) -> Dict[str, Any]:
    cfg = dict(raw_cfg)
    if spec["problemType"] is not None:
        cfg["problem_type"] = spec["problemType"]
    if not spec["dropout"]:
        cfg["hidden_dropout_prob"] = 0.0
        cfg["attention_probs_dropout_prob"] = 0.0
        cfg["classifier_dropout"] = 0.0
    return cfg


# --------------------------------------------------------------------------------------
# Training loop
# --------------------------------------------------------------------------------------


def _total_norm(parameters: List[torch.Tensor]) -> torch.Tensor:
    """The norm clip_grad_norm_ computes (torch 1.13: norm of the per-parameter 2-norms)."""
    grads = [p.grad for p in parameters if p.grad is not None]
    return torch.norm(torch.stack([torch.norm(g.detach(), 2.0) for g in grads]), 2.0)


def train(model: BertForSequenceClassification, spec: Dict[str, Any]) -> Dict[str, Any]:
    """Runs the spec's micro-batches on ``model`` (modified in place); returns the JSON result."""
    cfg = model.config
    batches = build_micro_batches(spec, cfg)
    num_labels = cfg["num_labels"]
    class_weights = None
    if spec["classWeights"] is not None:
        if len(spec["classWeights"]) != num_labels:
            raise SpecError(f"classWeights has {len(spec['classWeights'])} entries, model has {num_labels} labels")
        if any(b["problem_type"] != "single_label_classification" for b in batches):
            raise SpecError("classWeights is only supported for single_label_classification")
        class_weights = torch.tensor(spec["classWeights"], dtype=torch.float32)

    ga = spec["gradientAccumulationSteps"]
    n_micro = len(batches)
    torch.manual_seed(spec["seed"])
    if spec["dropout"]:
        use_philox_dropout(model, spec["seed"])  # bert-trainer's masks, in its order: comparable with dropout on
    optimizer = make_optimizer(model, spec)
    scheduler = torch.optim.lr_scheduler.LambdaLR(
        optimizer, lr_lambda_for(spec["lrScheduler"], spec["warmupSteps"], spec["totalSteps"])
    )
    params = list(model.parameters())

    model.train()
    model.zero_grad()
    tr_loss = torch.tensor(0.0)
    losses: List[float] = []
    micro_losses: List[float] = []
    learning_rates: List[float] = []
    grad_norms: List[float] = []
    for start in range(0, n_micro, ga):
        group = batches[start : start + ga]
        divisor = ga if spec["partialGroupDivisor"] == "accumulation_steps" else len(group)
        for b in group:
            with torch.autocast("cpu", dtype=torch.bfloat16, enabled=spec["mixedPrecision"] == "bf16"):
                out = model(b["input_ids"], b["attention_mask"], b["token_type_ids"])
            logits = out["logits"].float()
            loss = compute_loss(logits, b["labels"], b["problem_type"], num_labels, class_weights)
            micro_losses.append(loss.item())
            scaled = loss / divisor
            scaled.backward()
            tr_loss = tr_loss + scaled.detach()
        if spec["maxGradNorm"] is not None:
            norm = torch.nn.utils.clip_grad_norm_(params, spec["maxGradNorm"])
        else:
            norm = _total_norm(params)  # recorded only; gradients are left untouched
        grad_norms.append(norm.item())
        learning_rates.append(scheduler.get_last_lr()[0])
        optimizer.step()
        scheduler.step()
        model.zero_grad()
        losses.append(tr_loss.item())
        tr_loss = torch.tensor(0.0)
    return {
        "losses": losses,
        "microLosses": micro_losses,
        "learningRates": learning_rates,
        "gradNorms": grad_norms,
        "steps": len(losses),
    }


def load_start_model(spec: Dict[str, Any]) -> BertForSequenceClassification:
    raw_cfg, sd, _dtypes, _kind = read_checkpoint_dir(spec["modelDir"])
    cfg = apply_config_overrides(raw_cfg, spec)
    model, missing, _unexpected = load_reference_model(cfg, sd, strict=False)
    if missing:
        raise SpecError(f"{spec['modelDir']}: checkpoint lacks {len(missing)} parameters ({missing[:4]}); "
                        "their random initialisation could not be reproduced, so training parity is undefined")
    return model


def save_parameters(model: nn.Module, path: str) -> None:
    tensors = OrderedDict((n, p.detach().to(torch.float32).contiguous()) for n, p in model.named_parameters())
    safetensors_io.save_file(tensors, path, {"format": "pt"})


def _json_safe(result: Dict[str, Any]) -> Dict[str, Any]:
    def fix(v):
        return v if not isinstance(v, float) or math.isfinite(v) else None
    return {k: ([fix(x) for x in v] if isinstance(v, list) else v) for k, v in result.items()}


def run_spec(spec: Dict[str, Any]) -> Dict[str, Any]:
    model = load_start_model(spec)
    result = train(model, spec)
    save_parameters(model, spec["outputFile"])
    return result


# --------------------------------------------------------------------------------------
# Self-test
# --------------------------------------------------------------------------------------

TINY_CONFIG = {
    "vocab_size": 41, "hidden_size": 16, "num_hidden_layers": 2, "num_attention_heads": 2,
    "intermediate_size": 23, "max_position_embeddings": 24, "type_vocab_size": 2, "initializer_range": 0.2,
    "num_labels": 3,
}


def _tiny_batches(n: int, batch: int, seed: int, kind: str, num_labels: int) -> List[Dict[str, Any]]:
    g = torch.Generator().manual_seed(seed)
    out = []
    for _ in range(n):
        lengths = torch.randint(3, 12, (batch,), generator=g).tolist()
        width = max(lengths)
        ids, mask, types = [], [], []
        for length in lengths:
            row = torch.randint(1, TINY_CONFIG["vocab_size"], (length,), generator=g).tolist()
            split = length // 2
            ids.append(row + [0] * (width - length))
            mask.append([1] * length + [0] * (width - length))
            types.append([0] * split + [1] * (length - split) + [0] * (width - length))
        if kind == "single":
            labels = torch.randint(0, num_labels, (batch,), generator=g).tolist()
        elif kind == "multilabel":
            labels = torch.randint(0, 2, (batch, num_labels), generator=g).float().tolist()
        else:
            labels = (torch.randn(batch, generator=g) * 2).tolist()
        out.append({"inputIds": ids, "attentionMask": mask, "tokenTypeIds": types, "labels": labels})
    return out


def _write_tiny_model_dir(path: str, cfg_overrides: Dict[str, Any]) -> Dict[str, Any]:
    cfg = resolve_config(TINY_CONFIG, **cfg_overrides)
    torch.manual_seed(1234)
    model = BertForSequenceClassification(cfg)
    os.makedirs(path, exist_ok=True)
    with open(os.path.join(path, "config.json"), "w", encoding="utf-8") as f:
        json.dump(dict(cfg, model_type="bert", architectures=["BertForSequenceClassification"]), f, indent=2)
    safetensors_io.save_file(OrderedDict(model.state_dict()), os.path.join(path, "model.safetensors"), {"format": "pt"})
    return cfg


def self_test() -> int:
    torch.set_num_threads(1)
    checks: List[str] = []

    def check(cond: bool, what: str) -> None:
        if not cond:
            raise AssertionError(what)
        checks.append(what)

    with tempfile.TemporaryDirectory() as tmp:
        model_dir = os.path.join(tmp, "tiny")
        cfg = _write_tiny_model_dir(model_dir, {})
        base = {
            "modelDir": model_dir, "batches": _tiny_batches(20, 4, 7, "single", cfg["num_labels"]),
            "problemType": None, "classWeights": None, "learningRate": 1e-3, "weightDecay": 0.01,
            "adamBeta1": 0.9, "adamBeta2": 0.999, "adamEpsilon": 1e-8, "maxGradNorm": 0.5,
            "gradientAccumulationSteps": 2, "lrScheduler": "linear", "warmupSteps": 3, "totalSteps": 10,
            "dropout": False,
        }
        runs = []
        for r in range(2):
            spec = normalise_spec(dict(base, outputFile=os.path.join(tmp, f"out{r}.safetensors")))
            runs.append((run_spec(spec), open(spec["outputFile"], "rb").read()))
        (res, blob), (res2, blob2) = runs
        spec = normalise_spec(dict(base, outputFile="unused"))
        check(res["steps"] == 10 and len(res["microLosses"]) == 20, "10 optimizer steps from 20 micro-batches")
        check(all(math.isfinite(x) for k in ("losses", "microLosses", "gradNorms") for x in res[k]),
              "losses, micro losses and grad norms are finite")
        check(all(g > 0.5 for g in res["gradNorms"]), "every grad norm > maxGradNorm 0.5 (clipping really clips)")
        exp_lrs = expected_learning_rates(spec, 10)
        hand = [1e-3 * (k / 3 if k < 3 else max(0.0, (10 - k) / 7)) for k in range(10)]
        check(res["learningRates"] == exp_lrs, "learning rates == base_lr * linear-warmup lambda(k), exactly")
        check(all(abs(a - b) <= 1e-18 for a, b in zip(res["learningRates"], hand)),
              "learning rates == hand-written 1e-3 * [0, 1/3, 2/3, 1, 6/7, ..., 1/7]")
        m = res["microLosses"]
        want = [(torch.tensor(0.0) + torch.tensor(m[2 * k]) / 2 + torch.tensor(m[2 * k + 1]) / 2).item()
                for k in range(10)]
        check(res["losses"] == want, "losses[k] == float32 sum (micro[2k] / 2 + micro[2k+1] / 2)")
        check(res == res2 and blob == blob2, "two runs: identical JSON results and byte-identical output files")
        saved, meta, dtypes = safetensors_io.load_file_with_info(os.path.join(tmp, "out0.safetensors"))
        fresh = load_start_model(spec)
        check(list(saved) == [n for n, _ in fresh.named_parameters()] and set(dtypes.values()) == {"F32"},
              "output file: every named parameter, HF names, in model order, F32")
        start_sd = safetensors_io.load_file(os.path.join(model_dir, "model.safetensors"))
        check(all(not torch.equal(saved[n], start_sd[n]) for n in saved), "every parameter changed")

        # Loss helper == the reference model's own loss (problem_type inferred and explicit).
        model = load_start_model(spec)
        model.train()
        for kind, pt in (("single", None), ("multilabel", "multi_label_classification")):
            mb = build_micro_batches(normalise_spec(dict(base, outputFile="x", problemType=pt,
                                                         batches=_tiny_batches(1, 3, 5, kind, 3))),
                                     dict(model.config, problem_type=pt))[0]
            ref = model(mb["input_ids"], mb["attention_mask"], mb["token_type_ids"],
                        labels=mb["labels"])
            mine = compute_loss(ref["logits"], mb["labels"], mb["problem_type"], 3, None)
            check(torch.equal(ref["loss"], mine), f"compute_loss == model loss ({mb['problem_type']})")

        # Parameter groups: weight decay everywhere except biases and LayerNorm weights.
        no_decay = [n for n, _ in model.named_parameters() if n not in set(decay_parameter_names(model))]
        check(all(n.endswith(".bias") or ".LayerNorm." in n for n in no_decay)
              and any(n.endswith("LayerNorm.weight") for n in no_decay)
              and "bert.embeddings.word_embeddings.weight" not in no_decay,
              "no-decay group = biases + LayerNorm weights")

        # Step 0 has lr 0 (warmup): with lr 0 AdamW leaves parameters untouched.
        one = normalise_spec(dict(base, outputFile=os.path.join(tmp, "one.safetensors"), batches=base["batches"][:2]))
        run_spec(one)
        after = safetensors_io.load_file(one["outputFile"])
        check(all(torch.equal(after[n], start_sd[n]) for n in after), "warmup step 0 (lr 0) leaves parameters unchanged")

        # Partial last group and no clipping; cosine; class weights.
        part = normalise_spec(dict(base, outputFile=os.path.join(tmp, "p.safetensors"), batches=base["batches"][:5],
                                   maxGradNorm=0, lrScheduler="cosine", warmupSteps=1, totalSteps=4,
                                   classWeights=[1.0, 2.0, 0.5]))
        rp = run_spec(part)
        check(rp["steps"] == 3 and len(rp["microLosses"]) == 5, "5 micro-batches, accumulation 2 -> 3 steps")
        want = (torch.tensor(0.0) + torch.tensor(rp["microLosses"][4]) / 2).item()
        check(rp["losses"][2] == want, "partial group (accumulation_steps): logged loss = micro[4] / 2")
        check(rp["learningRates"] == expected_learning_rates(part, 3)
              and rp["learningRates"][0] == 0.0 and rp["learningRates"][1] == 1e-3,
              "cosine lrs == formula")
        partg = dict(part, partialGroupDivisor="group_size", outputFile=os.path.join(tmp, "pg.safetensors"))
        rpg = run_spec(partg)
        check(rpg["losses"][2] == rpg["microLosses"][4] and rpg["losses"][:2] == rp["losses"][:2],
              "partial group (group_size): logged loss = micro[4]")

        # Multi-label and regression fixtures-like models run one step.
        for kind, pt, nl in (("multilabel", "multi_label_classification", 4), ("regression", "regression", 1)):
            d = os.path.join(tmp, kind)
            _write_tiny_model_dir(d, {"num_labels": nl, "problem_type": pt})
            s = normalise_spec(dict(base, modelDir=d, outputFile=os.path.join(d, "out.safetensors"),
                                    batches=_tiny_batches(1, 4, 11, kind, nl), gradientAccumulationSteps=1,
                                    warmupSteps=0, totalSteps=1))
            r = run_spec(s)
            check(r["steps"] == 1 and math.isfinite(r["losses"][0]) and r["losses"][0] == r["microLosses"][0],
                  f"{pt}: one step, finite loss")

    print(json.dumps({"selfTest": "ok", "checks": checks,
                      "singleLabelRun": {k: res[k] for k in ("losses", "learningRates", "gradNorms", "steps")}},
                     indent=1))
    return 0


# --------------------------------------------------------------------------------------


def main(argv: List[str]) -> int:
    if len(argv) == 2 and argv[1] == "--self-test":
        return self_test()
    if len(argv) != 2 or argv[1].startswith("-"):
        print("usage: train_reference.py <spec.json> | --self-test", file=sys.stderr)
        return 2
    torch.set_num_threads(1)
    try:
        with open(argv[1], "r", encoding="utf-8") as f:
            spec = normalise_spec(json.load(f))
        result = run_spec(spec)
    except (SpecError, ReloadError, ValueError, NotImplementedError, OSError) as e:
        print(f"train_reference: error: {e}", file=sys.stderr)
        return 1
    if not all(math.isfinite(x) for k in ("losses", "microLosses", "gradNorms") for x in result[k]):
        print("train_reference: warning: non-finite values (written as null)", file=sys.stderr)
    json.dump(_json_safe(result), sys.stdout, allow_nan=False)
    sys.stdout.write("\n")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
