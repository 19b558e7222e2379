"""The machine's fp32 GEMM rate: PyTorch's own BLAS, and which BLAS our addon's direct sgemm_ calls should use.

Usage:
  .venv/bin/python bench/sgemm.py [threads=2] [size=2048] [repeats=10]
      torch.mm of two n x n float32 matrices (2 n^3 FLOPs), best of `repeats` after two warm-up calls, with
      torch.set_num_threads(threads). Prints JSON: {"gflops": best, "median_gflops", "samples_ms", "size", "threads",
      "blas", "torch"}. The pip PyTorch (2.x) sends fp32 mm to the MKL linked into libtorch_cpu.so (OpenMP threads,
      set_num_threads); Debian's torch 1.13 sent it to OpenBLAS (its own pthread pool, OPENBLAS_NUM_THREADS).

  .venv/bin/python bench/sgemm.py shapes [--threads 2] [--configs mini32,base8] [--repeats N] [--openblas LIB] [--json FILE]
      The GEMMs of one training step of a config (mini32: mini at 32 x 128, base8: base at 8 x 128; also tiny8,
      tiny32, mini8, small8, small32), shape by shape, in two BLAS libraries:
        OpenBLAS   sgemm_ from LIB (default libopenblas.so.0: Debian's libopenblas0-pthread, 0.3.21), through ctypes
        MKL        PyTorch's: torch.mm / torch.bmm, and sgemm_ from libtorch_cpu.so through ctypes, which is the
                   function native/parallel/blas_gemm.cpp's dlsym(RTLD_DEFAULT, "sgemm_") finds in the addon
      Two groups, each GEMM called with the operands, transposes and leading dimensions our engine (and PyTorch's
      addmm) passes:
        linear     the encoder's linear layers (q, k, v, attention output, intermediate, output): forward, input
                   gradient and weight gradient, one multi-threaded GEMM each (`threads` threads): OpenBLAS sgemm_
                   against torch.mm
        attention  the per-(sequence, head) products of ours' attention (native/model/head_matmul.cpp): q.k^T, p.v
                   and the four backward products, batch * heads single-threaded GEMMs per product spread over
                   `threads` threads, as the addon runs them (there inside an OpenMP loop; here one Python thread
                   each, ctypes releases the GIL): OpenBLAS sgemm_ (openblas_set_num_threads(1) meanwhile, as the
                   addon's SingleThreadedBlas) against MKL's sgemm_ (mkl_set_num_threads_local(1) in each thread);
                   torch.bmm (`threads` threads) as PyTorch's eager attention runs the same product, for scale
      Per shape: the median time of `repeats` calls after two warm-up calls, the libraries taking turns call by call
      (a load that drifts weighs on each alike); GFLOP/s = 2 m n k / time. Per config: every shape times its count
      per step, summed: the GEMM milliseconds of one step in each library. The outputs are compared (max relative
      difference) to show that each library computed the same product. The attention group in Python pays a
      ctypes call and a GIL hand-over per slice, alike for both libraries.

Thread-waiting settings: GOMP_SPINCOUNT=100 and OPENBLAS_THREAD_TIMEOUT=22 (bert-trainer's defaults) unless the
environment sets them, and OPENBLAS_NUM_THREADS=threads, set before torch and OpenBLAS load.
"""
import json
import os
import sys
import time


def _env_defaults(threads: int) -> None:
    os.environ.setdefault("GOMP_SPINCOUNT", "100")
    os.environ.setdefault("OPENBLAS_THREAD_TIMEOUT", "22")
    os.environ.setdefault("OPENBLAS_NUM_THREADS", str(threads))


if __name__ == "__main__" and len(sys.argv) > 1 and sys.argv[1] == "shapes":
    _threads = 2
    if "--threads" in sys.argv[:-1]:
        _threads = int(sys.argv[sys.argv.index("--threads") + 1])
    _env_defaults(_threads)

import torch  # noqa: E402 - after the thread settings


def blas_library() -> str:
    """The BLAS torch.mm uses: the MKL inside libtorch_cpu.so (the pip builds), or a shared library mapped into the
    process (Debian's torch: OpenBLAS)."""
    try:
        if torch.backends.mkl.is_available() and "BLAS_INFO=mkl" in torch.__config__.show():
            return "MKL (in libtorch_cpu.so)"
    except Exception:  # noqa: BLE001 - a label only
        pass
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


