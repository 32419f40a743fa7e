/* profile.c - device-busy time from OpenCL profiling events: with the
 * context's profiling option on, every command cl16 enqueues keeps its event
 * until it completes, then adds (END - START) to a per-context counter. */
#include <stdlib.h>

#include "runtime/internal.h"

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
            t1 > t0)
            ctx->prof_ns += (uint64_t)(t1 - t0);
        clReleaseEvent(e);
    }
    for (size_t i = done; i < ctx->prof_n; i++)
        ctx->prof_ev[i - done] = ctx->prof_ev[i];
    ctx->prof_n -= done;
}

cl_event *cl16__prof_slot(cl16_ctx *ctx) {
    if (!ctx->profiling)
        return NULL;
    if (!ctx->prof_ev && !(ctx->prof_ev = malloc(PROF_MAX_PENDING * sizeof *ctx->prof_ev))) {
        ctx->prof_lost = 1; /* the command runs untimed; cl16_ctx_device_time says so */
        return NULL;
    }
    if (ctx->prof_n == PROF_MAX_PENDING)
        prof_harvest(ctx, 0);
    if (ctx->prof_n == PROF_MAX_PENDING)
        prof_harvest(ctx, 1);
    ctx->prof_ev[ctx->prof_n] = NULL;
    return &ctx->prof_ev[ctx->prof_n];
}

void cl16__prof_commit(cl16_ctx *ctx, cl_event *slot, cl_int err) {
    if (!slot)
        return;
    if (err == CL_SUCCESS && *slot)
        ctx->prof_n++;
    else if (*slot)
        clReleaseEvent(*slot);
}

cl_int cl16__enqueue(cl16_ctx *ctx, cl_kernel k, cl_uint dim, const size_t *global,
                     const size_t *local) {
    cl_event *ev = cl16__prof_slot(ctx);
    const cl_int err = clEnqueueNDRangeKernel(ctx->queue, k, dim, NULL, global, local, 0, NULL, ev);
    cl16__prof_commit(ctx, ev, err);
    return err;
}

void cl16__prof_release(cl16_ctx *ctx) {
    if (ctx->prof_n)
        prof_harvest(ctx, 1);
    free(ctx->prof_ev);
    ctx->prof_ev = NULL;
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
