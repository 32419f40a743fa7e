#!/bin/sh
# valgrind.sh - the launcher `make test-valgrind` puts in front of each C test
# program (CL16_TEST_LAUNCHER): valgrind memcheck with the PoCL/driver
# suppressions of valgrind.supp. Any memcheck error or definite leak outside
# them fails the test (exit 99); the program's own exit status (77 = skipped)
# passes through otherwise. The full report goes to
# $CL16_VALGRIND_LOGS/<program>.<pid>.log (default: the current directory).
#
# Warming PoCL's kernel cache. Under valgrind the CPU that PoCL sees is the
# one valgrind's synthetic CPUID describes (on this project's AVX-512 VMs
# valgrind 3.19 presents a Haswell: device "pthread-haswell-...", kernel
# library "avx2"), not the host's, so every OpenCL program would be compiled
# by LLVM inside valgrind: minutes per program, hours per test. The program
# therefore runs once natively first, with PoCL told to compile for that same
# CPU (POCL_LLVM_CPU_NAME, POCL_KERNELLIB_NAME) into the same PoCL cache; the
# run under valgrind then finds every kernel compiled (test_act: 82 s instead
# of 297 s, CPU time 34 s instead of 156 s). The native run's verdict is not
# used (it is the ordinary suite's job) and its cl16 cache is thrown away, so
# the run under valgrind still exercises cl16's own program cache from empty.
# CL16_VALGRIND_WARM=0 skips it; CL16_VALGRIND_POCL_CPU / _POCL_LIB name
# another CPU (the names: `valgrind clinfo -l`, /usr/share/pocl/kernel-*.bc).
#
# Child processes run under memcheck too (--trace-children): test_cache's
# racers, spawned natively, would see the host's CPU as a different device
# and fill the cache with entries the parent under valgrind cannot use.
set -u
here=$(cd "$(dirname "$0")" && pwd)
logs=${CL16_VALGRIND_LOGS:-.}
mkdir -p "$logs"
log="$logs/$(basename "$1").$$.log"
if [ "${CL16_VALGRIND_WARM:-1}" = 1 ]; then
    warm_cache=$(mktemp -d "${TMPDIR:-/tmp}/cl16-vg-warm.XXXXXX")
    CL16_CACHE_DIR=$warm_cache \
    POCL_LLVM_CPU_NAME=${CL16_VALGRIND_POCL_CPU:-haswell} \
    POCL_KERNELLIB_NAME=${CL16_VALGRIND_POCL_LIB:-avx2} \
        "$@" >/dev/null 2>&1
    rm -rf "$warm_cache"
fi
valgrind --tool=memcheck --error-exitcode=99 --leak-check=full --trace-children=yes \
    --show-leak-kinds=definite --errors-for-leak-kinds=definite \
    --suppressions="$here/valgrind.supp" --gen-suppressions=all --num-callers=40 \
    --log-file="$log.%p" "$@"
rc=$?
# The verdict lines, so that ctest's output shows them.
cat "$log".* >"$log" && rm -f "$log".*
grep -E "ERROR SUMMARY|definitely lost|Invalid|uninitialised|Mismatched" "$log" | head -20
[ "$rc" -eq 99 ] && echo "valgrind: errors in $1 (report: $log)"
exit "$rc"
