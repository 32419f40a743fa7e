/* tensor.c - device tensors (f16/bf16/f32/i32, up to 4-D, contiguous) and the one
 * allocator through which every device buffer passes, so that current and
 * peak device memory per context are exact. */
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "runtime/internal.h"

size_t cl16_dtype_size(cl16_dtype d) { return d == CL16_F16 || d == CL16_BF16 ? 2 : 4; }
const char *cl16_dtype_name(cl16_dtype d) {
    return d == CL16_F16    ? "f16"
           : d == CL16_BF16 ? "bf16"
           : d == CL16_F32  ? "f32"
           : d == CL16_I32  ? "i32"
                            : "?";
}

static double mib(uint64_t b) { return (double)b / (1024.0 * 1024.0); }

cl16_status cl16__dev_alloc(cl16_ctx *ctx, size_t bytes, const char *what, cl_mem *out) {
    *out = NULL;
    if (bytes == 0) return cl16__fail(ctx, CL16_ERR_INVALID_ARG, "zero-byte allocation for %s", what);
    if (bytes > ctx->dev.max_alloc || ctx->mem_cur + bytes > ctx->dev.global_mem)
        return cl16__fail(ctx, CL16_ERR_OUT_OF_MEMORY,
                          "cannot allocate %zu bytes (%.1f MiB) for %s on device '%s': the device "
                          "has %" PRIu64 " bytes (%.1f MiB) of memory, its largest buffer is %" PRIu64
                          " bytes, and this context already holds %" PRIu64 " bytes",
                          bytes, mib(bytes), what, ctx->dev.name, ctx->dev.global_mem,
                          mib(ctx->dev.global_mem), ctx->dev.max_alloc, ctx->mem_cur);
    if (cl16__fault("alloc"))
        return cl16__fail(ctx, CL16_ERR_OUT_OF_MEMORY,
                          "cannot allocate %zu bytes for %s on device '%s' (injected fault)", bytes,
                          what, ctx->dev.name);
    cl_int err;
    cl_mem m = clCreateBuffer(ctx->cl, CL_MEM_READ_WRITE, bytes, NULL, &err);
    if (err != CL_SUCCESS) {
        if (cl16__status_of_cl(err) == CL16_ERR_OUT_OF_MEMORY)
            return cl16__fail(ctx, CL16_ERR_OUT_OF_MEMORY,
                              "cannot allocate %zu bytes (%.1f MiB) for %s on device '%s' (%s): the "
                              "device has %" PRIu64 " bytes and this context holds %" PRIu64,
                              bytes, mib(bytes), what, ctx->dev.name, cl16__cl_error_name(err),
                              ctx->dev.global_mem, ctx->mem_cur);
        return cl16__cl_fail(ctx, err, "clCreateBuffer(%zu bytes for %s)", bytes, what);
    }
    if (ctx->poison) { /* 0xff bytes: NaN as f32, f16 and bf16 */
        const cl_uchar ff = 0xff;
        err = clEnqueueFillBuffer(ctx->queue, m, &ff, 1, 0, bytes, 0, NULL, NULL);
        if (err != CL_SUCCESS) {
            clReleaseMemObject(m);
            return cl16__cl_fail(ctx, err, "clEnqueueFillBuffer (poisoning %s)", what);
        }
    }
    ctx->mem_cur += bytes;
    if (ctx->mem_cur > ctx->mem_peak) ctx->mem_peak = ctx->mem_cur;
    *out = m;
    return CL16_OK;
}

void cl16__dev_free(cl16_ctx *ctx, cl_mem mem, size_t bytes) {
    if (!mem) return;
    clReleaseMemObject(mem);
    ctx->mem_cur -= bytes;
}

