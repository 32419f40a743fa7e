#!/bin/sh
# test_cli.sh - the cl16 command line: help and version, the device list in
# text and JSON, exit codes and messages for an unknown device and an
# impossible half path, the GEMM demo's self-check and the quick GEMM and convolution
# benchmarks.
CL16="$1"
fails=0
fail() { echo "FAIL: $*" >&2; fails=$((fails + 1)); }
out=$(mktemp) err=$(mktemp) json=$(mktemp) tj=$(mktemp --suffix=-tuner.json)
trap 'rm -f "$out" "$err" "$json" "$tj"' EXIT

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

# The timing fields every measured peer carries (docs/bench-json.md, "Method"):
# median and spread over the blocks, kernel time from profiling events where the
# peer runs only cl16's kernels (null otherwise), % of the device's measured peaks.
# Values are checked for consistency only, never against a speed.
method_py='
def check_peaks(d):
    pk = d["peaks"]
    assert pk["copy_gb_per_s"] > 0 and pk["f32_gflops"] > 0, pk
    assert (pk["f16_gflops"] is None) == (d["half_path"] == "storage"), pk
def check_timed(r, kernel, where):
    for k in ("ms_per_call", "ms_min", "ms_max", "kernel_ms", "first_call_s", "reps", "blocks"):
        assert k in r, (where, k, r)
    assert 0 < r["ms_min"] <= r["ms_per_call"] <= r["ms_max"], (where, r)
    assert r["blocks"] >= 3 and r["reps"] >= 1, (where, r)
    if kernel:
        assert r["kernel_ms"] is not None and r["kernel_ms"] > 0, (where, "no kernel time", r)
    else:
        assert r["kernel_ms"] is None, (where, "kernel time for a peer cl16 cannot time", r)
def check_pct(r, d, where, value="gflops", peak="f32_gflops", key="pct_peak"):
    want = 100 * r[value] / d["peaks"][peak]
    assert abs(r[key] - want) <= 1e-3 * want, (where, key, r[key], want)
'

# The GEMM benchmark: every peer's result verified (a wrong one exits non-zero),
# a table with the goals, and the JSON document. Timings are not checked.
"$CL16" bench gemm --quick --json "$json" >"$out" 2>"$err" || fail "bench gemm --quick: $(tail -20 "$err")"
grep -q "f16 1024^3 vs OpenBLAS" "$out" && grep -q "^lenet5.conv2.bwd_w " "$out" ||
    fail "bench gemm table: $(cat "$out")"
python3 -m json.tool "$json" >/dev/null || fail "bench gemm --json is not valid JSON"
python3 - "$json" "$method_py" <<'PY' || fail "bench gemm --json lacks the documented keys"
import json, sys
exec(sys.argv[2])
d = json.load(open(sys.argv[1]))
for k in ("device", "platform", "driver", "half_path", "cl16_version", "date", "peaks", "shapes", "summary"):
    assert k in d, k
