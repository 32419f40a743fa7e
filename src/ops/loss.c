/* loss.c - softmax cross-entropy (kernels/loss.cl): per-sample losses and
 * argmax hits come back from the device and are summed on the host in double,
 * in sample order, so the result is deterministic. */
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "ops/ops_util.h"

#define XENT_CORRECT 1 /* the flag bits of kernels/loss.cl */
#define XENT_NONFINITE 2
#define XENT_BADLABEL 4

/* Labels are checked on the host before the launch (one small blocking read),
 * so a bad label leaves every output untouched and the message can name the
 * sample; the kernel still never indexes with an out-of-range label.
 * dlogits may be the logits tensor itself: each work-item reads an element of
 * its own row before it overwrites it. */
cl16_status cl16_softmax_xent(cl16_ctx *ctx, const cl16_tensor *logits, const cl16_tensor *labels,
                              float scale, double *loss, int64_t *correct, cl16_tensor *dlogits) {
    static const char fn[] = "softmax_xent";
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
    if (!isfinite(scale))
        return cl16__fail(ctx, CL16_ERR_INVALID_ARG, "%s: scale = %g (must be finite)", fn,
                          (double)scale);

    int32_t *lab = malloc((size_t)n * sizeof *lab);
    float *lo = malloc((size_t)n * sizeof *lo);
    int32_t *fl = malloc((size_t)n * sizeof *fl);
    cl_mem dloss = NULL, dflags = NULL;
    const size_t fbytes = (size_t)n * sizeof(float), ibytes = (size_t)n * sizeof(cl_int);
    if (!lab || !lo || !fl) {
        s = cl16__fail(ctx, CL16_ERR_OUT_OF_MEMORY, "%s: out of host memory (%zu bytes)", fn,
                       3 * (size_t)n * 4);
        goto cleanup;
    }
    cl_int err =
        clEnqueueReadBuffer(ctx->queue, labels->mem, CL_TRUE, 0, ibytes, lab, 0, NULL, NULL);
    if (err) {
        s = cl16__cl_fail(ctx, err, "%s: reading the labels", fn);
        goto cleanup;
    }
    for (int64_t i = 0; i < n; i++)
        if (lab[i] < 0 || lab[i] >= classes) {
            s = cl16__fail(ctx, CL16_ERR_INVALID_ARG,
                           "%s: labels[%" PRId64 "] = %" PRId32 " is outside 0..%" PRId64
                           " (%" PRId64 " classes)",
                           fn, i, lab[i], classes - 1, classes);
            goto cleanup;
        }

    cl_kernel k;
    cl16_variant v = {logits->dtype, 0, NULL};
    if ((s = cl16__kernel(ctx, "loss.cl", &v, "cl16_loss_softmax_xent", &k)))
        goto cleanup;
    if ((s = cl16__dev_alloc(ctx, fbytes, "softmax_xent per-sample losses", &dloss)) ||
        (s = cl16__dev_alloc(ctx, ibytes, "softmax_xent per-sample flags", &dflags)))
        goto cleanup;
    cl_int in = (cl_int)n, ic = (cl_int)classes, want = dlogits != NULL;
    /* scale / N rounded once to float (the kernel multiplies by it). */
    float gscale = (float)((double)scale / (double)n);
    cl_mem gm = dlogits ? dlogits->mem : logits->mem; /* unwritten without dlogits */
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
    ARG(dloss);
    ARG(dflags);
#undef ARG
    if (!err)
        err = cl16__op_launch(ctx, k, (size_t)n);
    if (!err)
        err = clEnqueueReadBuffer(ctx->queue, dloss, CL_FALSE, 0, fbytes, lo, 0, NULL, NULL);
    if (!err)
        err = clEnqueueReadBuffer(ctx->queue, dflags, CL_TRUE, 0, ibytes, fl, 0, NULL, NULL);
    if (err) {
        s = cl16__cl_fail(ctx, err, "%s over [%" PRId64 ", %" PRId64 "]", fn, n, classes);
        goto cleanup;
    }
    const double es = (double)cl16_dtype_size(logits->dtype), nc = (double)n * (double)classes;
    cl16__count(ctx, nc * (want ? 8.0 : 4.0), es * nc * (want ? 2.0 : 1.0) + 12.0 * (double)n);

    /* Host sums in sample order: the same inputs give the same bits. */
    double sum = 0.0;
    int64_t hits = 0, bad = 0, first_bad = -1;
    for (int64_t j = 0; j < n; j++) {
        sum += (double)lo[j];
        hits += (fl[j] & XENT_CORRECT) != 0;
        if (fl[j] & (XENT_NONFINITE | XENT_BADLABEL)) {
            if (first_bad < 0)
                first_bad = j;
            bad++;
        }
    }
    if (loss)
        *loss = sum / (double)n;
    if (correct)
        *correct = hits;
    if (bad)
        s = cl16__fail(ctx, CL16_ERR_NUMERIC,
                       "%s: the logits of %" PRId64 " of %" PRId64
                       " samples hold NaN or infinity (first: "
                       "sample %" PRId64 "); loss and gradient are not finite",
                       fn, bad, n, first_bad);
cleanup:
    cl16__dev_free(ctx, dloss, fbytes);
    cl16__dev_free(ctx, dflags, ibytes);
    free(lab);
    free(lo);
    free(fl);
    return s;
}
