"""Reload a model directory bert-trainer wrote, with transformers itself, and run an eval forward pass.

Usage:
    .venv/bin/python test/reference/reload_and_predict.py <model_dir> <inputs.json> [eager|sdpa]

<model_dir> is a Hugging Face model directory: config.json plus one of model.safetensors,
model.safetensors.index.json (+ shards), pytorch_model.bin, pytorch_model.bin.index.json (+ shards).
<inputs.json> is {"inputIds": [[...]], "attentionMask": [[...]], "tokenTypeIds": [[...]]}
(attentionMask / tokenTypeIds optional). The attention implementation defaults to eager.

The model is transformers' BertForSequenceClassification.from_pretrained(model_dir) in float32, and the load is
strict: transformers must report no missing, unexpected or mismatched key. Prints
{"logits": [[...]], "keys": [...], "dtypes": {key: "F32"|...}, "attnImplementation": ...} on stdout (keys and
stored dtypes as the file holds them, read with our own readers below); exits 1 with a message on stderr on any
problem.

The readers here (read_checkpoint_dir: safetensors through safetensors_io.py, .bin through
torch.load(weights_only=True), sharded indexes) are also used by compare_weights.py and test/fixtures/generate.py.
"""

from __future__ import annotations

import json
import os
import sys
from collections import OrderedDict
from typing import Dict, List, Tuple

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import safetensors_io  # noqa: E402


class ReloadError(Exception):
    pass


def _read_bin(path: str) -> Tuple["OrderedDict[str, torch.Tensor]", Dict[str, str]]:
    try:
        sd = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:  # noqa: BLE001
        raise ReloadError(f"{path}: torch.load(weights_only=True) failed: {e}") from None
    if not isinstance(sd, dict):
        raise ReloadError(f"{path}: top-level object is {type(sd).__name__}, expected a dict state dict")
    out: "OrderedDict[str, torch.Tensor]" = OrderedDict()
    dtypes: Dict[str, str] = {}
    for k, v in sd.items():
        if not isinstance(k, str) or not isinstance(v, torch.Tensor):
            raise ReloadError(f"{path}: entry {k!r} is {type(v).__name__}, expected a tensor")
        if v.dtype not in safetensors_io.TORCH_TO_DTYPE:
            raise ReloadError(f"{path}: {k} has unsupported dtype {v.dtype}")
        out[k] = v
        dtypes[k] = safetensors_io.TORCH_TO_DTYPE[v.dtype]
    return out, dtypes


def _read_safetensors(path: str) -> Tuple["OrderedDict[str, torch.Tensor]", Dict[str, str]]:
    try:
        tensors, _meta, dtypes = safetensors_io.load_file_with_info(path)
    except (OSError, safetensors_io.SafetensorsError) as e:
        raise ReloadError(f"{path}: {e}") from None
    return OrderedDict(tensors), dtypes


def _read_sharded(model_dir: str, index_name: str, reader) -> Tuple["OrderedDict[str, torch.Tensor]", Dict[str, str]]:
    index_path = os.path.join(model_dir, index_name)
    with open(index_path, "r", encoding="utf-8") as f:
        index = json.load(f)
    weight_map = index.get("weight_map")
    if not isinstance(weight_map, dict):
        raise ReloadError(f"{index_path}: missing weight_map")
    shards = sorted(set(weight_map.values()))
    sd: "OrderedDict[str, torch.Tensor]" = OrderedDict()
    dtypes: Dict[str, str] = {}
    for shard in shards:
        part, part_dtypes = reader(os.path.join(model_dir, shard))
        for k, v in part.items():
            if weight_map.get(k) != shard:
                raise ReloadError(f"{shard}: holds {k!r} but the index maps it to {weight_map.get(k)!r}")
            sd[k] = v
            dtypes[k] = part_dtypes[k]
    missing = [k for k in weight_map if k not in sd]
    if missing:
        raise ReloadError(f"{index_path}: keys listed in weight_map but in no shard: {missing[:5]}")
    return sd, dtypes


def read_checkpoint_dir(model_dir: str) -> Tuple[dict, "OrderedDict[str, torch.Tensor]", Dict[str, str], str]:
    """Returns (raw config.json dict, state dict in file order, stored dtypes, weights file kind)."""
    cfg_path = os.path.join(model_dir, "config.json")
    if not os.path.isfile(cfg_path):
        raise ReloadError(f"{cfg_path} not found")
    with open(cfg_path, "r", encoding="utf-8") as f:
        raw_cfg = json.load(f)
    candidates = [
        ("model.safetensors", lambda: _read_safetensors(os.path.join(model_dir, "model.safetensors"))),
        ("model.safetensors.index.json",
         lambda: _read_sharded(model_dir, "model.safetensors.index.json", _read_safetensors)),
        ("pytorch_model.bin", lambda: _read_bin(os.path.join(model_dir, "pytorch_model.bin"))),
        ("pytorch_model.bin.index.json",
         lambda: _read_sharded(model_dir, "pytorch_model.bin.index.json", _read_bin)),
    ]
    for name, reader in candidates:
        if os.path.isfile(os.path.join(model_dir, name)):
            sd, dtypes = reader()
            return raw_cfg, sd, dtypes, name
    raise ReloadError(f"{model_dir}: no model.safetensors / pytorch_model.bin (or sharded index) found")


def predict(model_dir: str, inputs: dict, attn_implementation: str = "eager") -> dict:
    """transformers' logits for ``inputs`` from ``model_dir`` (strict load), plus the file's keys and stored dtypes."""
    import hf_reference  # transformers is imported only here: the readers above need torch alone

    _raw_cfg, sd, dtypes, _kind = read_checkpoint_dir(model_dir)
    try:
        model, _info = hf_reference.load_classifier(model_dir, attn_implementation, strict=True)
        logits = hf_reference.classifier_outputs(model, inputs)["logits"]
    except hf_reference.HFReferenceError as e:
        raise ReloadError(str(e)) from None
    return {"logits": logits, "keys": list(sd.keys()), "dtypes": dtypes, "attnImplementation": attn_implementation}


def main(argv: List[str]) -> int:
    if len(argv) not in (3, 4):
        print("usage: reload_and_predict.py <model_dir> <inputs.json> [eager|sdpa]", file=sys.stderr)
        return 2
    try:
        with open(argv[2], "r", encoding="utf-8") as f:
            inputs = json.load(f)
        result = predict(argv[1], inputs, argv[3] if len(argv) == 4 else "eager")
    except (ReloadError, ValueError, OSError, json.JSONDecodeError) as e:
        print(f"reload_and_predict: error: {e}", file=sys.stderr)
        return 1
    json.dump(result, sys.stdout)
    sys.stdout.write("\n")
    return 0


if __name__ == "__main__":
    torch.set_num_threads(1)
    sys.exit(main(sys.argv))
