"""The GPU check's PyTorch + transformers side (scripts/gpu-check.sh, scripts/GPU-CHECK.md).

Usage (python3 with PyTorch 2.x and transformers; CUDA when --device cuda):
    gpu_reference.py info
        The machine: device name, torch / transformers / CUDA / cuDNN versions, nvidia-smi's view (JSON on stdout).
    gpu_reference.py make-model --size tiny|small|base --out DIR [--seed 0] [--num-labels 2] [--no-dropout]
        A random-init BertForSequenceClassification (transformers' initialisation, seeded), saved with
        save_pretrained (config.json + model.safetensors).
    gpu_reference.py parity --device cpu|cuda[:N] --size tiny|small --out-dir DIR [--steps 50] [--batch B]
                            [--precisions no,bf16,fp16] [--model-type bert|roberta|distilbert|electra] [--seed 0]
        Writes DIR/model (random init of the model type's classifier at the size's shape, dropout 0), the batches, and transformers' reference numbers on that device
        into DIR/parity-spec.json: eval-mode fp32 logits with TF32 off, and for each precision a loss curve (one
        epoch over the batches in order: torch.optim.AdamW with transformers' parameter groups, linear schedule with
        warm-up, clipping 1.0; 'bf16'/'fp16' under torch.autocast, 'fp16' with torch.amp.GradScaler as transformers'
        Trainer runs it). Prints the spec's path. test/cuda-parity.test.ts compares bert-trainer with it.
    gpu_reference.py bench --model DIR --device D --batch B --seq S [--warmup W] [--steps N] [--windows K]
                           [--variants matmul,eager-fp32,sdpa-bf16,compile-bf16] [--matmul-size M]
                           [--compile-backend inductor] [--seed 0]
        Training-step throughput of transformers: one JSON line per variant on stdout, as each finishes (a later
        variant's failure or a kill leaves the earlier lines). scripts/bench/gpu.js runs it.
    gpu_reference.py summarize --out DIR [--dry-run] [--started EPOCH_S]
        Merges DIR's stage outputs (env.json, versions.json, parity.json, bench.json, stages.jsonl) into
        DIR/gpu-check.json with the targets; needs neither torch nor transformers.

Only `info`, `make-model`, `parity` and `bench` import torch; `summarize` runs anywhere.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import random
import subprocess
import sys
import time
import traceback
from typing import Any, Dict, List, Optional

# No network on the GPU machine, and no progress bars in the log.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")

SIZES: Dict[str, Dict[str, int]] = {
    # the dry-run's and the CPU parity test's model
    "tiny": dict(vocab_size=512, hidden_size=64, num_hidden_layers=2, num_attention_heads=2, intermediate_size=256,
                 max_position_embeddings=64),
    # the GPU parity model: head_dim 64 as every BERT size
    "small": dict(vocab_size=4096, hidden_size=256, num_hidden_layers=4, num_attention_heads=4, intermediate_size=1024,
                  max_position_embeddings=128),
    # bert-base-uncased's shape
    "base": dict(vocab_size=30522, hidden_size=768, num_hidden_layers=12, num_attention_heads=12,
                 intermediate_size=3072, max_position_embeddings=512),
}
PAD, CLS, SEP, FIRST_WORD = 0, 2, 3, 5
PRECISIONS = ("no", "bf16", "fp16")
BENCH_VARIANTS = ("matmul", "eager-fp32", "sdpa-bf16", "compile-bf16")

# The parity run's training hyperparameters (the test gives bert-trainer's Trainer the same). The learning rate per
# size: the loss falls well within the 50 steps from random initialisation (tiny 1.10 -> 0.67, small 1.11 -> ~0.3-0.5),
# yet the run stays insensitive to rounding: on the CPU, transformers' own bf16 runs with eager and with SDPA attention
# end 0.2% apart on tiny at 2e-3 (4% at 4e-3), and an fp32 run of small from weights perturbed by 2^-9 (bf16's
# rounding) stays within 0.14% of the unperturbed one at 5e-4 (0.5% at 1e-3).
PARITY_LR = {"tiny": 2e-3, "small": 5e-4, "base": 1e-4}
PARITY_HPARAMS = dict(learningRate=None, weightDecay=0.01, adamBeta1=0.9, adamBeta2=0.999, adamEpsilon=1e-8,
                      maxGradNorm=1.0, warmupSteps=5, numLabels=3, labelNoise=0.15)


def emit(obj: Dict[str, Any]) -> None:
    sys.stdout.write(json.dumps(obj) + "\n")
    sys.stdout.flush()


def log(msg: str) -> None:
    sys.stderr.write(f"[gpu_reference] {msg}\n")
    sys.stderr.flush()


# --------------------------------------------------------------------------------------------------------------
# Machine facts


def nvidia_smi(fields: str, index: Optional[int] = None) -> Optional[List[List[str]]]:
    args = ["nvidia-smi", f"--query-gpu={fields}", "--format=csv,noheader,nounits"]
    if index is not None:
        args.insert(1, f"--id={index}")
    try:
        out = subprocess.run(args, capture_output=True, text=True, timeout=20)
    except (OSError, subprocess.TimeoutExpired):
        return None
    if out.returncode != 0:
        return None
    return [[c.strip() for c in line.split(",")] for line in out.stdout.strip().splitlines() if line.strip()]


def cpu_model() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def cmd_info(a: argparse.Namespace) -> int:
    info: Dict[str, Any] = {"python": platform.python_version(), "hostname": platform.node(), "cpu": cpu_model(),
                            "cpuCount": os.cpu_count(), "commit": a.commit, "node": a.node}
    try:
        import torch
        info["torch"] = torch.__version__
        info["torchCuda"] = torch.version.cuda
        info["cudaAvailable"] = bool(torch.cuda.is_available())
        info["cudnn"] = str(torch.backends.cudnn.version()) if torch.backends.cudnn.is_available() else None
        if torch.cuda.is_available():
            info["deviceCount"] = torch.cuda.device_count()
            info["deviceName"] = torch.cuda.get_device_name(0)
            cap = torch.cuda.get_device_capability(0)
            info["capability"] = f"{cap[0]}.{cap[1]}"
            props = torch.cuda.get_device_properties(0)
            info["memoryMiB"] = round(props.total_memory / 2**20)
            info["multiProcessors"] = props.multi_processor_count
            try:
                info["nccl"] = ".".join(str(x) for x in torch.cuda.nccl.version())
            except Exception:  # noqa: BLE001 - optional
                info["nccl"] = None
        else:
            info["deviceCount"] = 0
            info["deviceName"] = cpu_model()
    except Exception as err:  # noqa: BLE001 - reported, not fatal
        info["torchError"] = f"{type(err).__name__}: {err}"
    try:
        import transformers
        info["transformers"] = transformers.__version__
    except Exception as err:  # noqa: BLE001
        info["transformersError"] = f"{type(err).__name__}: {err}"
    smi = nvidia_smi("name,driver_version,memory.total,memory.used,clocks.max.sm,power.limit,temperature.gpu")
    if smi:
        info["nvidiaSmi"] = [dict(zip(["name", "driver", "memoryTotalMiB", "memoryUsedMiB", "maxSmClockMHz",
                                       "powerLimitW", "temperatureC"], row)) for row in smi]
        info["driver"] = smi[0][1]
    emit(info)
    return 0


# --------------------------------------------------------------------------------------------------------------
# Models and data


MODEL_TYPES = ("bert", "roberta", "distilbert", "electra")


def family_config(model_type: str, size: str, num_labels: int, dropout: bool):
    """The size's shape as `model_type`'s config: RoBERTa with one token type and its positions after padding (PAD is
    its pad_token_id), DistilBERT under its own field names, ELECTRA with embeddings half the hidden width."""
    from transformers import DistilBertConfig, ElectraConfig, RobertaConfig
    if model_type == "bert":
        return bert_config(size, num_labels, dropout)
    shape = dict(SIZES[size])
    common = dict(num_labels=num_labels, problem_type="single_label_classification", pad_token_id=PAD)
    if model_type == "distilbert":
        no_dropout = {} if dropout else dict(dropout=0.0, attention_dropout=0.0, seq_classif_dropout=0.0)
        return DistilBertConfig(vocab_size=shape["vocab_size"], dim=shape["hidden_size"], n_layers=shape["num_hidden_layers"],
                                n_heads=shape["num_attention_heads"], hidden_dim=shape["intermediate_size"],
                                max_position_embeddings=shape["max_position_embeddings"], **common, **no_dropout)
    no_dropout = {} if dropout else dict(hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0, classifier_dropout=0.0)
    if model_type == "roberta":
        shape.update(type_vocab_size=1, max_position_embeddings=shape["max_position_embeddings"] + PAD + 1,
                     bos_token_id=CLS, eos_token_id=SEP)
        return RobertaConfig(**shape, **common, **no_dropout)
    if model_type == "electra":
        return ElectraConfig(**shape, embedding_size=shape["hidden_size"] // 2, **common, **no_dropout)
    raise SystemExit(f"unknown model type {model_type!r} (one of {', '.join(MODEL_TYPES)})")


def bert_config(size: str, num_labels: int, dropout: bool, attn: Optional[str] = None):
    from transformers import BertConfig
    fields: Dict[str, Any] = dict(SIZES[size])
    fields.update(num_labels=num_labels, problem_type="single_label_classification")
    if not dropout:
        fields.update(hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0, classifier_dropout=0.0)
    config = BertConfig(**fields)
    if attn is not None:
        config._attn_implementation = attn
    return config


def make_model_dir(size: str, out: str, seed: int, num_labels: int, dropout: bool, model_type: str = "bert") -> str:
    import torch
    from transformers import AutoModelForSequenceClassification
    torch.manual_seed(seed)
    model = AutoModelForSequenceClassification.from_config(family_config(model_type, size, num_labels, dropout))
    os.makedirs(out, exist_ok=True)
    model.save_pretrained(out, safe_serialization=True)
    return out


def cmd_make_model(a: argparse.Namespace) -> int:
    start = time.time()
    make_model_dir(a.size, a.out, a.seed, a.num_labels, not a.no_dropout)
    emit({"ok": True, "dir": a.out, "size": a.size, "seconds": time.time() - start})
    return 0


def load_model(model_dir: str, device, attn: str):
    import torch
    from transformers import AutoModelForSequenceClassification
    # fp32 weights (autocast computes in bf16/fp16): transformers 5 would otherwise take the checkpoint's dtype.
    model = AutoModelForSequenceClassification.from_pretrained(model_dir, attn_implementation=attn, dtype=torch.float32)
    model.config.problem_type = "single_label_classification"  # set before any compile: forward would set it (a recompile)
    return model.to(device)


def parity_batches(steps: int, batch: int, seq: int, vocab: int, num_labels: int, noise: float, seed: int):
    """Rows of varying length ([CLS] words [SEP]) in which a fifth of the words are the label's marker word
    (FIRST_WORD + label): learnable within the run, so the loss falls; `noise` of the labels are then redrawn at
    random, so it does not fall to 0 (a relative comparison of losses near 0 would mean little)."""
    rng = random.Random(seed)
    batches = []
    for _ in range(steps):
        rows, labels = [], []
        for _ in range(batch):
            length = rng.randint(max(4, seq // 2), seq)
            label = rng.randrange(num_labels)
            words = [FIRST_WORD + label if rng.random() < 0.2 else rng.randrange(FIRST_WORD + num_labels, vocab)
                     for _ in range(length - 2)]
            rows.append([CLS] + words + [SEP])
            labels.append(rng.randrange(num_labels) if rng.random() < noise else label)
        batches.append({"inputIds": rows, "labels": labels})
    return batches


def padded(rows: List[List[int]]):
    """[B, longest] ids and mask, padded with PAD as bert-trainer pads a batch (to its longest row)."""
    import torch
    width = max(len(r) for r in rows)
    ids = torch.tensor([r + [PAD] * (width - len(r)) for r in rows], dtype=torch.long)
    mask = torch.tensor([[1] * len(r) + [0] * (width - len(r)) for r in rows], dtype=torch.long)
    return ids, mask


def decay_groups(model, weight_decay: float):
    """transformers' Trainer.get_decay_parameter_names: no weight decay on biases and normalisation weights (BERT's
    LayerNorm, DistilBERT's sa_layer_norm and output_layer_norm)."""
    from transformers import Trainer
    names = set(Trainer.get_decay_parameter_names(None, model))
    decay, no_decay = [], []
    for name, p in model.named_parameters():
        if not p.requires_grad:
            continue
        (decay if name in names else no_decay).append(p)
    return [{"params": decay, "weight_decay": weight_decay}, {"params": no_decay, "weight_decay": 0.0}]


