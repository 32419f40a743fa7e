#!/bin/sh
# test_example.sh - docs/examples/continue16.c on a real fp32 model file: cl16
# train writes one (1280 images, 2 epochs), the example continues it in f16,
# and cl16 eval reads what the example saved. Skips (77) without Fashion-MNIST.
# Usage: test_example.sh CL16 CONTINUE16 WORKDIR
CL16="$1" EX="$2" W="$3"
if [ ! -f /usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz ] &&
    [ ! -f /usr/share/datasets/fashion-mnist/train-images-idx3-ubyte ]; then
    echo "SKIP: Fashion-MNIST is not installed at /usr/share/datasets/fashion-mnist"
    exit 77
fi
rm -rf "$W" && mkdir -p "$W" || exit 1
"$CL16" train --model lenet5 --data fashion-mnist --limit 1280 --test-limit 200 --batch 32 --epochs 2 \
    --lr 0.05 --momentum 0.9 --out "$W/fp32.safetensors" >"$W/train.out" 2>&1 ||
    { cat "$W/train.out"; echo "FAIL: cl16 train"; exit 1; }
"$EX" "$W/fp32.safetensors" "$W/f16.safetensors" 20 >"$W/ex.out" 2>&1 ||
    { cat "$W/ex.out"; echo "FAIL: continue16"; exit 1; }
cat "$W/ex.out"
fails=0
grep -Eq "^cast .* into f16: [1-9][0-9]* values, 0 overflowed" "$W/ex.out" || { echo "FAIL: no cast report"; fails=1; }
grep -Eq "^test: accuracy ([5-9][0-9]|100)\." "$W/ex.out" || { echo "FAIL: continued model below 50 %"; fails=1; }
"$CL16" eval --model-file "$W/f16.safetensors" --data fashion-mnist --limit 200 --json >"$W/eval.json" 2>&1 ||
    { cat "$W/eval.json"; echo "FAIL: cl16 eval of the example's output"; fails=1; }
exit $fails
