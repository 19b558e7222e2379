"""Reload a model directory and run the PyTorch reference forward pass.

Usage:
    /usr/bin/python3 test/reference/reload_and_predict.py <model_dir> <inputs.json>

<model_dir> is a Hugging Face-style directory (as written by bert-trainer):
config.json plus one of model.safetensors, model.safetensors.index.json (+ shards),
pytorch_model.bin, pytorch_model.bin.index.json (+ shards). <inputs.json> is
{"inputIds": [[...]], "attentionMask": [[...]], "tokenTypeIds": [[...]]}
(attentionMask / tokenTypeIds optional).

The load is strict: every parameter of the reference BertForSequenceClassification
must be present with the right shape, and the only tolerated extra keys are the
ones transformers ignores (bert.embeddings.position_ids / token_type_ids, cls.*).
Prints {"logits": [[...]], "keys": [...], "dtypes": {key: "F32"|...}} on stdout;
exits 1 with a message on stderr on any problem.

The helpers here (read_checkpoint_dir, load_reference_model) are also used by
test/fixtures/generate.py to verify the fixtures it writes.
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
from bert_reference import (  # noqa: E402
    BertForSequenceClassification,
    fix_legacy_key,
    is_ignorable_unexpected,
    resolve_config,
)


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


def _head(keys: List[str], n: int = 8) -> str:
    return str(keys[:n])[:-1] + (", ...]" if len(keys) > n else "]")


def load_reference_model(raw_cfg: dict, sd: Dict[str, torch.Tensor], strict: bool = True):
    """Builds the reference model and loads ``sd`` into it (converted to float32).

    strict=True (checkpoints bert-trainer wrote): exact HF key names required.
    strict=False (third-party fixtures): also applies transformers' load-time
    fixes: LayerNorm.gamma/beta renaming and a missing/extra ``bert.`` prefix.
    Returns (model, missing_keys, unexpected_keys) with ignorable keys dropped.
    """
    cfg = resolve_config(raw_cfg)
    torch.manual_seed(0)
    model = BertForSequenceClassification(cfg)
    expected = OrderedDict((k, v) for k, v in model.state_dict().items())
    src = OrderedDict(sd)
    if not strict:
        src = OrderedDict((fix_legacy_key(k), v) for k, v in src.items())
        has_prefix = any(k.startswith("bert.") for k in src)
        if not has_prefix:  # bare BertModel checkpoint: add the base-model prefix
            src = OrderedDict(
                (("bert." + k) if k.split(".")[0] in ("embeddings", "encoder", "pooler") else k, v)
                for k, v in src.items()
            )
    unexpected = [k for k in src if k not in expected and not is_ignorable_unexpected(k)]
    missing = [k for k in expected if k not in src]
    if strict and (missing or unexpected):
        raise ReloadError(f"strict load failed: {len(missing)} missing keys {_head(missing)}, "
                          f"{len(unexpected)} unexpected keys {_head(unexpected)}")
    if unexpected:
        raise ReloadError(f"{len(unexpected)} unexpected keys {_head(unexpected)}")
    new_sd = OrderedDict()
    for k, ref in expected.items():
        if k not in src:
            new_sd[k] = ref
            continue
        v = src[k]
        if tuple(v.shape) != tuple(ref.shape):
            raise ReloadError(f"{k}: shape {list(v.shape)} in checkpoint, model expects {list(ref.shape)}")
        if not v.is_floating_point():
            raise ReloadError(f"{k}: dtype {v.dtype} is not floating point")
        new_sd[k] = v.to(torch.float32)
    model.load_state_dict(new_sd, strict=True)
    model.eval()
    return model, missing, unexpected


def _tensor2d(inputs: dict, key: str, like: torch.Tensor = None, fill: int = 0) -> torch.Tensor:
    val = inputs.get(key)
    if val is None:
        if like is None:
            raise ReloadError(f"inputs: {key} is required")
        return torch.full_like(like, fill)
    if not isinstance(val, list) or not val or not all(isinstance(r, list) for r in val):
        raise ReloadError(f"inputs: {key} must be a non-empty list of lists")
    if len({len(r) for r in val}) != 1:
        raise ReloadError(f"inputs: rows of {key} have different lengths")
    t = torch.tensor(val, dtype=torch.long)
    if like is not None and t.shape != like.shape:
        raise ReloadError(f"inputs: {key} shape {list(t.shape)} != inputIds shape {list(like.shape)}")
    return t


def predict(model, inputs: dict) -> List[List[float]]:
    ids = _tensor2d(inputs, "inputIds")
    mask = _tensor2d(inputs, "attentionMask", ids, 1)
    types = _tensor2d(inputs, "tokenTypeIds", ids, 0)
    cfg = model.config
    if ids.min() < 0 or ids.max() >= cfg["vocab_size"]:
        raise ReloadError(f"inputs: inputIds outside [0, {cfg['vocab_size']})")
    if types.min() < 0 or types.max() >= cfg["type_vocab_size"]:
        raise ReloadError(f"inputs: tokenTypeIds outside [0, {cfg['type_vocab_size']})")
    if ids.shape[1] > cfg["max_position_embeddings"]:
        raise ReloadError(f"inputs: sequence length {ids.shape[1]} > max_position_embeddings")
    with torch.no_grad():
        return model(ids, mask, types)["logits"].tolist()


def main(argv: List[str]) -> int:
    if len(argv) != 3:
        print("usage: reload_and_predict.py <model_dir> <inputs.json>", file=sys.stderr)
        return 2
    model_dir, inputs_path = argv[1], argv[2]
    try:
        raw_cfg, sd, dtypes, _kind = read_checkpoint_dir(model_dir)
        model, _, _ = load_reference_model(raw_cfg, sd, strict=True)
        with open(inputs_path, "r", encoding="utf-8") as f:
            inputs = json.load(f)
        logits = predict(model, inputs)
    except (ReloadError, ValueError, NotImplementedError, OSError, json.JSONDecodeError) as e:
        print(f"reload_and_predict: error: {e}", file=sys.stderr)
        return 1
    json.dump({"logits": logits, "keys": list(sd.keys()), "dtypes": dtypes}, sys.stdout)
    sys.stdout.write("\n")
    return 0


if __name__ == "__main__":
    torch.set_num_threads(1)
    sys.exit(main(sys.argv))
