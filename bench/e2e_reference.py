"""PyTorch side of the end-to-end benchmark (scripts/bench/e2e.js): the classic fine-tuning tutorial's recipe
(transformers' "Fine-tune a pretrained model in native PyTorch") on PyTorch 2.13 + transformers 5.18 (the repository's
.venv, whose LibTorch the addon links): transformers' BertForSequenceClassification (attn_implementation "sdpa",
transformers' default; the spec's "attention" may say "eager"), torch.optim.AdamW and transformers' get_scheduler.

The recipe:
    enc = tokenizer(texts, padding=True, truncation=True, max_length=128)   # every row padded to the set's longest
    model = BertForSequenceClassification.from_pretrained(model_dir)
    loader = DataLoader(dataset, shuffle=True, batch_size=32)
    optimizer = AdamW(...); lr_scheduler = get_scheduler("linear", num_warmup_steps=..., num_training_steps=...)
    model.train()
    for epoch in range(epochs):
        for batch in loader:
            loss = model(**batch).loss; loss.backward()
            optimizer.step(); lr_scheduler.step(); optimizer.zero_grad()
    model.eval(); for batch in eval_loader: with torch.no_grad(): predictions = model(**batch).logits.argmax(-1)

The driver tokenizes, with the tokenizer it learned for both sides (the `tokenizers` Rust library through its Node
binding, the library BertTokenizerFast calls), and hands this script the unpadded token ids ([CLS] ... [SEP],
truncated to max length); `pad_to_longest` then does what padding=True does. The driver times that tokenizer call
itself and reports it separately, so that both sides see the same token ids and the call is timed the same way.

Two deviations from the tutorial, so that both sides train with the same hyper-parameters as bert-trainer's (and
transformers' Trainer's) defaults: AdamW over Trainer's two parameter groups (no weight decay on biases and
LayerNorm weights; torch.optim.AdamW with torch's defaults, the tutorial's optimizer, not Trainer's fused one) and
gradient clipping at max norm 1.0 before each optimizer step. The warm-up is ceil(warmup_ratio * total steps), as
TrainingArguments.get_warmup_steps and src/schedule.ts compute it.

Modes (each prints one JSON line on stdout):
  train <spec.json>   the recipe, timed: model load, the training loop, the held-out evaluation (each phase and the
                      total; Python start-up, `import torch` / `import transformers`, reading the data file and
                      building the padded tensors are outside the total and reported separately).
                      -> {"phases": {"loadS", "trainS", "evalS", "totalS", "tensorizeS", "cpuS"}, "steps", "warmupSteps",
                          "losses", "learningRates", "predictions", "evalLoss", "paddedLength": {"train", "eval"},
                          "paddingFraction", "hwmKiB", "threads", "attention", "torch", "transformers"}
  check <spec.json>   correctness gate: the spec's model directory (with dropout forced to 0), the first
                      `checkSteps` * batchSize training rows in order (padded to the whole set's longest, as the recipe
                      pads them), `checkSteps` steps at a constant learning rate.
                      -> {"losses", "gradNorms", "paddedLength", "attention"}

spec.json: {"modelDir", "dataFile", "threads", "seed", "epochs", "batchSize", "learningRate", "weightDecay",
            "warmupRatio", "maxGradNorm", "checkSteps", "attention" ("sdpa" default, or "eager"), "order" (optional:
            the batches' order per epoch, a diagnostic)}
dataFile:  {"padTokenId", "train": {"inputIds": [[...]], "labels": [...]}, "eval": {"inputIds": [[...]], "labels": [...]}}
"""
from __future__ import annotations

import json
import math
import os
import re
import resource
import sys
import time
from typing import Any, Dict, List, Tuple

import torch
import transformers
from torch.utils.data import DataLoader, TensorDataset
from transformers import BertForSequenceClassification, get_scheduler  # noqa: F401 - imported here, outside the timings

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from step_reference import load_model, trainer_optimizer  # noqa: E402


