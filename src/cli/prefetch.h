/* prefetch.h - batches assembled on a background thread (double buffer) while
 * the device computes the current step; used by train, continue and eval. */
#ifndef CL16_CLI_PREFETCH_H
#define CL16_CLI_PREFETCH_H
#include <pthread.h>
#include <stdint.h>

#include "cl16.h"

/* What to assemble: the images idx[0..n) in batches of bs (the last one
 * shorter unless drop_last), normalised with mean/std, augmented with
 * crop/flip; batch b's augmentation seed is cli_seed(aug_seed, b). */
typedef struct prefetch_job {
    const cl16_dataset *data;
    const int64_t *idx;
    int64_t n, bs;
    int drop_last;
    const float *mean, *std;
    int crop, flip;
    uint64_t aug_seed;
} prefetch_job;

typedef struct prefetch_slot {
    float *images;
    int32_t *labels;
    int64_t n;
    int ready;
    cl16_status status;
    char err[512];
} prefetch_slot;

/* One pass over a job. The caller owns the struct (it lives on the stack);
 * prefetch_start allocates the two slots and starts the thread,
 * prefetch_stop joins it and frees them (safe after a failed start). */
typedef struct prefetch {
    prefetch_job job;
    int64_t batches; /* how many batches the pass yields */
    int64_t next;    /* index of the batch prefetch_next returns next */
    prefetch_slot slot[2];
    pthread_t thread;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int started, stop;
} prefetch;

/* Derives an independent seed from (a, b) with splitmix64 mixing: the per-epoch
 * shuffle and augmentation seeds and the per-batch ones come from it, so that
 * a resumed run draws exactly what an uninterrupted one would. */
uint64_t cli_seed(uint64_t a, uint64_t b);

/* Batches a job yields. */
int64_t prefetch_batches(int64_t n, int64_t bs, int drop_last);
/* CL16_OK or CL16_ERR_OUT_OF_MEMORY / CL16_ERR_INTERNAL (thread start) with err set. */
cl16_status prefetch_start(prefetch *p, const prefetch_job *job, char *err, size_t err_len);
/* Waits for the next batch; its pointers stay valid until prefetch_release.
 * Returns the assembly status of that batch (err receives its message). */
cl16_status prefetch_next(prefetch *p, const float **images, const int32_t **labels, int64_t *n,
                          char *err, size_t err_len);
/* Hands the batch returned by the last prefetch_next back for refilling. */
void prefetch_release(prefetch *p);
/* Stops the thread (also in the middle of a pass) and frees the slots. */
void prefetch_stop(prefetch *p);
#endif
