/* profile.c - device-busy time from OpenCL profiling events: with the
 * context's profiling option on, every command cl16 enqueues keeps its event
 * until it completes, then adds (END - START) to a per-context counter. */
#include <stdlib.h>
#include <string.h>

#include "runtime/internal.h"

/* Kernel objects told apart at most; more are summed in the last entry. */
#define PROF_MAX_KERNELS 256

struct cl16__prof_entry {
    cl_kernel k; /* NULL: buffer commands; the overflow entry keeps its first kernel */
    uint64_t ns, calls;
};

/* Adds one command's time to its kernel's entry. */
/* Drops the table's kernel references and empties it. */
static void prof_tab_clear(cl16_ctx *ctx) {
    for (size_t i = 0; i < ctx->prof_tab_n; i++)
        if (ctx->prof_tab[i].k)
            clReleaseKernel(ctx->prof_tab[i].k);
    ctx->prof_tab_n = 0;
}

static void prof_account(cl16_ctx *ctx, cl_kernel k, uint64_t ns) {
    if (!ctx->prof_tab &&
        !(ctx->prof_tab = calloc(PROF_MAX_KERNELS, sizeof *ctx->prof_tab))) {
        ctx->prof_lost = 1;
        return;
    }
    size_t i = 0;
    while (i < ctx->prof_tab_n && ctx->prof_tab[i].k != k)
        i++;
    if (i == ctx->prof_tab_n) {
        if (ctx->prof_tab_n < PROF_MAX_KERNELS) {
            ctx->prof_tab[ctx->prof_tab_n++] = (struct cl16__prof_entry){k, 0, 0};
            if (k)
                clRetainKernel(k); /* the table's reference: the name is read later */
        } else
            i = PROF_MAX_KERNELS - 1;
    }
    ctx->prof_tab[i].ns += ns;
    ctx->prof_tab[i].calls++;
}

/* Events kept at most before the oldest are waited for: bounds the memory and
 * the work of one harvest; a benchmark's block of calls stays well below it. */
#define PROF_MAX_PENDING 4096

/* Sums the pending events that have completed (all of them when wait), in
 * queue order, and releases them. A command that failed carries no times and
 * adds nothing. */
static void prof_harvest(cl16_ctx *ctx, int wait) {
    size_t done = 0;
    if (wait && ctx->prof_n)
        clWaitForEvents((cl_uint)ctx->prof_n, ctx->prof_ev); /* failures: skipped below */
    for (; done < ctx->prof_n; done++) {
        cl_event e = ctx->prof_ev[done];
        cl_int st = CL_QUEUED;
        if (clGetEventInfo(e, CL_EVENT_COMMAND_EXECUTION_STATUS, sizeof st, &st, NULL) != CL_SUCCESS)
            st = -1;
        if (st > CL_COMPLETE)
            break; /* in-order queue: the later ones are not done either */
        cl_ulong t0 = 0, t1 = 0;
        if (st == CL_COMPLETE &&
            clGetEventProfilingInfo(e, CL_PROFILING_COMMAND_START, sizeof t0, &t0, NULL) ==
                CL_SUCCESS &&
            clGetEventProfilingInfo(e, CL_PROFILING_COMMAND_END, sizeof t1, &t1, NULL) ==
                CL_SUCCESS &&
            t1 > t0) {
            ctx->prof_ns += (uint64_t)(t1 - t0);
            prof_account(ctx, ctx->prof_k[done], (uint64_t)(t1 - t0));
        }
        clReleaseEvent(e);
        if (ctx->prof_k[done])
            clReleaseKernel(ctx->prof_k[done]); /* the pending command's reference */
    }
    for (size_t i = done; i < ctx->prof_n; i++)
        ctx->prof_ev[i - done] = ctx->prof_ev[i], ctx->prof_k[i - done] = ctx->prof_k[i];
    ctx->prof_n -= done;
}

cl_event *cl16__prof_slot(cl16_ctx *ctx) {
    if (!ctx->profiling)
        return NULL;
    if (!ctx->prof_ev) {
        ctx->prof_ev = malloc(PROF_MAX_PENDING * sizeof *ctx->prof_ev);
        ctx->prof_k = malloc(PROF_MAX_PENDING * sizeof *ctx->prof_k);
        if (!ctx->prof_ev || !ctx->prof_k) {
            free(ctx->prof_ev), free(ctx->prof_k);
            ctx->prof_ev = NULL, ctx->prof_k = NULL;
            ctx->prof_lost = 1; /* the command runs untimed; cl16_ctx_device_time says so */
            return NULL;
        }
    }
    if (ctx->prof_n == PROF_MAX_PENDING)
        prof_harvest(ctx, 0);
    if (ctx->prof_n == PROF_MAX_PENDING)
        prof_harvest(ctx, 1);
    ctx->prof_ev[ctx->prof_n] = NULL;
    ctx->prof_k[ctx->prof_n] = NULL;
    return &ctx->prof_ev[ctx->prof_n];
}

