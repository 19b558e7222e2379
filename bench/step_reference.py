"""PyTorch side of the training-step benchmark (scripts/bench/step.js): transformers' BertForSequenceClassification
on PyTorch (the repository's .venv: torch 2.13, transformers 5.18), one optimizer step as transformers' Trainer
runs it.

One step = model(input_ids, attention_mask, labels=labels).loss (train mode, the model's own cross-entropy), backward,
torch.nn.utils.clip_grad_norm_(model.parameters(), max_grad_norm), optimizer.step(), model.zero_grad(). The optimizer
is the one Trainer builds with its default TrainingArguments (Trainer.get_optimizer_cls_and_kwargs: torch.optim.AdamW
with fused=True on torch >= 2.8), over Trainer's two parameter groups (Trainer.get_decay_parameter_names: weight
decay on everything but biases and LayerNorm weights). No learning-rate schedule (the step's lr is constant, as
ours' in the bench). transformers' Trainer itself needs `accelerate`, which the .venv does not have; its helpers above
do not.

Implementations ("impl"):
  sdpa       attn_implementation="sdpa" (transformers' default): torch.nn.functional.scaled_dot_product_attention
  eager      attn_implementation="eager": matmul, softmax, matmul (the exactness reference: with dropout 0 our
             losses and gradient norms are compared with this one)
  compile    sdpa with the model wrapped in torch.compile(model) (what TrainingArguments(torch_compile=True) does:
             inductor, default mode); forward and backward compiled, the optimizer eager. The first step compiles;
             the driver keeps it out of the timings and reports its time.

Modes:
  worker                 JSON lines on stdin, one JSON line answered on stdout per command (the driver keeps this
                         process alive so that it stays warm and alternates with ours). Commands:
                           {"op": "threads", "threads": n}
                           {"op": "load", "dir": D, "impl": "sdpa"|"eager"|"compile", "dropout": true|false,
                            "lr": 2e-5, "weightDecay": 0.01, "maxGradNorm": 1.0, "precision": "fp32"|"bf16"}
                             -> {"parameters": n, "impl", "attention", "optimizer", "torch", "transformers"}
                             (dropout false: hidden, attention and classifier dropout 0; bf16: the forward and the
                             loss under torch.autocast("cpu", bfloat16), as Trainer's bf16=True)
                           {"op": "batch", "file": F}  F: {"batchSize", "sequenceLength", "inputIds": [flat],
                            "attentionMask": [flat], "labels": [...]}
                           {"op": "steps", "count": k}  -> {"ms": [...], "losses": [...], "gradNorms": [...],
                            "usage": [{"userMs", "sysMs", "minorFaults"}, ...], "dynamo": {...} (compile only)}
                           {"op": "sgemm", "threads": n, "size": 2048, "repeats": 5}  -> bench/sgemm.py's measure()
                           {"op": "unload"}, {"op": "exit"}
                         An error (a failed compile, say) is answered {"ok": false, "error": "..."}; the worker
                         stays up.
  memory D F [threads] [steps] [fp32|bf16] [impl]
                         A fresh process: loads D, then runs `steps` (default 3) training steps on batch file F and
                         prints {"hwm_kib", "rss_after_load_kib", "train_hwm_kib", ...}: VmHWM of the whole
                         process, and the peak from the end of loading on (VmHWM reset through /proc/self/clear_refs).
  profile D F [threads] [steps] [out.json] [impl]
                         torch.profiler op breakdown (self CPU time per op, forward/backward/optimizer phases) of
                         `steps` steps after two warm-up steps (impl default sdpa).
"""
from __future__ import annotations

import gc
import json
import os
import re
import resource
import sys
import time
import types
from typing import Any, Dict, List, Optional

import torch

HERE = os.path.dirname(os.path.abspath(__file__))
IMPLS = ("sdpa", "eager", "compile")


def _transformers():
    """transformers, quiet (no progress bars or load reports on the worker's stderr)."""
    import transformers
    from transformers.utils import logging as hf_logging

    hf_logging.set_verbosity_error()
    hf_logging.disable_progress_bar()
    return transformers


