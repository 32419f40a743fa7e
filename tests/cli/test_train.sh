#!/bin/sh
# test_train.sh - the model commands end to end on small Fashion-MNIST subsets:
# train (mlp, lenet5) learns, continue casts an fp32 file into fp16 and trains it,
# eval --json agrees with the training log, convert round-trips, --resume is
# bit-exact, and every bad input exits non-zero with a message naming the fault.
# Usage: test_train.sh CL16 WORKDIR. Skips (77) without Fashion-MNIST.
CL16="$1"
W="$2"
DATA=/usr/share/datasets/fashion-mnist
if [ ! -f "$DATA/train-images-idx3-ubyte.gz" ] && [ ! -f "$DATA/train-images-idx3-ubyte" ]; then
    echo "SKIP: Fashion-MNIST is not installed at $DATA (apt install dataset-fashion-mnist)"
    exit 77
fi
rm -rf "$W" && mkdir -p "$W" || exit 1
fails=0
fail() { echo "FAIL: $*" >&2; fails=$((fails + 1)); }
out="$W/stdout" err="$W/stderr"
# Small subsets: 640 training images in batches of 32 (20 steps an epoch), 500 test images.
SMALL="--data fashion-mnist --limit 640 --test-limit 500 --batch 32 --seed 7"

# check_log LOG EPOCHS MIN_ACC PRECISION: the JSONL has EPOCHS lines with every
# documented key, the loss falls from the first epoch to the last, and the
# last test accuracy reaches MIN_ACC.
check_log() {
    python3 - "$@" <<'PY'
import json, sys
path, epochs, min_acc, prec = sys.argv[1], int(sys.argv[2]), float(sys.argv[3]), sys.argv[4]
rows = [json.loads(l) for l in open(path)]
assert len(rows) == epochs, f"{len(rows)} lines, want {epochs}"
for i, r in enumerate(rows):
    for k in ("epoch", "loss", "train_acc", "test_loss", "test_acc", "seconds", "images_per_s",
              "peak_device_bytes", "precision", "lr"):
        assert k in r, (i, k)
    assert r["epoch"] == i + 1, r
    assert r["precision"] == prec, r
    assert r["peak_device_bytes"] > 0 and r["images_per_s"] > 0, r
assert rows[-1]["loss"] < rows[0]["loss"], f"loss did not fall: {[r['loss'] for r in rows]}"
assert rows[-1]["test_acc"] >= min_acc, f"test accuracy {rows[-1]['test_acc']} < {min_acc}"
print(f"{path}: loss {rows[0]['loss']:.4f} -> {rows[-1]['loss']:.4f}, test_acc {rows[-1]['test_acc']:.4f}")
PY
}

# ---- train: an MLP and LeNet-5 learn in two epochs -------------------------------
"$CL16" train --model mlp $SMALL --epochs 2 --lr 0.05 --momentum 0.9 \
    --out "$W/mlp.safetensors" --log "$W/mlp.jsonl" >"$out" 2>"$err" ||
    fail "train mlp: $(cat "$err")"
check_log "$W/mlp.jsonl" 2 0.60 fp32 || fail "train mlp log"
grep -q "^epoch 2/2: loss" "$out" || fail "train mlp: no per-epoch line: $(cat "$out")"

"$CL16" train --model lenet5 $SMALL --epochs 2 --lr 0.05 --momentum 0.9 \
    --out "$W/lenet32.safetensors" --log "$W/lenet32.jsonl" >"$out" 2>"$err" ||
    fail "train lenet5: $(cat "$err")"
check_log "$W/lenet32.jsonl" 2 0.45 fp32 || fail "train lenet5 log"

# ---- continue: the fp32 file cast into fp16 and trained on ------------------------
"$CL16" continue --from "$W/lenet32.safetensors" $SMALL --epochs 2 --lr 0.02 --momentum 0.9 \
    --out "$W/lenet16.safetensors" --log "$W/lenet16.jsonl" >"$out" 2>"$err" ||
    fail "continue fp16: $(cat "$err")"
grep -Eq "^cast .*lenet32.safetensors into f16: [1-9][0-9]* values, 0 overflowed" "$out" ||
    fail "continue: no cast report: $(cat "$out")"
