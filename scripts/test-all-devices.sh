#!/bin/sh
# Runs the whole ctest suite once per OpenCL device (CL16_DEVICE=<index>), each
# device from fresh program caches, and prints one table row per device.
#
#   sh scripts/test-all-devices.sh [BUILD]       (default BUILD: build; `make test-all-devices`)
#   sh scripts/test-all-devices.sh --count [BUILD]   only print how many devices there are
#
# Devices come from `BUILD/cl16 devices --json`. When OCL_ICD_VENDORS is unset
# and Intel's runtime was installed by scripts/install-intel-ocl.sh
# (CL16_INTEL_OCL_DIR, default .deps/intel-ocl), its env.sh is sourced so that
# PoCL and Intel are both listed. Exit status: 0 when every device passes.
set -eu

ROOT=$(cd "$(dirname "$0")/.." && pwd)
COUNT=0
if [ "${1:-}" = --count ]; then COUNT=1; shift; fi
BUILD=$(cd "${1:-$ROOT/build}" && pwd)
JOBS=${JOBS:-$(nproc 2>/dev/null || echo 2)}
CL16=$BUILD/cl16
[ -x "$CL16" ] || { echo "test-all-devices: no $CL16 (run make build)" >&2; exit 1; }

INTEL=${CL16_INTEL_OCL_DIR:-$ROOT/.deps/intel-ocl}
if [ -z "${OCL_ICD_VENDORS:-}" ] && [ -f "$INTEL/env.sh" ]; then
    . "$INTEL/env.sh"
fi

# index <TAB> half path <TAB> name, one line per device.
LIST=$("$CL16" devices --json | python3 -c '
import json, sys
for d in json.load(sys.stdin)["devices"]:
    print("%d\t%s\t%s" % (d["index"], d["half_path"], d["name"]))')
N=$(printf '%s\n' "$LIST" | grep -c . || true)
if [ "$COUNT" = 1 ]; then echo "$N"; exit 0; fi
[ "$N" -gt 0 ] || { echo "test-all-devices: no OpenCL device" >&2; exit 1; }

LOGS=$BUILD/test-all-devices
mkdir -p "$LOGS"
echo "test-all-devices: $N device(s), OCL_ICD_VENDORS=${OCL_ICD_VENDORS:-<system>}, logs in $LOGS"
ROWS="" FAIL=0
TAB=$(printf '\t')
while IFS="$TAB" read -r idx half name; do
    # Every device starts from empty caches: none reuses another's binaries
    # or tuning files (the cache key tells devices apart, but a fresh start
    # also exercises every build path on each device).
    rm -rf "$BUILD"/tests/cache-*
    log=$LOGS/device-$idx.log
    echo "== device $idx: $name ($half half)"
    t0=$(date +%s)
    rc=0
    (cd "$BUILD" && CL16_DEVICE=$idx ctest --output-on-failure -j "$JOBS") > "$log" 2>&1 || rc=$?
    t=$(( $(date +%s) - t0 ))
    # ctest: "95% tests passed, 1 tests failed out of 24"; skipped ones count as passed.
    total=$(sed -n 's/.*tests failed out of \([0-9]*\).*/\1/p' "$log" | tail -n 1)
    failed=$(sed -n 's/.* \([0-9]*\) tests failed out of.*/\1/p' "$log" | tail -n 1)
    skipped=$(grep -c '(Skipped)' "$log" || true)
    if [ -n "$total" ] && [ -n "$failed" ]; then
        passed=$(( total - failed - skipped ))
    else
        passed="?" failed="?" rc=1        # no summary: ctest itself failed
    fi
    if [ "$rc" != 0 ]; then
        FAIL=1
        sed -n '/The following tests FAILED/,$p' "$log"
        echo "   (full output: $log)"
    fi
    echo "   $passed passed, $failed failed, $skipped skipped in ${t}s"
    ROWS="$ROWS$(printf '| %s | %s | %s | %s | %s | %s | %ss |' \
        "$idx" "$name" "$half" "$passed" "$failed" "$skipped" "$t")
"
done <<EOF
$LIST
EOF

echo
echo "| device | name | half path | passed | failed | skipped | time |"
echo "|---|---|---|---|---|---|---|"
printf '%s' "$ROWS"
exit "$FAIL"