def linear_lambda(warmup: int, total: int):
    def fn(step: int) -> float:
        if step < warmup:
            return float(step) / float(max(1, warmup))
        return max(0.0, float(total - step) / float(max(1, total - warmup)))
    return fn


def autocast_dtype(precision: str):
    import torch
    return {"no": None, "bf16": torch.bfloat16, "fp16": torch.float16}[precision]


def set_tf32(enabled: bool) -> None:
    import torch
    torch.backends.cuda.matmul.allow_tf32 = enabled
    torch.backends.cudnn.allow_tf32 = enabled
    torch.set_float32_matmul_precision("high" if enabled else "highest")


def sync(device) -> None:
    import torch
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def train_curve(model_dir: str, device, precision: str, batches, hp: Dict[str, Any], attn: str) -> Dict[str, Any]:
    """One epoch over `batches` in order as transformers' Trainer steps it (logging_steps=1)."""
    import torch
    model = load_model(model_dir, device, attn)
    model.train()
    optimizer = torch.optim.AdamW(decay_groups(model, hp["weightDecay"]), lr=hp["learningRate"],
                                  betas=(hp["adamBeta1"], hp["adamBeta2"]), eps=hp["adamEpsilon"])
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, linear_lambda(hp["warmupSteps"], len(batches)))
    dtype = autocast_dtype(precision)
    scaler = torch.amp.GradScaler(device.type) if precision == "fp16" else None
    losses, grad_norms, lrs, skipped, scales = [], [], [], [], []
    start = time.time()
    for b in batches:
        ids, mask = padded(b["inputIds"])
        labels = torch.tensor(b["labels"], dtype=torch.long)
        ids, mask, labels = ids.to(device), mask.to(device), labels.to(device)
        lrs.append(scheduler.get_last_lr()[0])
        with torch.autocast(device.type, dtype=dtype or torch.float32, enabled=dtype is not None):
            # DistilBERT's forward takes no token types; the others get zeros, as bert-trainer gives them
            types = {} if model.config.model_type == "distilbert" else {"token_type_ids": torch.zeros_like(ids)}
            loss = model(input_ids=ids, attention_mask=mask, labels=labels, **types).loss
        if scaler is not None:
            scaler.scale(loss).backward()
            scaler.unscale_(optimizer)
            norm = torch.nn.utils.clip_grad_norm_(model.parameters(), hp["maxGradNorm"])
            scale = scaler.get_scale()
            scaler.step(optimizer)
            scaler.update()
            was_skipped = scaler.get_scale() < scale  # an overflow: the optimizer step was skipped
            scales.append(scale)
        else:
            loss.backward()
            norm = torch.nn.utils.clip_grad_norm_(model.parameters(), hp["maxGradNorm"])
            optimizer.step()
            was_skipped = False
        if not was_skipped:  # transformers' Trainer skips the scheduler step with the optimizer's
            scheduler.step()
        optimizer.zero_grad(set_to_none=True)
        losses.append(float(loss.detach().float().item()))
        grad_norms.append(float(norm.float().item()))
        skipped.append(was_skipped)
    sync(device)
    result = {"precision": precision, "losses": losses, "gradNorms": grad_norms, "learningRates": lrs,
              "skipped": skipped, "seconds": time.time() - start}
    if scales:
        result["lossScales"] = scales
    del model, optimizer
    return result


