#!/bin/sh
# fault_sweep.sh - every failure ends cleanly. With a cl16 built with
# CL16_FAULT_INJECTION (and the sanitizers: `make test-faults`), a short resumed
# training run (two epochs, two checkpoint saves) is repeated with the N-th
# device allocation, the N-th step of a file save, or the N-th kernel launch
# failing, for N = 1, 2, ... until a run no longer meets the fault. Each faulty
# run must exit with a library status code (>= 10) and a "cl16 ..." message,
# without a sanitizer report (leaks included), and leave the checkpoint
# loadable (checksum verified) at its old or a newer epoch.
# Usage: fault_sweep.sh CL16 WORKDIR. Skips (77) without Fashion-MNIST.
CL16="$1"
W="$2"
DATA=/usr/share/datasets/fashion-mnist
[ -f "$DATA/train-images-idx3-ubyte.gz" ] || [ -f "$DATA/train-images-idx3-ubyte" ] ||
    { echo "SKIP: Fashion-MNIST is not installed at $DATA"; exit 77; }
rm -rf "$W" && mkdir -p "$W" || exit 1
CK="$W/ck.safetensors"
fails=0
fail() { echo "FAIL: $*" >&2; fails=$((fails + 1)); }
epoch_of() {
    python3 -c 'import json,struct,sys
b=open(sys.argv[1],"rb").read(); n=struct.unpack("<Q",b[:8])[0]
print(json.loads(b[8:8+n])["__metadata__"]["cl16.epoch"])' "$1"
}
unset CL16_FAULT
# The reference run also fills the program caches. Its leak check is off: PoCL
# 3.1 keeps LLVM's buffers (about 600 KB, stacks inside libpocl/libLLVM only)
# when it compiles a kernel from source; the sweep's runs load every program
# from the caches and are checked for leaks.
ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0" "$CL16" train --model mlp --hidden 64,32 --data fashion-mnist --limit 256 --test-limit 64 \
    --batch 64 --epochs 1 --lr 0.05 --momentum 0.9 --out "$CK" >/dev/null 2>"$W/err" ||
    { echo "FAIL: the reference run: $(cat "$W/err")" >&2; exit 1; }
cp "$CK" "$W/orig.safetensors"
e0=$(epoch_of "$CK")
total=0
for site in alloc write launch; do
    n=0 swept=0
    while :; do
        # every N for allocations and writes; launches (thousands) on a growing stride
        if [ "$site" = launch ]; then n=$((n < 10 ? n + 1 : n + n / 4)); else n=$((n + 1)); fi
        cp "$W/orig.safetensors" "$CK"
        CL16_FAULT="$site:$n" "$CL16" train --resume "$CK" --epochs 3 >"$W/out" 2>"$W/err"
        rc=$?
        if grep -q "Sanitizer" "$W/err"; then
            fail "$site:$n: sanitizer report: $(grep -m3 -A3 Sanitizer "$W/err")"
        fi
        [ "$rc" = 0 ] && break   # the run met no fault: past the last event of this site
        swept=$((swept + 1))
        if [ "$rc" -lt 10 ] || ! grep -q "^cl16" "$W/err"; then
            fail "$site:$n: exit $rc without a cl16 message: $(head -3 "$W/err")"
        fi
        if ! "$CL16" eval --model-file "$CK" --limit 64 >/dev/null 2>"$W/eval"; then
            fail "$site:$n: the checkpoint does not load afterwards: $(cat "$W/eval")"
        else
            e=$(epoch_of "$CK")
            [ "$e" -ge "$e0" ] || fail "$site:$n: the checkpoint went back to epoch $e"
        fi
        [ "$n" -gt 200000 ] && { fail "$site: no clean run up to N = $n"; break; }
    done
    echo "$site: $swept fault points swept (N = 1 .. $((n - 1))$([ $site = launch ] && echo ', growing stride')), each ended cleanly"
    total=$((total + swept))
done
rm -f "$W"/*.tmp.*
echo "$total fault points in all; $fails failure(s)"
[ "$fails" = 0 ]