check_log "$W/lenet16.jsonl" 2 0.45 fp16 || fail "continue fp16 log"

# ---- the other 16-bit precisions: each continues and learns, logs its stall
# statistics; stochastic rounding and Kahan stall fewer updates than nearest
for prec in fp16-sr fp16-kahan mixed bf16 bf16-sr; do
    "$CL16" continue --from "$W/lenet32.safetensors" $SMALL --epochs 2 --lr 0.02 --momentum 0.9 \
        --precision $prec --out "$W/lenet-$prec.safetensors" --log "$W/lenet-$prec.jsonl" \
        >"$out" 2>"$err" || fail "continue $prec: $(cat "$err")"
    check_log "$W/lenet-$prec.jsonl" 2 0.45 $prec || fail "continue $prec log"
done
python3 - "$W" <<'PY' || fail "stall statistics"
import json, sys
w = sys.argv[1]
last = {p: [json.loads(l) for l in open(f"{w}/{n}.jsonl")][-1]
        for p, n in (("fp16", "lenet16"), ("sr", "lenet-fp16-sr"), ("kahan", "lenet-fp16-kahan"),
                     ("mixed", "lenet-mixed"), ("bf16", "lenet-bf16"), ("bf16sr", "lenet-bf16-sr"))}
for p, r in last.items():
    assert r["updates"] > 0 and 0 <= r["stalled_fraction"] <= 1, (p, r)
    assert r["loss_scale"] >= 1 and r["skipped_steps"] >= 0, (p, r)
print("stalled:", {p: round(r["stalled_fraction"], 4) for p, r in last.items()})
assert last["sr"]["stalled_fraction"] < last["fp16"]["stalled_fraction"], last
assert last["mixed"]["stalled_fraction"] < 0.01, last["mixed"]
# bf16 keeps 8 significant bits: nearest loses more updates than fp16 does,
# stochastic rounding fewer than nearest; no loss scaling by default.
assert last["bf16sr"]["stalled_fraction"] < last["bf16"]["stalled_fraction"], last
assert last["bf16"]["loss_scale"] == 1 and last["bf16sr"]["skipped_steps"] == 0, last
PY
# the bf16 checkpoint holds BF16 weights, and eval reads it as a bf16 model
python3 - "$W/lenet-bf16.safetensors" <<'PY' || fail "bf16 checkpoint dtypes"
import json, struct, sys
b = open(sys.argv[1], "rb").read()
h = json.loads(b[8:8 + struct.unpack("<Q", b[:8])[0]])
assert h["conv1.weight"]["dtype"] == "BF16" and h["fc3.bias"]["dtype"] == "BF16", h["conv1.weight"]
PY
"$CL16" eval --model-file "$W/lenet-bf16.safetensors" --limit 200 >"$out" 2>"$err" ||
    fail "eval bf16: $(cat "$err")"
grep -Eq "lenet5, bf16\) on the fashion-mnist test set" "$out" || fail "eval bf16: $(cat "$out")"

# ---- eval --json: exactly the three keys, and the training log's figures ---------
"$CL16" eval --model-file "$W/lenet32.safetensors" --limit 500 --batch 32 --json >"$out" 2>"$err" ||
    fail "eval --json: $(cat "$err")"
python3 - "$out" "$W/lenet32.jsonl" <<'PY' || fail "eval --json: $(cat "$out")"
import json, sys
text = open(sys.argv[1]).read()
d = json.loads(text)
assert sorted(d) == ["accuracy", "count", "loss"], d
assert d["count"] == 500, d
last = [json.loads(l) for l in open(sys.argv[2])][-1]
assert abs(d["accuracy"] - last["test_acc"]) < 1e-6, (d, last)
assert abs(d["loss"] - last["test_loss"]) < 1e-5 * max(1, last["test_loss"]), (d, last)
PY
"$CL16" eval --model-file "$W/lenet16.safetensors" --limit 500 >"$out" 2>"$err" ||
    fail "eval text: $(cat "$err")"
grep -Eq "lenet5, fp16\) on the fashion-mnist test set: accuracy [0-9.]+% \([0-9]+ of 500\)" "$out" ||
    fail "eval text output: $(cat "$out")"