check_peaks(d)
assert d["options"]["min_blocks"] == 3 == d["options"]["max_blocks"], d["options"]
names = [s["name"] for s in d["shapes"]]
assert "square.256" in names and "resnet20.layer2.conv.bwd_data" in names, names
for s in d["shapes"]:
    for k in ("m", "n", "k", "batch", "flops", "plan_f16", "plan_f32", "peers", "ratios"):
        assert k in s, (s["name"], k)
    p = s["peers"]
    for k in ("cl16_f16", "cl16_f32", "clblast_sgemm", "clblast_hgemm", "openblas_sgemm"):
        assert p[k]["status"] in ("ok", "unsupported", "not built"), (s["name"], k, p[k])
    for k in ("cl16_f16", "cl16_f32"):
        r = p[k]
        assert r["status"] == "ok" and r["gflops"] > 0 and r["ms_per_call"] > 0, (s["name"], k, r)
        assert r["first_call_s"] >= 0 and 0 <= r["max_error_ratio"] <= 1, (s["name"], k, r)
        # gflops is the median call's: flops / ms_per_call
        assert abs(r["gflops"] - s["flops"] / r["ms_per_call"] * 1e-6) <= 1e-3 * r["gflops"], (s["name"], k, r)
    for k, r in p.items():
        if r["status"] == "ok":
            check_timed(r, k.startswith("cl16_"), (s["name"], k))
            check_pct(r, d, (s["name"], k))
            assert (r["pct_peak_f16"] is None) == (d["peaks"]["f16_gflops"] is None), (s["name"], k, r)
        else:
            assert r["ms_per_call"] is None and r["pct_peak"] is None and r["kernel_ms"] is None, (s["name"], k, r)
    if p["clblast_hgemm"]["status"] == "unsupported":
        assert p["clblast_hgemm"]["reason"], "HGEMM unsupported without a reason"
    # A fresh cache holds no CLBlast tuner parameters: skipped, and told how to get them.
    for k in ("clblast_tuned_sgemm", "clblast_tuned_hgemm"):
        assert p[k]["status"] == "skipped" and "not tuned" in p[k]["reason"] and \
            "tune-clblast.sh" in p[k]["reason"], (s["name"], k, p[k])
    for k in ("f16_f32", "f16_clblast_sgemm", "f16_openblas"):
        assert k in s["ratios"], k
    assert s["ratios"]["f16_f32"] > 0
for k in ("f16_1024_vs_clblast_sgemm", "f16_1024_vs_openblas", "worst_f16_f32"):
    assert k in d["summary"], k
PY
"$CL16" bench gemm --shapes cubes >/dev/null 2>&1
[ $? = 2 ] || fail "bench gemm --shapes cubes not exit 2"
"$CL16" bench >/dev/null 2>&1
[ $? = 2 ] || fail "bench without a benchmark not exit 2"
# The convolution benchmark (batch 8, a subset): cl16 f16/f32 and CLBlast on each
# pass, every result verified (a wrong one exits non-zero). Timings are not checked.
# CL16_GEMM=cl16: a tuning file in this cache (the tuner test below, an earlier
# run) may hand some GEMMs to CLBlast, whose kernels profiling cannot see (their
# kernel_ms is then null, rightly); forced to cl16's own, every cl16 row has one.
CL16_GEMM=cl16 "$CL16" bench conv --quick --json "$json" >"$out" 2>"$err" || fail "bench conv --quick: $(tail -20 "$err")"
grep -q "f16 time <= 1.0x f32 per layer" "$out" && grep -q "^resnet20.layer2.down  *bwd_data " "$out" ||
    fail "bench conv table: $(cat "$out")"
python3 - "$json" "$method_py" <<'PY' || fail "bench conv --json lacks the documented keys"
import json, sys
exec(sys.argv[2])
d = json.load(open(sys.argv[1]))
assert d["benchmark"] == "conv"
check_peaks(d)
for k in ("device", "platform", "driver", "half_path", "cl16_version", "date", "options", "clblast",
          "rows", "summary"):
    assert k in d, k
