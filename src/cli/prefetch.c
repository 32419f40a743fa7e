/* prefetch.c - the background batch assembler: one worker thread fills two
 * host buffers in turn (cl16_dataset_batch) while the caller trains on the other. */
#include "cli/prefetch.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static uint64_t mix64(uint64_t x) {
    x += 0x9E3779B97F4A7C15ull;
    x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
    x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
    return x ^ (x >> 31);
}

uint64_t cli_seed(uint64_t a, uint64_t b) { return mix64(a ^ mix64(b + 0x243F6A8885A308D3ull)); }

int64_t prefetch_batches(int64_t n, int64_t bs, int drop_last) {
    if (n <= 0 || bs <= 0) return 0;
    return drop_last ? n / bs : (n + bs - 1) / bs;
}

static void *worker(void *arg) {
    prefetch *p = arg;
    const prefetch_job *j = &p->job;
    for (int64_t b = 0; b < p->batches; b++) {
        prefetch_slot *s = &p->slot[b & 1];
        pthread_mutex_lock(&p->mu);
        while (s->ready && !p->stop) pthread_cond_wait(&p->cv, &p->mu);
        int stop = p->stop;
        pthread_mutex_unlock(&p->mu);
        if (stop) break;
        /* The slot is ours until `ready` is set: the consumer never touches it before. */
        int64_t first = b * j->bs, n = j->n - first < j->bs ? j->n - first : j->bs;
        s->n = n;
        s->err[0] = 0;
        s->status = cl16_dataset_batch(j->data, j->idx + first, n, j->mean, j->std, j->crop,
                                       j->flip, cli_seed(j->aug_seed, (uint64_t)b), s->images,
                                       s->labels);
        if (s->status)
            snprintf(s->err, sizeof s->err, "assembling batch %lld of %lld: %s", (long long)b + 1,
                     (long long)p->batches, cl16_status_str(s->status));
        pthread_mutex_lock(&p->mu);
        s->ready = 1;
        pthread_cond_broadcast(&p->cv);
        pthread_mutex_unlock(&p->mu);
    }
    return NULL;
}

cl16_status prefetch_start(prefetch *p, const prefetch_job *job, char *err, size_t err_len) {
    memset(p, 0, sizeof *p);
    p->job = *job;
    p->batches = prefetch_batches(job->n, job->bs, job->drop_last);
    int64_t count;
    int c, h, w, classes;
    cl16_dataset_shape(job->data, &count, &c, &h, &w, &classes);
    size_t per = (size_t)c * (size_t)h * (size_t)w;
    for (int i = 0; i < 2; i++) {
        p->slot[i].images = malloc((size_t)job->bs * per * sizeof(float));
        p->slot[i].labels = malloc((size_t)job->bs * sizeof(int32_t));
        if (!p->slot[i].images || !p->slot[i].labels) {
            snprintf(err, err_len, "cannot allocate two host batches of %lld images",
                     (long long)job->bs);
            return CL16_ERR_OUT_OF_MEMORY;
        }
    }
    if (pthread_mutex_init(&p->mu, NULL)) {
        snprintf(err, err_len, "pthread_mutex_init failed");
        return CL16_ERR_INTERNAL;
    }
    if (pthread_cond_init(&p->cv, NULL)) {
        pthread_mutex_destroy(&p->mu);
        snprintf(err, err_len, "pthread_cond_init failed");
        return CL16_ERR_INTERNAL;
    }
    if (pthread_create(&p->thread, NULL, worker, p)) {
        pthread_cond_destroy(&p->cv);
        pthread_mutex_destroy(&p->mu);
        snprintf(err, err_len, "cannot start the batch-assembly thread");
        return CL16_ERR_INTERNAL;
    }
    p->started = 1;
    return CL16_OK;
}

cl16_status prefetch_next(prefetch *p, const float **images, const int32_t **labels, int64_t *n,
                          char *err, size_t err_len) {
    if (p->next >= p->batches) {
        snprintf(err, err_len, "no batch left in this pass (internal)");
        return CL16_ERR_INTERNAL;
    }
    prefetch_slot *s = &p->slot[p->next & 1];
    pthread_mutex_lock(&p->mu);
    while (!s->ready) pthread_cond_wait(&p->cv, &p->mu);
    pthread_mutex_unlock(&p->mu);
    *images = s->images;
    *labels = s->labels;
    *n = s->n;
    if (s->status) snprintf(err, err_len, "%s", s->err);
    return s->status;
}

void prefetch_release(prefetch *p) {
    prefetch_slot *s = &p->slot[p->next & 1];
    pthread_mutex_lock(&p->mu);
    s->ready = 0;
    p->next++;
    pthread_cond_broadcast(&p->cv);
    pthread_mutex_unlock(&p->mu);
}

void prefetch_stop(prefetch *p) {
    if (p->started) {
        pthread_mutex_lock(&p->mu);
        p->stop = 1;
        pthread_cond_broadcast(&p->cv);
        pthread_mutex_unlock(&p->mu);
        pthread_join(p->thread, NULL);
        pthread_cond_destroy(&p->cv);
        pthread_mutex_destroy(&p->mu);
        p->started = 0;
    }
    for (int i = 0; i < 2; i++) {
        free(p->slot[i].images);
        free(p->slot[i].labels);
        p->slot[i].images = NULL;
        p->slot[i].labels = NULL;
    }
}