void cl16__prof_commit_kernel(cl16_ctx *ctx, cl_event *slot, cl_int err, cl_kernel k) {
    if (!slot)
        return;
    if (err == CL_SUCCESS && *slot) {
        /* Kept alive until harvested: a caller may release k after enqueuing. */
        if (k && clRetainKernel(k) != CL_SUCCESS)
            k = NULL;
        ctx->prof_k[ctx->prof_n++] = k;
    } else if (*slot)
        clReleaseEvent(*slot);
}

void cl16__prof_commit(cl16_ctx *ctx, cl_event *slot, cl_int err) {
    cl16__prof_commit_kernel(ctx, slot, err, NULL);
}

cl_int cl16__enqueue(cl16_ctx *ctx, cl_kernel k, cl_uint dim, const size_t *global,
                     const size_t *local) {
    cl_event *ev = cl16__prof_slot(ctx);
    const cl_int err = clEnqueueNDRangeKernel(ctx->queue, k, dim, NULL, global, local, 0, NULL, ev);
    cl16__prof_commit_kernel(ctx, ev, err, k);
    return err;
}

void cl16__prof_release(cl16_ctx *ctx) {
    if (ctx->prof_n)
        prof_harvest(ctx, 1);
    if (ctx->prof_tab)
        prof_tab_clear(ctx);
    free(ctx->prof_ev), free(ctx->prof_k), free(ctx->prof_tab);
    ctx->prof_ev = NULL, ctx->prof_k = NULL, ctx->prof_tab = NULL;
}

void cl16__prof_collect(cl16_ctx *ctx) {
    if (ctx->prof_n)
        prof_harvest(ctx, 0);
}

cl16_status cl16_ctx_device_time(cl16_ctx *ctx, double *seconds) {
    if (!ctx || !seconds)
        return ctx ? cl16__fail(ctx, CL16_ERR_INVALID_ARG, "ctx_device_time: seconds is NULL")
                   : CL16_ERR_INVALID_ARG;
    *seconds = 0;
    if (ctx->init_status)
        return ctx->init_status;
    if (!ctx->profiling)
        return cl16__fail(ctx, CL16_ERR_UNSUPPORTED,
                          "ctx_device_time: the context was created without opts.profiling");
    if (ctx->prof_lost)
        return cl16__fail(ctx, CL16_ERR_OUT_OF_MEMORY,
                          "ctx_device_time: no host memory for the profiling events; "
                          "some commands went untimed");
    prof_harvest(ctx, 1);
    *seconds = (double)ctx->prof_ns * 1e-9;
    return CL16_OK;
}

static int kt_by_time(const void *a, const void *b) {
    const cl16_kernel_time *x = a, *y = b;
    return x->seconds < y->seconds ? 1 : x->seconds > y->seconds ? -1 : strcmp(x->name, y->name);
}

cl16_status cl16_ctx_kernel_times(cl16_ctx *ctx, cl16_kernel_time *out, size_t cap, size_t *n,
                                  int reset) {
    if (!ctx || !n || (cap && !out))
        return ctx ? cl16__fail(ctx, CL16_ERR_INVALID_ARG,
                                "ctx_kernel_times: n is NULL, or out is NULL with cap > 0")
                   : CL16_ERR_INVALID_ARG;
    *n = 0;
    if (ctx->init_status)
        return ctx->init_status;
    if (!ctx->profiling)
        return cl16__fail(ctx, CL16_ERR_UNSUPPORTED,
                          "ctx_kernel_times: the context was created without opts.profiling");
    prof_harvest(ctx, 1);
    if (ctx->prof_lost)
        return cl16__fail(ctx, CL16_ERR_OUT_OF_MEMORY,
                          "ctx_kernel_times: no host memory for the profiling tables; "
                          "some commands went uncounted");
    /* Merge the kernel objects by function name (one function has an object
     * per program variant: dtype, tile). */
    cl16_kernel_time *all = ctx->prof_tab_n ? calloc(ctx->prof_tab_n, sizeof *all) : NULL;
    if (ctx->prof_tab_n && !all)
        return cl16__fail(ctx, CL16_ERR_OUT_OF_MEMORY, "ctx_kernel_times: no host memory");
    size_t m = 0;
    for (size_t i = 0; i < ctx->prof_tab_n; i++) {
        const struct cl16__prof_entry *e = &ctx->prof_tab[i];
        char name[64] = "(copy/fill)";
        if (i == PROF_MAX_KERNELS - 1)
            strcpy(name, "(other kernels)");
        else if (e->k && clGetKernelInfo(e->k, CL_KERNEL_FUNCTION_NAME, sizeof name - 1, name,
                                         NULL) != CL_SUCCESS)
            strcpy(name, "(unnamed kernel)");
        name[sizeof name - 1] = 0;
        size_t j = 0;
        while (j < m && strcmp(all[j].name, name))
            j++;
        if (j == m)
            memcpy(all[m++].name, name, sizeof name);
        all[j].seconds += (double)e->ns * 1e-9;
        all[j].calls += e->calls;
    }
    qsort(all, m, sizeof *all, kt_by_time);
    for (size_t i = 0; i < m && i < cap; i++)
        out[i] = all[i];
    *n = m;
    free(all);
    if (reset && ctx->prof_tab)
        prof_tab_clear(ctx);
    return CL16_OK;
}
