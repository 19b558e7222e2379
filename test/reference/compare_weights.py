"""Checks that a directory bert-trainer saved holds exactly the weights of the checkpoint it loaded.

Usage: .venv/bin/python test/reference/compare_weights.py <original_dir> <saved_dir>

The original's tensors are mapped the way transformers' from_pretrained maps keys (legacy LayerNorm
gamma/beta, a bare base model's missing prefix ("bert.", "roberta.", ... by config.json's model_type), pretraining heads and position_ids dropped) and
converted to float32, which is what the loader keeps. Every saved tensor must then be bit-identical
(torch.equal) to its original, and the saved file must hold float32 tensors only.
Prints a JSON summary; exits 1 on any difference. (Our own readers, torch only: this checks the bytes, not a model.)
"""

import json
import os
import sys

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from reload_and_predict import read_checkpoint_dir  # noqa: E402


# transformers' base_model_prefix of each model_type (absent: BERT).
BASE_PREFIX = {"bert": "bert", "roberta": "roberta", "xlm-roberta": "roberta", "distilbert": "distilbert",
               "electra": "electra"}


def normalise(sd, config):
    prefix = BASE_PREFIX[config.get("model_type", "bert")] + "."
    has_prefix = any(k.startswith(prefix) for k in sd)
    out = {}
    for key, value in sd.items():
        if key.startswith("cls.") or key.endswith("position_ids") or key.endswith("embeddings.token_type_ids"):
            continue
        if key.endswith("LayerNorm.gamma"):
            key = key[: -len("gamma")] + "weight"
        elif key.endswith("LayerNorm.beta"):
            key = key[: -len("beta")] + "bias"
        if not has_prefix:
            key = prefix + key
        out[key] = value.to(torch.float32)
    return out


def compare(original_dir, saved_dir):
    """{"file", "compared", "saved", "differing": [keys], "notF32": [keys]} for two model directories."""
    config, original, _, _ = read_checkpoint_dir(original_dir)
    _, saved, saved_dtypes, saved_file = read_checkpoint_dir(saved_dir)
    original = normalise(original, config)
    differing = [k for k, v in original.items() if k not in saved or not torch.equal(saved[k], v)]
    not_f32 = [k for k, d in saved_dtypes.items() if d != "F32"]
    return {"file": saved_file, "compared": len(original), "saved": len(saved), "differing": differing, "notF32": not_f32}


def main(argv):
    if len(argv) != 3:
        print(__doc__, file=sys.stderr)
        return 2
    result = compare(argv[1], argv[2])
    print(json.dumps(result))
    return 1 if result["differing"] or result["notF32"] else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
