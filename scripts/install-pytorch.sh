#!/bin/sh
# Installs Debian's PyTorch (python3-torch) and numpy, which only the fixture
# generator (scripts/pytorch_fixtures.py) and the peer benchmark
# (bench/pytorch_peer.py) use; the build and the test suite never need them.
# Idempotent, like scripts/install-deps.sh, which does the work.
exec sh "$(dirname "$0")/install-deps.sh" python3 python3-numpy python3-torch
