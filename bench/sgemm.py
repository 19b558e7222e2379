"""The machine's fp32 GEMM rate through the BLAS that LibTorch uses (no native addon involved).

Usage: /usr/bin/python3 bench/sgemm.py [threads=2] [size=2048] [repeats=10]
Prints JSON: {"gflops": best, "median_gflops": ..., "samples_ms": [...], "size": n, "threads": n, "blas": "..."}

torch.mm of two n x n float32 matrices (2 n^3 FLOPs), best of `repeats` after two warm-up calls, with
torch.set_num_threads(threads). Debian's torch 1.13 sends fp32 mm to OpenBLAS (the pthread build: its own thread
pool, sized by OPENBLAS_NUM_THREADS or the core count, not by torch.set_num_threads; the driver sets
OPENBLAS_NUM_THREADS for every process it starts so that both sides and this measurement use the same count).
"""
import json
import os
import sys
import time

import torch


def blas_library() -> str:
    try:
        with open("/proc/self/maps", "r", encoding="utf-8") as maps:
            for line in maps:
                name = os.path.basename(line.split()[-1]) if len(line.split()) >= 6 else ""
                if name.startswith(("libopenblas", "libmkl", "libblis", "libblas")):
                    return name
    except OSError:
        pass
    return "unknown"


def measure(threads: int = 2, size: int = 2048, repeats: int = 10) -> dict:
    torch.set_num_threads(threads)
    torch.manual_seed(0)
    a = torch.randn(size, size)
    b = torch.randn(size, size)
    c = torch.empty(size, size)
    for _ in range(2):
        torch.mm(a, b, out=c)
    samples = []
    for _ in range(repeats):
        start = time.perf_counter()
        torch.mm(a, b, out=c)
        samples.append((time.perf_counter() - start) * 1000)
    flops = 2.0 * size ** 3
    best = min(samples)
    ordered = sorted(samples)
    return {
        "gflops": flops / (best / 1000) / 1e9,
        "median_gflops": flops / (ordered[len(ordered) // 2] / 1000) / 1e9,
        "samples_ms": samples,
        "size": size,
        "threads": threads,
        "openblas_threads_env": os.environ.get("OPENBLAS_NUM_THREADS"),
        "blas": blas_library(),
        "torch": torch.__version__,
    }


def main(argv) -> int:
    threads = int(argv[1]) if len(argv) > 1 else 2
    size = int(argv[2]) if len(argv) > 2 else 2048
    repeats = int(argv[3]) if len(argv) > 3 else 10
    print(json.dumps(measure(threads, size, repeats)))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
