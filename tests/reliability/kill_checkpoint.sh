#!/bin/sh
# kill_checkpoint.sh - crash safety of checkpoints: a training run that writes
# a checkpoint every few tenths of a second is killed with SIGKILL at random
# moments, KILLS times; each time the file on disk must be a complete,
# checksum-verified checkpoint (cl16 eval loads it) whose epoch never goes
# backwards, and the next run resumes from it.
# Usage: kill_checkpoint.sh CL16 WORKDIR [KILLS] (default 20; make test-kill: 200).
# Skips (77) without Fashion-MNIST.
CL16="$1"
W="$2"
KILLS="${3:-20}"
DATA=/usr/share/datasets/fashion-mnist
if [ ! -f "$DATA/train-images-idx3-ubyte.gz" ] && [ ! -f "$DATA/train-images-idx3-ubyte" ]; then
    echo "SKIP: Fashion-MNIST is not installed at $DATA"
    exit 77
fi
rm -rf "$W" && mkdir -p "$W" || exit 1
CK="$W/ck.safetensors"
fails=0 during=0 last=0
fail() { echo "FAIL: $*" >&2; fails=$((fails + 1)); }
epoch_of() { # the epoch a checkpoint holds (its metadata)
    python3 - "$1" <<'PY'
import json, struct, sys
b = open(sys.argv[1], "rb").read()
n = struct.unpack("<Q", b[:8])[0]
print(json.loads(b[8:8 + n])["__metadata__"]["cl16.epoch"])
PY
}
# Small epochs (8 steps of 64 images, 100 test images): a checkpoint every ~0.1-0.3 s.
"$CL16" train --model mlp --hidden 128,64 --data fashion-mnist --limit 512 --test-limit 100 \
    --batch 64 --epochs 1 --lr 0.05 --out "$CK" >/dev/null 2>"$W/err" ||
    { echo "FAIL: first run: $(cat "$W/err")" >&2; exit 1; }
last=$(epoch_of "$CK")
seed=12345
i=0
while [ $i -lt "$KILLS" ]; do
    i=$((i + 1))
    "$CL16" train --resume "$CK" --epochs 1000000 >/dev/null 2>"$W/err" &
    pid=$!
    seed=$(( (seed * 1103515245 + 12345) % 2147483648 ))
    # 0.8 .. 3.8 s: past start-up (data loading, context), across several epoch ends
    # and checkpoint writes
    sleep "$(awk -v r=$seed 'BEGIN { printf "%.3f", 0.8 + (r % 3000) / 1000 }')"
    ls "$W"/ck.safetensors.tmp.* >/dev/null 2>&1 && during=$((during + 1))
    kill -9 $pid 2>/dev/null
    wait $pid 2>/dev/null
    rm -f "$W"/ck.safetensors.tmp.*   # a killed writer's temporary file, never the checkpoint
    if ! "$CL16" eval --model-file "$CK" --limit 100 >/dev/null 2>"$W/eval-err"; then
        fail "kill $i: the checkpoint does not load: $(cat "$W/eval-err")"
        break
    fi
    e=$(epoch_of "$CK") || { fail "kill $i: no epoch in the checkpoint"; break; }
    [ "$e" -ge "$last" ] || fail "kill $i: the checkpoint went back from epoch $last to $e"
    last=$e
done
echo "$KILLS kills, $during while a checkpoint was being written; the checkpoint always loaded (checksum verified), epoch $last at the end"
[ "$fails" = 0 ] || { echo "$fails failure(s)" >&2; exit 1; }