rows = {(r["shape"], r["pass"]) for r in d["rows"]}
assert ("lenet5.conv1", "fwd") in rows and ("resnet20.layer2.down", "bwd_data") in rows, rows
assert ("lenet5.conv1", "bwd_data") not in rows, "first layer has no backward-data"
for r in d["rows"]:
    for k in ("n", "c", "h", "w", "cout", "kh", "kw", "stride", "pad", "ho", "wo", "flops", "peers", "ratios"):
        assert k in r, (r["shape"], k)
    for k in ("cl16_f16", "cl16_f32", "clblast"):
        p = r["peers"][k]
        assert p["status"] in ("ok", "unsupported"), (r["shape"], r["pass"], k, p)
        if p["status"] == "ok":
            assert p["ms_per_call"] > 0 and p["gflops"] > 0 and 0 <= p["max_error_ratio"] <= 1, (r["shape"], k, p)
            check_timed(p, k != "clblast", (r["shape"], r["pass"], k))
            check_pct(p, d, (r["shape"], r["pass"], k))
        else:
            assert p["reason"], (r["shape"], k, "unsupported without a reason")
    assert r["peers"]["cl16_f16"]["status"] == "ok" and r["peers"]["cl16_f32"]["status"] == "ok"
    # f16 and f32 timed in the same rounds: as many blocks each, and the paired ratio inside its range
    q = r["ratios"]
    assert r["peers"]["cl16_f16"]["blocks"] == r["peers"]["cl16_f32"]["blocks"], (r["shape"], r["pass"])
    assert 0 < q["f16_f32_time_min"] <= q["f16_f32_time"] <= q["f16_f32_time_max"], (r["shape"], r["pass"], q)
    # the algorithm each cl16 peer ran, by pass (stride-1 backward-data runs as a forward)
    for k in ("cl16_f16", "cl16_f32"):
        # im2col on float copies: 16-bit on the storage path (of CPUs)
        k16 = k == "cl16_f16" and d["half_path"] == "storage"
        # implicit: the implicit GEMM (on stride phases where the stride is not 1)
        fwd = {"im2col", "direct", "implicit"} | ({"im2col-float"} if k16 else set())
        allowed = {"fwd": fwd, "bwd_w": {"im2col-nn", "implicit", "implicit-dot"},
                   "bwd_data": {"fwd-" + a for a in fwd} if r["stride"] == 1 else
                               {"col2im", "direct", "implicit"}}  # implicit: by stride phases (dilation 1, as every row)
        assert r["algorithm"][k] in allowed[r["pass"]], (r["shape"], r["pass"], k, r["algorithm"])
for k in ("worst_f16_f32_time", "worst_f16_f32_shape", "worst_clblast_over_f16_time"):
    assert k in d["summary"], k
PY
# --cpu-time: the same rows, timed in process CPU time, and the JSON says so.
"$CL16" bench conv --quick --reps 1 --cpu-time --json "$json" >"$out" 2>"$err" ||
    fail "bench conv --cpu-time: $(tail -20 "$err")"
python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); assert d["options"]["clock"] == "process_cpu", d["options"]; assert len(d["rows"]) > 0' "$json" ||
    fail "bench conv --cpu-time: options.clock is not process_cpu"
"$CL16" bench conv --quick --json /nonexistent-dir-cl16/x.json >"$out" 2>"$err"
rc=$?
[ "$rc" = 17 ] || fail "bench conv with an unwritable --json: exit $rc, want 17"
# Whole training steps per precision: the JSON holds every run with its ratios to fp32.
CL16_GEMM=cl16 "$CL16" bench train --quick --models mlp --precisions fp32,fp16,fp16-kahan,mixed,bf16 --steps 1 \
    --profile 3 --json "$json" >"$out" 2>"$err" || fail "bench train --quick: $(tail -20 "$err")"
