#!/usr/bin/env bash
# Installs what bert-trainer builds against and tests with, on a fresh Debian or Ubuntu machine (as root, or with
# sudo), from a clone of the repository:
#   Debian         cmake g++ make (the native builds), libgloo-dev (Gloo's headers: the data-parallel engine, c10d)
#   .venv/         PyTorch 2.13.0 (CPU) and transformers 5.18.0, from pip: its LibTorch is the one the addon builds
#                  against (scripts/find-libtorch.js looks here first), and transformers is the parity tests' judge;
#                  pyarrow, which writes the Parquet files the data tests read
#   .venv-cuda/    with --cuda: PyTorch 2.14.1 for CUDA 13 and the nvidia-* libraries it loads, for the CUDA build
#                  (scripts/build-cuda.sh)
# What is already there is left alone, so a second run is quick. BERT_TRAINER_TORCH / BERT_TRAINER_CUDA_TORCH pick
# other PyTorch 2.x versions; PIP_RETRIES and PIP_TIMEOUT default to 0 and 3 (a wheel that is not there fails fast).
set -euo pipefail
cd "$(dirname "$0")/.."

cuda=0
for arg in "$@"; do
  case "$arg" in
    --cuda) cuda=1 ;;
    -h|--help) sed -n '2,11p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "install-deps.sh: unknown option $arg (use --cuda or --help)" >&2; exit 2 ;;
  esac
done

TORCH_VERSION="${BERT_TRAINER_TORCH:-2.13.0}"
CUDA_TORCH_VERSION="${BERT_TRAINER_CUDA_TORCH:-2.14.1}"
TRANSFORMERS_VERSION="5.18.0"
PYARROW_VERSION="25.0.1"
export PIP_RETRIES="${PIP_RETRIES:-0}" PIP_DEFAULT_TIMEOUT="${PIP_TIMEOUT:-3}" PIP_DISABLE_PIP_VERSION_CHECK=1

packages=(cmake g++ make libgloo-dev)
python3 -m venv --help >/dev/null 2>&1 || packages+=(python3-venv)
missing=()
for p in "${packages[@]}"; do
  dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  echo "system packages: all present"
else
  SUDO=""
  [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  echo "installing: ${missing[*]}"
  $SUDO apt-get update -q
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q --no-install-recommends "${missing[@]}"
fi

# has VENV MODULE VERSION: the venv's MODULE reports VERSION (a local version such as +cpu or +cu130 also counts).
has() {
  [ -x "$1/bin/python" ] && "$1/bin/python" -c "import sys, $2; v = $2.__version__.split('+')[0]; sys.exit(v != '$3')" 2>/dev/null
}

if has .venv torch "$TORCH_VERSION" && has .venv transformers "$TRANSFORMERS_VERSION"; then
  echo ".venv: torch $TORCH_VERSION, transformers $TRANSFORMERS_VERSION present"
else
  python3 -m venv .venv
  # The CPU build of PyTorch: pip's default index serves it as the +cpu local version, a local wheel as itself.
  .venv/bin/pip install -q "torch==$TORCH_VERSION" "transformers==$TRANSFORMERS_VERSION" \
    || .venv/bin/pip install -q "torch==$TORCH_VERSION+cpu" "transformers==$TRANSFORMERS_VERSION"
  echo ".venv: $(.venv/bin/python -c 'import torch, transformers; print("torch", torch.__version__, "transformers", transformers.__version__)')"
fi

if has .venv pyarrow "$PYARROW_VERSION"; then
  echo ".venv: pyarrow $PYARROW_VERSION present"
else
  .venv/bin/pip install -q "pyarrow==$PYARROW_VERSION"
  echo ".venv: pyarrow $(.venv/bin/python -c 'import pyarrow; print(pyarrow.__version__)')"
fi

if [ "$cuda" -eq 1 ]; then
  if has .venv-cuda torch "$CUDA_TORCH_VERSION" && .venv-cuda/bin/python -c "import torch, sys; sys.exit(torch.version.cuda is None)" 2>/dev/null; then
    echo ".venv-cuda: torch $CUDA_TORCH_VERSION (CUDA) present"
  else
    python3 -m venv .venv-cuda
    # Building and linking needs PyTorch and the CUDA libraries it links (cudart, cuBLAS, cuDNN, NCCL, ...), not
    # triton or cuda-bindings (torch.compile and Python CUDA APIs), so those are not required to be installable.
    .venv-cuda/bin/pip install -q "torch==$CUDA_TORCH_VERSION" 2>/dev/null || {
      .venv-cuda/bin/pip install -q --no-deps "torch==$CUDA_TORCH_VERSION"
      requirements=$(.venv-cuda/bin/python - <<'PY'
import importlib.metadata as md, re
for line in md.requires("torch") or []:
    spec, _, marker = line.partition(";")
    name = re.match(r"[A-Za-z0-9_.-]+", spec).group(0).lower()
    if name not in ("triton", "cuda-bindings") and "extra ==" not in marker:
        print(spec.strip())
PY
)
      echo "$requirements" | tr '\n' '\0' | xargs -0 .venv-cuda/bin/pip install -q
    }
    echo ".venv-cuda: $(.venv-cuda/bin/python -c 'import torch; print("torch", torch.__version__, "CUDA", torch.version.cuda)')"
  fi
fi
