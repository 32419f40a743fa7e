#!/bin/sh
# fuzz.sh - runs each libFuzzer harness of tests/fuzz/ (built by `make fuzz`
# in BUILD_FUZZ) for FUZZ_SECONDS seconds, or FUZZ_RUNS executions when set,
# whichever ends first. The working corpus grows in BUILD_FUZZ/corpus/<h>, the
# checked-in seeds (tests/fuzz/corpus/<h>) are read too; a crash leaves its
# input in BUILD_FUZZ/crashes/ (turn it into tests/fuzz/regress/<h>/<name>).
# Prints one line per harness: executions, seconds, exec/s, crashes.
# Usage: fuzz.sh BUILD_FUZZ [harness...]   (default: all of them)
set -u
B=${1:?usage: fuzz.sh BUILD_FUZZ [harness...]}
shift
H=${*:-safetensors idx cifar cache model json clblast}
SECS=${FUZZ_SECONDS:-30}
RUNS=${FUZZ_RUNS:--1}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
mkdir -p "$B/crashes" "$B/logs"
# LeakSanitizer reads the PoCL suppressions as the sanitizer suite does; the
# model harness's context needs no disk cache (CL16_CACHE=0 in the harness).
export LSAN_OPTIONS="suppressions=$ROOT/tests/sanitize/lsan.supp:print_suppressions=0"
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1"
fail=0
for h in $H; do
    bin="$B/tests/fuzz/fuzz_$h"
    if [ ! -x "$bin" ]; then
        echo "fuzz.sh: $bin not built" >&2
        fail=1
        continue
    fi
    mkdir -p "$B/corpus/$h"
    log="$B/logs/$h.log"
    start=$(date +%s)
    "$bin" -max_total_time="$SECS" -runs="$RUNS" -print_final_stats=1 \
        -artifact_prefix="$B/crashes/$h-" "$B/corpus/$h" "$ROOT/tests/fuzz/corpus/$h" >"$log" 2>&1
    rc=$?
    end=$(date +%s)
    execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
    eps=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -1)
    crashes=0
    if [ "$rc" -ne 0 ]; then
        crashes=1
        fail=1
        grep -E "ERROR|SUMMARY|runtime error|Test unit written" "$log" | head -5 >&2
    fi
    printf 'fuzz %-12s %10s execs %6ss %8s exec/s  corpus %s  rc %s%s\n' "$h" "${execs:-?}" \
        "$((end - start))" "${eps:-?}" "$(ls "$B/corpus/$h" | wc -l)" "$rc" \
        "$([ "$crashes" -ne 0 ] && echo "  CRASH (see $log)")"
done
exit $fail
