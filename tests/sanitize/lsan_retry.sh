#!/bin/sh
# lsan_retry.sh - the cl16 that the CLI tests of the sanitizer suite run
# (make test-sanitize; tests/CMakeLists.txt): runs $CL16_LSAN_REAL with the
# arguments given, and runs it once more when LeakSanitizer's own tracer
# crashed while checking for leaks at exit ("Tracer caught signal" and
# "LeakSanitizer has encountered a fatal error" on stderr). That is the leak
# checker failing to stop the process's threads (PoCL's workers), seen at the
# exit of 3 CLI commands in 2 of 5 CI runs on 2026-12-07, and says nothing about
# cl16. A leak report ("detected memory leaks") or any other failure is passed
# on as it is and never retried. Each attempt's output goes to files first, so
# only the attempt that counts reaches the test; retries are logged to
# $CL16_LSAN_REAL.retries.
set -u
real="${CL16_LSAN_REAL:?CL16_LSAN_REAL must name the cl16 binary}"
tmp=$(mktemp -d) || exit 1
trap 'rm -rf "$tmp"' EXIT
attempt=1
while :; do
    "$real" "$@" >"$tmp/out" 2>"$tmp/err"
    rc=$?
    if [ "$attempt" = 1 ] && grep -q "Tracer caught signal" "$tmp/err" &&
        grep -q "LeakSanitizer has encountered a fatal error" "$tmp/err" &&
        ! grep -q "detected memory leaks" "$tmp/err"; then
        echo "$(date -u +%FT%TZ) tracer crash, retried: cl16 $*" >>"$real.retries"
        attempt=2
        continue
    fi
    cat "$tmp/out"
    cat "$tmp/err" >&2
    exit "$rc"
done
