#!/bin/sh
# gemm.sh [CL16|BUILD_DIR] [JSON] [options...] - every GEMM peer (cl16 f16 and
# f32, CLBlast SGEMM/HGEMM, OpenBLAS SGEMM) on square and LeNet-5/ResNet-20
# training shapes, in one process so the ratios share the machine's load. Table
# on stdout, JSON in JSON (default bench-gemm.json); further options go to
# `cl16 bench gemm` (e.g. --shapes squares, --quick, --reps R).
CL16=${1:-build}
[ -d "$CL16" ] && CL16="$CL16/cl16"
JSON=${2:-bench-gemm.json}
[ $# -gt 2 ] && shift 2 || set --
# OpenBLAS 0.3.21 does not recognise the development VM's CPU ("Intel(R) Xeon(R)
# Processor") and falls back to its SSE3 (Prescott) kernels, 3-8x slower. On a
# CPU with AVX-512 its SkylakeX kernels are the right peer; an explicit
# OPENBLAS_CORETYPE from the caller wins.
if [ -z "${OPENBLAS_CORETYPE:-}" ] && grep -qw avx512f /proc/cpuinfo 2>/dev/null; then
    export OPENBLAS_CORETYPE=SkylakeX
fi
exec "$CL16" bench gemm --json "$JSON" "$@"