def cmd_parity(a: argparse.Namespace) -> int:
    import torch
    device = torch.device(a.device)
    set_tf32(False)
    size = SIZES[a.size]
    hp = dict(PARITY_HPARAMS, learningRate=a.lr or PARITY_LR[a.size])
    seq = a.seq or min(size["max_position_embeddings"], 64 if a.size == "tiny" else 128)
    batch = a.batch or (8 if a.size == "tiny" else 16)
    os.makedirs(a.out_dir, exist_ok=True)
    model_dir = os.path.join(a.out_dir, "model")
    t0 = time.time()
    make_model_dir(a.size, model_dir, a.seed, hp["numLabels"], dropout=False, model_type=a.model_type)
    batches = parity_batches(a.steps, batch, seq, size["vocab_size"], hp["numLabels"], hp["labelNoise"], a.seed + 1)

    # Eval-mode fp32 logits, TF32 off, on the first batch (padded rows: the mask matters).
    model = load_model(model_dir, device, a.attn)
    model.eval()
    ids, mask = padded(batches[0]["inputIds"])
    with torch.no_grad():
        logits = model(input_ids=ids.to(device), attention_mask=mask.to(device)).logits.float().cpu()
    del model
    reference: Dict[str, Any] = {"logits": logits.tolist(), "curves": {}}
    for precision in a.precisions.split(","):
        if precision not in PRECISIONS:
            raise SystemExit(f"unknown precision {precision!r} (one of {', '.join(PRECISIONS)})")
        try:
            reference["curves"][precision] = train_curve(model_dir, device, precision, batches, hp, a.attn)
        except Exception as err:  # noqa: BLE001 - one precision failing leaves the others
            reference["curves"][precision] = {"precision": precision, "error": f"{type(err).__name__}: {err}"}
            log(traceback.format_exc())
    if device.type == "cuda":
        torch.cuda.empty_cache()
    import transformers
    spec = {
        "device": str(device), "size": a.size, "modelType": a.model_type, "config": size, "modelDir": model_dir, "seed": a.seed,
        "steps": a.steps, "batchSize": batch, "maxSequence": seq, "attnImplementation": a.attn,
        "hyperparameters": hp, "batches": batches,
        "logitsInputs": {"inputIds": ids.tolist(), "attentionMask": mask.tolist()},
        "reference": reference, "torch": torch.__version__, "transformers": transformers.__version__,
        "tf32": False, "seconds": time.time() - t0,
    }
    spec_file = os.path.join(a.out_dir, "parity-spec.json")
    with open(spec_file, "w", encoding="utf-8") as f:
        json.dump(spec, f)
    emit({"ok": True, "spec": spec_file, "seconds": spec["seconds"]})
    return 0


