/* status.c - status strings, the per-context error detail, and the one place
 * where OpenCL error codes are mapped into cl16 statuses. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "runtime/internal.h"

const char *cl16_version(void) { return CL16_VERSION_STRING; }

const char *cl16_status_str(cl16_status s) {
    switch (s) {
    case CL16_OK: return "ok";
    case CL16_ERR_INVALID_ARG: return "invalid argument";
    case CL16_ERR_NO_DEVICE: return "no such device";
    case CL16_ERR_UNSUPPORTED: return "not supported by the device";
    case CL16_ERR_OPENCL: return "OpenCL error";
    case CL16_ERR_BUILD: return "kernel build failed";
    case CL16_ERR_OUT_OF_MEMORY: return "out of memory";
    case CL16_ERR_IO: return "input/output error";
    case CL16_ERR_FORMAT: return "corrupt or malformed data";
    case CL16_ERR_SHAPE: return "shape or dtype mismatch";
    case CL16_ERR_NUMERIC: return "non-finite value";
    case CL16_ERR_INTERNAL: return "internal error";
    }
    return "unknown status";
}

const char *cl16_ctx_last_error(const cl16_ctx *ctx) {
    if (!ctx) return "no context (host out of memory)";
    return ctx->err ? ctx->err : "";
}

static void set_detail(cl16_ctx *ctx, const char *fmt, va_list ap) {
    va_list ap2;
    va_copy(ap2, ap);
    int n = vsnprintf(NULL, 0, fmt, ap2);
    va_end(ap2);
    if (n < 0) return;
    size_t need = (size_t)n + 1;
    if (need > ctx->err_cap) {
        char *p = realloc(ctx->err, need);
        if (!p) return; /* keep the old detail rather than lose the context */
        ctx->err = p;
        ctx->err_cap = need;
    }
    vsnprintf(ctx->err, need, fmt, ap);
}

cl16_status cl16__fail(cl16_ctx *ctx, cl16_status s, const char *fmt, ...) {
    if (!ctx) return s;
    va_list ap;
    va_start(ap, fmt);
    set_detail(ctx, fmt, ap);
    va_end(ap);
    return s;
}

void cl16__append_error(cl16_ctx *ctx, const char *text) {
    if (!ctx || !text) return;
    size_t old = ctx->err ? strlen(ctx->err) : 0, add = strlen(text);
    if (old + add + 1 > ctx->err_cap) {
        char *p = realloc(ctx->err, old + add + 1);
        if (!p) return;
        if (!ctx->err) p[0] = '\0';
        ctx->err = p;
        ctx->err_cap = old + add + 1;
    }
    memcpy(ctx->err + old, text, add + 1);
}