# ---- convert: f32 -> D -> f32 -> D gives the same D file, D = f16 and bf16 (BF16) --
for d in f16 bf16; do
    "$CL16" convert --in "$W/lenet32.safetensors" --out "$W/${d}a.safetensors" --dtype $d >"$out" 2>"$err" ||
        fail "convert $d: $(cat "$err")"
    grep -Eq "into $d: [1-9][0-9]* values, 0 overflowed" "$out" || fail "convert $d report: $(cat "$out")"
    "$CL16" convert --in "$W/${d}a.safetensors" --out "$W/${d}b32.safetensors" --dtype f32 >/dev/null 2>"$err" ||
        fail "convert $d -> f32: $(cat "$err")"
    "$CL16" convert --in "$W/${d}b32.safetensors" --out "$W/${d}c.safetensors" --dtype $d >/dev/null 2>"$err" ||
        fail "convert $d again: $(cat "$err")"
    cmp -s "$W/${d}a.safetensors" "$W/${d}c.safetensors" || fail "convert $d->f32->$d changed the file"
done
"$CL16" eval --model-file "$W/f16a.safetensors" --precision fp32 --limit 500 --json >"$W/e1" 2>"$err" &&
"$CL16" eval --model-file "$W/f16b32.safetensors" --precision fp32 --limit 500 --json >"$W/e2" 2>"$err" ||
    fail "eval of converted files: $(cat "$err")"
cmp -s "$W/e1" "$W/e2" || fail "f16 file and its f32 conversion evaluate differently: $(cat "$W/e1" "$W/e2")"

# ---- resume: 1 epoch, stop, --resume for the 2nd == 2 epochs in one go -------------
RES="--model lenet5 $SMALL --epochs 2 --optimizer adamw --lr 0.002 --weight-decay 0.01 --schedule cosine --warmup 5 --crop 2 --flip"
"$CL16" train $RES --out "$W/full.safetensors" >"$out" 2>"$err" || fail "resume reference run: $(cat "$err")"
"$CL16" train $RES --stop-after 1 --out "$W/part.safetensors" --log "$W/part.jsonl" >"$out" 2>"$err" ||
    fail "resume first half: $(cat "$err")"
grep -q "stopped after epoch 1 of 2" "$out" || fail "--stop-after: $(cat "$out")"
"$CL16" train --resume "$W/part.safetensors" --log "$W/part.jsonl" >"$out" 2>"$err" ||
    fail "--resume: $(cat "$err")"
cmp "$W/full.safetensors" "$W/part.safetensors" >&2 || fail "resumed checkpoint differs from the uninterrupted one"
[ "$(wc -l <"$W/part.jsonl")" = 2 ] || fail "resumed log does not hold both epochs"
"$CL16" train --resume "$W/part.safetensors" --lr 0.1 >"$out" 2>"$err"
[ $? = 2 ] && grep -q -- "--lr cannot be given with --resume" "$err" || fail "--resume with --lr: $(cat "$err")"

# ---- a file without metadata (as PyTorch writes it) needs --model ---------------
python3 - "$W/lenet32.safetensors" "$W/torch.safetensors" <<'PY' || fail "making a metadata-free file"
import json, struct, sys
b = open(sys.argv[1], "rb").read()
n = struct.unpack("<Q", b[:8])[0]
h = json.loads(b[8:8 + n])
h.pop("__metadata__", None)
h = {k: v for k, v in h.items() if not k.startswith("optim.")}
data = b[8 + n:]
parts, off, nh = [], 0, {}
for k, v in sorted(h.items(), key=lambda kv: kv[1]["data_offsets"][0]):
    s, e = v["data_offsets"]
    parts.append(data[s:e])
    nh[k] = dict(v, data_offsets=[off, off + e - s])
    off += e - s
hb = json.dumps(nh).encode()
hb += b" " * (-len(hb) % 8)
open(sys.argv[2], "wb").write(struct.pack("<Q", len(hb)) + hb + b"".join(parts))
PY
"$CL16" eval --model-file "$W/torch.safetensors" --data fashion-mnist --limit 500 >"$out" 2>"$err"
[ $? != 0 ] && grep -q "give.*--model\|with --model" "$err" || fail "metadata-free file without --model: $(cat "$err")"
"$CL16" eval --model-file "$W/torch.safetensors" --model lenet5 --data fashion-mnist --limit 500 --json >"$W/e3" 2>"$err" ||
    fail "metadata-free file with --model lenet5: $(cat "$err")"