def proc_status_kib(field: str) -> int:
    with open("/proc/self/status", "r", encoding="utf-8") as status:
        match = re.search(rf"^{field}:\s+(\d+)\s+kB", status.read(), re.MULTILINE)
    return int(match.group(1)) if match else -1


def pad_to_longest(rows: List[List[int]], pad_id: int) -> Tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """What tokenizer(texts, padding=True, return_tensors="pt") returns: input_ids, token_type_ids and attention_mask,
    every row padded (on the right) to the longest row of the whole list."""
    longest = max(len(r) for r in rows)
    input_ids = torch.full((len(rows), longest), pad_id, dtype=torch.long)
    attention_mask = torch.zeros((len(rows), longest), dtype=torch.long)
    for i, r in enumerate(rows):
        input_ids[i, : len(r)] = torch.tensor(r, dtype=torch.long)
        attention_mask[i, : len(r)] = 1
    token_type_ids = torch.zeros_like(input_ids)
    return input_ids, token_type_ids, attention_mask


def read_spec(path: str) -> Dict[str, Any]:
    with open(path, "r", encoding="utf-8") as f:
        return json.load(f)


def read_data(spec: Dict[str, Any]) -> Dict[str, Any]:
    with open(spec["dataFile"], "r", encoding="utf-8") as f:
        return json.load(f)


def attention_of(spec: Dict[str, Any]) -> str:
    attention = str(spec.get("attention", "sdpa"))
    if attention not in ("sdpa", "eager"):
        raise ValueError(f"spec 'attention': sdpa or eager, got {attention!r}")
    return attention


def make_optimizer(model, spec: Dict[str, Any]):
    """torch.optim.AdamW (torch's defaults, betas 0.9/0.999, eps 1e-8: the tutorial's optimizer) over transformers'
    Trainer's two parameter groups."""
    optimizer, _name = trainer_optimizer(model, float(spec["learningRate"]), float(spec["weightDecay"]), optim="adamw_torch")
    return optimizer