grep -q "cl16_gemm" "$out" || fail "bench train --profile: no GEMM kernel in the split: $(cat "$out")"
python3 - "$json" "$method_py" <<'PY' || fail "bench train --json: $(cat "$json")"
import json, sys
exec(sys.argv[2])
d = json.load(open(sys.argv[1]))
assert d["benchmark"] == "train" and d["batch"] == 32, d
check_peaks(d)
runs = d["runs"]
assert [r["precision"] for r in runs] == ["fp32", "fp16", "fp16-kahan", "mixed", "bf16"], runs
for r in runs:
    assert r["model"] == "mlp" and r["ms_per_step"] > 0 and r["peak_device_bytes"] > 0, r
    assert r["blocks"] == 3 and r["ms_per_step"] <= r["ms_per_step_median"] <= r["ms_per_step_max"], r
    b = sorted(r["ms_per_step_rounds"])  # each block's time, in the order timed
    assert len(b) == 3 and (b[0], b[1], b[2]) == (r["ms_per_step"], r["ms_per_step_median"], r["ms_per_step_max"]), r
    assert r["kernel_ms_per_step"] > 0 and r["flops_per_step"] > 0, r
    assert abs(r["gflops"] - r["flops_per_step"] / r["ms_per_step_median"] * 1e-6) <= 1e-3 * r["gflops"], r
    assert abs(r["images_per_s_median"] - 32e3 / r["ms_per_step_median"]) <= 1e-3 * r["images_per_s_median"], r
    check_pct(r, d, r["precision"])
    # --profile 3: the three longest kernels, longest first, within the step's kernel time
    k = r["kernels"]
    assert 1 <= len(k) <= 3 and all(a["ms_per_step"] >= b["ms_per_step"] for a, b in zip(k, k[1:])), k
    assert sum(e["ms_per_step"] for e in k) <= r["ms_per_step_max"] * 1.01, (k, r)
    assert all(e["name"] and e["launches_per_step"] > 0 for e in k), k
    if r["precision"] in ("fp16", "fp16-kahan", "bf16"):
        assert r["time_vs_fp32"] > 0 and 0 < r["memory_vs_fp32"] < 1, r
    if r["precision"] != "fp32":  # timed in the same rounds as fp32: the median of the rounds' ratios
        assert 0 < r["time_vs_fp32_min"] <= r["time_vs_fp32"] <= r["time_vs_fp32_max"], r
    else:
        assert "time_vs_fp32" not in r, r
    # mixed keeps f32 master weights and state: for an MLP, whose memory is
    # mostly parameters, it can exceed fp32 (16-bit GEMMs add float workspaces)
m = {r["precision"]: r["peak_device_bytes"] for r in runs}
# Kahan adds 2 bytes per weight; mixed adds f32 master weights and state.
assert m["fp16"] < m["fp16-kahan"] < m["mixed"], m
PY
# A peer framework in the same rounds (--peer): a stand-in that takes 50 ms a
# step. Its row and cl16's speed over it per precision; the JSON's peer_runs.
fake="sh $(dirname "$0")/fake_peer.sh"
"$CL16" bench train --quick --models mlp --precisions fp32,fp16 --steps 1 --peer "$fake" \
    --json "$json.peer" >"$out" 2>"$err" || fail "bench train --peer: $(tail -5 "$err")"
grep -q "^mlp  *fake  *[0-9.]* " "$out" &&
    grep -q "^  mlp, cl16 over fake 0.1 (fp32, 1 thread(s)), speed, median of 3 rounds \[least, most\]: fp32 [0-9.]*x \[[0-9.]*, [0-9.]*\], fp16 " "$out" ||
    fail "bench train --peer table: $(cat "$out")"
python3 - "$json.peer" <<'PY' || fail "bench train --peer JSON: $(cat "$json.peer")"
import json, sys
d = json.load(open(sys.argv[1]))
assert d["peer_command"].endswith("fake_peer.sh"), d["peer_command"]
[p] = d["peer_runs"]
# cl16 passed the model and batch: the stand-in echoes them as its device
assert p["model"] == "mlp" and p["peer"] == "fake" and p["device"] == "mlp at 32", p
assert p["version"] == "0.1" and p["threads"] == 1 and p["loss"] == 2.5 and p["blocks"] == 3, p
assert 50 <= p["ms_per_step"] <= p["ms_per_step_median"] <= p["ms_per_step_max"], p
assert abs(p["images_per_s"] - 32e3 / p["ms_per_step"]) <= 1e-3 * p["images_per_s"], p
# the speed-up per precision: the median, least and most over the rounds of
# the peer's block time over the precision's (block k of each is round k)
assert len(p["ms_per_step_rounds"]) == 3 and min(p["ms_per_step_rounds"]) == p["ms_per_step"], p
for r in d["runs"]:
    q = sorted(a / b for a, b in zip(p["ms_per_step_rounds"], r["ms_per_step_rounds"]))
    x = p["cl16_speedup"][r["precision"]]
    for k, want in (("min", q[0]), ("median", q[1]), ("max", q[2])):
        assert abs(x[k] - want) <= 1e-4 * want, (r["precision"], k, x, q)
