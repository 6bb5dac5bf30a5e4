#!/bin/sh
# Installs what the project needs when it is missing; fast no-op when everything is there.
# - node modules (onnxruntime-node's install script only fetches CUDA files: skipped)
# - PyTorch + OpenBLAS + numpy + pytest from Debian for the training core
set -eu
cd "$(dirname "$0")/../.."

if [ ! -f node_modules/.package-lock.json ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  echo "setup: installing node modules" >&2
  ONNXRUNTIME_NODE_INSTALL_CUDA=skip npm ci --no-audit --no-fund --loglevel=error
fi

PYTHON="${MLOPS_PYTHON:-/usr/bin/python3}"
if ! "$PYTHON" -c 'import torch, numpy, pytest' 2>/dev/null; then
  echo "setup: installing PyTorch, OpenBLAS, numpy and pytest from Debian" >&2
  SUDO=""
  [ "$(id -u)" = 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends \
    python3 python3-torch python3-numpy python3-pytest libopenblas0-pthread >/dev/null
  "$PYTHON" -c 'import torch' || { echo "setup: PyTorch is still not importable by $PYTHON" >&2; exit 1; }
fi