# --------------------------------------------------------------------------------------------------------------
# Benchmark


class MemoryMeter:
    """Device memory of this process: nvidia-smi's memory.used on its GPU minus the reading before CUDA started
    (CUDA context + the caching allocator's reserved blocks, which hold the peak), the same measure
    scripts/bench/gpu.js takes for bert-trainer; on the CPU the process's peak RSS (VmHWM, reset per variant)."""

    def __init__(self, device):
        self.device = device
        self.index = device.index or 0
        self.baseline = self.used_mib() if device.type == "cuda" else None

    def used_mib(self) -> Optional[float]:
        rows = nvidia_smi("memory.used", self.index)
        try:
            return float(rows[0][0]) if rows else None
        except (ValueError, IndexError):
            return None

    def reset(self) -> None:
        import torch
        if self.device.type == "cuda":
            torch.cuda.empty_cache()
            torch.cuda.reset_peak_memory_stats(self.device)
        else:
            try:
                with open("/proc/self/clear_refs", "w", encoding="utf-8") as f:
                    f.write("5")
            except OSError:
                pass

    def read(self) -> Dict[str, Any]:
        import torch
        if self.device.type == "cuda":
            used = self.used_mib()
            reserved = torch.cuda.max_memory_reserved(self.device) / 2**20
            row = {
                "peakMemoryMiB": used - self.baseline if used is not None and self.baseline is not None else None,
                "memorySource": "nvidia-smi memory.used minus the reading before CUDA started",
                "torchMaxAllocatedMiB": torch.cuda.max_memory_allocated(self.device) / 2**20,
                "torchMaxReservedMiB": reserved,
            }
            if row["peakMemoryMiB"] is None:
                row.update(peakMemoryMiB=reserved, memorySource="torch.cuda.max_memory_reserved (no nvidia-smi reading)")
            return row
        hwm = None
        try:
            with open("/proc/self/status", encoding="utf-8") as f:
                for line in f:
                    if line.startswith("VmHWM:"):
                        hwm = int(line.split()[1]) / 1024
        except OSError:
            pass
        return {"peakMemoryMiB": hwm, "memorySource": "VmHWM (peak RSS of the whole process)"}