cl16_status cl16_tensor_create(cl16_ctx *ctx, cl16_dtype dtype, int ndim, const int64_t *dims,
                               cl16_tensor **out) {
    if (!out) return ctx ? cl16__fail(ctx, CL16_ERR_INVALID_ARG, "tensor_create: out is NULL") : CL16_ERR_INVALID_ARG;
    *out = NULL;
    if (!ctx) return CL16_ERR_INVALID_ARG;
    if (ctx->init_status) return ctx->init_status;
    if (dtype != CL16_F32 && dtype != CL16_F16 && dtype != CL16_BF16 && dtype != CL16_I32)
        return cl16__fail(ctx, CL16_ERR_INVALID_ARG, "tensor_create: unknown dtype %d", (int)dtype);
    if (ndim < 1 || ndim > CL16_MAX_DIMS || !dims)
        return cl16__fail(ctx, CL16_ERR_SHAPE, "tensor_create: %d dimensions (1 to %d allowed)", ndim,
                          CL16_MAX_DIMS);
    int64_t numel = 1;
    for (int i = 0; i < ndim; i++) {
        if (dims[i] < 1)
            return cl16__fail(ctx, CL16_ERR_SHAPE, "tensor_create: dimension %d is %" PRId64 " (must be >= 1)",
                              i, dims[i]);
        if (numel > INT64_MAX / 4 / dims[i])
            return cl16__fail(ctx, CL16_ERR_OUT_OF_MEMORY, "tensor_create: shape too large");
        numel *= dims[i];
    }
    if ((uint64_t)numel * cl16_dtype_size(dtype) > SIZE_MAX)
        return cl16__fail(ctx, CL16_ERR_OUT_OF_MEMORY, "tensor_create: shape too large");
    cl16_tensor *t = calloc(1, sizeof *t);
    if (!t) return cl16__fail(ctx, CL16_ERR_OUT_OF_MEMORY, "out of host memory");
    t->ctx = ctx;
    t->dtype = dtype;
    t->ndim = ndim;
    for (int i = 0; i < ndim; i++) t->dims[i] = dims[i];
    t->numel = numel;
    t->bytes = (size_t)numel * cl16_dtype_size(dtype);
    char what[160];
    int w = snprintf(what, sizeof what, "a %s tensor of shape [", cl16_dtype_name(dtype));
    for (int i = 0; i < ndim && w > 0 && (size_t)w < sizeof what; i++)
        w += snprintf(what + w, sizeof what - (size_t)w, "%s%" PRId64, i ? "," : "", dims[i]);
    if (w > 0 && (size_t)w < sizeof what) snprintf(what + w, sizeof what - (size_t)w, "]");
    cl16_status s = cl16__dev_alloc(ctx, t->bytes, what, &t->mem);
    if (s) {
        free(t);
        return s;
    }
    *out = t;
    return CL16_OK;
}

void cl16_tensor_free(cl16_tensor *t) {
    if (!t) return;
    cl16__dev_free(t->ctx, t->mem, t->bytes);
    free(t);
}

cl16_dtype cl16_tensor_dtype(const cl16_tensor *t) { return t->dtype; }
int cl16_tensor_ndim(const cl16_tensor *t) { return t->ndim; }
int64_t cl16_tensor_dim(const cl16_tensor *t, int i) {
    return (i >= 0 && i < t->ndim) ? t->dims[i] : 0;
}
int64_t cl16_tensor_numel(const cl16_tensor *t) { return t->numel; }
size_t cl16_tensor_bytes(const cl16_tensor *t) { return t->bytes; }
void *cl16_tensor_cl_mem(const cl16_tensor *t) { return t ? (void *)t->mem : NULL; }

static cl16_status check_io(const cl16_tensor *t, const void *p, size_t have, size_t want,
                            const char *fn, const char *unit) {
    if (!t) return CL16_ERR_INVALID_ARG;
    if (t->ctx->init_status) return t->ctx->init_status;
    if (!p) return cl16__fail(t->ctx, CL16_ERR_INVALID_ARG, "%s: host pointer is NULL", fn);
    if (have != want)
        return cl16__fail(t->ctx, CL16_ERR_SHAPE, "%s: %zu %s given, the tensor holds %zu", fn, have,
                          unit, want);
    return CL16_OK;
}

