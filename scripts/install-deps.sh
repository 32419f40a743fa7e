#!/bin/sh
# Installs the Debian packages cl16 needs to build, test and run its demo, or
# the packages given as arguments (the optional tiers: scripts/install-pytorch.sh,
# gnuplot for the accuracy study's plots).
# Idempotent: when every package is already installed it does nothing (no apt-get call).
set -eu

PKGS="${*:-build-essential cmake pkg-config ocl-icd-opencl-dev opencl-headers pocl-opencl-icd \
libclblast-dev clinfo zlib1g-dev dataset-fashion-mnist libopenblas-dev clang python3}"

missing=""
for p in $PKGS; do
    if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
        missing="$missing $p"
    fi
done

if [ -z "$missing" ]; then
    exit 0
fi

echo "cl16: installing missing Debian packages:$missing"
SUDO=""
if [ "$(id -u)" != 0 ]; then
    if command -v sudo >/dev/null 2>&1; then SUDO=sudo; else
        echo "cl16: need root (or sudo) to install:$missing" >&2; exit 1
    fi
fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
# shellcheck disable=SC2086
$SUDO apt-get install -y -qq --no-install-recommends $missing