# ---------------------------------------------------------------------------------------------------------------
# shapes: the GEMMs of a training step, OpenBLAS against MKL

# name -> (layers, hidden, heads, intermediate, batch); sequence 128 (scripts/bench/step.js's CONFIGS)
STEP_CONFIGS = {
    "tiny8": (2, 128, 2, 512, 8), "tiny32": (2, 128, 2, 512, 32),
    "mini8": (4, 256, 4, 1024, 8), "mini32": (4, 256, 4, 1024, 32),
    "small8": (4, 512, 8, 2048, 8), "small32": (4, 512, 8, 2048, 32),
    "base8": (12, 768, 12, 3072, 8),
}
SEQ = 128


class Blas:
    """sgemm_ (the Fortran interface: column-major, every argument by reference) of one library, through ctypes."""

    def __init__(self, name: str, path: str):
        import ctypes

        self.ct = ctypes
        self.name = name
        self.lib = ctypes.CDLL(path)
        self.fn = self.lib.sgemm_
        self.fn.restype = None
        self.path = path

    def call(self, ta: str, tb: str, m: int, n: int, k: int, alpha: float, a: int, lda: int, b: int, ldb: int,
             beta: float, c: int, ldc: int) -> None:
        ct = self.ct
        self.fn(ct.c_char_p(ta.encode()), ct.c_char_p(tb.encode()), ct.byref(ct.c_int(m)), ct.byref(ct.c_int(n)),
                ct.byref(ct.c_int(k)), ct.byref(ct.c_float(alpha)), ct.c_void_p(a), ct.byref(ct.c_int(lda)),
                ct.c_void_p(b), ct.byref(ct.c_int(ldb)), ct.byref(ct.c_float(beta)), ct.c_void_p(c), ct.byref(ct.c_int(ldc)))

    def prepared(self, ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc):
        """The argument objects of one call, built once (the per-slice loops then pay only the call)."""
        ct = self.ct
        return (ct.c_char_p(ta.encode()), ct.c_char_p(tb.encode()), ct.byref(ct.c_int(m)), ct.byref(ct.c_int(n)),
                ct.byref(ct.c_int(k)), ct.byref(ct.c_float(alpha)), ct.c_void_p(a), ct.byref(ct.c_int(lda)),
                ct.c_void_p(b), ct.byref(ct.c_int(ldb)), ct.byref(ct.c_float(beta)), ct.c_void_p(c), ct.byref(ct.c_int(ldc)))


def _operand(rows: int, cols: int, rs: int, cs: int):
    """(transposed, ld) of a strided row-major [rows, cols] operand, as blas_gemm.cpp's blas_operand."""
    if cs == 1 and rs >= max(1, cols):
        return False, rs
    if rs == 1 and cs >= max(1, rows):
        return True, cs
    raise ValueError(f"operand [{rows}, {cols}] strides ({rs}, {cs}) is not BLAS-ready")


def row_major_args(a: torch.Tensor, b: torch.Tensor, c: torch.Tensor, alpha: float, beta: float,
                   a_off: int = 0, b_off: int = 0, c_off: int = 0, shape=None):
    """The column-major sgemm_ arguments of C[m, n] = alpha A[m, k] B[k, n] + beta C for row-major strided operands:
    the call addmm makes (and native/parallel/blas_gemm.cpp's row_major_sgemm): C^T = B^T A^T, B first. `shape` and
    the element offsets give a slice (m, n, k) of larger buffers with their strides."""
    m, n, k = shape if shape is not None else (a.shape[0], b.shape[1], a.shape[1])
    ars, acs = a.stride(-2), a.stride(-1)
    brs, bcs = b.stride(-2), b.stride(-1)
    ldc = c.stride(-2)
    t1, ld1 = _operand(k, n, brs, bcs)
    t2, ld2 = _operand(m, k, ars, acs)
    return ("t" if t1 else "n", "t" if t2 else "n", n, m, k, alpha, b.data_ptr() + 4 * b_off, ld1,
            a.data_ptr() + 4 * a_off, ld2, beta, c.data_ptr() + 4 * c_off, ldc)