cl16_status cl16_tensor_write_raw(cl16_tensor *t, const void *src, size_t bytes) {
    cl16_status s = check_io(t, src, bytes, t ? t->bytes : 0, "tensor_write_raw", "bytes");
    if (s) return s;
    cl_int err = clEnqueueWriteBuffer(t->ctx->queue, t->mem, CL_TRUE, 0, bytes, src, 0, NULL, NULL);
    return err ? cl16__cl_fail(t->ctx, err, "writing %zu bytes to a tensor", bytes) : CL16_OK;
}

cl16_status cl16_tensor_read_raw(const cl16_tensor *t, void *dst, size_t bytes) {
    cl16_status s = check_io(t, dst, bytes, t ? t->bytes : 0, "tensor_read_raw", "bytes");
    if (s) return s;
    cl_int err = clEnqueueReadBuffer(t->ctx->queue, t->mem, CL_TRUE, 0, bytes, dst, 0, NULL, NULL);
    return err ? cl16__cl_fail(t->ctx, err, "reading %zu bytes from a tensor", bytes) : CL16_OK;
}

cl16_status cl16_tensor_write_f32(cl16_tensor *t, const float *src, size_t count) {
    cl16_status s = check_io(t, src, count, t ? (size_t)t->numel : 0, "tensor_write_f32", "elements");
    if (s) return s;
    if (t->dtype == CL16_F32) return cl16_tensor_write_raw(t, src, t->bytes);
    if (t->dtype == CL16_I32) {
        /* Integers only: a fractional or out-of-range value is refused. */
        int32_t *v = malloc(count * sizeof *v);
        if (!v) return cl16__fail(t->ctx, CL16_ERR_OUT_OF_MEMORY, "out of host memory (%zu bytes)", count * 4);
        for (size_t i = 0; i < count; i++) {
            if (!(src[i] == (float)(int32_t)src[i]) || !(fabsf(src[i]) < 2147483648.0f)) {
                free(v);
                return cl16__fail(t->ctx, CL16_ERR_INVALID_ARG,
                                  "tensor_write_f32: element %zu = %g is not an int32 for an i32 tensor", i,
                                  (double)src[i]);
            }
            v[i] = (int32_t)src[i];
        }
        s = cl16_tensor_write_raw(t, v, t->bytes);
        free(v);
        return s;
    }
    uint16_t *h = malloc(count * sizeof *h);
    if (!h) return cl16__fail(t->ctx, CL16_ERR_OUT_OF_MEMORY, "out of host memory (%zu bytes)", count * 2);
    if (t->dtype == CL16_BF16)
        cl16_floats_to_bf16s(src, h, count);
    else
        cl16_floats_to_halves(src, h, count);
    s = cl16_tensor_write_raw(t, h, t->bytes);
    free(h);
    return s;
}

cl16_status cl16_tensor_read_f32(const cl16_tensor *t, float *dst, size_t count) {
    cl16_status s = check_io(t, dst, count, t ? (size_t)t->numel : 0, "tensor_read_f32", "elements");
    if (s) return s;
    if (t->dtype == CL16_F32) return cl16_tensor_read_raw(t, dst, t->bytes);
    if (t->dtype == CL16_I32) {
        int32_t *v = malloc(count * sizeof *v);
        if (!v) return cl16__fail(t->ctx, CL16_ERR_OUT_OF_MEMORY, "out of host memory (%zu bytes)", count * 4);
        s = cl16_tensor_read_raw(t, v, t->bytes);
        for (size_t i = 0; !s && i < count; i++) dst[i] = (float)v[i];
        free(v);
        return s;
    }
    uint16_t *h = malloc(count * sizeof *h);
    if (!h) return cl16__fail(t->ctx, CL16_ERR_OUT_OF_MEMORY, "out of host memory (%zu bytes)", count * 2);
    s = cl16_tensor_read_raw(t, h, t->bytes);
    if (!s && t->dtype == CL16_BF16) cl16_bf16s_to_floats(h, dst, count);
    else if (!s) cl16_halves_to_floats(h, dst, count);
    free(h);
    return s;
}