def proc_status_kib(field: str) -> int:
    with open("/proc/self/status", "r", encoding="utf-8") as status:
        match = re.search(rf"^{field}:\s+(\d+)\s+kB", status.read(), re.MULTILINE)
    return int(match.group(1)) if match else -1


def reset_peak_rss() -> bool:
    """Linux >= 4.0: writing 5 to clear_refs resets VmHWM to the current RSS."""
    try:
        with open("/proc/self/clear_refs", "w", encoding="utf-8") as f:
            f.write("5")
        return True
    except OSError:
        return False


def load_model(model_dir: str, dropout: bool, impl: str = "sdpa"):
    """BertForSequenceClassification.from_pretrained(model_dir) in fp32, train mode; dropout False: every dropout 0."""
    if impl not in IMPLS:
        raise ValueError(f"impl must be one of {', '.join(IMPLS)}, got {impl!r}")
    transformers = _transformers()
    overrides: Dict[str, Any] = {}
    if not dropout:
        overrides = {"hidden_dropout_prob": 0.0, "attention_probs_dropout_prob": 0.0, "classifier_dropout": 0.0}
    # AutoModelForSequenceClassification: BERT, or RoBERTa for the roberta-base row (config.json's model_type)
    model = transformers.AutoModelForSequenceClassification.from_pretrained(
        model_dir, attn_implementation="eager" if impl == "eager" else "sdpa", dtype=torch.float32, **overrides)
    model.train()
    gc.collect()
    return model


def trainer_optimizer(model, lr: float, weight_decay: float, beta1: float = 0.9, beta2: float = 0.999,
                      eps: float = 1e-8, optim: Optional[str] = None):
    """The optimizer transformers' Trainer.create_optimizer builds for these arguments (default `optim`: the
    TrainingArguments default, adamw_torch_fused on torch >= 2.8)."""
    from transformers import Trainer, TrainingArguments

    args = types.SimpleNamespace(learning_rate=lr, adam_beta1=beta1, adam_beta2=beta2, adam_epsilon=eps,
                                 weight_decay=weight_decay, optim=optim or TrainingArguments.default_optim, optim_args=None)
    decay = set(Trainer.get_decay_parameter_names(None, model))
    groups = [
        {"params": [p for n, p in model.named_parameters() if n in decay and p.requires_grad], "weight_decay": weight_decay},
        {"params": [p for n, p in model.named_parameters() if n not in decay and p.requires_grad], "weight_decay": 0.0},
    ]
    cls, kwargs = Trainer.get_optimizer_cls_and_kwargs(args, model)
    return cls(groups, **kwargs), f"{cls.__module__}.{cls.__name__}({', '.join(f'{k}={v}' for k, v in kwargs.items() if k != 'lr')})"


def read_batch(path: str) -> Dict[str, torch.Tensor]:
    with open(path, "r", encoding="utf-8") as f:
        raw = json.load(f)
    b, s = raw["batchSize"], raw["sequenceLength"]
    return {
        "input_ids": torch.tensor(raw["inputIds"], dtype=torch.long).view(b, s),
        "attention_mask": torch.tensor(raw["attentionMask"], dtype=torch.long).view(b, s),
        "labels": torch.tensor(raw["labels"], dtype=torch.long),
    }


def dynamo_counters() -> Dict[str, Any]:
    """What torch.compile made of the model so far: graphs compiled, graph breaks (with their reasons)."""
    try:
        from torch._dynamo.utils import counters
    except ImportError:
        return {}
    return {
        "uniqueGraphs": int(counters["stats"].get("unique_graphs", 0)),
        "graphBreaks": int(sum(counters["graph_break"].values())),
        "graphBreakReasons": sorted(str(k) for k in counters["graph_break"].keys())[:10],
        "recompiles": int(sum(v for k, v in counters["recompiles"].items())) if "recompiles" in counters else None,
    }


