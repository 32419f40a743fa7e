/* test_bench_rounds.c - the benchmarks' timing in rounds (src/cli/bench_util.c):
 * the order the peers' blocks run in, a failing peer dropping out while the
 * others go on, and the paired ratio. Host-only: the peers are counters. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "check.h"
#include "cli/bench_util.h"
#include "cli/cli.h"

/* bench_util.c reports a bad --peaks file through the CLI's cli_fail; these
 * tests never reach it. */
int cli_fail(cl16_status s, const char *what, const char *detail) {
    fprintf(stderr, "unexpected cli_fail(%d, %s, %s)\n", (int)s, what, detail);
    return 99;
}

typedef struct peer {
    int id, calls, fail_at; /* fail_at: the call (1-based) that fails, 0 never */
    int *log, *nlog;        /* the peer id at each finish: one entry per block or warm-up */
} peer;

static int call(void *u) {
    peer *p = u;
    return ++p->calls == p->fail_at ? 42 : 0;
}
static int finish(void *u) {
    peer *p = u;
    p->log[(*p->nlog)++] = p->id;
    return 0;
}

int main(void) {
    int log[256], nlog = 0;
    peer a = {0, 0, 0, log, &nlog}, b = {1, 0, 0, log, &nlog};
    bench_runner r[2] = {{call, finish, &a, NULL, 0}, {call, finish, &b, NULL, 0}};
    bench_stats st[2];
    int err[2] = {-1, -1};

    /* Two calls per block (reps 2), no time budget: exactly BENCH_MIN_BLOCKS rounds. */
    int e = bench_time_rounds(r, 2, BENCH_MIN_BLOCKS, BENCH_MAX_BLOCKS, 2, 0.0, 50, st, err);
    CHECK(e == 0 && err[0] == 0 && err[1] == 0);
    CHECK(st[0].blocks == BENCH_MIN_BLOCKS && st[1].blocks == BENCH_MIN_BLOCKS);
    CHECK(st[0].reps == 2 && st[1].reps == 2);
    /* warm-up (one finish each: reps fixed, no sizing call), then A B, B A, A B, ... */
    CHECK(nlog == 2 + 2 * BENCH_MIN_BLOCKS);
    CHECK(log[0] == 0 && log[1] == 1);
    for (int k = 0; k < BENCH_MIN_BLOCKS; k++) {
        const int first = log[2 + 2 * k], second = log[3 + 2 * k];
        CHECK_MSG(first == (k % 2) && second == 1 - (k % 2), "round %d ran %d then %d", k, first,
               second);
    }
    CHECK(a.calls == 1 + 2 * BENCH_MIN_BLOCKS && b.calls == a.calls);
    for (int p = 0; p < 2; p++)
        CHECK(st[p].min_s <= st[p].median_s && st[p].median_s <= st[p].max_s &&
              st[p].first_s >= 0 && isnan(st[p].kernel_s));

    /* Peer b fails in its third block (calls: 1 warm-up, 2 + 2, then the 6th):
     * it drops out, a goes on to the minimum, the first failure is returned. */
    nlog = 0, a.calls = b.calls = 0, b.fail_at = 6;
    e = bench_time_rounds(r, 2, BENCH_MIN_BLOCKS, BENCH_MAX_BLOCKS, 2, 0.0, 50, st, err);
    CHECK(e == 42 && err[0] == 0 && err[1] == 42);
    CHECK(st[0].blocks == BENCH_MIN_BLOCKS && st[1].blocks == 2);
    CHECK(isnan(st[1].median_s) && !isnan(st[0].median_s));

    /* A peer failing its warm-up is never timed. */
    nlog = 0, a.calls = b.calls = 0, b.fail_at = 1;
    e = bench_time_rounds(r, 2, BENCH_QUICK_BLOCKS, BENCH_QUICK_BLOCKS, 1, 0.0, 50, st, err);
    CHECK(e == 42 && err[1] == 42 && st[1].blocks == 0 && st[0].blocks == BENCH_QUICK_BLOCKS);

    /* A number of rounds asked for (`bench train --blocks`): exactly that, and
     * never more than BENCH_MAX_BLOCKS. */
    nlog = 0, a.calls = b.calls = 0, b.fail_at = 0;
    e = bench_time_rounds(r, 2, 7, 7, 1, 0.0, 50, st, err);
    CHECK(e == 0 && st[0].blocks == 7 && st[1].blocks == 7 && a.calls == 1 + 7);
    nlog = 0, a.calls = b.calls = 0;
    e = bench_time_rounds(r, 2, 99, 99, 1, 0.0, 50, st, err);
    CHECK(e == 0 && st[0].blocks == BENCH_MAX_BLOCKS && st[1].blocks == BENCH_MAX_BLOCKS);

    /* One peer: bench_time_calls is the same loop. */
    nlog = 0, a.calls = 0;
    CHECK(bench_time_calls(&r[0], 1, 3, 0.0, 50, &st[0]) == 0);
    CHECK(st[0].blocks == BENCH_QUICK_BLOCKS && a.calls == 1 + 3 * BENCH_QUICK_BLOCKS);

    /* The paired ratio: the median of the rounds' ratios, over the rounds both ran. */
    bench_stats x, y;
    memset(&x, 0, sizeof x), memset(&y, 0, sizeof y);
    const double xs[5] = {2.0, 9.0, 3.0, 1.0, 5.0}, ys[5] = {1.0, 3.0, 1.0, 1.0, 1.0};
    memcpy(x.round_s, xs, sizeof xs), memcpy(y.round_s, ys, sizeof ys);
    x.blocks = 5, y.blocks = 5;
    double lo, hi, m = bench_round_ratio(&x, &y, &lo, &hi);
    CHECK_MSG(m == 3.0 && lo == 1.0 && hi == 5.0, "ratio %g [%g, %g], want 3 [1, 5]", m, lo, hi);
    y.blocks = 2; /* ratios 2 and 3 */
    m = bench_round_ratio(&x, &y, &lo, &hi);
    CHECK_MSG(m == 2.5 && lo == 2.0 && hi == 3.0, "ratio %g [%g, %g], want 2.5 [2, 3]", m, lo, hi);
    y.blocks = 0;
    CHECK(isnan(bench_round_ratio(&x, &y, &lo, &hi)) && isnan(lo) && isnan(hi));
    return check_done("bench_rounds");
}