cl16_status cl16_tensor_fill(cl16_tensor *t, float value) {
    if (!t) return CL16_ERR_INVALID_ARG;
    if (t->ctx->init_status) return t->ctx->init_status;
    /* The pattern is the element's bits, rounded on the host by the exact converter. */
    uint16_t h = t->dtype == CL16_BF16 ? cl16_float_to_bf16(value) : cl16_float_to_half(value);
    int32_t iv = (int32_t)value;
    if (t->dtype == CL16_I32 && !((float)iv == value))
        return cl16__fail(t->ctx, CL16_ERR_INVALID_ARG, "tensor_fill: %g is not an int32 for an i32 tensor",
                          (double)value);
    const void *pat = t->dtype == CL16_F16 || t->dtype == CL16_BF16 ? (const void *)&h
                      : t->dtype == CL16_I32 ? (const void *)&iv
                                             : (const void *)&value;
    cl_event *ev = cl16__prof_slot(t->ctx);
    cl_int err = clEnqueueFillBuffer(t->ctx->queue, t->mem, pat, cl16_dtype_size(t->dtype), 0,
                                     t->bytes, 0, NULL, ev);
    cl16__prof_commit(t->ctx, ev, err);
    return err ? cl16__cl_fail(t->ctx, err, "clEnqueueFillBuffer") : CL16_OK;
}

cl16_status cl16_tensor_copy(cl16_tensor *dst, const cl16_tensor *src) {
    if (!dst || !src) return CL16_ERR_INVALID_ARG;
    cl16_ctx *ctx = dst->ctx;
    if (ctx->init_status) return ctx->init_status;
    if (src->ctx != ctx)
        return cl16__fail(ctx, CL16_ERR_INVALID_ARG, "tensor_copy: src belongs to another context");
    if (src->numel != dst->numel)
        return cl16__fail(ctx, CL16_ERR_SHAPE, "tensor_copy: src has %" PRId64 " elements, dst %" PRId64,
                          src->numel, dst->numel);
    cl_int err;
    if ((src->dtype == CL16_I32) != (dst->dtype == CL16_I32))
        return cl16__fail(ctx, CL16_ERR_SHAPE, "tensor_copy: cannot convert between %s and %s",
                          cl16_dtype_name(src->dtype), cl16_dtype_name(dst->dtype));
    if (src->dtype == dst->dtype) {
        cl_event *ev = cl16__prof_slot(ctx);
        err = clEnqueueCopyBuffer(ctx->queue, src->mem, dst->mem, 0, 0, dst->bytes, 0, NULL, ev);
        cl16__prof_commit(ctx, ev, err);
        return err ? cl16__cl_fail(ctx, err, "clEnqueueCopyBuffer") : CL16_OK;
    }
    /* One kernel per ordered pair of the float dtypes (f32, f16, bf16). */
    char name[40];
    snprintf(name, sizeof name, "cl16_cast_%s_%s", cl16_dtype_name(src->dtype), cl16_dtype_name(dst->dtype));
    cl16_variant v;
    char defines[256];
    cl16__default_variant(ctx, "eltwise.cl", src->dtype, &v, defines, sizeof defines);
    cl_kernel k;
    cl16_status s = cl16__kernel(ctx, "eltwise.cl", &v, name, &k);
    if (s) return s;
    cl_ulong n = (cl_ulong)src->numel;
    err = clSetKernelArg(k, 0, sizeof(cl_mem), &src->mem);
    if (!err) err = clSetKernelArg(k, 1, sizeof(cl_mem), &dst->mem);
    if (!err) err = clSetKernelArg(k, 2, sizeof n, &n);
    size_t local = 64, global = ((size_t)n + local - 1) / local * local;
    if (!err) err = cl16__enqueue(ctx, k, 1, &global, NULL);
    return err ? cl16__cl_fail(ctx, err, "%s", name) : CL16_OK;
}
