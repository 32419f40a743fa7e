/* loss.c - softmax cross-entropy (kernels/loss.cl): per-sample losses and
 * argmax hits come back from the device and are summed on the host in double,
 * in sample order, so the result is deterministic. */
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ops/ops_util.h"

#define XENT_CORRECT 1 /* the flag bits of kernels/loss.cl */
#define XENT_NONFINITE 2
#define XENT_BADLABEL 4

/* Labels are checked on the host before the launch, so a bad label leaves
 * every output untouched and the message can name the sample; the kernel
 * still never indexes with an out-of-range label. dlogits may be the logits
 * tensor itself: each work-item reads an element of its own row before it
 * overwrites it. */
static cl16_status check_labels(cl16_ctx *ctx, const int32_t *lab, int64_t n, int64_t classes) {
    for (int64_t i = 0; i < n; i++)
        if (lab[i] < 0 || lab[i] >= classes)
            return cl16__fail(ctx, CL16_ERR_INVALID_ARG,
                              "softmax_xent: labels[%" PRId64 "] = %" PRId32
                              " is outside 0..%" PRId64 " (%" PRId64 " classes)",
                              i, lab[i], classes - 1, classes);
    return CL16_OK;
}

void cl16__xent_free(cl16_ctx *ctx, cl16__xent *p) {
    if (!p)
        return;
    if (p->dflags) /* launched: the reads into lo and fl may still be queued */
        clFinish(ctx->queue);
    cl16__dev_free(ctx, p->dloss, (size_t)p->n * sizeof(float));
    cl16__dev_free(ctx, p->dflags, (size_t)p->n * sizeof(cl_int));
    free(p->lo);
    free(p->fl);
    memset(p, 0, sizeof *p);
}

cl16_status cl16__xent_launch(cl16_ctx *ctx, const cl16_tensor *logits, const cl16_tensor *labels,
                              const int32_t *host_labels, float scale, cl16_tensor *dlogits,
                              cl16_tensor *skip, cl16__xent *p) {
    static const char fn[] = "softmax_xent";
    memset(p, 0, sizeof *p);
    CL16_OP_CTX(ctx);
    cl16_status s;
    if ((s = cl16__op_tensor(ctx, fn, "logits", logits)) ||
        (s = cl16__op_float(ctx, fn, "logits", logits, logits->dtype, "logits")))
        return s;
    if (logits->ndim != 2)
        return cl16__fail(ctx, CL16_ERR_SHAPE,
                          "%s: tensor logits has %d dimensions; expected [N, classes]", fn,
                          logits->ndim);
    const int64_t n = logits->dims[0], classes = logits->dims[1];
    if (n > INT32_MAX || classes > INT32_MAX)
        return cl16__fail(ctx, CL16_ERR_SHAPE, "%s: logits [%" PRId64 ", %" PRId64 "] is too large",
                          fn, n, classes);
    if ((s = cl16__op_tensor(ctx, fn, "labels", labels)))
        return s;
    if (labels->dtype != CL16_I32)
        return cl16__fail(ctx, CL16_ERR_SHAPE, "%s: tensor labels is %s; expected i32", fn,
                          cl16_dtype_name(labels->dtype));
    if ((s = cl16__op_shape(ctx, fn, "labels", labels, 1, &n)))
        return s;
    if (dlogits && ((s = cl16__op_tensor(ctx, fn, "dlogits", dlogits)) ||
                    (s = cl16__op_float(ctx, fn, "dlogits", dlogits, logits->dtype, "logits")) ||
                    (s = cl16__op_shape(ctx, fn, "dlogits", dlogits, 2, logits->dims))))
        return s;
    const int64_t one = 1;
    if (skip && (s = cl16__op_check(ctx, fn, "skip", skip, CL16_I32, &one, 1)))
        return s;
    if (!isfinite(scale))
        return cl16__fail(ctx, CL16_ERR_INVALID_ARG, "%s: scale = %g (must be finite)", fn,
                          (double)scale);

    const size_t fbytes = (size_t)n * sizeof(float), ibytes = (size_t)n * sizeof(cl_int);
    p->n = n;
    p->lo = malloc(fbytes);
    p->fl = malloc(ibytes);
    int32_t *lab = host_labels ? NULL : malloc(ibytes);
    cl_int err = 0;
    if (!p->lo || !p->fl || (!host_labels && !lab)) {
        s = cl16__fail(ctx, CL16_ERR_OUT_OF_MEMORY, "%s: out of host memory (%zu bytes)", fn,
                       3 * ibytes);
        goto fail;
    }
    if (!host_labels) { /* the caller's device labels: one small blocking read */
        err = clEnqueueReadBuffer(ctx->queue, labels->mem, CL_TRUE, 0, ibytes, lab, 0, NULL, NULL);
        if (err) {
            s = cl16__cl_fail(ctx, err, "%s: reading the labels", fn);
            goto fail;
        }
    }
    if ((s = check_labels(ctx, host_labels ? host_labels : lab, n, classes)))
        goto fail;

    cl_kernel k;
    cl16_variant v = {logits->dtype, 0, NULL};
    if ((s = cl16__kernel(ctx, "loss.cl", &v, "cl16_loss_softmax_xent", &k)) ||
        (s = cl16__dev_alloc(ctx, fbytes, "softmax_xent per-sample losses", &p->dloss)) ||
        (s = cl16__dev_alloc(ctx, ibytes, "softmax_xent per-sample flags", &p->dflags)))
        goto fail;
    cl_int in = (cl_int)n, ic = (cl_int)classes, want = dlogits != NULL;
    /* scale / N rounded once to float (the kernel multiplies by it). */
    float gscale = (float)((double)scale / (double)n);
    cl_mem gm = dlogits ? dlogits->mem : logits->mem; /* unwritten without dlogits */
    cl_mem sm = skip ? skip->mem : NULL;
    cl_uint i = 0;
#define ARG(x)                                                                                     \
    if (!err)                                                                                      \
    err = clSetKernelArg(k, i++, sizeof(x), &(x))
    ARG(logits->mem);
    ARG(labels->mem);
    ARG(in);
    ARG(ic);
    ARG(gscale);
    ARG(want);
    ARG(gm);
    ARG(p->dloss);
    ARG(p->dflags);
    ARG(sm);
#undef ARG
    if (!err)
        err = cl16__op_launch(ctx, k, (size_t)n);
    if (!err)
        err = clEnqueueReadBuffer(ctx->queue, p->dloss, CL_FALSE, 0, fbytes, p->lo, 0, NULL, NULL);
    if (!err)
        err = clEnqueueReadBuffer(ctx->queue, p->dflags, CL_FALSE, 0, ibytes, p->fl, 0, NULL, NULL);
    if (err) {
        s = cl16__cl_fail(ctx, err, "%s over [%" PRId64 ", %" PRId64 "]", fn, n, classes);
        goto fail;
    }
    const double es = (double)cl16_dtype_size(logits->dtype), nc = (double)n * (double)classes;
    cl16__count(ctx, nc * (want ? 8.0 : 4.0), es * nc * (want ? 2.0 : 1.0) + 12.0 * (double)n);
    free(lab);
    return CL16_OK;
fail:
    free(lab);
    cl16__xent_free(ctx, p);
    return s;
}

