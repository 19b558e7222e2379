"""Minimal pure-Python safetensors reader/writer (torch + stdlib only).

Written when the ``safetensors`` package could not be installed here; it stays as a second, independent
implementation of the file format (the tests' readers, and the fixtures' writer, whose files transformers then
loads through the real ``safetensors`` package in .venv):

    [8 bytes]  N = header length, unsigned little-endian 64-bit
    [N bytes]  UTF-8 JSON object: {"__metadata__": {str: str} (optional),
                                   "<name>": {"dtype": "F32", "shape": [..],
                                              "data_offsets": [begin, end]}, ...}
               padded with spaces (0x20) so that 8 + N is a multiple of 8, as
               the reference (Rust) implementation does
    [rest]     tensor bytes, little-endian, row-major; data_offsets are relative
               to the start of this section

The writer stores tensors in the given order with contiguous offsets. The reader
validates what the reference implementation validates (offsets inside the buffer,
contiguous, covering the whole data section, byte size == numel * itemsize).
"""

from __future__ import annotations

import json
import struct
import sys
from typing import Dict, Mapping, Optional, Tuple

import torch

DTYPE_TO_TORCH: Dict[str, torch.dtype] = {
    "F64": torch.float64,
    "F32": torch.float32,
    "F16": torch.float16,
    "BF16": torch.bfloat16,
    "I64": torch.int64,
    "I32": torch.int32,
    "I16": torch.int16,
    "I8": torch.int8,
    "U8": torch.uint8,
    "BOOL": torch.bool,
}
TORCH_TO_DTYPE: Dict[torch.dtype, str] = {v: k for k, v in DTYPE_TO_TORCH.items()}
ITEMSIZE: Dict[str, int] = {
    "F64": 8, "F32": 4, "F16": 2, "BF16": 2, "I64": 8, "I32": 4, "I16": 2, "I8": 1, "U8": 1, "BOOL": 1,
}

MAX_HEADER_SIZE = 100_000_000  # same limit as the reference implementation


class SafetensorsError(ValueError):
    pass


def _tensor_bytes(t: torch.Tensor) -> bytes:
    t = t.detach().cpu().contiguous()
    if t.numel() == 0:
        return b""
    raw = t.reshape(-1).view(torch.uint8)  # same-size reinterpretation works for every dtype incl. bf16/bool
    data = raw.numpy().tobytes()
    if sys.byteorder != "little" and t.element_size() > 1:
        raise SafetensorsError("big-endian hosts are not supported by this writer")
    return data


def serialize(tensors: Mapping[str, torch.Tensor], metadata: Optional[Mapping[str, str]] = None) -> bytes:
    header: Dict[str, object] = {}
    if metadata is not None:
        for k, v in metadata.items():
            if not isinstance(k, str) or not isinstance(v, str):
                raise SafetensorsError("__metadata__ must map str to str")
        header["__metadata__"] = dict(metadata)
    chunks = []
    offset = 0
    for name, t in tensors.items():
        if name == "__metadata__":
            raise SafetensorsError("'__metadata__' is not a valid tensor name")
        if t.dtype not in TORCH_TO_DTYPE:
            raise SafetensorsError(f"{name}: unsupported dtype {t.dtype}")
        data = _tensor_bytes(t)
        header[name] = {
            "dtype": TORCH_TO_DTYPE[t.dtype],
            "shape": list(t.shape),
            "data_offsets": [offset, offset + len(data)],
        }
        chunks.append(data)
        offset += len(data)
    header_bytes = json.dumps(header, separators=(",", ":")).encode("utf-8")
    pad = (8 - (8 + len(header_bytes)) % 8) % 8
    header_bytes += b" " * pad
    return struct.pack("<Q", len(header_bytes)) + header_bytes + b"".join(chunks)


def save_file(tensors: Mapping[str, torch.Tensor], path: str, metadata: Optional[Mapping[str, str]] = None) -> int:
    """Writes ``tensors`` (in iteration order) to ``path``. Returns the total tensor byte count."""
    blob = serialize(tensors, metadata)
    with open(path, "wb") as f:
        f.write(blob)
    return sum(t.numel() * t.element_size() for t in tensors.values())


