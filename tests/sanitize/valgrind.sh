#!/bin/sh
# valgrind.sh - the launcher `make test-valgrind` puts in front of each C test
# program (CL16_TEST_LAUNCHER): valgrind memcheck with the PoCL/driver
# suppressions of valgrind.supp. Any memcheck error or definite leak outside
# them fails the test (exit 99); the program's own exit status (77 = skipped)
# passes through otherwise. The full report goes to
# $CL16_VALGRIND_LOGS/<program>.<pid>.log (default: the current directory).
set -u
here=$(cd "$(dirname "$0")" && pwd)
logs=${CL16_VALGRIND_LOGS:-.}
mkdir -p "$logs"
log="$logs/$(basename "$1").$$.log"
valgrind --tool=memcheck --error-exitcode=99 --leak-check=full \
    --show-leak-kinds=definite --errors-for-leak-kinds=definite \
    --suppressions="$here/valgrind.supp" --gen-suppressions=all --num-callers=40 \
    --log-file="$log" "$@"
rc=$?
# The verdict lines, so that ctest's output shows them.
grep -E "ERROR SUMMARY|definitely lost|Invalid|uninitialised|Mismatched" "$log" | head -20
[ "$rc" -eq 99 ] && echo "valgrind: errors in $1 (report: $log)"
exit "$rc"
