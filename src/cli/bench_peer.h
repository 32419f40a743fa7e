/* bench_peer.h - another framework's training step, timed in the same
 * rounds as cl16's (`cl16 bench train --peer CMD`).
 *
 * The peer is a process: `sh -c "CMD --serve MODEL --batch B"`. It builds
 * the model, then writes one line to its stdout, a JSON object that names it:
 *     {"peer": "pytorch", "version": "2.1.2", "precision": "fp32",
 *      "threads": 2, "device": "AMD EPYC ..."}
 * ("peer" and "precision" required). Then, for each line "step" on its
 * stdin, it runs one whole training step, waits for it, and answers one line:
 * "ok" (optionally followed by the loss) or "error <why>". End of input is
 * its cue to exit. Its stderr is cl16's. bench/pytorch_peer.py --serve is
 * one such peer. */
#ifndef CL16_BENCH_PEER_H
#define CL16_BENCH_PEER_H
#include <sys/types.h>

/* What a peer's greeting says of it. */
typedef struct bench_peer_id {
    char name[64], version[64], precision[32], device[128];
    int threads; /* 0 when it did not say */
} bench_peer_id;

typedef struct bench_peer {
    const char *cmd;  /* as given to --peer */
    pid_t pid;        /* 0 when not running */
    int to, from;     /* its stdin (we write) and stdout (we read) */
    char buf[4096];   /* what has been read from it and not yet taken */
    size_t nbuf;
    bench_peer_id id;
    double loss;      /* the last step's, NAN when it did not say */
    char err[1024];   /* the last failure, naming the peer */
} bench_peer;

/* Starts cmd for model at batch and reads its greeting; 0, or the exit code
 * of a failure whose message (naming cmd) is in p->err. */
int bench_peer_start(bench_peer *p, const char *cmd, const char *model, int batch);
/* bench_runner calls: one step (u is the bench_peer), and a no-op finish (each
 * step's answer comes after the step is done). 0 or an exit code, p->err set. */
int bench_peer_step(void *u);
int bench_peer_finish(void *u);
/* Ends the peer: closes its stdin and waits for it (killed after 10 s). */
void bench_peer_stop(bench_peer *p);
#endif
