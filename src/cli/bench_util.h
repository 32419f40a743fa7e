/* bench_util.h - what `cl16 bench gemm` and `cl16 bench conv` share: the
 * clock, deterministic inputs, the timing loop and the JSON helpers. */
#ifndef CL16_BENCH_UTIL_H
#define CL16_BENCH_UTIL_H
#include <stdint.h>
#include <stdio.h>

#include "cl16.h"
#include "cli/json_read.h"

double bench_now(void);
/* Process CPU time, every thread's (the OpenCL runtime's workers included):
 * the work a call costs, far less disturbed than wall time by other
 * processes on a shared machine, but blind to idle cores. */
double bench_cpu_now(void);
/* Deterministic values in [-1, 1) (xorshift); half_exact rounds each to the
 * nearest half, so f16 and f32 peers can share one set of inputs. */
void bench_fill_random(float *x, size_t n, uint32_t seed, int half_exact);

/* One measured call (enqueued on the device, or done on the host) and the
 * wait for it; each returns 0 or the caller's error code. dev: a context
 * created with profiling whose device time (cl16_ctx_device_time) covers all
 * of a call's device work, i.e. the call runs only cl16's own kernels; NULL
 * for host peers and for calls into other libraries (CLBlast enqueues kernels
 * cl16 cannot time): their kernel time is not measured. */
typedef struct bench_runner {
    int (*call)(void *u);
    int (*finish)(void *u);
    void *u;
    cl16_ctx *dev;
    int cpu_clock; /* 1: blocks timed with bench_cpu_now instead of bench_now */
} bench_runner;
/* Timed blocks per peer: at least BENCH_MIN_BLOCKS (3 with quick, exactly),
 * more while the time budget lasts, at most BENCH_MAX_BLOCKS. */
#define BENCH_MIN_BLOCKS 5
#define BENCH_QUICK_BLOCKS 3
#define BENCH_MAX_BLOCKS 20
/* What bench_time_calls / bench_time_rounds measured: per call, over the timed blocks. */
typedef struct bench_stats {
    double first_s;                /* the first call alone (kernel builds included) */
    int reps, blocks;              /* calls per timed block, blocks timed */
    double median_s, min_s, max_s; /* wall clock per call: median, fastest and slowest block */
    double kernel_s;               /* device-busy time per call from profiling events, median
                                      over the blocks; NAN when not measured (dev NULL, or
                                      the calls went to CLBlast: cl16_ctx_stats.untimed_calls) */
    double round_s[BENCH_MAX_BLOCKS]; /* per call, block by block in the order timed */
} bench_stats;
/* Warm-up: the first call, timed on its own, and (reps 0) a second one that
 * sizes the blocks: each block gets target_s / BENCH_MIN_BLOCKS worth of
 * calls (1..max_reps); reps > 0 fixes the calls per block instead. Then
 * blocks of calls, each timed as a whole by the wall clock (and by the
 * device's profiling events when r->dev), until at least the minimum number
 * of blocks and target_s are spent. Neither warm-up call is in the figures.
 * Returns 0 or the call's failure. */
int bench_time_calls(const bench_runner *r, int quick, int reps, double target_s, int max_reps,
                     bench_stats *st);
/* The same for n peers (at most BENCH_ROUND_PEERS) timed in rounds: each peer's
 * warm-up, then round after round one block of each peer, in order in even
 * rounds and in reverse in odd ones, so the peers share the machine's state
 * block by block and a drift in its speed favours none. All take the smallest
 * block size that the warm-ups sized (reps 0). Rounds: at least min_blocks,
 * more while the budget (target_s per peer) lasts, at most max_blocks (and
 * BENCH_MAX_BLOCKS). A peer that fails (err[p], its call's failure) drops
 * out; the others go on. Returns 0, or the first failure. */
#define BENCH_ROUND_PEERS 9
int bench_time_rounds(const bench_runner *r, int n, int min_blocks, int max_blocks, int reps,
                      double target_s, int max_reps, bench_stats *st, int *err);
/* Time ratio a/b of two peers timed in the same rounds: the median over the
 * rounds of a's block time over b's (*lo, *hi: the smallest and largest). */
double bench_round_ratio(const bench_stats *a, const bench_stats *b, double *lo, double *hi);
/* The median of v[0..n) (sorts v; the mean of the middle two for even n); NAN for n 0. */
double bench_median(double *v, int n);

/* The device's peaks for this run's percentages. from NULL: measured now,
 * cl16_measure_peaks with a 0.4 s budget under quick, 2 s otherwise, one line
 * on stderr; on failure (reported on stderr, naming the benchmark) every peak
 * is 0, so every percentage is null rather than the run failing. from a path:
 * read from that file of `cl16 bench peak --json` (--peaks FILE; `bench all`
 * passes its own), which must be of this device. Returns 0 or the exit code of
 * the failure, reported naming the file. */
int bench_peaks(cl16_ctx *ctx, int quick, const char *from, const char *what, cl16_peaks *pk);
/* 100 * x / peak, NAN when either is not a positive finite number. */
double bench_pct(double x, double peak);
/* `,\n  "peaks": {...}`: the three peaks (f16 null where the device has no
 * half arithmetic) and `from` (the --peaks file, or null: measured in this
 * run), after bench_json_head. */
void bench_json_peaks(FILE *f, const cl16_peaks *pk, const char *from);
/* The timing fields of one measured peer, each preceded by ", ":
 * ms_per_call (the median), ms_min, ms_max, kernel_ms, first_call_s, reps,
 * blocks; nulls when st is NULL (not measured). */
void bench_json_stats(FILE *f, const bench_stats *st);

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

/* Reads and parses a benchmark file (a JSON object with a "benchmark" key);
 * 0, or the exit code of a failure reported as "<cmd>: ..." naming path. The
 * caller frees *out with jv_free. */
int bench_read_json(const char *path, const char *cmd, jv *out);

void bench_json_str(FILE *f, const char *s);
/* A number, or null when not finite. */
void bench_json_num(FILE *f, double x);
/* `, "key": ` and the number (bench_json_num). */
void bench_json_field(FILE *f, const char *key, double x);
/* `{` and the fields every benchmark document starts with: benchmark, cl16
 * version, UTC date, device, platform, driver, half path (no trailing comma). */
void bench_json_head(FILE *f, const char *benchmark, const cl16_ctx *ctx);
#endif
