#!/bin/sh
# test_cli.sh - the cl16 command line: help and version, the device list in
# text and JSON, exit codes and messages for an unknown device and an
# impossible half path, and the GEMM demo's self-check.
CL16="$1"
fails=0
fail() { echo "FAIL: $*" >&2; fails=$((fails + 1)); }
out=$(mktemp) err=$(mktemp)
trap 'rm -f "$out" "$err"' EXIT

"$CL16" --help >"$out" || fail "--help exited non-zero"
grep -q "devices" "$out" && grep -q "exit codes" "$out" || fail "--help lacks the commands"
"$CL16" --version | grep -Eq '^cl16 [0-9]+\.[0-9]+\.[0-9]+$' || fail "--version"

"$CL16" devices >"$out" 2>"$err" || fail "devices exited non-zero: $(cat "$err")"
grep -Eq '^0 +.*(storage|native)' "$out" || fail "devices: no row with a half path: $(cat "$out")"
grep -q '^cache: ' "$out" || fail "devices: no cache line"

"$CL16" devices --json >"$out" || fail "devices --json exited non-zero"
python3 - "$out" <<'PY' || fail "devices --json is not the documented JSON"
import json, sys
d = json.load(open(sys.argv[1]))
dev = d["devices"][0]
for k in ("index", "platform", "name", "vendor", "driver", "global_mem", "half_path", "extensions"):
    assert k in dev, k
assert dev["half_path"] in ("native", "storage"), dev["half_path"]
assert "cache_dir" in d
PY

# Unknown device: exit 10 + CL16_ERR_NO_DEVICE (2) = 12, message names it and lists devices.
"$CL16" --device no-such-gpu-xyz devices >"$out" 2>"$err"
rc=$?
[ "$rc" = 12 ] || fail "unknown device exit code $rc, want 12"
grep -q "no-such-gpu-xyz" "$err" && grep -q "0:" "$err" || fail "unknown device message: $(cat "$err")"
CL16_DEVICE=no-such-gpu-xyz "$CL16" probe >"$out" 2>"$err"
[ $? = 12 ] || fail "CL16_DEVICE unknown device not an error"

# Forcing native half where the probe finds only storage: exit 10 + UNSUPPORTED (3) = 13.
if "$CL16" devices | grep -Eq '^0 .* storage'; then
    CL16_HALF=native "$CL16" --device 0 probe >"$out" 2>"$err"
    rc=$?
    [ "$rc" = 13 ] || fail "CL16_HALF=native on a storage device: exit $rc, want 13"
    grep -q "native" "$err" || fail "CL16_HALF=native message: $(cat "$err")"
fi

# Usage errors exit 2.
"$CL16" frobnicate >/dev/null 2>&1
[ $? = 2 ] || fail "unknown command not exit 2"
"$CL16" gemm --m 0 >/dev/null 2>&1
[ $? = 2 ] || fail "gemm --m 0 not exit 2"

# The demo GEMM checks itself against a float64 reference.
"$CL16" gemm --m 33 --n 17 --k 65 --trans-b --reps 1 >"$out" 2>"$err" || fail "gemm: $(cat "$err")"
[ "$(grep -c 'check passed' "$out")" = 2 ] || fail "gemm did not pass both dtypes: $(cat "$out")"

"$CL16" probe >"$out" 2>"$err" || fail "probe: $(cat "$err")"
grep -q "half path:" "$out" || fail "probe output"

# The tuner: usage errors, then a quick f32 run that saves its file, and
# CL16_GEMM forcing a backend (a bad value is refused, naming the variable).
"$CL16" tune >/dev/null 2>&1
[ $? = 2 ] || fail "tune without a target not exit 2"
"$CL16" tune gemm --dtype f8 >/dev/null 2>&1
[ $? = 2 ] || fail "tune gemm --dtype f8 not exit 2"
"$CL16" tune gemm --quick --dtype f32 >"$out" 2>"$err" || fail "tune gemm: $(cat "$err")"
grep -q "^saved .*gemm-tune-.*\.txt" "$out" || fail "tune gemm did not save: $(cat "$out")"
grep -q "f32 NN large: chose" "$err" || fail "tune gemm progress: $(cat "$err")"
CL16_GEMM=cublas "$CL16" gemm --m 8 --n 8 --k 8 >"$out" 2>"$err"
rc=$?
[ "$rc" = 11 ] || fail "CL16_GEMM=cublas: exit $rc, want 11"
grep -q "CL16_GEMM" "$err" || fail "CL16_GEMM message: $(cat "$err")"
CL16_GEMM=clblast "$CL16" gemm --m 19 --n 23 --k 40 --dtype f32 --reps 1 >"$out" 2>"$err" ||
    fail "CL16_GEMM=clblast gemm: $(cat "$err")"
grep -q "check passed" "$out" || fail "CL16_GEMM=clblast result: $(cat "$out")"

if [ "$fails" -eq 0 ]; then echo "test_cli: all checks passed"; exit 0; fi
echo "test_cli: $fails check(s) failed" >&2
exit 1
