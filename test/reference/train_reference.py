"""The training-parity reference: transformers' BertForSequenceClassification trained the way transformers' Trainer
trains it, on given micro-batches.

Usage:
    .venv/bin/python test/reference/train_reference.py <spec.json>
    .venv/bin/python test/reference/train_reference.py --self-test

<spec.json> (see test/reference/README.md for every field and its default):
    {"modelDir": "...", "outputFile": "...", "batches": [{"inputIds": [[..]], "attentionMask": [[..]],
     "tokenTypeIds": [[..]] (optional), "labels": [..]}, ...],
     "problemType": null|"single_label_classification"|"multi_label_classification"|"regression",
     "classWeights": null|[w0, ...], "learningRate": 5e-5, "weightDecay": 0.0, "adamBeta1": 0.9,
     "adamBeta2": 0.999, "adamEpsilon": 1e-8, "maxGradNorm": 1.0, "gradientAccumulationSteps": 1,
     "lrScheduler": "linear"|"cosine"|"constant"|"constant_with_warmup", "warmupSteps": 0,
     "totalSteps": n, "dropout": false, "seed": 0, "mixedPrecision": "no"|"bf16"|"fp16",
     "attnImplementation": "sdpa"|"eager", "numThreads": 1, "partialGroupDivisor": "accumulation_steps"}

Prints {"losses", "microLosses", "learningRates", "gradNorms", "skipped", "scales", "steps", "versions"} as JSON on
stdout ("skipped": per step, whether fp16's GradScaler skipped the update; "scales": its scale after each step) and writes
every named parameter (HF names, F32) to outputFile. Exits 1 with a message on stderr on a bad spec, 2 on bad usage.

Everything that computes is transformers' or torch's own:
    model      BertForSequenceClassification.from_pretrained(modelDir, dtype=float32, attn_implementation=...),
               dropout probabilities 0 unless "dropout" (problem_type from the spec when given), its own loss
               (problem_type as transformers chooses it); class weights: F.cross_entropy(logits, labels, weight=w)
               on the model's logits (a Trainer compute_loss_func)
    optimizer  torch.optim.AdamW over the Trainer's two groups (Trainer.get_decay_parameter_names: no decay on
               biases and LayerNorm weights)
    schedule   transformers.get_scheduler(lrScheduler, optimizer, warmupSteps, totalSteps)
    clipping   torch.nn.utils.clip_grad_norm_(model.parameters(), maxGradNorm) (maxGradNorm 0: the Trainer's
               clip_grad_norm_(..., inf), which only measures)
    bf16       the forward pass (loss included) under torch.autocast("cpu", dtype=torch.bfloat16), as accelerate wraps
               the model's forward for the Trainer's bf16=True
    fp16       the same under torch.autocast("cpu", dtype=torch.float16), with accelerate's torch.amp.GradScaler
               ("cpu", default settings: init_scale 2^16, growth 2, backoff 0.5, interval 2000) for fp16=True:
               scaler.scale(loss).backward(), scaler.unscale_(optimizer) before clipping, scaler.step(optimizer),
               scaler.update(); a step the scaler skipped (found_inf: its scale went down) does not step the
               scheduler, as accelerate's AcceleratedScheduler.step returns when the optimizer step was skipped
and the loop is Trainer._run_epoch's with logging_steps=1 over one epoch of the micro-batches, in order:

    model.train(); model.zero_grad()
    per micro-batch:  loss = model loss; (loss / divisor).backward(); tr_loss += (loss / divisor).detach()
    after every gradientAccumulationSteps micro-batches, and after the last one:
        grad_norm = clip_grad_norm_(...); optimizer.step(); lr = scheduler.get_last_lr()[0]
        scheduler.step() (fp16: unless the step was skipped); model.zero_grad(); logged loss = tr_loss (float32);
        tr_loss = 0

One deliberate difference from transformers 5.18's Trainer: it divides the loss by the accumulation steps only when
the model's forward takes no **kwargs; BertForSequenceClassification.forward takes **kwargs, so that Trainer passes
num_items_in_batch instead, which BERT's classification loss ignores, and sums the micro-batch losses of a step
rather than averaging them. bert-trainer (like transformers 4.x's Trainer for this model) averages them: the loss is
divided by the accumulation steps here, as in the Trainer's own code path for such models.

The one piece that is not transformers': with "dropout": true, the masks. transformers has no counterpart of
bert-trainer's dropout masks (Philox4x32-10 keyed by the seed, native/model/dropout.cpp), so philox_dropout.py
draws them and torch.nn.functional.dropout is swapped for it while the reference trains: transformers' own modules
and eager attention (which calls nn.functional.dropout on the attention probabilities) then drop exactly what
bert-trainer drops, in the same order.

Threads: torch's CPU kernels reduce per intra-op thread (layer_norm's weight and bias gradients, for one), so
numThreads should be the number bert-trainer computes with (the tests pass the addon's numThreads()).
"""