"$CL16" eval --model-file "$W/torch.safetensors" --model mlp --data fashion-mnist --limit 500 >"$out" 2>"$err"
[ $? != 0 ] && grep -q "fc1.weight\|conv1" "$err" || fail "metadata-free lenet5 file as mlp: $(cat "$err")"

# ---- bad inputs: non-zero exit and a message naming the fault ---------------------
expect_fail() { # NAME PATTERN command...: non-zero exit, stderr matches PATTERN
    name="$1" pat="$2"
    shift 2
    "$@" >"$out" 2>"$err"
    rc=$?
    if [ "$rc" = 0 ]; then
        fail "$name: exit 0"
    elif ! grep -q -- "$pat" "$err"; then
        fail "$name: exit $rc but no '$pat' in: $(cat "$err")"
    fi
}
expect_fail "unknown precision" "--precision must be fp32, fp16, fp16-sr, fp16-kahan, mixed, bf16 or bf16-sr" \
    "$CL16" train --model mlp --precision bf8 $SMALL --out "$W/x.safetensors"
expect_fail "bad loss scale" "--loss-scale must be none, static:S or dynamic" \
    "$CL16" train --model mlp --loss-scale sometimes $SMALL --out "$W/x.safetensors"
expect_fail "unknown model" "unknown model 'nosuchnet'" \
    "$CL16" train --model nosuchnet $SMALL --out "$W/x.safetensors"
expect_fail "missing data dir" "$W/no-data-here" \
    "$CL16" train --model mlp $SMALL --data-dir "$W/no-data-here" --out "$W/x.safetensors"
expect_fail "unknown data set" "unknown data set" \
    "$CL16" train --model mlp --data imagenet --out "$W/x.safetensors"
head -c 3000 "$W/lenet32.safetensors" >"$W/trunc.safetensors"
expect_fail "truncated checkpoint (eval)" "trunc.safetensors" \
    "$CL16" eval --model-file "$W/trunc.safetensors"
expect_fail "truncated checkpoint (resume)" "trunc.safetensors" \
    "$CL16" train --resume "$W/trunc.safetensors"
expect_fail "another architecture (eval)" "holds a lenet5 model, not --model mlp" \
    "$CL16" eval --model-file "$W/lenet32.safetensors" --model mlp
expect_fail "another architecture (continue)" "holds a lenet5 model, not --model mlp" \
    "$CL16" continue --from "$W/lenet32.safetensors" --model mlp $SMALL --out "$W/x.safetensors"
expect_fail "another architecture (resume)" "holds a lenet5 model, not --model mlp" \
    "$CL16" train --resume "$W/part.safetensors" --model mlp
expect_fail "model file as --resume" "not a checkpoint of cl16 train/continue" \
    "$CL16" train --resume "$W/f16a.safetensors"
expect_fail "missing --out" "--out" "$CL16" train --model mlp $SMALL
expect_fail "bad --lr" "--lr" "$CL16" train --model mlp $SMALL --lr abc --out "$W/x.safetensors"

# A value beyond the f16 range: continue in fp16 and convert to f16 refuse it.
# patch.py IN OUT VALUE: fc3.bias[0] = VALUE, as another tool's edit would make
# it: the data checksum cl16 wrote is recomputed (same length), so that the file
# is well-formed and only its value is at fault.
cat >"$W/patch.py" <<'PY'
import hashlib, json, struct, sys
b = bytearray(open(sys.argv[1], "rb").read())
n = struct.unpack("<Q", b[:8])[0]
h = json.loads(b[8:8 + n])
s = 8 + n + h["fc3.bias"]["data_offsets"][0]
b[s:s + 4] = struct.pack("<f", float(sys.argv[3]))
old = h["__metadata__"]["cl16.data_sha256"].encode()
new = hashlib.sha256(bytes(b[8 + n:])).hexdigest().encode()
b[8:8 + n] = bytes(b[8:8 + n]).replace(old, new)
open(sys.argv[2], "wb").write(b)
PY
python3 "$W/patch.py" "$W/lenet32.safetensors" "$W/big.safetensors" 1e5 || fail "making an overflowing file"
python3 "$W/patch.py" "$W/lenet32.safetensors" "$W/nan.safetensors" nan || fail "making a NaN file"
# A NaN in a model file: convert refuses it unless --force.
expect_fail "NaN (convert)" "tensor fc3.bias holds NaN at element 0" \
    "$CL16" convert --in "$W/nan.safetensors" --out "$W/x.safetensors" --dtype f32