cl16_status cl16__xent_collect(cl16_ctx *ctx, cl16__xent *p, double *loss, int64_t *correct) {
    const cl_int err = clFinish(ctx->queue);
    cl16_status s = CL16_OK;
    if (err) {
        s = cl16__cl_fail(ctx, err, "softmax_xent: waiting for the results");
        cl16__xent_free(ctx, p);
        return s;
    }
    /* Host sums in sample order: the same inputs give the same bits. */
    double sum = 0.0;
    int64_t hits = 0, bad = 0, first_bad = -1;
    for (int64_t j = 0; j < p->n; j++) {
        sum += (double)p->lo[j];
        hits += (p->fl[j] & XENT_CORRECT) != 0;
        if (p->fl[j] & (XENT_NONFINITE | XENT_BADLABEL)) {
            if (first_bad < 0)
                first_bad = j;
            bad++;
        }
    }
    if (loss)
        *loss = sum / (double)p->n;
    if (correct)
        *correct = hits;
    if (bad)
        s = cl16__fail(ctx, CL16_ERR_NUMERIC,
                       "softmax_xent: the logits of %" PRId64 " of %" PRId64
                       " samples hold NaN or infinity or spread beyond float's range "
                       "(first: sample %" PRId64 "); loss and gradient are not finite",
                       bad, p->n, first_bad);
    cl16__xent_free(ctx, p);
    return s;
}

cl16_status cl16_softmax_xent(cl16_ctx *ctx, const cl16_tensor *logits, const cl16_tensor *labels,
                              float scale, double *loss, int64_t *correct, cl16_tensor *dlogits) {
    cl16__xent p;
    cl16_status s = cl16__xent_launch(ctx, logits, labels, NULL, scale, dlogits, NULL, &p);
    return s ? s : cl16__xent_collect(ctx, &p, loss, correct);
}
