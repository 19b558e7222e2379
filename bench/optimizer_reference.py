"""PyTorch's own AdamW step time on bert-base's parameters, the baseline for scripts/bench-optimizer.js.

Usage: /usr/bin/python3 bench/optimizer_reference.py <threads> <repeats>
Prints JSON: {"single": [ms...], "foreach": [ms...]} — torch.optim.AdamW with foreach=False (torch 1.13's
default on CPU) and foreach=True, with transformers' two parameter groups and N(0, 1) gradients.
"""
import json
import os
import sys
import time

import torch

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "test", "reference"))
from bert_reference import BertForSequenceClassification, resolve_config  # noqa: E402


def main() -> int:
    threads, repeats = int(sys.argv[1]), int(sys.argv[2])
    torch.set_num_threads(threads)
    torch.manual_seed(0)
    model = BertForSequenceClassification(resolve_config({}))  # BertConfig defaults = bert-base-uncased
    for p in model.parameters():
        p.grad = torch.randn_like(p)
    decay = [p for n, p in model.named_parameters() if "bias" not in n and "LayerNorm" not in n]
    no_decay = [p for n, p in model.named_parameters() if "bias" in n or "LayerNorm" in n]
    out = {}
    for name, foreach in (("single", False), ("foreach", True)):
        opt = torch.optim.AdamW([{"params": decay, "weight_decay": 0.01}, {"params": no_decay, "weight_decay": 0.0}],
                                lr=1e-5, foreach=foreach)
        times = []
        for _ in range(repeats + 1):
            start = time.perf_counter()
            opt.step()
            times.append((time.perf_counter() - start) * 1000)
        out[name] = times[1:]  # the first step allocates the moments
    out["parameters"] = sum(p.numel() for p in model.parameters())
    print(json.dumps(out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
