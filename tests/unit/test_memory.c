/* test_memory.c - every device allocation is counted: exact current and peak
 * bytes over an allocate/free sequence, and a refused allocation reports the
 * bytes asked for and the device's memory without changing the count. */
#include <inttypes.h>

#include "check.h"

int main(void) {
    cl16_ctx *ctx = test_ctx(NULL);
    uint64_t cur, peak;
    cl16_ctx_memory(ctx, &cur, &peak);
    CHECK(cur == 0 && peak == 0);

    int64_t d1[2] = {3, 5}, d2[1] = {7}, d3[4] = {2, 3, 4, 5};
    cl16_tensor *a, *b, *c;
    CHECK_OK(ctx, cl16_tensor_create(ctx, CL16_F16, 2, d1, &a)); /* 30 bytes */
    CHECK(cl16_tensor_bytes(a) == 30 && cl16_tensor_numel(a) == 15);
    CHECK_OK(ctx, cl16_tensor_create(ctx, CL16_F32, 1, d2, &b)); /* 28 bytes */
    cl16_ctx_memory(ctx, &cur, &peak);
    CHECK_MSG(cur == 58 && peak == 58, "cur %" PRIu64 " peak %" PRIu64, cur, peak);
    cl16_tensor_free(a);
    cl16_ctx_memory(ctx, &cur, &peak);
    CHECK(cur == 28 && peak == 58);
    CHECK_OK(ctx, cl16_tensor_create(ctx, CL16_F16, 4, d3, &c)); /* 240 bytes */
    CHECK(cl16_tensor_ndim(c) == 4 && cl16_tensor_dim(c, 3) == 5 && cl16_tensor_dtype(c) == CL16_F16);
    cl16_ctx_memory(ctx, &cur, &peak);
    CHECK(cur == 268 && peak == 268);
    cl16_tensor_free(c);
    cl16_tensor_free(b);
    cl16_ctx_memory(ctx, &cur, &peak);
    CHECK(cur == 0 && peak == 268);

    /* Larger than the device: refused up front, with the numbers. */
    const cl16_device_info *dev = cl16_ctx_device(ctx);
    int64_t huge[2] = {(int64_t)(dev->global_mem / 2 + 1), 4};
    cl16_tensor *h = NULL;
    cl16_status s = cl16_tensor_create(ctx, CL16_F32, 2, huge, &h);
    CHECK(s == CL16_ERR_OUT_OF_MEMORY && h == NULL);
    const char *msg = cl16_ctx_last_error(ctx);
    char want[64];
    snprintf(want, sizeof want, "%" PRIu64 " bytes", (uint64_t)huge[0] * 16);
    CHECK_MSG(strstr(msg, want) != NULL, "message lacks '%s': %s", want, msg);
    snprintf(want, sizeof want, "%" PRIu64, dev->global_mem);
    CHECK_MSG(strstr(msg, want) != NULL, "message lacks the device memory: %s", msg);
    cl16_ctx_memory(ctx, &cur, &peak);
    CHECK(cur == 0 && peak == 268);

    /* Bad shapes. */
    int64_t zero[2] = {3, 0};
    CHECK(cl16_tensor_create(ctx, CL16_F32, 2, zero, &h) == CL16_ERR_SHAPE);
    CHECK(cl16_tensor_create(ctx, CL16_F32, 5, d3, &h) == CL16_ERR_SHAPE);
    CHECK(cl16_tensor_create(ctx, (cl16_dtype)7, 1, d2, &h) == CL16_ERR_INVALID_ARG);
    cl16_ctx_free(ctx);
    return check_done("test_memory");
}