PY
# A peer that fails is named with what went wrong, and the exit status is
# non-zero; one that fails mid-way leaves cl16's rows and JSON (no peer run).
for m in "silent:its greeting: the peer exited with status 3" \
         "garbled:its greeting is not JSON" \
         "dies:a step: the peer exited with status 5" \
         "refuses:a step failed: out of memory"; do
    mode=${m%%:*} want=${m#*:}
    rm -f "$json.peer"
    "$CL16" bench train --quick --models mlp --precisions fp32 --steps 1 \
        --peer "FAKE_PEER_MODE=$mode $fake" --json "$json.peer" >"$out" 2>"$err"
    rc=$?
    [ "$rc" -ge 10 ] && grep -q "bench train: peer 'FAKE_PEER_MODE=$mode sh .*fake_peer.sh': $want" "$err" ||
        fail "bench train --peer ($mode): exit $rc: $(cat "$err")"
    case $mode in dies | refuses)
        grep -q "^mlp  *fp32 " "$out" && ! grep -q "^mlp  *fake " "$out" &&
            python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); assert d["peer_runs"] == [] and d["runs"]' "$json.peer" ||
            fail "bench train --peer ($mode): cl16's rows or JSON missing: $(cat "$out")" ;;
    esac
done
"$CL16" bench train --quick --models mlp --blocks 0 >/dev/null 2>"$err"
[ $? = 2 ] && grep -q "blocks must be an integer in 1..20" "$err" || fail "bench train --blocks 0: $(cat "$err")"
# `bench step` is the same benchmark under its other name.
"$CL16" bench step --quick --models mlp --precisions fp32 --steps 1 >"$out" 2>"$err" &&
    grep -q "^mlp  *fp32 " "$out" || fail "bench step: $(cat "$out" "$err")"
# compare: the run above against a copy at twice the speed gives 2.00x per row;
# broken or mismatched files are refused by name. It reads the median
# (images_per_s_median) where a file has it, else the fastest block (older files,
# made here by dropping the median keys); each file's line says which.
python3 - "$json" "$json.fast" "$json.old" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
for r in d["runs"]:
    r["images_per_s_median"] *= 2
    r["images_per_s"] = 3 * r["images_per_s_median"]  # the fastest block: not read when a median is there
json.dump(d, open(sys.argv[2], "w"))
old = json.load(open(sys.argv[1]))
for r in old["runs"]:
    r["images_per_s"] = r["images_per_s_median"] * 4
    for k in ("images_per_s_median", "kernel_ms_per_step", "gflops", "pct_peak", "pct_peak_f16",
              "flops_per_step", "blocks"):
        del r[k]
del old["peaks"]
json.dump(old, open(sys.argv[3], "w"))
PY
"$CL16" bench compare "$json" "$json.fast" >"$out" 2>"$err" || fail "bench compare: $(cat "$err")"
[ "$(grep -c '^mlp .*(2.00x)' "$out")" = 5 ] && [ "$(grep -c 'figures: median of blocks; peaks: f32 ' "$out")" = 2 ] ||
    fail "bench compare table: $(cat "$out")"
"$CL16" bench compare "$json" "$json.old" >"$out" 2>"$err" || fail "bench compare of an old file: $(cat "$err")"
[ "$(grep -c '^mlp .*(4.00x)' "$out")" = 5 ] && grep -q '\.old: .*figures: fastest block (file predates medians)$' "$out" ||
    fail "bench compare with a file from before the median: $(cat "$out")"
"$CL16" bench compare --markdown "$json" "$json.fast" >"$out" 2>&1 &&
    grep -q '^| mlp fp16-kahan .*(2.00x) |$' "$out" || fail "bench compare --markdown: $(cat "$out")"