from __future__ import annotations

import json
import math
import os
import sys
import tempfile
from collections import OrderedDict
from typing import Any, Dict, List, Optional

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import hf_reference  # noqa: E402  (switches the Hub off before transformers is imported)
import safetensors_io  # noqa: E402
import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402
from hf_reference import ATTENTION_IMPLEMENTATIONS, HFReferenceError, effective_config, load_classifier  # noqa: E402
from philox_dropout import philox_functional_dropout  # noqa: E402
from reload_and_predict import ReloadError  # noqa: E402
from transformers import Trainer, get_scheduler  # noqa: E402


class SpecError(Exception):
    pass


SCHEDULERS = ("linear", "cosine", "constant", "constant_with_warmup")
PROBLEM_TYPES = ("single_label_classification", "multi_label_classification", "regression")
PARTIAL_GROUP_DIVISORS = ("accumulation_steps", "group_size")
MIXED_PRECISIONS = ("no", "bf16", "fp16")
AUTOCAST_DTYPES = {"no": None, "bf16": torch.bfloat16, "fp16": torch.float16}

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
    "seed": 0,  # torch.manual_seed; with "dropout": true also the key of the Philox dropout stream (as Trainer seed)
    "partialGroupDivisor": "accumulation_steps",
    "mixedPrecision": "no",  # "bf16" / "fp16": forward + loss under torch.autocast("cpu", ...) (the Trainer's bf16 / fp16)
    "attnImplementation": "sdpa",  # from_pretrained's default; "eager": transformers' eager_attention_forward
    "numThreads": 1,  # torch.set_num_threads while training
}


# --------------------------------------------------------------------------------------
# Optimizer and schedule: the Trainer's create_optimizer / create_scheduler
# --------------------------------------------------------------------------------------


def decay_parameter_names(model) -> List[str]:
    """Trainer.get_decay_parameter_names (it does not use the Trainer's state): every parameter except those of
    LayerNorm layers and those whose name says bias / norm."""
    return Trainer.get_decay_parameter_names(None, model)


def make_optimizer(model, spec: Dict[str, Any]) -> torch.optim.AdamW:
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


def make_scheduler(optimizer, spec: Dict[str, Any]):
    return get_scheduler(spec["lrScheduler"], optimizer, num_warmup_steps=spec["warmupSteps"],
                         num_training_steps=spec["totalSteps"])


def effective_problem_type(configured: Optional[str], num_labels: int, labels: torch.Tensor) -> str:
    """transformers' inference when config.problem_type is None (BertForSequenceClassification.forward)."""
    if configured is not None:
        return configured
    if num_labels == 1:
        return "regression"
    if num_labels > 1 and labels.dtype in (torch.long, torch.int):
        return "single_label_classification"
    return "multi_label_classification"


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
    if spec["attnImplementation"] not in ATTENTION_IMPLEMENTATIONS:
        raise SpecError(f"attnImplementation must be one of {', '.join(ATTENTION_IMPLEMENTATIONS)}")
    if spec["dropout"] and spec["attnImplementation"] != "eager":
        raise SpecError("dropout: true needs attnImplementation 'eager' (sdpa draws its attention-dropout mask "
                        "inside the kernel, where bert-trainer's Philox masks cannot be applied)")
    if not _is_int(spec["numThreads"]) or spec["numThreads"] < 1:
        raise SpecError("numThreads must be an integer >= 1")
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


# --------------------------------------------------------------------------------------
# Training loop
# --------------------------------------------------------------------------------------


BERT_DROPOUTS = ("hidden_dropout_prob", "attention_probs_dropout_prob", "classifier_dropout")
DISTILBERT_DROPOUTS = ("dropout", "attention_dropout", "seq_classif_dropout")


