"""PyTorch's own AdamW step time on bert-base's parameters, the baseline for scripts/bench-optimizer.js.

Usage: .venv/bin/python bench/optimizer_reference.py <threads> <repeats>
Prints JSON: {"single": [ms...], "foreach": [ms...], "fused": [ms...], "parameters": n, "torch": version} —
torch.optim.AdamW with foreach=False (the for-loop implementation, torch's default on CPU), foreach=True and
fused=True (transformers' Trainer default on torch >= 2.8: optim "adamw_torch_fused"), over transformers' Trainer's two
parameter groups (weight decay 0.01, none on biases and LayerNorm weights) of transformers' BertForSequenceClassification
with BertConfig's defaults (bert-base-uncased), and N(0, 1) gradients.
"""
import json
import os
import sys
import time

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from step_reference import _transformers  # noqa: E402


def main() -> int:
    threads, repeats = int(sys.argv[1]), int(sys.argv[2])
    torch.set_num_threads(threads)
    torch.manual_seed(0)
    transformers = _transformers()
    model = transformers.BertForSequenceClassification(transformers.BertConfig())  # bert-base-uncased's shapes
    for p in model.parameters():
        p.grad = torch.randn_like(p)
    decay_names = set(transformers.Trainer.get_decay_parameter_names(None, model))
    decay = [p for n, p in model.named_parameters() if n in decay_names]
    no_decay = [p for n, p in model.named_parameters() if n not in decay_names]
    out = {}
    for name, kwargs in (("single", {"foreach": False}), ("foreach", {"foreach": True}), ("fused", {"fused": True})):
        opt = torch.optim.AdamW([{"params": decay, "weight_decay": 0.01}, {"params": no_decay, "weight_decay": 0.0}],
                                lr=1e-5, **kwargs)
        times = []
        for _ in range(repeats + 1):
            start = time.perf_counter()
            opt.step()
            times.append((time.perf_counter() - start) * 1000)
        out[name] = times[1:]  # the first step allocates the moments
        del opt
    out["parameters"] = sum(p.numel() for p in model.parameters())
    out["torch"] = torch.__version__
    print(json.dumps(out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