const char *cl16__cl_error_name(cl_int code) {
    switch (code) {
#define E(x) \
    case x: return #x;
        E(CL_SUCCESS) E(CL_DEVICE_NOT_FOUND) E(CL_DEVICE_NOT_AVAILABLE)
        E(CL_COMPILER_NOT_AVAILABLE) E(CL_MEM_OBJECT_ALLOCATION_FAILURE)
        E(CL_OUT_OF_RESOURCES) E(CL_OUT_OF_HOST_MEMORY) E(CL_PROFILING_INFO_NOT_AVAILABLE)
        E(CL_MEM_COPY_OVERLAP) E(CL_IMAGE_FORMAT_MISMATCH) E(CL_IMAGE_FORMAT_NOT_SUPPORTED)
        E(CL_BUILD_PROGRAM_FAILURE) E(CL_MAP_FAILURE) E(CL_MISALIGNED_SUB_BUFFER_OFFSET)
        E(CL_EXEC_STATUS_ERROR_FOR_EVENTS_IN_WAIT_LIST) E(CL_COMPILE_PROGRAM_FAILURE)
        E(CL_LINKER_NOT_AVAILABLE) E(CL_LINK_PROGRAM_FAILURE) E(CL_DEVICE_PARTITION_FAILED)
        E(CL_KERNEL_ARG_INFO_NOT_AVAILABLE) E(CL_INVALID_VALUE) E(CL_INVALID_DEVICE_TYPE)
        E(CL_INVALID_PLATFORM) E(CL_INVALID_DEVICE) E(CL_INVALID_CONTEXT)
        E(CL_INVALID_QUEUE_PROPERTIES) E(CL_INVALID_COMMAND_QUEUE) E(CL_INVALID_HOST_PTR)
        E(CL_INVALID_MEM_OBJECT) E(CL_INVALID_IMAGE_FORMAT_DESCRIPTOR) E(CL_INVALID_IMAGE_SIZE)
        E(CL_INVALID_SAMPLER) E(CL_INVALID_BINARY) E(CL_INVALID_BUILD_OPTIONS)
        E(CL_INVALID_PROGRAM) E(CL_INVALID_PROGRAM_EXECUTABLE) E(CL_INVALID_KERNEL_NAME)
        E(CL_INVALID_KERNEL_DEFINITION) E(CL_INVALID_KERNEL) E(CL_INVALID_ARG_INDEX)
        E(CL_INVALID_ARG_VALUE) E(CL_INVALID_ARG_SIZE) E(CL_INVALID_KERNEL_ARGS)
        E(CL_INVALID_WORK_DIMENSION) E(CL_INVALID_WORK_GROUP_SIZE) E(CL_INVALID_WORK_ITEM_SIZE)
        E(CL_INVALID_GLOBAL_OFFSET) E(CL_INVALID_EVENT_WAIT_LIST) E(CL_INVALID_EVENT)
        E(CL_INVALID_OPERATION) E(CL_INVALID_GL_OBJECT) E(CL_INVALID_BUFFER_SIZE)
        E(CL_INVALID_MIP_LEVEL) E(CL_INVALID_GLOBAL_WORK_SIZE) E(CL_INVALID_PROPERTY)
        E(CL_INVALID_IMAGE_DESCRIPTOR) E(CL_INVALID_COMPILER_OPTIONS) E(CL_INVALID_LINKER_OPTIONS)
        E(CL_INVALID_DEVICE_PARTITION_COUNT)
#undef E
    case -1001: return "CL_PLATFORM_NOT_FOUND_KHR (no OpenCL platform: is an ICD installed?)";
    default: return "unknown OpenCL error";
    }
}

cl16_status cl16__status_of_cl(cl_int code) {
    switch (code) {
    case CL_MEM_OBJECT_ALLOCATION_FAILURE:
    case CL_OUT_OF_HOST_MEMORY:
    case CL_INVALID_BUFFER_SIZE:
        return CL16_ERR_OUT_OF_MEMORY;
    case CL_BUILD_PROGRAM_FAILURE:
    case CL_COMPILE_PROGRAM_FAILURE:
    case CL_LINK_PROGRAM_FAILURE:
        return CL16_ERR_BUILD;
    case CL_DEVICE_NOT_FOUND:
    case CL_DEVICE_NOT_AVAILABLE:
    case -1001:
        return CL16_ERR_NO_DEVICE;
    default:
        return CL16_ERR_OPENCL;
    }
}

cl16_status cl16__cl_fail(cl16_ctx *ctx, cl_int code, const char *what, ...) {
    char buf[512];
    va_list ap;
    va_start(ap, what);
    vsnprintf(buf, sizeof buf, what, ap);
    va_end(ap);
    const char *dev = ctx && ctx->dev.name[0] ? ctx->dev.name : "?";
    return cl16__fail(ctx, cl16__status_of_cl(code), "%s failed on device '%s': %s (%d)", buf,
                      dev, cl16__cl_error_name(code), (int)code);
}

void cl16__warn(cl16_ctx *ctx, const char *fmt, ...) {
    char buf[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    if (ctx && ctx->log)
        ctx->log(ctx->log_user, buf);
    else
        fprintf(stderr, "cl16: warning: %s\n", buf);
}

double cl16__now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}