"$CL16" convert --in "$W/nan.safetensors" --out "$W/nan-kept.safetensors" --dtype f32 --force \
    >"$out" 2>"$err" || fail "convert --force of a NaN model: $(cat "$err")"
# A flipped data byte without that care: refused as damaged, naming the checksum.
python3 - "$W/lenet32.safetensors" "$W/flip.safetensors" <<'PY' || fail "making a damaged file"
import sys
b = bytearray(open(sys.argv[1], "rb").read())
b[-3] ^= 0x10
open(sys.argv[2], "wb").write(b)
PY
expect_fail "damaged data (eval)" "does not match its checksum" \
    "$CL16" eval --model-file "$W/flip.safetensors" --limit 100
expect_fail "overflow (continue fp16)" "fc3.bias" \
    "$CL16" continue --from "$W/big.safetensors" $SMALL --out "$W/x.safetensors"
expect_fail "overflow (convert f16)" "fc3.bias" \
    "$CL16" convert --in "$W/big.safetensors" --out "$W/x.safetensors" --dtype f16
[ ! -e "$W/x.safetensors" ] || fail "a refused command wrote $W/x.safetensors"

# Unwritable --out: the old file stays. As root a mode cannot stop the write, so
# the checkpoint's temporary name (FILE.tmp.<pid>, the pid kept by exec) is
# occupied by a directory instead: the save fails at the end of epoch 1. The
# binary itself is exec'd (under the sanitizers not through lsan_retry.sh,
# whose child would have another pid).
mkdir -p "$W/ro" && cp "$W/mlp.safetensors" "$W/ro/keep.safetensors" &&
    cp "$W/mlp.safetensors" "$W/keep.orig" || fail "setup"
sh -c 'mkdir "$1.tmp.$$" && exec "$2" train --model mlp --data fashion-mnist --limit 64 \
    --test-limit 64 --batch 32 --out "$1"' sh "$W/ro/keep.safetensors" "${CL16_LSAN_REAL:-$CL16}" \
    >"$out" 2>"$err"
rc=$?
[ "$rc" = 17 ] && grep -q "cannot write the checkpoint of epoch 1" "$err" ||
    fail "failed save: exit $rc: $(cat "$err")"
cmp -s "$W/ro/keep.safetensors" "$W/keep.orig" || fail "a failed save changed the old checkpoint"
if [ "$(id -u)" != 0 ]; then
    chmod a-w "$W/ro"
    expect_fail "unwritable --out directory" "cannot write --out" \
        "$CL16" train --model mlp $SMALL --out "$W/ro/keep.safetensors"
    chmod u+w "$W/ro"
    cmp -s "$W/ro/keep.safetensors" "$W/keep.orig" || fail "unwritable directory: old file changed"
fi
expect_fail "--out in a missing directory" "cannot write --out" \
    "$CL16" train --model mlp $SMALL --out "$W/no/such/dir/x.safetensors"

# A diverging run (absurd learning rate) stops with exit 20 naming epoch and step;
# the checkpoint already at --out is untouched.
cp "$W/keep.orig" "$W/nan.safetensors"
"$CL16" train --model mlp $SMALL --epochs 2 --lr 1e30 --out "$W/nan.safetensors" >"$out" 2>"$err"
rc=$?
[ "$rc" = 20 ] && grep -q "non-finite loss at epoch 1, step [0-9]" "$err" ||
    fail "diverging run: exit $rc: $(cat "$err")"
cmp -s "$W/nan.safetensors" "$W/keep.orig" || fail "a diverging run changed the checkpoint"

# --help of every command.
for c in train continue eval convert; do
    "$CL16" $c --help >"$out" 2>&1 && grep -q "cl16 $c" "$out" || fail "$c --help"
done

[ "$fails" = 0 ] && echo "all train/continue/eval/convert checks passed"
exit "$((fails > 0))"
