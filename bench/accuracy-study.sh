#!/bin/sh
# accuracy-study.sh - does continuing a 32-bit model in 16-bit keep its
# accuracy, and which update rounding keeps it best?
#
# Pre-trains a model in fp32, then continues that one checkpoint for the same
# number of epochs in every precision (fp32 fp16 fp16-sr fp16-kahan mixed bf16
# bf16-sr), at two learning rates by default (the pre-training one and a 10x
# smaller fine-tuning one; STUDY_RATES lists others),
# with several seeds, all with the cl16 CLI; then tabulates (bench/study_table.py)
# final test accuracy mean +- std, seconds per epoch, peak device memory and
# the stall fraction, and plots accuracy and loss per epoch (gnuplot, PNG).
#
#   sh bench/accuracy-study.sh [BUILD]           (default build)
#
# Settings (environment): STUDY_MODEL (lenet5), STUDY_DATA (fashion-mnist),
# STUDY_PRE_EPOCHS (3), STUDY_EPOCHS (2), STUDY_SEEDS ("1 2 3"), STUDY_LR (0.05),
# STUDY_RATES (the continuation rates: "STUDY_LR STUDY_LR/10"),
# STUDY_LIMIT (0 = all training images), STUDY_TEST_LIMIT (0 = all),
# STUDY_PRECISIONS ("fp32 fp16 fp16-sr fp16-kahan mixed bf16 bf16-sr"), STUDY_OUT
# (BUILD/study-MODEL). `make bench-quick` runs a short version (1 seed,
# 1 epoch on 12000 images); the full default is documented in docs/results.md.
set -e
BUILD="${1:-build}"
CL16="$BUILD/cl16"
MODEL="${STUDY_MODEL:-lenet5}"
DATA="${STUDY_DATA:-fashion-mnist}"
PRE="${STUDY_PRE_EPOCHS:-3}"
EPOCHS="${STUDY_EPOCHS:-2}"
SEEDS="${STUDY_SEEDS:-1 2 3}"
LR="${STUDY_LR:-0.05}"
LIMIT="${STUDY_LIMIT:-0}"
TLIMIT="${STUDY_TEST_LIMIT:-0}"
PRECS="${STUDY_PRECISIONS:-fp32 fp16 fp16-sr fp16-kahan mixed bf16 bf16-sr}"
OUT="${STUDY_OUT:-$BUILD/study-$MODEL}"
[ -x "$CL16" ] || { echo "accuracy-study: $CL16 not built (make build)" >&2; exit 1; }
mkdir -p "$OUT"
RATES="${STUDY_RATES:-$LR $(python3 -c "print($LR / 10)")}"
sub=""
[ "$LIMIT" != 0 ] && sub="$sub --limit $LIMIT"
[ "$TLIMIT" != 0 ] && sub="$sub --test-limit $TLIMIT"
COMMON="--data $DATA --batch 128 --optimizer sgd --momentum 0.9 $sub"
start=$(date +%s)

pre="$OUT/pretrained-fp32.safetensors"
if [ ! -f "$pre" ]; then
    echo "== pre-train $MODEL in fp32, $PRE epochs, lr $LR =="
    "$CL16" train --model "$MODEL" $COMMON --epochs "$PRE" --lr "$LR" --seed 1 \
        --schedule cosine --out "$pre" --log "$OUT/pretrain.jsonl"
fi
n=0
for seed in $SEEDS; do
    for lr in $RATES; do
        for prec in $PRECS; do
            n=$((n + 1))
            log="$OUT/run-$prec-lr$lr-seed$seed.jsonl"
            [ -s "$log" ] && continue   # a finished run is kept (rerun to resume the study)
            echo "== [$n] continue in $prec, lr $lr, seed $seed =="
            "$CL16" continue --from "$pre" $COMMON --epochs "$EPOCHS" --lr "$lr" --seed "$seed" \
                --precision "$prec" --out "$OUT/run.safetensors" --log "$log.tmp" >/dev/null
            mv "$log.tmp" "$log"
        done
    done
done
python3 "$(dirname "$0")/study_table.py" "$OUT" "$MODEL" "$DATA" "$PRE" "$EPOCHS" "$LR" "$(echo $RATES | tr ' ' ,)" \
    "$LIMIT" | tee "$OUT/table.md"
if command -v gnuplot >/dev/null 2>&1; then
    python3 "$(dirname "$0")/study_table.py" --plot "$OUT" && echo "plots: $OUT/*.png"
else
    echo "gnuplot not installed (apt-get install gnuplot-nox): no plots" >&2
fi
echo "study done in $(($(date +%s) - start)) s; logs in $OUT"