# A peer's file (bench/pytorch_peer.py): named by the peer, its version and
# threads; its median block set against cl16's median (half the speed: 0.50x).
python3 - "$json" "$json.torch" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
m = [r for r in d["runs"] if r["model"] == "mlp" and r["precision"] == "fp32"][0]["images_per_s_median"]
json.dump({"benchmark": "train", "peer": "pytorch", "torch_version": "9.9", "device": "Test CPU",
           "threads": 2, "date": "2026-01-01T00:00:00Z",
           "runs": [{"model": "mlp", "precision": "fp32", "images_per_s": 10 * m,
                     "images_per_s_median": m / 2}]}, open(sys.argv[2], "w"))
PY
"$CL16" bench compare "$json" "$json.torch" >"$out" 2>"$err" || fail "bench compare with a peer: $(cat "$err")"
grep -q '^mlp fp32 .*(0.50x)' "$out" &&
    grep -q '\.torch: pytorch 9.9 on Test CPU, 2 threads, 2026-01-01T00:00:00Z; figures: median of blocks$' "$out" ||
    fail "bench compare with a PyTorch peer's file: $(cat "$out")"
printf '{"benchmark": "train", "runs": [' >"$json.bad"
"$CL16" bench compare "$json" "$json.bad" >"$out" 2>"$err"
rc=$?
[ "$rc" = 18 ] && grep -q "\.bad: corrupt or malformed data: JSON: unexpected end at byte" "$err" ||
    fail "bench compare of a truncated file: exit $rc: $(cat "$err")"
"$CL16" bench compare "$json" "$(dirname "$0")/../../docs/runs/h200-2026-11-28/gemm.json" >"$out" 2>"$err"
[ $? = 18 ] && grep -q "compare files of one kind" "$err" || fail "bench compare of two kinds: $(cat "$err")"
"$CL16" bench compare "$json" >/dev/null 2>&1
[ $? = 2 ] || fail "bench compare of one file: not exit 2"
# The update kernels against the device copy: every optimizer x precision row.
"$CL16" bench optim --quick --elements 4096 --json "$json" >"$out" 2>"$err" ||
    fail "bench optim: $(tail -5 "$err")"
python3 - "$json" "$method_py" <<'PY' || fail "bench optim --json: $(cat "$json")"
import json, sys
exec(sys.argv[2])
d = json.load(open(sys.argv[1]))
assert d["benchmark"] == "optim" and d["copy_gb_per_s"] > 0, d
check_peaks(d)
assert abs(d["copy_pct_peak"] - 100 * d["copy_gb_per_s"] / d["peaks"]["copy_gb_per_s"]) <= 1e-3 * d["copy_pct_peak"], d
rows = {(r["optimizer"], r["precision"]): r for r in d["runs"]}
assert len(rows) == 10, sorted(rows)
assert rows[("adam", "fp16")]["bytes_per_param"] == 14 and rows[("sgd-momentum", "mixed")]["bytes_per_param"] == 20
for r in rows.values():
    assert r["gb_per_s"] > 0 and r["fraction_of_copy"] > 0, r
    assert r["ms_per_step"] == r["ms_per_call"], r
    check_timed(r, True, (r["optimizer"], r["precision"]))
    check_pct(r, d, (r["optimizer"], r["precision"]), "gb_per_s", "copy_gb_per_s")
PY
# Start-up: one cold and one warm process.
"$CL16" bench startup --quick --json "$json" >"$out" 2>"$err" || fail "bench startup: $(cat "$err")"
python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); assert d["benchmark"]=="startup" and d["cold_start_s"] > d["warm_start_s"] > 0, d' \
    "$json" || fail "bench startup --json: $(cat "$json")"
