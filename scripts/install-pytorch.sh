#!/bin/sh
# Installs Debian's PyTorch (python3-torch) and numpy, which only the fixture
# generator (scripts/pytorch_fixtures.py) and the peer benchmark
# (bench/pytorch_peer.py) use; the build and the test suite never need them.
# Idempotent: when both packages are installed it does nothing (no apt-get call).
set -eu

PKGS="python3 python3-numpy python3-torch"

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
