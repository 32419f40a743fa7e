#!/bin/sh
# Runs CLBlast's own GEMM tuner (clblast_tuner_xgemm, Debian's clblast-utils) on one
# OpenCL device for a bounded time and hands its best verified parameters to cl16
# (`cl16 tune clblast-import`), so that `cl16 bench gemm` can measure CLBlast tuned
# for the device (its CLBt peers) next to CLBlast's defaults. Not part of the tests.
#
#   sh scripts/tune-clblast.sh [path/to/cl16]          (default build/cl16)
#
# Environment (defaults in brackets):
#   TUNE_SECONDS   wall-clock limit of the tuner per precision [600]; rows measured
#                  before the limit still count (they are in its log)
#   TUNE_SIZE      M = N = K the tuner times, a multiple of 128 [512]
#   TUNE_FRACTION  the tuner's -fraction: it tries 1/FRACTION of each phase's
#                  configurations, at least 1 [16]
#   TUNE_PRECISIONS which of 32 16 [32 16]; 16 is skipped on devices without half
#   CLBLAST_PLATFORM, CLBLAST_DEVICE  the tuner's -platform / -device indices [0 0];
#                  cl16 picks its device from CL16_DEVICE and refuses a file tuned on
#                  another device
#   TUNE_DIR       where the tuner's logs and JSON go [build/clblast-tune]
# The result lives in cl16's cache directory (CL16_CACHE_DIR, ...), one file per
# device and precision; `cl16 bench gemm` prints its path and parameters.
set -eu
here="$(cd "$(dirname "$0")" && pwd)"
CL16="${1:-build/cl16}"
TUNE_SECONDS="${TUNE_SECONDS:-600}"
TUNE_SIZE="${TUNE_SIZE:-512}"
TUNE_FRACTION="${TUNE_FRACTION:-16}"
TUNE_PRECISIONS="${TUNE_PRECISIONS:-32 16}"
TUNE_DIR="${TUNE_DIR:-build/clblast-tune}"
PLATFORM="${CLBLAST_PLATFORM:-0}"
DEVICE="${CLBLAST_DEVICE:-0}"

die() { echo "tune-clblast: $*" >&2; exit 1; }
[ -x "$CL16" ] || die "no cl16 binary at '$CL16' (build first: make build)"
case "$TUNE_SIZE" in *[!0-9]*|'') die "TUNE_SIZE='$TUNE_SIZE' is not a positive integer";; esac
[ "$TUNE_SIZE" -ge 128 ] && [ $((TUNE_SIZE % 128)) -eq 0 ] ||
    die "TUNE_SIZE=$TUNE_SIZE: the tuner needs a multiple of 128 (its largest MWG/NWG)"
# The tuner keeps configurations.size() / fraction of each phase; a fraction below 1
# would ask for more configurations than exist.
awk -v f="$TUNE_FRACTION" 'BEGIN { exit !(f + 0 >= 1) }' ||
    die "TUNE_FRACTION=$TUNE_FRACTION: must be a number >= 1 (1/FRACTION of each phase is tried)"
case "$TUNE_SECONDS" in *[!0-9]*|'') die "TUNE_SECONDS='$TUNE_SECONDS' is not a whole number";; esac

sh "$here/install-deps.sh" clblast-utils python3
command -v clblast_tuner_xgemm >/dev/null || die "clblast_tuner_xgemm not found after installing clblast-utils"

status=0
for prec in $TUNE_PRECISIONS; do
    case "$prec" in 16|32) ;; *) die "TUNE_PRECISIONS: '$prec' is not 16 or 32";; esac
    dir="$TUNE_DIR/$prec"
    rm -rf "$dir" && mkdir -p "$dir"
    echo "tune-clblast: precision $prec on platform $PLATFORM device $DEVICE, ${TUNE_SIZE}^3," \
         "1/$TUNE_FRACTION of each phase, at most ${TUNE_SECONDS} s (log: $dir/tuner.log)"
    rc=0
    (cd "$dir" && exec timeout "$TUNE_SECONDS" clblast_tuner_xgemm -platform "$PLATFORM" \
        -device "$DEVICE" -precision "$prec" -m "$TUNE_SIZE" -n "$TUNE_SIZE" -k "$TUNE_SIZE" \
        -fraction "$TUNE_FRACTION" >tuner.log 2>&1) || rc=$?
    if grep -q "Unsupported precision" "$dir/tuner.log"; then
        echo "tune-clblast: precision $prec: the tuner says the device does not support it" \
             "(CLBlast's half precision needs cl_khr_fp16); nothing to import"
        continue
    fi
    if [ "$rc" = 124 ]; then
        echo "tune-clblast: precision $prec: stopped at the ${TUNE_SECONDS} s limit; using what it measured"
    elif [ "$rc" != 0 ]; then
        echo "tune-clblast: precision $prec: clblast_tuner_xgemm exited with $rc" >&2
    fi
    if python3 "$here/clblast_tuner_best.py" "$dir" "$dir/xgemm-$prec.txt" &&
       "$CL16" tune clblast-import "$dir/xgemm-$prec.txt"; then :; else status=1; fi
done
exit $status
