/* bench_util.h - what `cl16 bench gemm` and `cl16 bench conv` share: the
 * clock, deterministic inputs, the timing loop and the JSON helpers. */
#ifndef CL16_BENCH_UTIL_H
#define CL16_BENCH_UTIL_H
#include <stdint.h>
#include <stdio.h>

#include "cl16.h"

double bench_now(void);
/* Process CPU time, every thread's (the OpenCL runtime's workers included):
 * the work a call costs, far less disturbed than wall time by other
 * processes on a shared machine, but blind to idle cores. */
double bench_cpu_now(void);
/* Deterministic values in [-1, 1) (xorshift); half_exact rounds each to the
 * nearest half, so f16 and f32 peers can share one set of inputs. */
void bench_fill_random(float *x, size_t n, uint32_t seed, int half_exact);

/* One measured call (enqueued on the device, or done on the host) and the
 * wait for it; each returns 0 or the caller's error code. */
typedef struct bench_runner {
    int (*call)(void *u);
    int (*finish)(void *u);
    void *u;
    int cpu_clock; /* 1: time with bench_cpu_now instead of bench_now */
} bench_runner;
/* Most timed blocks per peer (3 with quick, 1 with a fixed reps). */
#define BENCH_MAX_BLOCKS 20
/* Warm-up call timed on its own (*first_s), then blocks of calls each timed as
 * a whole; reps 0 sizes a block to target_s (at most max_reps calls) and
 * repeats blocks while the budget lasts; *per_s is the fastest block's time
 * per call, the estimate least disturbed by other work on a shared machine.
 * Returns 0 or the call's failure. */
int bench_time_calls(const bench_runner *r, int quick, int reps, double target_s, int max_reps,
                     double *first_s, double *per_s, int *reps_out, int *blocks);

/* A benchmark's JSON output: written to PATH.tmp.<pid>, renamed into place
 * only when complete. open: path NULL leaves f NULL (no output); returns 0 or
 * the exit code of "cl16 <what>: cannot write the JSON output". close: keep =
 * 1 renames (0 or that exit code), 0 removes the temporary file. */
typedef struct bench_out {
    FILE *f;
    const char *path;
    char tmp[4200];
} bench_out;
int bench_out_open(bench_out *o, const char *path, const char *what);
int bench_out_close(bench_out *o, int keep, const char *what);

/* The options every benchmark takes: --help / -h (prints usage), --quick,
 * --json FILE, --device D. For argv[*i]: 1 when it was one of them (*i then
 * past its value), 2 after --help (the caller returns 0), 0 otherwise. */
int bench_common_opt(int argc, char **argv, int *i, const char *usage, int *quick,
                     const char **json, const char **device);

void bench_json_str(FILE *f, const char *s);
/* A number, or null when not finite. */
void bench_json_num(FILE *f, double x);
/* `{` and the fields every benchmark document starts with: benchmark, cl16
 * version, UTC date, device, platform, driver, half path (no trailing comma). */
void bench_json_head(FILE *f, const char *benchmark, const cl16_ctx *ctx);
#endif
