#!/bin/sh
# device-check.sh - one short, unattended check on a lent machine (e.g. a GPU):
# build, list and probe the devices, run the suite, every benchmark quickly
# (`cl16 bench all --quick`: peak, gemm, conv, optim, train), and whole training
# steps in every precision (LeNet-5, ResNet-20 at batch 128).
#
#   sh bench/device-check.sh          (from the repository root)
#
# Everything goes under $CHECK_OUT (default ./device-check-out; tar it to bring it back):
# one log per step, bench/*.json, train.json and summary.txt (which steps ran, their
# exit status and time; 124 = the step hit its time limit). The whole run keeps
# to CHECK_BUDGET seconds (default 480); a step that no longer fits is skipped.
# Exit status 0 only when every step ran and passed.
# CL16_DEVICE picks the device; by default the first GPU, else device 0.
set -u
cd "$(dirname "$0")/.." || exit 1
OUT=${CHECK_OUT:-$PWD/device-check-out}
mkdir -p "$OUT"
OUT=$(cd "$OUT" && pwd)
END=$(( $(date +%s) + ${CHECK_BUDGET:-480} ))
SUM=$OUT/summary.txt
: > "$SUM"
BAD=""          # steps that failed or were skipped

# step NAME LIMIT CMD...: run CMD with its output in OUT/NAME.log, within both
# its own limit and what is left of the budget; one line in summary.txt.
step() {
    name=$1 limit=$2; shift 2
    left=$(( END - $(date +%s) ))
    if [ "$left" -lt 15 ]; then
        BAD="$BAD $name"; echo "$name: skipped (budget spent)" | tee -a "$SUM"; return 1
    fi
    [ "$limit" -gt "$left" ] && limit=$left
    t0=$(date +%s)
    timeout "$limit" "$@" > "$OUT/$name.log" 2>&1
    rc=$?
    [ "$rc" = 0 ] || BAD="$BAD $name"
    echo "$name: rc=$rc $(( $(date +%s) - t0 ))s (limit ${limit}s)" | tee -a "$SUM"
    return $rc
}

# A machine without (all) OpenCL development files and no network: Debian packages
# carried in $CL16_DEBS (ocl-icd, OpenCL headers, CLBlast, zlib; fetched
# beforehand with `apt-get download`) are unpacked into a private prefix.
if [ -n "${CL16_DEBS:-}" ]; then
    root=$PWD/build-deps-root
    for f in "$CL16_DEBS"/*.deb; do dpkg -x "$f" "$root"; done
    lib=$root/usr/lib/x86_64-linux-gnu
    # Development links are absolute (/lib/...): point them into the prefix,
    # and drop static archives so that nothing links them into a shared library.
    for l in "$lib"/*.so; do
        t=$(readlink "$l")
        case "$t" in /*) [ -e "$root$t" ] && ln -sf "$root$t" "$l" ;; esac
    done
    rm -f "$lib"/*.a
    sed -i "s|^prefix=/usr|prefix=$root/usr|" "$lib"/pkgconfig/*.pc "$root"/usr/share/pkgconfig/*.pc 2>/dev/null
    export LIBRARY_PATH="$lib${LIBRARY_PATH:+:$LIBRARY_PATH}"
    export PKG_CONFIG_PATH="$lib/pkgconfig:$root/usr/share/pkgconfig${PKG_CONFIG_PATH:+:$PKG_CONFIG_PATH}"
    export CMAKE_PREFIX_PATH="$root/usr${CMAKE_PREFIX_PATH:+:$CMAKE_PREFIX_PATH}"
    export LD_LIBRARY_PATH="$lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
    export PATH="$root/usr/bin:$PATH"
    echo "unpacked $(ls "$CL16_DEBS"/*.deb | wc -l) carried packages into $root" | tee -a "$SUM"
    SKIP_DEPS=1
fi

# NVIDIA's driver may be installed without its .icd file (containers): register
# libnvidia-opencl.so.1 in a vendor folder of our own, next to the system's.
if ! grep -qs nvidia /etc/OpenCL/vendors/*.icd; then
    lib=$(ldconfig -p 2>/dev/null | sed -n 's/.*libnvidia-opencl\.so\.1 .*=> *//p' | head -n 1)
    [ -n "$lib" ] || lib=$(find /usr/local/nvidia /usr/lib /usr/lib64 -name 'libnvidia-opencl.so.1' \
                           2>/dev/null | head -n 1)
    if [ -n "$lib" ]; then
        mkdir -p "$OUT/vendors"
        cp /etc/OpenCL/vendors/*.icd "$OUT/vendors/" 2>/dev/null
        echo "$lib" > "$OUT/vendors/nvidia.icd"
        export OCL_ICD_VENDORS="$OUT/vendors"
        echo "registered $lib via OCL_ICD_VENDORS=$OCL_ICD_VENDORS" | tee -a "$SUM"
    else
        echo "no libnvidia-opencl.so.1 found" | tee -a "$SUM"
    fi
fi
command -v nvidia-smi >/dev/null 2>&1 && step gpu-info 30 nvidia-smi

# `make build` = install missing Debian packages, then CMake. The machine may
# be offline, so the package step gets a short limit of its own and its failure
# is only noted (what is installed may be enough), then the build proper.
[ -n "${SKIP_DEPS:-}" ] || step deps 90 sh scripts/install-deps.sh
step build 300 sh -c 'cmake -S . -B build -DCMAKE_BUILD_TYPE=Release -DCL16_WERROR=OFF >/dev/null &&
                      cmake --build build -j "$(nproc)"' ||
    { echo "build failed: see $OUT/build.log" | tee -a "$SUM"; exit 1; }

export CL16_CACHE_DIR="$PWD/build/device-check-cache"   # not in OUT: binaries stay here
step devices 60 build/cl16 devices
build/cl16 devices --json > "$OUT/devices.json" 2>/dev/null
if [ -z "${CL16_DEVICE:-}" ]; then
    gpu=$(python3 -c 'import json,sys
print(next((d["index"] for d in json.load(sys.stdin)["devices"] if d["type"] == "gpu"), ""))' \
        < "$OUT/devices.json" 2>/dev/null)
    [ -n "$gpu" ] && export CL16_DEVICE="$gpu"
fi
echo "CL16_DEVICE=${CL16_DEVICE:-0}" | tee -a "$SUM"
step probe 90 build/cl16 probe
step ctest 300 sh -c 'cd build && ctest --output-on-failure -j "$(nproc)"'
step bench-all 150 build/cl16 bench all --quick --out "$OUT/bench"
step bench-train 120 build/cl16 bench train --precisions fp32,fp16,fp16-sr,fp16-kahan,mixed \
    --json "$OUT/train.json"
echo "done in $(( $(date +%s) - END + ${CHECK_BUDGET:-480} ))s; not ok:${BAD:- none}; logs in $OUT" | tee -a "$SUM"
[ -z "$BAD" ]
