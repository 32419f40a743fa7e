#!/bin/sh
# demo.sh - the main job, end to end with the cl16 CLI: pre-train LeNet-5 in
# fp32 on Fashion-MNIST, then continue that checkpoint in fp32 and in fp16
# with the same seed, and compare the two continuations in a table (test
# accuracy, seconds per epoch, images/s, peak device memory) read from the
# JSONL logs. Outputs under BUILD/demo/. Usage: demo.sh [BUILD] (default build).
#
# Full epochs by default: the three runs (6 epochs of 60000 images, each
# followed by the 10000-image test set) took 222 s on the 2-core PoCL machine
# while other jobs shared it (30-43 s per epoch). DEMO_LIMIT=N limits each epoch
# to the first N training images for a quicker look (30000: about 90 s).
# DEMO_EPOCHS (default 2) sets the epochs of each of the three runs.
set -e
BUILD="${1:-build}"
CL16="$BUILD/cl16"
OUT="$BUILD/demo"
LIMIT="${DEMO_LIMIT:-0}"
EPOCHS="${DEMO_EPOCHS:-2}"
[ -x "$CL16" ] || { echo "demo: $CL16 not built (run make build)" >&2; exit 1; }
mkdir -p "$OUT"
rm -f "$OUT"/*.jsonl

limit_opt=""
if [ "$LIMIT" != 0 ]; then limit_opt="--limit $LIMIT"; fi
COMMON="--data fashion-mnist --batch 128 --seed 1 --epochs $EPOCHS $limit_opt"
start=$(date +%s)

echo "== 1/3 pre-train LeNet-5 in fp32 =="
"$CL16" train --model lenet5 $COMMON --precision fp32 --optimizer sgd --lr 0.05 --momentum 0.9 \
    --out "$OUT/pretrained-fp32.safetensors" --log "$OUT/pretrain-fp32.jsonl"
echo "== 2/3 continue in fp32 =="
"$CL16" continue --from "$OUT/pretrained-fp32.safetensors" $COMMON --precision fp32 \
    --optimizer sgd --lr 0.01 --momentum 0.9 \
    --out "$OUT/continued-fp32.safetensors" --log "$OUT/continue-fp32.jsonl"
echo "== 3/3 continue in fp16 (the paper's method) =="
"$CL16" continue --from "$OUT/pretrained-fp32.safetensors" $COMMON --precision fp16 \
    --optimizer sgd --lr 0.01 --momentum 0.9 \
    --out "$OUT/continued-fp16.safetensors" --log "$OUT/continue-fp16.jsonl"
wall=$(($(date +%s) - start))

# One row per log: last test accuracy, mean training seconds and images/s per
# epoch, the largest peak device memory. The JSONL lines are flat objects.
summary() { # NAME PRECISION LOG
    awk -v name="$1" -v prec="$2" '
    function num(key,   m) {
        if (match($0, "\"" key "\":[-0-9.eE+]+")) return substr($0, RSTART + length(key) + 3, RLENGTH - length(key) - 3) + 0
        return 0
    }
    { n++; acc = num("test_acc"); s += num("seconds"); ips += num("images_per_s")
      p = num("peak_device_bytes"); if (p > peak) peak = p }
    END { if (!n) { print "demo: empty log for " name > "/dev/stderr"; exit 1 }
          printf "%-22s %-9s %6d %9.2f%% %9.1f %9.0f %14.1f\n", name, prec, n, 100 * acc, s / n, ips / n, peak / 1e6
          printf "%s %.6f %.6f %.0f\n", prec, s / n, ips / n, peak > "/dev/stderr" }' "$3"
}
{
    echo
    if [ "$LIMIT" != 0 ]; then
        echo "LeNet-5 on Fashion-MNIST, batch 128, seed 1, $EPOCHS epochs per run; each epoch trains on the"
        echo "first $LIMIT of the 60000 training images (--limit $LIMIT, from DEMO_LIMIT; unset for"
        echo "full epochs); test accuracy on all 10000 test images"
    else
        echo "LeNet-5 on Fashion-MNIST, batch 128, seed 1, $EPOCHS full epochs per run; test accuracy on all 10000 test images"
    fi
    echo
    printf "%-22s %-9s %6s %10s %9s %9s %14s\n" run precision epochs "test acc" "s/epoch" "images/s" "peak dev. MB"
    summary "pre-train" fp32 "$OUT/pretrain-fp32.jsonl" 2>/dev/null
    summary "continue" fp32 "$OUT/continue-fp32.jsonl" 2>"$OUT/.c32"
    summary "continue" fp16 "$OUT/continue-fp16.jsonl" 2>"$OUT/.c16"
    awk 'FNR == 1 { s[FILENAME] = $2; m[FILENAME] = $4; f[++n] = FILENAME }
         END { printf "\ncontinue fp16 / fp32: time per epoch %.2fx, peak device memory %.2fx\n",
               s[f[2]] / s[f[1]], m[f[2]] / m[f[1]] }' "$OUT/.c32" "$OUT/.c16"
    echo "demo wall time: ${wall} s (logs and checkpoints in $OUT)"
} | tee "$OUT/table.txt"
rm -f "$OUT/.c32" "$OUT/.c16"
