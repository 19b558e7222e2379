#!/usr/bin/env bash
# Installs what bert-trainer needs from Debian on a fresh machine (as root, or with sudo):
#   libtorch-dev          LibTorch 1.13 (CPU): headers, libraries, TorchConfig.cmake
#   libopenblas0-pthread  a fast BLAS for LibTorch's matrix products (else reference BLAS is used)
#   libgloo-dev           Gloo's headers: LibTorch's distributed engine (c10d) for data-parallel training; without
#                         it the addon builds without distributed support
#   python3-torch         PyTorch for /usr/bin/python3: the reference the parity tests compare against
#   cmake g++ make        the native builds
# Packages already present are left alone, so this is quick on a prepared machine.
set -euo pipefail
packages=(libtorch-dev libopenblas0-pthread libgloo-dev python3-torch cmake g++ make)
missing=()
for p in "${packages[@]}"; do
  dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  echo "system packages: all present"
  exit 0
fi
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
echo "installing: ${missing[*]}"
$SUDO apt-get update -q
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q --no-install-recommends "${missing[@]}"