def time_windows(step, device, warmup: int, steps: int, windows: int) -> Dict[str, Any]:
    for _ in range(warmup):
        step()
    sync(device)
    window_ms = []
    for _ in range(windows):
        sync(device)
        start = time.perf_counter()
        for _ in range(steps):
            step()
        sync(device)
        window_ms.append((time.perf_counter() - start) * 1000 / steps)
    ordered = sorted(window_ms)
    return {"stepMs": ordered[len(ordered) // 2], "windowStepMs": window_ms}


def bench_matmul(device, size: int) -> Dict[str, Any]:
    import torch
    gen = torch.Generator(device="cpu").manual_seed(0)
    a = torch.randn(size, size, generator=gen).to(device=device, dtype=torch.bfloat16)
    b = torch.randn(size, size, generator=gen).to(device=device, dtype=torch.bfloat16)
    flops = 2.0 * size ** 3
    reps = 50 if device.type == "cuda" else 3
    for _ in range(5 if device.type == "cuda" else 1):
        torch.mm(a, b)
    samples = []
    for _ in range(3):
        sync(device)
        start = time.perf_counter()
        for _ in range(reps):
            torch.mm(a, b)
        sync(device)
        samples.append((time.perf_counter() - start) / reps)
    best = min(samples)
    return {"variant": "matmul", "ok": True, "dtype": "bf16", "size": size, "tflops": flops / best / 1e12,
            "samplesMs": [s * 1000 for s in samples]}


def bench_training(variant: str, a: argparse.Namespace, device, meter: MemoryMeter) -> Dict[str, Any]:
    import torch
    attn = "eager" if variant == "eager-fp32" else "sdpa"
    precision = "no" if variant.endswith("fp32") else "bf16"
    meter.reset()
    set_tf32(False)  # PyTorch's default for fp32 matmuls (transformers' Trainer leaves it unless tf32=True)
    torch.manual_seed(a.seed)
    model = load_model(a.model, device, attn)
    model.train()
    try:
        optimizer = torch.optim.AdamW(decay_groups(model, 0.01), lr=2e-5, fused=True)  # transformers' default optim
        fused = True
    except (RuntimeError, TypeError):
        optimizer = torch.optim.AdamW(decay_groups(model, 0.01), lr=2e-5)
        fused = False
    forward = model
    compile_seconds = None
    if variant.startswith("compile"):
        forward = torch.compile(model, backend=a.compile_backend)
    gen = torch.Generator(device="cpu").manual_seed(a.seed)
    vocab = model.config.vocab_size
    batch_cpu = {
        "input_ids": torch.randint(FIRST_WORD, vocab, (a.batch, a.seq), generator=gen),
        "attention_mask": torch.ones(a.batch, a.seq, dtype=torch.long),
        "token_type_ids": torch.zeros(a.batch, a.seq, dtype=torch.long),
        "labels": torch.randint(0, model.config.num_labels, (a.batch,), generator=gen),
    }
    dtype = autocast_dtype(precision)
    losses: List[Any] = []

    def step():
        # As transformers' Trainer: the batch moved to the device each step, no host sync (the loss stays there).
        b = {k: v.to(device, non_blocking=True) for k, v in batch_cpu.items()}
        with torch.autocast(device.type, dtype=dtype or torch.float32, enabled=dtype is not None):
            loss = forward(**b).loss
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        losses.append(loss.detach())

    if variant.startswith("compile"):
        start = time.perf_counter()
        step()  # compiles forward and backward
        step()
        sync(device)
        compile_seconds = time.perf_counter() - start
    timing = time_windows(step, device, a.warmup, a.steps, a.windows)
    memory = meter.read()
    finite = all(math.isfinite(float(x)) for x in losses[-5:])
    row = {"variant": variant, "ok": True, "attnImplementation": attn, "precision": precision, "fusedAdamW": fused,
           "batch": a.batch, "seq": a.seq, "warmup": a.warmup, "steps": a.steps, "windows": a.windows,
           "samplesPerSecond": a.batch * 1000 / timing["stepMs"], **timing, **memory,
           "lastLoss": float(losses[-1]), "finite": finite}
    if compile_seconds is not None:
        row["compileSeconds"] = compile_seconds
        row["compileBackend"] = a.compile_backend
    del model, optimizer, forward, losses
    if device.type == "cuda":
        torch.cuda.empty_cache()
    return row


def cmd_bench(a: argparse.Namespace) -> int:
    import torch
    device = torch.device(a.device)
    meter = MemoryMeter(device)  # before CUDA starts
    if device.type == "cuda":
        torch.cuda.init()
    emit({"variant": "start", "ok": True, "torch": torch.__version__, "device": str(device)})
    for variant in a.variants.split(","):
        if variant not in BENCH_VARIANTS:
            emit({"variant": variant, "ok": False, "error": f"unknown variant (one of {', '.join(BENCH_VARIANTS)})"})
            continue
        start = time.time()
        try:
            row = bench_matmul(device, a.matmul_size) if variant == "matmul" else bench_training(variant, a, device, meter)
        except Exception as err:  # noqa: BLE001 - one variant failing leaves the others
            log(traceback.format_exc())
            row = {"variant": variant, "ok": False, "error": f"{type(err).__name__}: {err}"[:2000]}
            if device.type == "cuda":
                torch.cuda.empty_cache()
        row["seconds"] = time.time() - start
        emit(row)
    return 0


# --------------------------------------------------------------------------------------------------------------
# Summary: DIR's stage outputs -> DIR/gpu-check.json

TARGETS = {
    "logitsMaxAbsDiff": ("<=", 1e-4),
    "bf16CurveMaxRelDiff": ("<=", 0.02),
    "fp16CurveMaxRelDiff": ("<=", 0.02),
    "oursBf16VsSdpaBf16": (">=", 1.25),
    "oursBf16VsCompileBf16": (">=", 1.0),
    "oursBf16Mfu": (">=", 0.45),
    "familyLogitsMaxAbsDiff": ("<=", 1e-4),
    "familyBf16CurveMaxRelDiff": ("<=", 0.02),
}
ROW_NAMES = ("ours-fp32", "ours-bf16", "ours-bf16-eager", "transformers-eager-fp32", "transformers-sdpa-bf16", "transformers-compile-bf16")


def read_json(path: str) -> Optional[Any]:
    try:
        with open(path, encoding="utf-8") as f:
            return json.load(f)
    except (OSError, ValueError):
        return None


def finite(x: Any) -> bool:
    return isinstance(x, (int, float)) and not isinstance(x, bool) and math.isfinite(x)


def ratio(a: Any, b: Any) -> Optional[float]:
    return a / b if finite(a) and finite(b) and b > 0 else None


def target(name: str, value: Any) -> Dict[str, Any]:
    op, bound = TARGETS[name]
    ok = finite(value) and (value <= bound if op == "<=" else value >= bound)
    return {"value": value if finite(value) else None, "target": f"{op} {bound}", "pass": bool(ok)}


def cmd_summarize(a: argparse.Namespace) -> int:
    out = a.out
    env = read_json(os.path.join(out, "env.json")) or {}
    versions = read_json(os.path.join(out, "versions.json"))
    parity = read_json(os.path.join(out, "parity.json")) or {}
    bench = read_json(os.path.join(out, "bench.json")) or {}
    stages: List[Dict[str, Any]] = []
    try:
        with open(os.path.join(out, "stages.jsonl"), encoding="utf-8") as f:
            stages = [json.loads(line) for line in f if line.strip()]
    except (OSError, ValueError):
        pass
    rows = bench.get("rows") or {}
    sdpa = (rows.get("transformers-sdpa-bf16") or {}).get("samplesPerSecond")
    compiled = (rows.get("transformers-compile-bf16") or {}).get("samplesPerSecond")
    ours_bf16 = (rows.get("ours-bf16") or {}).get("samplesPerSecond")
    logits = (parity.get("logits") or {}).get("maxAbsDiff")
    curves = parity.get("curves") or {}
    bf16 = (curves.get("bf16") or {}).get("maxRelDiff")
    fp16 = curves.get("fp16") or {}
    fp16_value = fp16.get("maxRelDiff") if fp16.get("finite", False) else None
    mfu = (bench.get("mfu") or {}).get("ours-bf16")
    # The rest of the family (RoBERTa, DistilBERT, ELECTRA): the worst over the model types, none when one is missing.
    requested = parity.get("familyRequested") or []
    family = parity.get("family") or {}

    def family_worst(read) -> Optional[float]:
        values = [read(family.get(t) or {}) for t in requested]
        return max(values) if values and all(finite(v) for v in values) else None

    family_logits = family_worst(lambda e: (e.get("logits") or {}).get("maxAbsDiff"))
    family_bf16 = family_worst(lambda e: ((e.get("curves") or {}).get("bf16") or {}).get("maxRelDiff"))
    targets = {
        "logitsMaxAbsDiff": target("logitsMaxAbsDiff", logits),
        "bf16CurveMaxRelDiff": target("bf16CurveMaxRelDiff", bf16),
        "fp16CurveMaxRelDiff": target("fp16CurveMaxRelDiff", fp16_value),
        "oursBf16VsSdpaBf16": target("oursBf16VsSdpaBf16", ratio(ours_bf16, sdpa)),
        "oursBf16VsCompileBf16": target("oursBf16VsCompileBf16", ratio(ours_bf16, compiled)),
        "oursBf16Mfu": target("oursBf16Mfu", mfu),
    }
    if requested:
        targets["familyLogitsMaxAbsDiff"] = target("familyLogitsMaxAbsDiff", family_logits)
        targets["familyBf16CurveMaxRelDiff"] = target("familyBf16CurveMaxRelDiff", family_bf16)
    expected = ["env", "build", "tsc", "addon", "parity", "bench"]
    done = {s.get("stage"): s for s in stages}
    finished = all(name in done for name in expected)  # every stage has its record: it ran, failed or was skipped
    stages_ok = finished and all(done[n].get("status") in ("ok", "skipped-by-flag") for n in expected)
    started = a.started or None
    summary = {
        "schema": 1,
        "dryRun": bool(a.dry_run),
        "finished": finished,
        "stagesOk": stages_ok,
        "allTargetsPass": all(t["pass"] for t in targets.values()),
        "elapsedSeconds": (time.time() - started) if started else None,
        "writtenAt": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "commit": env.get("commit"),
        "device": {
            "name": env.get("deviceName"),
            "count": env.get("deviceCount"),
            "capability": env.get("capability"),
            "memoryMiB": env.get("memoryMiB"),
            "driver": env.get("driver"),
            "cpu": env.get("cpu"),
            "cpuCount": env.get("cpuCount"),
        },
        "node": env.get("node"),
        "python": {"python": env.get("python"), "torch": env.get("torch"), "torchCuda": env.get("torchCuda"),
                   "cudnn": env.get("cudnn"), "nccl": env.get("nccl"), "transformers": env.get("transformers")},
        "versions": versions,
        "stages": stages,
        "parity": parity or None,
        "benchmark": {
            "model": bench.get("model"),
            "batch": bench.get("batch"),
            "seq": bench.get("seq"),
            "flopsPerStep": bench.get("flopsPerStep"),
            "matmulBf16Tflops": bench.get("matmulBf16Tflops"),
            "rows": {name: rows.get(name) for name in ROW_NAMES},
            "mfu": bench.get("mfu"),
            "errors": bench.get("errors"),
        } if bench else None,
        "targets": targets,
    }
    with open(os.path.join(out, "gpu-check.json.tmp"), "w", encoding="utf-8") as f:
        json.dump(summary, f, indent=2)
    os.replace(os.path.join(out, "gpu-check.json.tmp"), os.path.join(out, "gpu-check.json"))
    if a.print:
        print_summary(summary)
    return 0


def fmt(x: Any, digits: int = 3) -> str:
    if not finite(x):
        return "n/a"
    return f"{x:.{digits}g}" if abs(x) < 1e-2 else f"{x:.{digits}f}"


def print_summary(s: Dict[str, Any]) -> None:
    p = print
    p(f"GPU check{' (dry run)' if s['dryRun'] else ''}: {s['device']['name']}, torch {s['python']['torch']}, "
      f"transformers {s['python']['transformers']}, bert-trainer {json.dumps(s['versions'])}")
    p("stages: " + ", ".join(f"{x.get('stage')} {x.get('status')} ({fmt(x.get('seconds'), 1)} s)" for x in s["stages"]))
    b = s.get("benchmark") or {}
    if b:
        p(f"benchmark: {b.get('model')}, batch {b.get('batch')} x {b.get('seq')} tokens; bf16 matmul "
          f"{fmt(b.get('matmulBf16Tflops'), 1)} TFLOP/s")
        for name, row in (b.get("rows") or {}).items():
            row = row or {}
            p(f"  {name:28s} {fmt(row.get('samplesPerSecond'), 1):>10s} samples/s  {fmt(row.get('peakMemoryMiB'), 0):>8s} MiB"
              f"  {'' if row.get('ok', True) else 'ERROR ' + str(row.get('error'))[:200]}")
    for name, t in s["targets"].items():
        p(f"  target {name:24s} {fmt(t['value'], 4):>10s}  {t['target']:>8s}  {'PASS' if t['pass'] else 'FAIL'}")


# --------------------------------------------------------------------------------------------------------------


def main(argv: List[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    sub = parser.add_subparsers(dest="cmd", required=True)
    p = sub.add_parser("info")
    p.add_argument("--commit", default=None)
    p.add_argument("--node", default=None)
    p = sub.add_parser("make-model")
    p.add_argument("--size", choices=sorted(SIZES), required=True)
    p.add_argument("--out", required=True)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--num-labels", type=int, default=2)
    p.add_argument("--no-dropout", action="store_true")
    p = sub.add_parser("parity")
    p.add_argument("--device", default="cpu")
    p.add_argument("--size", choices=sorted(SIZES), default="tiny")
    p.add_argument("--out-dir", required=True)
    p.add_argument("--steps", type=int, default=50)
    p.add_argument("--batch", type=int, default=0)
    p.add_argument("--seq", type=int, default=0)
    p.add_argument("--precisions", default="no,bf16,fp16")
    p.add_argument("--attn", default="sdpa", choices=["sdpa", "eager"])
    p.add_argument("--model-type", default="bert", choices=MODEL_TYPES)
    p.add_argument("--lr", type=float, default=0.0)
    p.add_argument("--seed", type=int, default=0)
    p = sub.add_parser("bench")
    p.add_argument("--model", required=True)
    p.add_argument("--device", default="cuda")
    p.add_argument("--batch", type=int, default=32)
    p.add_argument("--seq", type=int, default=128)
    p.add_argument("--warmup", type=int, default=10)
    p.add_argument("--steps", type=int, default=30)
    p.add_argument("--windows", type=int, default=3)
    p.add_argument("--variants", default=",".join(BENCH_VARIANTS))
    p.add_argument("--matmul-size", type=int, default=8192)
    p.add_argument("--compile-backend", default="inductor")
    p.add_argument("--seed", type=int, default=0)
    p = sub.add_parser("summarize")
    p.add_argument("--out", required=True)
    p.add_argument("--dry-run", action="store_true")
    p.add_argument("--started", type=float, default=0)
    p.add_argument("--print", action="store_true")
    a = parser.parse_args(argv)
    return {"info": cmd_info, "make-model": cmd_make_model, "parity": cmd_parity, "bench": cmd_bench,
            "summarize": cmd_summarize}[a.cmd](a)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