def load_start_model(spec: Dict[str, Any]):
    overrides: Dict[str, Any] = {}
    if spec["problemType"] is not None:
        overrides["problem_type"] = spec["problemType"]
    if not spec["dropout"]:
        with open(os.path.join(spec["modelDir"], "config.json")) as f:
            model_type = json.load(f).get("model_type", "bert")
        # DistilBERT's config names its dropout probabilities otherwise (its __init__ takes no BERT names)
        names = DISTILBERT_DROPOUTS if model_type == "distilbert" else BERT_DROPOUTS
        overrides.update({name: 0.0 for name in names})
    model, info = load_classifier(spec["modelDir"], spec["attnImplementation"], **overrides)
    if info["missing_keys"]:
        missing = info["missing_keys"]
        raise SpecError(f"{spec['modelDir']}: checkpoint lacks {len(missing)} parameters ({missing[:4]}); "
                        "their random initialisation could not be reproduced, so training parity is undefined")
    return model


def train(model, spec: Dict[str, Any]) -> Dict[str, Any]:
    """Runs the spec's micro-batches on ``model`` (modified in place); returns the JSON result."""
    cfg = effective_config(model.config)
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
    torch.manual_seed(spec["seed"])  # the Trainer's set_seed(args.seed)
    optimizer = make_optimizer(model, spec)
    scheduler = make_scheduler(optimizer, spec)
    autocast_dtype = AUTOCAST_DTYPES[spec["mixedPrecision"]]
    scaler = torch.amp.GradScaler("cpu") if spec["mixedPrecision"] == "fp16" else None

    model.train()
    model.zero_grad()
    tr_loss = torch.tensor(0.0)
    losses: List[float] = []
    micro_losses: List[float] = []
    learning_rates: List[float] = []
    grad_norms: List[float] = []
    skipped: List[bool] = []
    scales: List[Optional[float]] = []
    for start in range(0, len(batches), ga):
        group = batches[start: start + ga]
        divisor = ga if spec["partialGroupDivisor"] == "accumulation_steps" else len(group)
        for b in group:
            # a tensor not given stays out (DistilBERT's forward takes no token_type_ids)
            inputs = {k: b[k] for k in ("input_ids", "attention_mask", "token_type_ids") if b[k] is not None}
            with torch.autocast("cpu", dtype=autocast_dtype or torch.bfloat16, enabled=autocast_dtype is not None):
                if class_weights is None:
                    loss = model(**inputs, labels=b["labels"]).loss
                else:
                    logits = model(**inputs).logits
                    loss = F.cross_entropy(logits.view(-1, num_labels), b["labels"].view(-1), weight=class_weights)
            micro_losses.append(loss.item())
            scaled = loss / divisor
            (scaler.scale(scaled) if scaler is not None else scaled).backward()
            tr_loss = tr_loss + scaled.detach()
        if scaler is not None:
            scaler.unscale_(optimizer)
        max_norm = spec["maxGradNorm"] if spec["maxGradNorm"] is not None else float("inf")
        grad_norms.append(torch.nn.utils.clip_grad_norm_(model.parameters(), max_norm).item())
        if scaler is not None:
            scale = scaler.get_scale()
            scaler.step(optimizer)
            scaler.update()
            was_skipped = scaler.get_scale() < scale  # accelerate's step_was_skipped: found_inf, and the scale backed off
            scales.append(scaler.get_scale())
        else:
            optimizer.step()
            was_skipped = False
            scales.append(None)
        skipped.append(was_skipped)
        learning_rates.append(scheduler.get_last_lr()[0])  # the Trainer's _get_learning_rate(), before scheduler.step()
        if not was_skipped:
            scheduler.step()
        model.zero_grad()
        losses.append(tr_loss.item())
        tr_loss = torch.tensor(0.0)
    return {
        "losses": losses,
        "microLosses": micro_losses,
        "learningRates": learning_rates,
        "gradNorms": grad_norms,
        "skipped": skipped,
        "scales": scales,
        "steps": len(losses),
        "versions": hf_reference.versions(),
    }


def save_parameters(model, path: str) -> None:
    tensors = OrderedDict((n, p.detach().to(torch.float32).contiguous()) for n, p in model.named_parameters())
    safetensors_io.save_file(tensors, path, {"format": "pt"})