class Stepper:
    def __init__(self, model, impl: str, lr: float, weight_decay: float, max_grad_norm: float, precision: str = "fp32"):
        if precision not in ("fp32", "bf16"):
            raise ValueError(f"precision must be fp32 or bf16, got {precision!r}")
        self.model = model
        self.impl = impl
        if impl == "compile":
            # A fresh start per model (the worker compiles one per config): no graphs or counters of the previous one.
            torch._dynamo.reset()
            from torch._dynamo.utils import counters

            counters.clear()
        # TrainingArguments(torch_compile=True): torch.compile(model, backend="inductor", mode=None).
        self.forward = torch.compile(model) if impl == "compile" else model
        self.bf16 = precision == "bf16"
        self.params = list(model.parameters())
        self.max_grad_norm = max_grad_norm
        self.optimizer, self.optimizer_name = trainer_optimizer(model, lr, weight_decay)
        model.zero_grad(set_to_none=True)

    def step(self, batch: Dict[str, torch.Tensor]):
        """One optimizer step, as Trainer's training_step + inner loop; returns (loss, grad norm before clipping)."""
        self.model.train()
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=self.bf16):
            loss = self.forward(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"], labels=batch["labels"]).loss
        loss.backward()
        norm = torch.nn.utils.clip_grad_norm_(self.params, self.max_grad_norm)
        self.optimizer.step()
        self.model.zero_grad(set_to_none=True)
        return loss.item(), norm.item()


def worker() -> int:
    stepper: Optional[Stepper] = None
    batch: Optional[Dict[str, torch.Tensor]] = None
    for line in sys.stdin:
        line = line.strip()
        if not line:
            continue
        try:
            cmd = json.loads(line)
            op = cmd["op"]
            reply: Dict[str, Any] = {"ok": True}
            if op == "threads":
                torch.set_num_threads(int(cmd["threads"]))
                reply["threads"] = torch.get_num_threads()
            elif op == "load":
                stepper = None
                gc.collect()
                impl = str(cmd.get("impl", "sdpa"))
                model = load_model(cmd["dir"], bool(cmd.get("dropout", True)), impl)
                stepper = Stepper(model, impl, float(cmd.get("lr", 2e-5)), float(cmd.get("weightDecay", 0.01)),
                                  float(cmd.get("maxGradNorm", 1.0)), str(cmd.get("precision", "fp32")))
                transformers = _transformers()
                reply.update({"parameters": sum(p.numel() for p in model.parameters()), "impl": impl,
                              "attention": model.config._attn_implementation, "optimizer": stepper.optimizer_name,
                              "torch": torch.__version__, "transformers": transformers.__version__})
            elif op == "batch":
                batch = read_batch(cmd["file"])
            elif op == "steps":
                assert stepper is not None and batch is not None, "load and batch first"
                ms: List[float] = []
                losses: List[float] = []
                norms: List[float] = []
                usage: List[Dict[str, float]] = []
                for _ in range(int(cmd.get("count", 1))):
                    r0 = resource.getrusage(resource.RUSAGE_SELF)
                    start = time.perf_counter()
                    loss, norm = stepper.step(batch)
                    ms.append((time.perf_counter() - start) * 1000)
                    r1 = resource.getrusage(resource.RUSAGE_SELF)
                    losses.append(loss)
                    norms.append(norm)
                    # Process-wide CPU time (all threads) and minor page faults during the step.
                    usage.append({"userMs": (r1.ru_utime - r0.ru_utime) * 1000, "sysMs": (r1.ru_stime - r0.ru_stime) * 1000,
                                  "minorFaults": r1.ru_minflt - r0.ru_minflt})
                reply.update({"ms": ms, "losses": losses, "gradNorms": norms, "usage": usage})
                if stepper.impl == "compile":
                    reply["dynamo"] = dynamo_counters()
            elif op == "sgemm":
                sys.path.insert(0, HERE)
                import sgemm  # noqa: E402 - bench/sgemm.py, the same measurement in this process

                reply.update(sgemm.measure(int(cmd.get("threads", torch.get_num_threads())), int(cmd.get("size", 2048)),
                                           int(cmd.get("repeats", 5))))
            elif op == "unload":
                stepper = None
                batch = None
                gc.collect()
            elif op == "exit":
                print(json.dumps(reply), flush=True)
                return 0
            else:
                raise ValueError(f"unknown op {op!r}")
        except Exception as e:  # noqa: BLE001 - reported to the driver
            message = str(e).strip().splitlines()
            reply = {"ok": False, "error": f"{type(e).__name__}: {' | '.join(message[:6])[:1500]}"}
        print(json.dumps(reply), flush=True)
    return 0


def memory(model_dir: str, batch_file: str, threads: int, steps: int, precision: str = "fp32", impl: str = "sdpa") -> int:
    torch.set_num_threads(threads)
    model = load_model(model_dir, True, impl)
    batch = read_batch(batch_file)
    stepper = Stepper(model, impl, 2e-5, 0.01, 1.0, precision)
    gc.collect()
    load_hwm = proc_status_kib("VmHWM")
    rss_after_load = proc_status_kib("VmRSS")
    reset = reset_peak_rss()
    ms = []
    for _ in range(steps):
        start = time.perf_counter()
        stepper.step(batch)
        ms.append((time.perf_counter() - start) * 1000)
    train_hwm = proc_status_kib("VmHWM")
    print(json.dumps({
        "hwm_kib": max(load_hwm, train_hwm),
        "load_hwm_kib": load_hwm,
        "rss_after_load_kib": rss_after_load,
        "train_hwm_kib": train_hwm if reset else None,
        "rss_end_kib": proc_status_kib("VmRSS"),
        "ms": ms,
        "impl": impl,
    }))
    return 0


# Op name -> what it is in the step (self CPU time is summed per category).
CATEGORIES = [
    ("GEMM (linear fwd/bwd)", ("aten::addmm", "aten::mm")),
    ("GEMM (attention bmm, eager)", ("aten::bmm",)),
    ("attention (SDPA fwd+bwd)", ("aten::_scaled_dot_product_flash_attention_for_cpu",
                                  "aten::_scaled_dot_product_flash_attention_for_cpu_backward",
                                  "aten::_scaled_dot_product_attention_math")),
    ("dropout (native_dropout, bernoulli_)", ("aten::native_dropout", "aten::native_dropout_backward", "aten::bernoulli_")),
    ("GELU fwd+bwd", ("aten::gelu", "aten::gelu_backward")),
    ("softmax fwd+bwd", ("aten::_softmax", "aten::_softmax_backward_data")),
    ("LayerNorm fwd+bwd", ("aten::native_layer_norm", "aten::native_layer_norm_backward")),
    ("copies (permute/contiguous/reshape)", ("aten::copy_", "aten::clone", "aten::contiguous")),
    ("optimizer (fused AdamW and in-place)", ("aten::_fused_adamw_", "aten::mul_", "aten::add_", "aten::addcmul_",
                                              "aten::addcdiv_", "aten::sqrt", "aten::div_", "aten::lerp_", "aten::_foreach_")),
    ("grad-norm clip", ("aten::norm", "aten::linalg_vector_norm", "aten::stack", "aten::clamp")),
    ("elementwise add/mul/div (dropout, scale, mask, residual)", ("aten::add", "aten::mul", "aten::div", "aten::rsub")),
    ("bias grads / reductions (sum)", ("aten::sum",)),
    ("embedding fwd/bwd", ("aten::embedding", "aten::index_select", "aten::embedding_dense_backward",
                           "aten::index_add_", "aten::embedding_backward", "aten::fill_", "aten::zero_", "aten::zeros")),
    ("loss", ("aten::nll_loss", "aten::_log_softmax", "aten::nll_loss_backward", "aten::_log_softmax_backward_data",
              "aten::nll_loss_forward")),
    ("tanh (pooler)", ("aten::tanh", "aten::tanh_backward")),
    ("allocation", ("aten::empty", "aten::empty_like", "aten::empty_strided", "aten::resize_")),
]


def categorize(name: str) -> str:
    for cat, names in CATEGORIES:
        if any(name == n or (n.endswith("_") and n.startswith("aten::_foreach_") and name.startswith(n)) for n in names):
            return cat
    return "other (dispatch, autograd, views, compiled kernels)"


def profile(model_dir: str, batch_file: str, threads: int, steps: int, out_file: Optional[str], impl: str = "sdpa") -> int:
    from torch.profiler import ProfilerActivity, profile as torch_profile, record_function

    torch.set_num_threads(threads)
    model = load_model(model_dir, True, impl)
    batch = read_batch(batch_file)
    stepper = Stepper(model, impl, 2e-5, 0.01, 1.0)
    for _ in range(2):
        stepper.step(batch)

    def one_step():
        model.train()
        with record_function("phase::forward"):
            loss = stepper.forward(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"], labels=batch["labels"]).loss
        with record_function("phase::backward"):
            loss.backward()
        with record_function("phase::clip"):
            torch.nn.utils.clip_grad_norm_(stepper.params, 1.0)
        with record_function("phase::optimizer"):
            stepper.optimizer.step()
            model.zero_grad(set_to_none=True)
        return loss.item()

    start = time.perf_counter()
    with torch_profile(activities=[ProfilerActivity.CPU], record_shapes=True) as prof:
        for _ in range(steps):
            one_step()
    wall_ms = (time.perf_counter() - start) * 1000 / steps
    events = prof.key_averages()
    rows = []
    for e in events:
        rows.append({"name": e.key, "count": e.count // steps, "self_ms": e.self_cpu_time_total / 1000 / steps,
                     "total_ms": e.cpu_time_total / 1000 / steps})
    rows.sort(key=lambda r: -r["self_ms"])
    by_shape = []
    for e in prof.key_averages(group_by_input_shape=True):
        if e.key in ("aten::addmm", "aten::mm", "aten::bmm", "aten::_scaled_dot_product_flash_attention_for_cpu",
                     "aten::_scaled_dot_product_flash_attention_for_cpu_backward", "aten::_softmax", "aten::gelu",
                     "aten::native_layer_norm", "aten::bernoulli_", "aten::copy_", "aten::mul", "aten::add"):
            by_shape.append({"name": e.key, "shapes": str(e.input_shapes), "count": e.count // steps,
                             "self_ms": e.self_cpu_time_total / 1000 / steps})
    by_shape.sort(key=lambda r: -r["self_ms"])
    categories: Dict[str, float] = {}
    for r in rows:
        if r["name"].startswith("phase::"):
            continue
        cat = categorize(r["name"])
        categories[cat] = categories.get(cat, 0.0) + r["self_ms"]
    total = sum(categories.values())
    shares = sorted(({"category": k, "ms": v, "share": v / total} for k, v in categories.items()), key=lambda c: -c["ms"])
    phases = {r["name"]: r["total_ms"] for r in rows if r["name"].startswith("phase::")}
    result = {"impl": impl, "wall_ms_per_step_profiled": wall_ms, "self_ms_total": total, "phases": phases,
              "categories": shares, "ops": rows, "by_shape": by_shape[:40]}
    print("category                 ms/step   share")
    for c in shares:
        print(f"{c['category']:24s} {c['ms']:8.1f}  {100 * c['share']:5.1f}%")
    print("phases (ms/step, inclusive):", {k: round(v, 1) for k, v in phases.items()})
    text = json.dumps(result, indent=1)
    if out_file:
        with open(out_file, "w", encoding="utf-8") as f:
            f.write(text)
    print(prof.key_averages().table(sort_by="self_cpu_time_total", row_limit=30))
    return 0


def main(argv: List[str]) -> int:
    mode = argv[1] if len(argv) > 1 else "worker"
    if mode == "worker":
        return worker()
    if mode == "memory":
        return memory(argv[2], argv[3], int(argv[4]) if len(argv) > 4 else 2, int(argv[5]) if len(argv) > 5 else 3,
                      argv[6] if len(argv) > 6 else "fp32", argv[7] if len(argv) > 7 else "sdpa")
    if mode == "profile":
        return profile(argv[2], argv[3], int(argv[4]) if len(argv) > 4 else 2, int(argv[5]) if len(argv) > 5 else 3,
                       argv[6] if len(argv) > 6 and argv[6] != "-" else None, argv[7] if len(argv) > 7 else "sdpa")
    print(f"unknown mode {mode!r}; see the module docstring", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv))
