#!/usr/bin/env bash
# Installs the references `npm run bench` measures against: PyTorch and NumPy from Debian, on OpenBLAS
# (without libopenblas0-pthread Debian's libblas.so.3 is the unoptimised netlib BLAS, and the comparison
# would flatter adaptlm). Needs root (apt-get).
set -euo pipefail
apt-get update
DEBIAN_FRONTEND=noninteractive apt-get install -y python3-torch python3-numpy libopenblas0-pthread