def parse_header(blob: bytes) -> Tuple[Dict[str, dict], Optional[Dict[str, str]], int]:
    """Returns (tensor entries, metadata, offset of the data section)."""
    if len(blob) < 8:
        raise SafetensorsError("file shorter than 8 bytes")
    (n,) = struct.unpack("<Q", blob[:8])
    if n > MAX_HEADER_SIZE:
        raise SafetensorsError(f"header too large ({n} bytes)")
    if 8 + n > len(blob):
        raise SafetensorsError(f"header length {n} runs past the end of the file ({len(blob)} bytes)")
    try:
        header = json.loads(blob[8 : 8 + n].decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise SafetensorsError(f"invalid header JSON: {e}") from None
    if not isinstance(header, dict):
        raise SafetensorsError("header is not a JSON object")
    metadata = header.pop("__metadata__", None)
    data_start = 8 + n
    data_len = len(blob) - data_start
    spans = []
    for name, info in header.items():
        try:
            dtype, shape, (begin, end) = info["dtype"], info["shape"], info["data_offsets"]
        except (KeyError, TypeError, ValueError):
            raise SafetensorsError(f"{name}: malformed header entry {info!r}") from None
        if dtype not in ITEMSIZE:
            raise SafetensorsError(f"{name}: unsupported dtype {dtype!r}")
        numel = 1
        for d in shape:
            if not isinstance(d, int) or d < 0:
                raise SafetensorsError(f"{name}: invalid shape {shape!r}")
            numel *= d
        if not (0 <= begin <= end <= data_len):
            raise SafetensorsError(f"{name}: data_offsets {begin}..{end} outside data section of {data_len} bytes")
        if end - begin != numel * ITEMSIZE[dtype]:
            raise SafetensorsError(f"{name}: {end - begin} bytes for shape {shape} {dtype}")
        spans.append((begin, end, name))
    spans.sort()
    pos = 0
    for begin, end, name in spans:
        if begin != pos:
            raise SafetensorsError(f"{name}: data_offsets not contiguous (begins at {begin}, expected {pos})")
        pos = end
    if pos != data_len:
        raise SafetensorsError(f"data section has {data_len} bytes but tensors cover {pos}")
    return header, metadata, data_start


def deserialize(blob: bytes) -> Tuple[Dict[str, torch.Tensor], Optional[Dict[str, str]], Dict[str, str]]:
    """Returns (tensors in header order, metadata, {name: stored dtype string})."""
    header, metadata, data_start = parse_header(blob)
    tensors: Dict[str, torch.Tensor] = {}
    dtypes: Dict[str, str] = {}
    for name, info in header.items():
        dtype = info["dtype"]
        begin, end = info["data_offsets"]
        tdtype = DTYPE_TO_TORCH[dtype]
        shape = info["shape"]
        if end == begin:
            t = torch.empty(shape, dtype=tdtype)
        else:
            buf = bytearray(blob[data_start + begin : data_start + end])
            t = torch.frombuffer(buf, dtype=torch.uint8).view(tdtype).reshape(shape).clone()
        tensors[name] = t
        dtypes[name] = dtype
    return tensors, metadata, dtypes


def load_file(path: str) -> Dict[str, torch.Tensor]:
    with open(path, "rb") as f:
        return deserialize(f.read())[0]


def load_file_with_info(path: str):
    with open(path, "rb") as f:
        return deserialize(f.read())


if __name__ == "__main__":  # tiny self-test: round-trip every dtype
    import tempfile, os

    g = torch.Generator().manual_seed(0)
    sample = {
        "f32": torch.randn(3, 5, generator=g),
        "f16": torch.randn(7, generator=g).half(),
        "bf16": torch.randn(2, 3, generator=g).bfloat16(),
        "f64": torch.randn(4, generator=g).double(),
        "i64": torch.arange(-3, 3, dtype=torch.int64).reshape(2, 3),
        "i32": torch.arange(5, dtype=torch.int32),
        "i16": torch.tensor([-7, 7], dtype=torch.int16),
        "i8": torch.tensor([-128, 127], dtype=torch.int8),
        "u8": torch.tensor([0, 255], dtype=torch.uint8),
        "bool": torch.tensor([True, False, True]),
        "empty": torch.zeros(0, 4),
        "scalar": torch.tensor(1.5),
        "noncontig": torch.randn(4, 3, generator=g).t(),
    }
    with tempfile.TemporaryDirectory() as d:
        p = os.path.join(d, "x.safetensors")
        save_file(sample, p, {"format": "pt"})
        blob = open(p, "rb").read()
        assert (8 + struct.unpack("<Q", blob[:8])[0]) % 8 == 0
        back, meta, _ = load_file_with_info(p)
        assert meta == {"format": "pt"} and list(back) == list(sample)
        for k, v in sample.items():
            assert back[k].dtype == v.dtype and back[k].shape == v.shape and torch.equal(back[k], v), k
    print("safetensors_io self-test ok")
