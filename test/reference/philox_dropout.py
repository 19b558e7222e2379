"""Dropout with bert-trainer's masks: Philox4x32-10 keyed by the seed, one counter block per 4 elements.

The native model (native/model/dropout.cpp) draws every dropout mask from one per-model Philox stream: a call on
n elements takes the next ceil(n / 4) counter blocks, and element i is kept when word i of those blocks is at least
round(p * 2**32). This module reproduces that stream in numpy so the training reference can apply the same masks in
the same order (embeddings, then per layer attention probabilities, attention output, feed-forward output, then the
classifier), which makes training with dropout comparable number for number. transformers has no counterpart of these
masks: this is the one hand-written piece the training reference keeps. philox_functional_dropout swaps
torch.nn.functional.dropout for the stream's masks, which reaches every dropout transformers' BERT applies (its
nn.Dropout modules call F.dropout, and its eager attention calls nn.functional.dropout on the probabilities).

Self-test: ``.venv/bin/python test/reference/philox_dropout.py`` checks Random123's known-answer vectors.
"""
import contextlib
import math

import numpy as np
import torch
import torch.nn.functional as F

_MASK32 = np.uint64(0xFFFFFFFF)
_MUL0, _MUL1 = np.uint64(0xD2511F53), np.uint64(0xCD9E8D57)
_WEYL0, _WEYL1 = 0x9E3779B9, 0xBB67AE85


def philox4x32_10(counter_lo: np.ndarray, counter_hi: np.ndarray, key: int) -> np.ndarray:
    """Blocks for 64-bit counter halves (uint64 arrays of equal shape) -> uint32 array of shape [..., 4]."""
    c0, c1 = counter_lo & _MASK32, counter_lo >> np.uint64(32)
    c2, c3 = counter_hi & _MASK32, counter_hi >> np.uint64(32)
    k0, k1 = key & 0xFFFFFFFF, (key >> 32) & 0xFFFFFFFF
    for _ in range(10):
        p0 = _MUL0 * c0  # < 2**64: exact in uint64
        p1 = _MUL1 * c2
        c0, c1, c2, c3 = ((p1 >> np.uint64(32)) ^ c1 ^ np.uint64(k0), p1 & _MASK32,
                          (p0 >> np.uint64(32)) ^ c3 ^ np.uint64(k1), p0 & _MASK32)
        k0, k1 = (k0 + _WEYL0) & 0xFFFFFFFF, (k1 + _WEYL1) & 0xFFFFFFFF
    return np.stack([c0, c1, c2, c3], axis=-1).astype(np.uint32)


class PhiloxStream:
    """One model's dropout stream: the key (seed) and the next unused counter block."""

    def __init__(self, seed: int):
        self.key = seed
        self.offset = 0

    def keep_mask(self, numel: int, p: float) -> np.ndarray:
        blocks = (numel + 3) // 4
        counters = np.arange(self.offset, self.offset + blocks, dtype=np.uint64)
        self.offset += blocks
        words = philox4x32_10(counters, np.zeros_like(counters), self.key).reshape(-1)[:numel]
        drop_below = math.floor(p * 4294967296.0 + 0.5)  # llround for p >= 0
        return words.astype(np.uint64) >= np.uint64(drop_below)


@contextlib.contextmanager
def philox_functional_dropout(seed: int):
    """While active, torch.nn.functional.dropout(x, p, training) draws its keep-mask from one PhiloxStream keyed by
    ``seed`` (in call order) and scales kept values by 1/(1-p) computed in x's dtype; with training off or p == 0 it
    returns x and draws nothing, as bert-trainer's dropout does. Yields the stream."""
    stream = PhiloxStream(seed)
    original = F.dropout

    def dropout(input: torch.Tensor, p: float = 0.5, training: bool = True, inplace: bool = False) -> torch.Tensor:
        if not training or p == 0.0:
            return input
        keep = torch.from_numpy(stream.keep_mask(input.numel(), p)).reshape(input.shape)
        one = torch.ones((), dtype=input.dtype)
        scale = one / torch.tensor(1.0 - p, dtype=input.dtype)
        return input * (keep.to(input.dtype) * scale)

    F.dropout = dropout
    try:
        yield stream
    finally:
        F.dropout = original


def _self_test() -> None:
    # Random123's kat_vectors for philox4x32_10.
    cases = [
        ((0, 0, 0, 0), (0, 0), (0x6627E8D5, 0xE169C58D, 0xBC57AC4C, 0x9B00DBD8)),
        ((0xFFFFFFFF,) * 4, (0xFFFFFFFF,) * 2, (0x408F276D, 0x41C83B0E, 0xA20BC7C6, 0x6D5451FD)),
        ((0x243F6A88, 0x85A308D3, 0x13198A2E, 0x03707344), (0xA4093822, 0x299F31D0),
         (0xD16CFE09, 0x94FDCCEB, 0x5001E420, 0x24126EA1)),
    ]
    for ctr, key, expected in cases:
        lo = np.array([ctr[0] | (ctr[1] << 32)], dtype=np.uint64)
        hi = np.array([ctr[2] | (ctr[3] << 32)], dtype=np.uint64)
        got = tuple(int(w) for w in philox4x32_10(lo, hi, key[0] | (key[1] << 32))[0])
        assert got == expected, f"philox4x32_10{ctr}, key {key}: {[hex(w) for w in got]} != {[hex(w) for w in expected]}"
    mask = PhiloxStream(42).keep_mask(1_000_000, 0.1)
    assert abs(1.0 - mask.mean() - 0.1) < 0.002, mask.mean()
    # The swap reaches nn.Dropout modules, draws in call order, and is undone afterwards.
    original = F.dropout
    x = torch.ones(2, 5)
    with philox_functional_dropout(7):
        first = torch.nn.Dropout(0.5).train()(x)
        second = torch.nn.functional.dropout(x, 0.5, True)
        untouched = torch.nn.Dropout(0.5).eval()(x)
    assert F.dropout is original
    stream = PhiloxStream(7)
    for got in (first, second):
        want = torch.from_numpy(stream.keep_mask(10, 0.5)).reshape(2, 5).to(torch.float32) * 2.0
        assert torch.equal(got, want), (got, want)
    assert torch.equal(untouched, x)
    print("philox_dropout: ok")


if __name__ == "__main__":
    _self_test()
