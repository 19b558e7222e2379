"""Writes a deterministic training spec for test/reference/train_reference.py.

Usage:
    .venv/bin/python test/reference/make_training_spec.py <model_dir> <spec_out.json>
        [--kind single|multilabel|regression] [--output-file PATH] [--seed N]
        [--steps N] [--accum N] [--micro-batches N] [--batch-size N] [--max-len N]
        [--lr X] [--weight-decay X] [--max-grad-norm X] [--scheduler NAME] [--warmup N]
        [--total-steps N] [--class-weights w0,w1,...] [--check]

<model_dir> is a fixture directory (test/fixtures/generated/<name>); its config.json gives
vocab_size, type_vocab_size, max_position_embeddings, pad_token_id and num_labels.

Kinds and their defaults (every default can be overridden by the flags above):
  single      single_label_classification, 10 optimizer steps x accumulation 2 = 20
              micro-batches of 4 rows, lr 1e-3, weight decay 0.01, linear schedule with
              3 warmup steps over totalSteps 10, maxGradNorm 0.5 (clips at every step on
              tiny-safetensors-f32 / odd-bin-f32: their grad norms are > 1).
  multilabel  multi_label_classification, 1 step (1 micro-batch of 4 rows), float 0/1 labels,
              lr 1e-3, weight decay 0.01, linear, no warmup, totalSteps 1, maxGradNorm 1.0.
  regression  regression, 1 step (1 micro-batch of 4 rows), float labels (a list of floats
              for num_labels == 1, rows of num_labels floats otherwise), otherwise as multilabel.

Batches: token ids are drawn with random.Random(seed) from [0, vocab_size) minus pad_token_id;
each micro-batch has rows of different lengths (its longest row is ceil(max-len/2)..max-len long,
max-len defaulting to min(16, max_position_embeddings), the others 2..longest) padded with
pad_token_id to its longest row, attentionMask 1 on tokens / 0 on padding, tokenTypeIds
0 on the first segment and on padding, 1..type_vocab_size-1 on the second segment.
"modelDir" and "outputFile" are written as absolute paths; outputFile defaults to the spec path
with ".safetensors" instead of ".json". Same arguments -> byte-identical spec.

--check runs the spec through train_reference.py (in-process, output to a temp file) and prints
the losses / grad norms; it exits 1 when maxGradNorm is set but no step clipped.
Depends on the stdlib only (plus torch and transformers for --check: .venv/bin/python).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sys
import tempfile
from typing import Any, Dict, List

KINDS = {
    "single": {
        "problemType": "single_label_classification", "steps": 10, "accum": 2, "batch_size": 4,
        "lr": 1e-3, "weight_decay": 0.01, "max_grad_norm": 0.5, "scheduler": "linear", "warmup": 3,
        "total_steps": 10,
    },
    "multilabel": {
        "problemType": "multi_label_classification", "steps": 1, "accum": 1, "batch_size": 4,
        "lr": 1e-3, "weight_decay": 0.01, "max_grad_norm": 1.0, "scheduler": "linear", "warmup": 0,
        "total_steps": 1,
    },
    "regression": {
        "problemType": "regression", "steps": 1, "accum": 1, "batch_size": 4,
        "lr": 1e-3, "weight_decay": 0.01, "max_grad_norm": 1.0, "scheduler": "linear", "warmup": 0,
        "total_steps": 1,
    },
}


def _num_labels(cfg: Dict[str, Any]) -> int:
    if isinstance(cfg.get("id2label"), dict):
        return len(cfg["id2label"])
    return int(cfg.get("num_labels", 2))


def make_batch(rng: random.Random, cfg: Dict[str, Any], kind: str, rows: int, max_len: int) -> Dict[str, Any]:
    vocab = int(cfg.get("vocab_size", 30522))
    pad = int(cfg.get("pad_token_id", 0) or 0)
    tvs = int(cfg.get("type_vocab_size", 2))
    num_labels = _num_labels(cfg)
    token_pool = [t for t in range(vocab) if t != pad]

    longest = rng.randint(max(2, (max_len + 1) // 2), max_len)  # micro-batches differ in width too
    lengths = [longest] + [rng.randint(2, longest) for _ in range(rows - 1)]
    if rows > 1 and len(set(lengths)) == 1 and longest > 2:  # make sure some row is padded
        lengths[-1] = max(2, longest // 2)
    rng.shuffle(lengths)
    width = max(lengths)
    input_ids, mask, types = [], [], []
    for r, length in enumerate(lengths):
        ids = [rng.choice(token_pool) for _ in range(length)]
        split = rng.randint(1, length)  # first segment [0, split), second [split, length)
        second = 1 + (r % (tvs - 1)) if tvs > 1 else 0
        input_ids.append(ids + [pad] * (width - length))
        mask.append([1] * length + [0] * (width - length))
        types.append([0] * split + [second] * (length - split) + [0] * (width - length))

    if kind == "single":
        labels: List[Any] = [rng.randrange(num_labels) for _ in range(rows)]
    elif kind == "multilabel":
        labels = [[float(rng.random() < 0.5) for _ in range(num_labels)] for _ in range(rows)]
    else:
        def value() -> float:
            return round(rng.uniform(-2.0, 2.0), 4)
        labels = [value() for _ in range(rows)] if num_labels == 1 else [
            [value() for _ in range(num_labels)] for _ in range(rows)]
    return {"inputIds": input_ids, "attentionMask": mask, "tokenTypeIds": types, "labels": labels}


def make_spec(args: argparse.Namespace) -> Dict[str, Any]:
    with open(os.path.join(args.model_dir, "config.json"), "r", encoding="utf-8") as f:
        cfg = json.load(f)
    d = dict(KINDS[args.kind])
    for key in d:
        val = getattr(args, key, None)
        if val is not None:
            d[key] = val
    num_labels = _num_labels(cfg)
    if args.kind in ("single", "multilabel") and num_labels < 2:
        raise SystemExit(f"make_training_spec: --kind {args.kind} needs num_labels >= 2 ({args.model_dir} has {num_labels})")
    max_len = args.max_len or min(16, int(cfg.get("max_position_embeddings", 512)))
    n_micro = args.micro_batches or d["steps"] * d["accum"]
    rng = random.Random(args.seed)
    batches = [make_batch(rng, cfg, args.kind, d["batch_size"], max_len) for _ in range(n_micro)]
    output_file = args.output_file or (os.path.splitext(args.spec_out)[0] + ".safetensors")
    class_weights = None
    if args.class_weights:
        class_weights = [float(x) for x in args.class_weights.split(",")]
    return {
        "modelDir": os.path.abspath(args.model_dir),
        "outputFile": os.path.abspath(output_file),
        "problemType": d["problemType"],
        "classWeights": class_weights,
        "learningRate": d["lr"],
        "weightDecay": d["weight_decay"],
        "adamBeta1": 0.9,
        "adamBeta2": 0.999,
        "adamEpsilon": 1e-8,
        "maxGradNorm": d["max_grad_norm"],
        "gradientAccumulationSteps": d["accum"],
        "lrScheduler": d["scheduler"],
        "warmupSteps": d["warmup"],
        "totalSteps": d["total_steps"],
        "dropout": False,
        "batches": batches,
    }


def check_spec(spec: Dict[str, Any]) -> int:
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    import torch  # noqa: F401
    import train_reference

    torch.set_num_threads(1)
    with tempfile.TemporaryDirectory() as tmp:
        result = train_reference.run_spec(
            train_reference.normalise_spec(dict(spec, outputFile=os.path.join(tmp, "out.safetensors"))))
    mgn = spec["maxGradNorm"]
    clipped = sum(1 for g in result["gradNorms"] if mgn and g > mgn)
    print(json.dumps({"steps": result["steps"], "losses": result["losses"], "gradNorms": result["gradNorms"],
                      "learningRates": result["learningRates"], "maxGradNorm": mgn, "clippedSteps": clipped}),
          file=sys.stderr)
    if mgn and clipped == 0:
        print(f"make_training_spec: maxGradNorm {mgn} never clips (grad norms {result['gradNorms']})",
              file=sys.stderr)
        return 1
    return 0


def main(argv: List[str]) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("model_dir")
    p.add_argument("spec_out")
    p.add_argument("--kind", choices=sorted(KINDS), default="single")
    p.add_argument("--output-file")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--steps", type=int)
    p.add_argument("--accum", type=int)
    p.add_argument("--micro-batches", type=int, help="default steps * accum; not a multiple -> partial last group")
    p.add_argument("--batch-size", type=int)
    p.add_argument("--max-len", type=int)
    p.add_argument("--lr", type=float)
    p.add_argument("--weight-decay", type=float)
    p.add_argument("--max-grad-norm", type=float)
    p.add_argument("--scheduler", choices=["linear", "cosine", "constant", "constant_with_warmup"])
    p.add_argument("--warmup", type=int)
    p.add_argument("--total-steps", type=int)
    p.add_argument("--class-weights", help="comma-separated, single-label only")
    p.add_argument("--check", action="store_true", help="run it through train_reference and verify clipping")
    args = p.parse_args(argv[1:])
    spec = make_spec(args)
    with open(args.spec_out, "w", encoding="utf-8") as f:
        json.dump(spec, f, indent=1)
        f.write("\n")
    return check_spec(spec) if args.check else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