def train(spec: Dict[str, Any]) -> Dict[str, Any]:
    torch.set_num_threads(int(spec["threads"]))
    data = read_data(spec)
    pad_id = int(data["padTokenId"])

    # The tokenizer's output as tensors (return_tensors="pt"): outside the timed total, like the tokenizer call.
    t = time.perf_counter()
    train_x = pad_to_longest(data["train"]["inputIds"], pad_id)
    train_y = torch.tensor(data["train"]["labels"], dtype=torch.long)
    eval_x = pad_to_longest(data["eval"]["inputIds"], pad_id)
    eval_y = torch.tensor(data["eval"]["labels"], dtype=torch.long)
    tensorize_s = time.perf_counter() - t
    real_tokens = sum(len(r) for r in data["train"]["inputIds"])
    del data

    cpu_start = resource.getrusage(resource.RUSAGE_SELF)
    start = time.perf_counter()
    # from_pretrained with the config.json as saved (dropout 0.1; the fixed-order diagnostic's directory says 0).
    model = load_model(spec["modelDir"], True, attention_of(spec))
    loaded = time.perf_counter()

    # Seeded after the load: dropout and the order.
    torch.manual_seed(int(spec["seed"]))
    generator = torch.Generator()
    generator.manual_seed(int(spec["seed"]))
    batch_size = int(spec["batchSize"])
    train_set = TensorDataset(*train_x, train_y)
    train_loader = DataLoader(train_set, shuffle=True, batch_size=batch_size, generator=generator)
    epochs = int(spec["epochs"])
    # A diagnostic: the batches in a given order per epoch (bert-trainer's permutation) instead of the shuffling loader.
    order = spec.get("order")
    if order is not None and (len(order) != epochs or any(sorted(o) != list(range(len(train_set))) for o in order)):
        raise ValueError(f"spec 'order': expected {epochs} permutations of 0..{len(train_set) - 1}")

    def epoch_batches(epoch: int):
        if order is None:
            return train_loader
        return (train_set[torch.tensor(order[epoch][i:i + batch_size])] for i in range(0, len(train_set), batch_size))

    total_steps = epochs * len(train_loader)
    warmup_steps = math.ceil(total_steps * float(spec["warmupRatio"]))
    optimizer = make_optimizer(model, spec)
    scheduler = get_scheduler("linear", optimizer, num_warmup_steps=warmup_steps, num_training_steps=total_steps)
    max_grad_norm = float(spec["maxGradNorm"])

    losses: List[torch.Tensor] = []
    learning_rates: List[float] = []
    model.train()
    for epoch in range(epochs):
        for input_ids, token_type_ids, attention_mask, labels in epoch_batches(epoch):
            loss = model(input_ids=input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids, labels=labels).loss
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), max_grad_norm)
            learning_rates.append(scheduler.get_last_lr()[0])
            optimizer.step()
            scheduler.step()
            optimizer.zero_grad()
            losses.append(loss.detach())
    trained = time.perf_counter()

    model.eval()
    predictions: List[torch.Tensor] = []
    eval_loss = 0.0
    eval_loader = DataLoader(TensorDataset(*eval_x, eval_y), batch_size=batch_size)
    with torch.no_grad():
        for input_ids, token_type_ids, attention_mask, labels in eval_loader:
            out = model(input_ids=input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids, labels=labels)
            eval_loss += out.loss.item() * labels.shape[0]
            predictions.append(out.logits.argmax(dim=-1))
    evaluated = time.perf_counter()
    cpu_end = resource.getrusage(resource.RUSAGE_SELF)

    return {
        "phases": {"loadS": loaded - start, "trainS": trained - loaded, "evalS": evaluated - trained,
                   "totalS": evaluated - start, "tensorizeS": tensorize_s,
                   # CPU time of the whole process (all threads) over the timed region: less sensitive than the wall
                   # time to other work on a shared machine.
                   "cpuS": (cpu_end.ru_utime - cpu_start.ru_utime) + (cpu_end.ru_stime - cpu_start.ru_stime)},
        "steps": len(losses),
        "warmupSteps": warmup_steps,
        "losses": torch.stack(losses).tolist(),
        "learningRates": learning_rates,
        "predictions": torch.cat(predictions).tolist(),
        "evalLoss": eval_loss / eval_y.shape[0],
        "paddedLength": {"train": int(train_x[0].shape[1]), "eval": int(eval_x[0].shape[1])},
        "paddingFraction": 1 - real_tokens / train_x[0].numel(),
        "hwmKiB": proc_status_kib("VmHWM"),
        "threads": torch.get_num_threads(),
        "attention": model.config._attn_implementation,
        "torch": torch.__version__,
        "transformers": transformers.__version__,
    }


def check(spec: Dict[str, Any]) -> Dict[str, Any]:
    torch.set_num_threads(int(spec["threads"]))
    data = read_data(spec)
    input_ids, token_type_ids, attention_mask = pad_to_longest(data["train"]["inputIds"], int(data["padTokenId"]))
    labels = torch.tensor(data["train"]["labels"], dtype=torch.long)
    model = load_model(spec["modelDir"], False, attention_of(spec))
    optimizer = make_optimizer(model, spec)
    batch_size = int(spec["batchSize"])
    losses: List[float] = []
    norms: List[float] = []
    model.train()
    for k in range(int(spec["checkSteps"])):
        rows = slice(k * batch_size, (k + 1) * batch_size)
        loss = model(input_ids=input_ids[rows], attention_mask=attention_mask[rows], token_type_ids=token_type_ids[rows],
                     labels=labels[rows]).loss
        loss.backward()
        norms.append(torch.nn.utils.clip_grad_norm_(model.parameters(), float(spec["maxGradNorm"])).item())
        optimizer.step()
        optimizer.zero_grad()
        losses.append(loss.item())
    return {"losses": losses, "gradNorms": norms, "paddedLength": int(input_ids.shape[1]),
            "attention": model.config._attn_implementation}


def main(argv: List[str]) -> int:
    if len(argv) != 3 or argv[1] not in ("train", "check"):
        print("usage: e2e_reference.py train|check <spec.json>", file=sys.stderr)
        return 2
    spec = read_spec(argv[2])
    result = train(spec) if argv[1] == "train" else check(spec)
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