def _json_safe(result: Dict[str, Any]) -> Dict[str, Any]:
    def fix(v):
        return v if not isinstance(v, float) or math.isfinite(v) else None
    return {k: ([fix(x) for x in v] if isinstance(v, list) else v) for k, v in result.items()}


def run_spec(spec: Dict[str, Any]) -> Dict[str, Any]:
    """Trains as the (normalised) spec says with spec["numThreads"] intra-op threads; writes outputFile."""
    threads = torch.get_num_threads()
    torch.set_num_threads(spec["numThreads"])
    try:
        model = load_start_model(spec)
        if spec["dropout"]:
            with philox_functional_dropout(spec["seed"]):  # bert-trainer's masks: comparable with dropout on
                result = train(model, spec)
        else:
            result = train(model, spec)
        save_parameters(model, spec["outputFile"])
    finally:
        torch.set_num_threads(threads)
    return result


def run_spec_json(raw: Dict[str, Any]) -> Dict[str, Any]:
    """A raw spec -> the JSON-safe result (non-finite values as null); SpecError / ReloadError on bad input."""
    try:
        return _json_safe(run_spec(normalise_spec(raw)))
    except HFReferenceError as e:
        raise SpecError(str(e)) from None


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


def _write_tiny_model_dir(path: str, cfg_overrides: Dict[str, Any]) -> None:
    from transformers import BertConfig, BertForSequenceClassification

    torch.manual_seed(1234)
    BertForSequenceClassification(BertConfig(**dict(TINY_CONFIG, **cfg_overrides))).save_pretrained(path)


