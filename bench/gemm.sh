#!/bin/sh
# gemm.sh [BUILD] - cl16 f16 and f32 GEMM at 1024^3 on the default device, then
# OpenBLAS SGEMM on the host, back to back so the ratios share the machine's load.
B=${1:-build}
"$B/cl16" gemm --m 1024 --n 1024 --k 1024 --reps 5
[ -x "$B/bench/blas_sgemm" ] && "$B/bench/blas_sgemm" 1024 5
