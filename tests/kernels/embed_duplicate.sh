#!/bin/sh
# embed_duplicate.sh SCRIPT DUP_DIR OUT - the kernel embedder must refuse two
# files that define the same kernel name, naming the kernel and both files;
# and it must accept the same two files one at a time.
script=$1 dir=$2 out=$3
log=$(cmake -DKERNEL_DIR="$dir" -DOUTPUT="$out" -DSOURCES=a.cl,b.cl -P "$script" 2>&1)
if [ $? -eq 0 ]; then echo "FAIL: duplicate kernel accepted" >&2; exit 1; fi
echo "$log" | grep -q "cl16_twice" && echo "$log" | grep -q "a.cl" && echo "$log" | grep -q "b.cl" ||
    { echo "FAIL: message does not name the kernel and files: $log" >&2; exit 1; }
cmake -DKERNEL_DIR="$dir" -DOUTPUT="$out" -DSOURCES=a.cl -P "$script" ||
    { echo "FAIL: a single file was refused" >&2; exit 1; }
grep -q '"cl16_twice"' "$out" || { echo "FAIL: registry lacks the kernel" >&2; exit 1; }
echo "embed_duplicate: all checks passed"
