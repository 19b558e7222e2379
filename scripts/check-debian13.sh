#!/usr/bin/env bash
# Builds bert-trainer on Debian 13 (trixie) against Debian's own libtorch-dev (LibTorch 2.6) with trixie's g++ and
# Node.js, and runs the tests that need no Python, from any Debian or Ubuntu machine that reaches Debian's packages
# and the npm registry: a minimal trixie root made with debootstrap, entered with chroot. Needs root (debootstrap,
# mounts, chroot).
#
#   sudo bash scripts/check-debian13.sh [DIR] [-- JEST_ARGS...]
#     DIR         where the trixie root goes (default /var/tmp/bert-trainer-trixie; kept, so a second run skips
#                 debootstrap and the packages already installed)
#     JEST_ARGS   what jest runs there (default: the loading, forward, parity, kernel, training, checkpoint,
#                 data-parallel and ONNX export tests, less those that start transformers in Python: trixie's Python
#                 3.13 has no PyTorch wheel on these machines)
#
# The tests read the parity fixtures this checkout's test run generated with its PyTorch (test/fixtures/generated,
# from `npm test` here): they are copied in, since generating them needs that PyTorch.
# The repository's HEAD is cloned into DIR/root/bert-trainer and built with `npm ci`: find-libtorch.js finds no Python
# PyTorch there, so it takes /usr/lib/x86_64-linux-gnu/cmake/Torch, Debian's. Prints `versions` and the jest summary;
# exits with jest's status. The host's CA certificates go into the root too (a TLS-inspecting proxy's CA included).
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$(pwd)

root=/var/tmp/bert-trainer-trixie
if [ $# -gt 0 ] && [ "$1" != "--" ]; then
  root=$1
  shift
fi
[ "${1:-}" = "--" ] && shift
tests=("$@")
if [ ${#tests[@]} -eq 0 ]; then
  tests=(test/engine.test.ts test/classifier.test.ts test/parity.test.ts test/inference-path.test.ts
    test/cpu-kernels.test.ts test/trainer.test.ts test/trainer-checkpoint.test.ts test/distributed.test.ts
    test/onnx-export.test.ts -t '^(?!saving: transformers reloads)')
fi
if [ ! -f test/fixtures/generated/manifest.json ]; then
  echo "check-debian13.sh: no test/fixtures/generated here: run npm test once first (it generates them)" >&2
  exit 2
fi

if [ "$(id -u)" -ne 0 ]; then
  echo "check-debian13.sh: needs root (debootstrap, mount, chroot)" >&2
  exit 2
fi
command -v debootstrap >/dev/null || DEBIAN_FRONTEND=noninteractive apt-get install -y -q debootstrap

if [ ! -x "$root/usr/bin/apt-get" ]; then
  echo "=== debootstrap trixie into $root"
  debootstrap --variant=minbase trixie "$root" http://deb.debian.org/debian
fi

mounted=()
cleanup() {
  for ((i = ${#mounted[@]} - 1; i >= 0; i--)); do umount "${mounted[$i]}" 2>/dev/null || true; done
}
trap cleanup EXIT
for m in proc sys dev; do
  if ! mountpoint -q "$root/$m"; then
    mount --bind "/$m" "$root/$m"
    mounted+=("$root/$m")
  fi
done
cp /etc/resolv.conf "$root/etc/resolv.conf"
if compgen -G "/usr/local/share/ca-certificates/*.crt" >/dev/null; then
  mkdir -p "$root/usr/local/share/ca-certificates"
  cp /usr/local/share/ca-certificates/*.crt "$root/usr/local/share/ca-certificates/"
fi

echo "=== Debian $(cat "$root/etc/debian_version"): packages"
chroot "$root" bash -c 'apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends \
  libtorch-dev libopenblas0-pthread g++ make cmake nodejs npm python3 libgloo-dev git ca-certificates >/dev/null \
  && update-ca-certificates >/dev/null && dpkg-query -W libtorch-dev g++ nodejs'

echo "=== clone $(git rev-parse --short HEAD) and npm ci (node-gyp build against Debian's LibTorch)"
rm -rf "$root/root/bert-trainer"
git clone -q "$repo" "$root/root/bert-trainer"
cp -r test/fixtures/generated "$root/root/bert-trainer/test/fixtures/"  # copied last: newer than their generators
chroot "$root" bash -c 'set -o pipefail; cd /root/bert-trainer && npm config set cafile /etc/ssl/certs/ca-certificates.crt \
  && JOBS=$(nproc) npm ci --no-audit --no-fund 2>&1 | grep -v "^npm warn" | tail -5 \
  && node -e "console.log(\"versions\", require(\"./dist\").versions)"'

echo "=== jest on Debian 13: ${tests[*]}"
chroot "$root" bash -c "cd /root/bert-trainer && npx jest --runInBand $(printf '%q ' "${tests[@]}")"
