#!/bin/sh
# compile_all.sh CLANG KERNEL_DIR - compiles every kernel file in every variant
# cl16 builds (f32; f16 storage path; f16 native path with float and with half
# arithmetic, and half accumulation; bf16, which has one path everywhere) with clang's OpenCL front end for SPIR,
# which implements cl_khr_fp16. The native-half path cannot build on PoCL's CPU
# device, so this is where its source is checked on every machine.
CLANG=$1 KDIR=$2
if [ -z "$CLANG" ] || ! command -v "$CLANG" >/dev/null 2>&1; then
    echo "SKIP: clang not found (scripts/install-deps.sh installs it)"
    exit 77
fi
fails=0 n=0
# gemm.cl also in each kernel kind's configuration (tile, dot, local memory;
# the tile kernel's implicit forms, on float copies too, and on B in panels).
for f in "$KDIR"/*.cl; do
    [ "$(basename "$f")" = common.cl ] && continue
    shapes="-DKU=4"
    [ "$(basename "$f")" = gemm.cl ] && shapes="-DTM=4:-DTN=64:-DVW=16:-DKU=4
-DTM=3:-DTN=16:-DVW=8:-DKU=1:-DTRANS_A=1:-DTRANS_B=1
-DTM=4:-DTN=4:-DVW=16:-DTRANS_B=1
-DTM=2:-DTN=8:-DVW=4:-DTRANS_B=1
-DTM=4:-DTN=4:-DWGX=16:-DWGY=16:-DKT=16:-DVW=4:-DTRANS_A=1
-DTM=4:-DTN=16:-DVW=8:-DKU=4:-DIMPLICIT=1
-DTM=6:-DTN=16:-DVW=8:-DKU=1:-DIMPLICIT=2
-DTM=4:-DTN=16:-DVW=16:-DKU=4:-DIMPLICIT=2:-DAB_FLOAT=1
-DTM=4:-DTN=16:-DVW=8:-DKU=4:-DIMPLICIT=3
-DTM=4:-DTN=16:-DVW=4:-DKU=1:-DIMPLICIT=3
-DTM=2:-DTN=16:-DVW=16:-DKU=1:-DIMPLICIT=3
-DTM=4:-DTN=2:-DVW=8:-DTRANS_B=1:-DIMPLICIT=1
-DTM=4:-DTN=24:-DVW=8:-DKU=1:-DPANEL_B=1
-DTM=4:-DTN=32:-DVW=8:-DKU=4:-DPANEL_B=1"
    for v in "0 0 0 0" "1 0 0 0" "1 1 0 0" "1 1 1 0" "1 1 1 1" "2 0 0 0"; do
        for shape in $shapes; do
            set -- $v
            n=$((n + 1))
            if ! "$CLANG" -x cl -cl-std=CL1.2 -target spir64 -Xclang -finclude-default-header \
                -fsyntax-only -Werror -I"$KDIR" -DCL16_DTYPE=$1 -DCL16_HALF_NATIVE=$2 \
                -DCL16_HALF_ARITH=$3 -DCL16_HALF_ACC=$4 -DCL16_PROBE_NATIVE=$2 \
                $(echo "$shape" | tr ':' ' ') "$f"; then
                echo "FAIL: $(basename "$f") with DTYPE=$1 NATIVE=$2 ARITH=$3 ACC=$4 $shape" >&2
                fails=$((fails + 1))
            fi
        done
    done
done
echo "kernels_compile: $n compilations, $fails failed"
[ "$fails" -eq 0 ]