def linear_shapes(L: int, H: int, I: int, T: int):
    """(name, count per step, m, n, k, a_transposed, b_transposed) of the encoder's linear layers, row-major:
    forward x W^T, input gradient g W, weight gradient g^T x (a transposed view: the call PyTorch makes)."""
    return [
        ("fwd x·Wᵀ (q, k, v, attn out) [T,H]x[H,H]ᵀ", 4 * L, T, H, H, False, True),
        ("fwd x·W1ᵀ (intermediate) [T,H]x[I,H]ᵀ", L, T, I, H, False, True),
        ("fwd h·W2ᵀ (output) [T,I]x[H,I]ᵀ", L, T, H, I, False, True),
        ("grad in g·W (q, k, v, attn out) [T,H]x[H,H]", 4 * L, T, H, H, False, False),
        ("grad in g·W1 (intermediate) [T,I]x[I,H]", L, T, H, I, False, False),
        ("grad in g·W2 (output) [T,H]x[H,I]", L, T, I, H, False, False),
        ("grad W gᵀ·x (q, k, v, attn out) [T,H]ᵀx[T,H]", 4 * L, H, H, T, True, False),
        ("grad W1 gᵀ·x (intermediate) [T,I]ᵀx[T,H]", L, I, H, T, True, False),
        ("grad W2 gᵀ·h (output) [T,H]ᵀx[T,I]", L, H, I, T, True, False),
    ]


def _matrix(rows: int, cols: int, transposed: bool) -> torch.Tensor:
    """A [rows, cols] operand: contiguous, or the transposed view of a contiguous [cols, rows]."""
    return torch.randn(cols, rows).t() if transposed else torch.randn(rows, cols)


