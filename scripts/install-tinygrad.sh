#!/bin/sh
# Installs tinygrad, the optional peer of bench/tinygrad_peer.py, into a private
# virtual environment (default .deps/tinygrad-venv; argument 1 overrides), never
# into the system Python. The build and the test suite never need it.
# Idempotent: does nothing when the pinned version is already there.
set -eu
here="$(cd "$(dirname "$0")" && pwd)"
VENV="${1:-$here/../.deps/tinygrad-venv}"
# Pinned: a release that runs on Debian's Python 3.11 and still ships the
# OpenCL backend (ops_gpu / CL) on which the peer is measured.
TINYGRAD_VERSION="${TINYGRAD_VERSION:-0.10.3}"

sh "$here/install-deps.sh" python3 python3-venv ocl-icd-libopencl1

if [ -x "$VENV/bin/python" ] &&
   "$VENV/bin/python" -c "import tinygrad, importlib.metadata as m; \
assert m.version('tinygrad') == '$TINYGRAD_VERSION'" 2>/dev/null; then
    exit 0
fi
echo "cl16: installing tinygrad $TINYGRAD_VERSION into $VENV"
/usr/bin/python3 -m venv "$VENV"
"$VENV/bin/python" -m pip install -q "tinygrad==$TINYGRAD_VERSION"
"$VENV/bin/python" -c "import tinygrad; print('cl16: tinygrad ready in $VENV')"