# The device's peaks: copy and multiply-add, f16 only where the device computes in half.
"$CL16" bench peak --quick --json "$json" >"$out" 2>"$err" || fail "bench peak: $(cat "$err")"
python3 - "$json" <<'PY' || fail "bench peak --json: $(cat "$json")"
import json, sys
d = json.load(open(sys.argv[1]))
assert d["benchmark"] == "peak" and d["copy_gb_per_s"] > 0 and d["f32_gflops"] > 0, d
assert (d["f16_gflops"] is None) == (d["half_path"] == "storage"), d
PY
# Every benchmark in one go (what a user runs on their device and sends in).
all_dir=$(mktemp -d)
"$CL16" bench all --quick --out "$all_dir" >"$out" 2>"$err" || fail "bench all --quick: $(tail -5 "$err")"
for b in peak gemm conv optim train; do
    python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); assert d["benchmark"]==sys.argv[2], d' \
        "$all_dir/$b.json" $b || fail "bench all: $b.json missing or not a $b benchmark"
done
# One set of peaks per run: the later benchmarks read peak.json (--peaks).
python3 - "$all_dir" <<'PY' || fail "bench all: the benchmarks do not share peak.json's peaks"
import json, sys
p = json.load(open(sys.argv[1] + "/peak.json"))
for b in ("gemm", "conv", "optim", "train"):
    pk = json.load(open(sys.argv[1] + "/" + b + ".json"))["peaks"]
    assert pk["from"] == sys.argv[1] + "/peak.json", (b, pk)
    for k in ("copy_gb_per_s", "f32_gflops", "f16_gflops"):
        assert pk[k] == p[k] or abs(pk[k] - p[k]) <= 1e-5 * p[k], (b, k, pk[k], p[k])
PY
# --peaks: another benchmark's file is refused, naming it; a missing one too.
"$CL16" bench optim --quick --elements 4096 --peaks "$all_dir/conv.json" >"$out" 2>"$err"
rc=$?
[ "$rc" = 18 ] && grep -q "conv.json: .*a conv benchmark file; --peaks takes the file of" "$err" ||
    fail "bench optim --peaks of a conv file: exit $rc: $(cat "$err")"
"$CL16" bench train --quick --models mlp --steps 1 --peaks "$all_dir/none.json" >"$out" 2>"$err"
rc=$?
[ "$rc" = 17 ] && grep -q "bench train: --peaks: cannot open.*none.json" "$err" ||
    fail "bench train --peaks of a missing file: exit $rc: $(cat "$err")"
"$CL16" bench compare "$all_dir/conv.json" "$all_dir/conv.json" >"$out" 2>&1 ||
    fail "bench compare of bench all's conv.json: $(cat "$out")"
rm -rf "$all_dir"
"$CL16" bench train --precisions fp16,fp32 >/dev/null 2>&1
[ $? = 2 ] || fail "bench train with fp32 not first: not exit 2"
"$CL16" bench conv --reps 0 >/dev/null 2>&1
[ $? = 2 ] || fail "bench conv --reps 0 not exit 2"
# An unwritable JSON path fails at once (10 + CL16_ERR_IO (7)), before any measurement.
"$CL16" bench gemm --quick --json /nonexistent-dir-cl16/x.json >"$out" 2>"$err"
rc=$?
[ "$rc" = 17 ] || fail "bench gemm with an unwritable --json: exit $rc, want 17"

"$CL16" probe >"$out" 2>"$err" || fail "probe: $(cat "$err")"
grep -q "half path:" "$out" || fail "probe output"

# The tuner: usage errors, then a quick f32 run that saves its file, and
# CL16_GEMM forcing a backend (a bad value is refused, naming the variable).
"$CL16" tune >/dev/null 2>&1
[ $? = 2 ] || fail "tune without a target not exit 2"
"$CL16" tune gemm --dtype f8 >/dev/null 2>&1
[ $? = 2 ] || fail "tune gemm --dtype f8 not exit 2"
"$CL16" tune clblast-import >/dev/null 2>&1
[ $? = 2 ] || fail "tune clblast-import without a file not exit 2"
printf '{"kernel_family": "xgemm_1"}\n' >"$tj"
"$CL16" tune clblast-import "$tj" >"$out" 2>"$err" && fail "tune clblast-import took a tuner JSON"
grep -q "tuner.json line 1: expected 'cl16-clblast-tuned 1'" "$err" ||
    fail "tune clblast-import message: $(cat "$err")"
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