def _median(xs):
    s = sorted(xs)
    return s[len(s) // 2] if len(s) % 2 else (s[len(s) // 2 - 1] + s[len(s) // 2]) / 2


def _rel(x: torch.Tensor, y: torch.Tensor) -> float:
    return float((x - y).abs().max() / y.abs().max().clamp_min(1e-30))


def _timed(fn, repeats_list, i):
    start = time.perf_counter()
    fn()
    repeats_list[i].append(time.perf_counter() - start)


def bench_linear(openblas: Blas, threads: int, L: int, H: int, I: int, T: int, repeats: int):
    rows = []
    for name, count, m, n, k, ta, tb in linear_shapes(L, H, I, T):
        a = _matrix(m, k, ta)
        b = _matrix(k, n, tb)
        c_ob = torch.empty(m, n)
        c_mm = torch.empty(m, n)
        args = row_major_args(a, b, c_ob, 1.0, 0.0)
        runs = [
            lambda: openblas.call(*args),
            lambda: torch.mm(a, b, out=c_mm),
        ]
        samples = [[], []]
        for _ in range(2):
            for f in runs:
                f()
        for _ in range(repeats):
            for i, f in enumerate(runs):
                _timed(f, samples, i)
        flops = 2.0 * m * n * k
        ms = [1000 * _median(s) for s in samples]
        rows.append({"group": "linear", "name": name, "count": count, "m": m, "n": n, "k": k,
                     "openblas_ms": ms[0], "mkl_ms": ms[1],
                     "openblas_gflops": flops / ms[0] / 1e6, "mkl_gflops": flops / ms[1] / 1e6,
                     "max_rel_diff": _rel(c_ob, c_mm)})
    return rows


def bench_attention(openblas: Blas, mkl: Blas, threads: int, L: int, H: int, heads: int, B: int, repeats: int):
    """The six per-(sequence, head) products of one layer's attention, in the layouts ours uses: q, k, v and the
    context (and their gradients) in the [B, S, heads, d] layout of a [B, S, H] activation (row stride H), scores and
    probabilities [B, heads, S, S] contiguous."""
    import threading

    S, d = SEQ, H // heads
    q, k, v, g_ctx = (torch.randn(B, S, H) for _ in range(4))
    p, g_s = torch.randn(B, heads, S, S).softmax(-1), torch.randn(B, heads, S, S)
    scale = d ** -0.5

    def head(t: torch.Tensor, s: int, h: int) -> int:  # element offset of sequence s, head h in [B, S, H]
        return s * S * H + h * d

    def sq(s: int, h: int) -> int:  # element offset of slice (s, h) in [B, heads, S, S]
        return (s * heads + h) * S * S

    # (name, A view, B view, C shape, C is [B, S, H] (ldc H) or [B, heads, S, S], alpha, beta, offsets(s, h), bmm)
    qh = q.view(B, S, heads, d).transpose(1, 2)  # [B, heads, S, d], row stride H
    kh = k.view(B, S, heads, d).transpose(1, 2)
    vh = v.view(B, S, heads, d).transpose(1, 2)
    gh = g_ctx.view(B, S, heads, d).transpose(1, 2)
    products = [
        ("scores q·kᵀ [S,d]x[d,S]", qh, kh.transpose(-1, -2), (S, S, d), False, scale, 1.0,
         lambda s, h: (head(q, s, h), head(k, s, h), sq(s, h))),
        ("context p·v [S,S]x[S,d]", p, vh, (S, d, S), True, 1.0, 0.0,
         lambda s, h: (sq(s, h), head(v, s, h), head(v, s, h))),
        ("grad p = g·vᵀ [S,d]x[d,S]", gh, vh.transpose(-1, -2), (S, S, d), False, 1.0, 0.0,
         lambda s, h: (head(g_ctx, s, h), head(v, s, h), sq(s, h))),
        ("grad v = pᵀ·g [S,S]ᵀx[S,d]", p.transpose(-1, -2), gh, (S, d, S), True, 1.0, 0.0,
         lambda s, h: (sq(s, h), head(g_ctx, s, h), head(v, s, h))),
        ("grad q = g_s·k [S,S]x[S,d]", g_s, kh, (S, d, S), True, scale, 0.0,
         lambda s, h: (sq(s, h), head(k, s, h), head(q, s, h))),
        ("grad k = g_sᵀ·q [S,S]ᵀx[S,d]", g_s.transpose(-1, -2), qh, (S, d, S), True, scale, 0.0,
         lambda s, h: (sq(s, h), head(q, s, h), head(k, s, h))),
    ]
    rows = []
    slices = [(s, h) for s in range(B) for h in range(heads)]
    parts = [slices[t::threads] for t in range(threads)]
    for name, a4, b4, (m, n, kk), c_interleaved, alpha, beta, offsets in products:
        outs = {}
        calls = {}
        for lib in (openblas, mkl):
            c = torch.zeros(B, S, H) if c_interleaved else torch.zeros(B, heads, S, S)
            outs[lib.name] = c
            c4 = c.view(B, S, heads, d).transpose(1, 2) if c_interleaved else c
            a2, b2, c2 = a4[0, 0], b4[0, 0], c4[0, 0]
            calls[lib.name] = [[lib.prepared(*row_major_args(a2, b2, c2, alpha, beta, *offsets(s, h), shape=(m, n, kk)))
                                for s, h in part] for part in parts]
        bmm_out = torch.empty(B * heads, m, n)
        a3 = a4.reshape(B * heads, m, kk)
        b3 = b4.reshape(B * heads, kk, n)

        def sliced(lib: Blas, setup, teardown):
            def run():
                def work(t):
                    setup()
                    fn = lib.fn
                    for args in calls[lib.name][t]:
                        fn(*args)
                    teardown()
                ts = [threading.Thread(target=work, args=(t,)) for t in range(1, threads)]
                for t in ts:
                    t.start()
                work(0)
                for t in ts:
                    t.join()
            return run

        # MKL's thread count for the calling thread only (0: back to the global one, torch's set_num_threads). The
        # lower-case symbol is MKL's Fortran interface: the count by reference.
        ct = mkl.ct
        one, zero = ct.c_int(1), ct.c_int(0)
        set_mkl_local = mkl.lib.mkl_set_num_threads_local
        runs = [
            sliced(openblas, lambda: None, lambda: None),
            sliced(mkl, lambda: set_mkl_local(ct.byref(one)), lambda: set_mkl_local(ct.byref(zero))),
            lambda: torch.bmm(a3, b3, out=bmm_out),
        ]
        openblas_set = openblas.lib.openblas_set_num_threads
        samples = [[], [], []]
        for rep in range(repeats + 2):
            for i, f in enumerate(runs):
                if i == 0:
                    openblas_set(1)
                if rep < 2:
                    f()
                else:
                    _timed(f, samples, i)
                if i == 0:
                    openblas_set(threads)
        flops = 2.0 * m * n * kk * B * heads
        ms = [1000 * _median(x) for x in samples]
        ref = bmm_out.view(B, heads, m, n) * 1  # what torch computed, for the comparison (alpha and beta aside)

        def product(c):
            c4 = c.view(B, S, heads, d).transpose(1, 2) if c_interleaved else c
            return c4

        # The per-slice products accumulate into C with beta 1 (scores): compare the first call's shape of work only.
        diff = _rel(product(outs[openblas.name]), product(outs[mkl.name])) if beta == 0.0 else None
        rows.append({"group": "attention", "name": name, "count": L, "slices": B * heads, "m": m, "n": n, "k": kk,
                     "openblas_ms": ms[0], "mkl_ms": ms[1], "bmm_ms": ms[2],
                     "openblas_gflops": flops / ms[0] / 1e6, "mkl_gflops": flops / ms[1] / 1e6, "bmm_gflops": flops / ms[2] / 1e6,
                     "max_rel_diff": diff, "bmm_max_rel_diff": _rel(product(outs[mkl.name]), alpha * ref) if beta == 0.0 else None})
    return rows


def shapes_main(argv) -> int:
    import argparse

    parser = argparse.ArgumentParser(prog="bench/sgemm.py shapes", description="OpenBLAS against MKL on a step's GEMMs")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--configs", default="mini32,base8")
    parser.add_argument("--repeats", type=int, default=15)
    parser.add_argument("--openblas", default="libopenblas.so.0")
    parser.add_argument("--groups", default="linear,attention")
    parser.add_argument("--json", default=None, help="also write every number to this file")
    args = parser.parse_args(argv)
    configs = [c.strip() for c in args.configs.split(",") if c.strip()]
    for c in configs:
        if c not in STEP_CONFIGS:
            parser.error(f"--configs: unknown {c} ({', '.join(STEP_CONFIGS)})")
    groups = [g.strip() for g in args.groups.split(",") if g.strip()]
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    try:
        openblas = Blas("OpenBLAS", args.openblas)
    except OSError as e:
        print(f"cannot load {args.openblas} ({e}); Debian: apt-get install -y libopenblas0-pthread", file=sys.stderr)
        return 1
    openblas.lib.openblas_set_num_threads(args.threads)
    try:
        openblas.lib.openblas_get_config.restype = openblas.ct.c_char_p
        openblas_config = openblas.lib.openblas_get_config().decode()
    except AttributeError:
        openblas_config = "unknown"
    mkl = Blas("MKL", os.path.join(os.path.dirname(torch.__file__), "lib", "libtorch_cpu.so"))
    info = {"torch": torch.__version__, "torch_blas": blas_library(), "openblas": f"{args.openblas}: {openblas_config}",
            "threads": args.threads, "repeats": args.repeats, "torch_threads": torch.get_num_threads(),
            "env": {k: os.environ.get(k) for k in ("OPENBLAS_NUM_THREADS", "OPENBLAS_THREAD_TIMEOUT", "GOMP_SPINCOUNT", "OMP_NUM_THREADS")}}
    try:
        import subprocess

        info["cpu"] = next((l.split(":", 1)[1].strip() for l in subprocess.run(["lscpu"], capture_output=True, text=True).stdout.splitlines()
                            if l.startswith("Model name")), "unknown")
        info["load"] = os.getloadavg()
    except Exception:  # noqa: BLE001 - labels only
        pass
    print(f"# GEMMs of a training step: OpenBLAS ({info['openblas']}) against MKL (torch {info['torch']}: {info['torch_blas']}), "
          f"{args.threads} threads, median of {args.repeats} calls; CPU {info.get('cpu')}, load {info.get('load')}")
    print(f"# environment: {info['env']}")
    results = {"info": info, "configs": {}}
    for c in configs:
        L, H, heads, I, B = STEP_CONFIGS[c]
        rows = []
        if "linear" in groups:
            rows += bench_linear(openblas, args.threads, L, H, I, B * SEQ, args.repeats)
        if "attention" in groups:
            rows += bench_attention(openblas, mkl, args.threads, L, H, heads, B, args.repeats)
        totals = {"openblas_ms": 0.0, "mkl_ms": 0.0}
        by_group = {}
        for r in rows:
            g = by_group.setdefault(r["group"], {"openblas_ms": 0.0, "mkl_ms": 0.0, "bmm_ms": 0.0})
            for key in ("openblas_ms", "mkl_ms", "bmm_ms"):
                if key in r:
                    g[key] += r["count"] * r[key]
            totals["openblas_ms"] += r["count"] * r["openblas_ms"]
            totals["mkl_ms"] += r["count"] * r["mkl_ms"]
        results["configs"][c] = {"rows": rows, "per_step_ms": by_group, "total_ms": totals}
        print()
        print(f"## {c}: layers {L}, hidden {H}, heads {heads}, intermediate {I}, batch {B} x {SEQ}")
        print()
        print("| group | GEMM (row-major, per call) | m × n × k | per step | OpenBLAS GFLOP/s | MKL GFLOP/s | OpenBLAS / MKL time | torch.bmm GFLOP/s | max rel. diff |")
        print("|---|---|---|---|---|---|---|---|---|")
        for r in rows:
            per = f"{r['count']}" + (f" × {r['slices']} slices" if "slices" in r else "")
            mkl_label = f"{r['mkl_gflops']:.1f}" + (" (torch.mm)" if r["group"] == "linear" else " (sgemm_ per slice)")
            diff = "n/a (beta 1)" if r["max_rel_diff"] is None else f"{r['max_rel_diff']:.1e}"
            bmm = f"{r['bmm_gflops']:.1f}" if "bmm_gflops" in r else ""
            print(f"| {r['group']} | {r['name']} | {r['m']} × {r['n']} × {r['k']} | {per} | {r['openblas_gflops']:.1f} | {mkl_label} | "
                  f"{r['openblas_ms'] / r['mkl_ms']:.2f} | {bmm} | {diff} |")
        print()
        for g, t in by_group.items():
            extra = f", torch.bmm {t['bmm_ms']:.1f} ms" if g == "attention" else ""
            print(f"{c} {g}: GEMM ms per step OpenBLAS {t['openblas_ms']:.1f}, MKL {t['mkl_ms']:.1f} "
                  f"(OpenBLAS / MKL {t['openblas_ms'] / t['mkl_ms']:.2f}){extra}")
        print(f"{c} all: OpenBLAS {totals['openblas_ms']:.1f} ms, MKL {totals['mkl_ms']:.1f} ms per step "
              f"(OpenBLAS / MKL {totals['openblas_ms'] / totals['mkl_ms']:.2f})")
    size = 2048
    sq = measure(args.threads, size, 5)
    a = torch.randn(size, size)
    b = torch.randn(size, size)
    c_ob = torch.empty(size, size)
    call = row_major_args(a, b, c_ob, 1.0, 0.0)
    openblas.call(*call)
    ts = []
    for _ in range(5):
        start = time.perf_counter()
        openblas.call(*call)
        ts.append(time.perf_counter() - start)
    ob = 2.0 * size ** 3 / min(ts) / 1e9
    results["square2048"] = {"mkl_torch_mm_gflops": sq["gflops"], "openblas_gflops": ob}
    print()
    print(f"square {size}² ({args.threads} threads, best of 5): OpenBLAS {ob:.1f} GFLOP/s, MKL (torch.mm) {sq['gflops']:.1f} GFLOP/s")
    if args.json:
        with open(args.json, "w", encoding="utf-8") as f:
            json.dump(results, f, indent=1)
    return 0


def main(argv) -> int:
    if len(argv) > 1 and argv[1] == "shapes":
        return shapes_main(argv[2:])
    threads = int(argv[1]) if len(argv) > 1 else 2
    size = int(argv[2]) if len(argv) > 2 else 2048
    repeats = int(argv[3]) if len(argv) > 3 else 10
    print(json.dumps(measure(threads, size, repeats)))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