def self_test() -> int:
    checks: List[str] = []

    def check(cond: bool, what: str) -> None:
        if not cond:
            raise AssertionError(what)
        checks.append(what)

    with tempfile.TemporaryDirectory() as tmp:
        model_dir = os.path.join(tmp, "tiny")
        _write_tiny_model_dir(model_dir, {})
        base = {
            "modelDir": model_dir, "batches": _tiny_batches(20, 4, 7, "single", 3),
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
        check(res["steps"] == 10 and len(res["microLosses"]) == 20, "10 optimizer steps from 20 micro-batches")
        check(all(math.isfinite(x) for k in ("losses", "microLosses", "gradNorms") for x in res[k]),
              "losses, micro losses and grad norms are finite")
        check(all(g > 0.5 for g in res["gradNorms"]), "every grad norm > maxGradNorm 0.5 (clipping really clips)")
        hand = [1e-3 * (k / 3 if k < 3 else max(0.0, (10 - k) / 7)) for k in range(10)]
        check(all(abs(a - b) <= 1e-18 for a, b in zip(res["learningRates"], hand)),
              "learning rates == hand-written 1e-3 * [0, 1/3, 2/3, 1, 6/7, ..., 1/7]")
        m = res["microLosses"]
        want = [(torch.tensor(0.0) + torch.tensor(m[2 * k]) / 2 + torch.tensor(m[2 * k + 1]) / 2).item()
                for k in range(10)]
        check(res["losses"] == want, "losses[k] == float32 sum (micro[2k] / 2 + micro[2k+1] / 2)")
        check(res == res2 and blob == blob2, "two runs: identical JSON results and byte-identical output files")
        saved, _meta, dtypes = safetensors_io.load_file_with_info(os.path.join(tmp, "out0.safetensors"))
        fresh = load_start_model(spec)
        check(list(saved) == [n for n, _ in fresh.named_parameters()] and set(dtypes.values()) == {"F32"},
              "output file: every named parameter, HF names, in model order, F32")
        start = dict(fresh.named_parameters())
        check(all(not torch.equal(saved[n], start[n]) for n in saved), "every parameter changed")

        # Parameter groups: weight decay everywhere except biases and LayerNorm weights.
        no_decay = [n for n, _ in fresh.named_parameters() if n not in set(decay_parameter_names(fresh))]
        check(all(n.endswith(".bias") or ".LayerNorm." in n for n in no_decay)
              and any(n.endswith("LayerNorm.weight") for n in no_decay)
              and "bert.embeddings.word_embeddings.weight" not in no_decay,
              "no-decay group = biases + LayerNorm weights")

        # Class weights of 1 give the model's own loss.
        ones = normalise_spec(dict(base, outputFile=os.path.join(tmp, "w1.safetensors"), batches=base["batches"][:2],
                                   classWeights=[1.0, 1.0, 1.0]))
        r1 = run_spec(ones)
        r0 = run_spec(normalise_spec(dict(ones, classWeights=None, outputFile=os.path.join(tmp, "w0.safetensors"))))
        check(r1["microLosses"] == r0["microLosses"], "classWeights [1, 1, 1] == the model's own cross-entropy")

        # Step 0 has lr 0 (warmup): with lr 0 AdamW leaves parameters untouched.
        after = safetensors_io.load_file(ones["outputFile"])
        check(all(torch.equal(after[n], start[n]) for n in after), "warmup step 0 (lr 0) leaves parameters unchanged")

        # Partial last group and no clipping; cosine; class weights.
        part = normalise_spec(dict(base, outputFile=os.path.join(tmp, "p.safetensors"), batches=base["batches"][:5],
                                   maxGradNorm=0, lrScheduler="cosine", warmupSteps=1, totalSteps=4,
                                   classWeights=[1.0, 2.0, 0.5]))
        rp = run_spec(part)
        check(rp["steps"] == 3 and len(rp["microLosses"]) == 5, "5 micro-batches, accumulation 2 -> 3 steps")
        want = (torch.tensor(0.0) + torch.tensor(rp["microLosses"][4]) / 2).item()
        check(rp["losses"][2] == want, "partial group (accumulation_steps): logged loss = micro[4] / 2")
        check(rp["learningRates"][0] == 0.0 and rp["learningRates"][1] == 1e-3
              and abs(rp["learningRates"][2] - 1e-3 * 0.5 * (1 + math.cos(math.pi / 3))) <= 1e-18,
              "cosine lrs == 1e-3 * [0, 1, (1 + cos(pi/3)) / 2]")
        partg = dict(part, partialGroupDivisor="group_size", outputFile=os.path.join(tmp, "pg.safetensors"))
        rpg = run_spec(partg)
        check(rpg["losses"][2] == rpg["microLosses"][4] and rpg["losses"][:2] == rp["losses"][:2],
              "partial group (group_size): logged loss = micro[4]")

        # Eager and sdpa attention train to nearly the same numbers; dropout needs eager.
        eager = run_spec(normalise_spec(dict(base, attnImplementation="eager",
                                             outputFile=os.path.join(tmp, "e.safetensors"))))
        check(max(abs(a - b) for a, b in zip(eager["losses"], res["losses"])) < 1e-5,
              "eager and sdpa: losses within 1e-5 over 10 steps")
        try:
            normalise_spec(dict(base, outputFile="x", dropout=True))
            check(False, "dropout with sdpa is refused")
        except SpecError:
            check(True, "dropout with sdpa is refused")

        # Multi-label and regression models run one step.
        for kind, pt, nl in (("multilabel", "multi_label_classification", 4), ("regression", "regression", 1)):
            d = os.path.join(tmp, kind)
            _write_tiny_model_dir(d, {"num_labels": nl, "problem_type": pt})
            s = normalise_spec(dict(base, modelDir=d, outputFile=os.path.join(d, "out.safetensors"),
                                    batches=_tiny_batches(1, 4, 11, kind, nl), gradientAccumulationSteps=1,
                                    warmupSteps=0, totalSteps=1))
            r = run_spec(s)
            check(r["steps"] == 1 and math.isfinite(r["losses"][0]) and r["losses"][0] == r["microLosses"][0],
                  f"{pt}: one step, finite loss")

    print(json.dumps({"selfTest": "ok", "checks": checks, "versions": hf_reference.versions(),
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
    try:
        with open(argv[1], "r", encoding="utf-8") as f:
            result = run_spec_json(json.load(f))
    except (SpecError, ReloadError, ValueError, NotImplementedError, OSError) as e:
        print(f"train_reference: error: {e}", file=sys.stderr)
        return 1
    if any(x is None for k in ("losses", "microLosses", "gradNorms") for x in result[k]):
        print("train_reference: warning: non-finite values (written as null)", file=sys.stderr)
    json.dump(result, sys.stdout, allow_nan=False)
    sys.stdout.write("\n")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
