/* test_device.c - device enumeration and selection by index, by name (any
 * case), from the environment, and the error for an unknown device. */
#include <ctype.h>
#include <stdlib.h>

#include "check.h"

static cl16_status open_dev(const char *spec, cl16_ctx **ctx) {
    cl16_ctx_opts o;
    cl16_ctx_opts_init(&o);
    o.device = spec;
    o.cache = 0;
    return cl16_ctx_create(ctx, &o);
}

int main(void) {
    cl16_device_info *list;
    size_t n;
    char err[1024];
    CHECK(cl16_devices(&list, &n, err, sizeof err) == CL16_OK);
    CHECK(n >= 1);
    for (size_t i = 0; i < n; i++) {
        CHECK(list[i].index == (int)i);
        CHECK(list[i].name[0] && list[i].platform[0] && list[i].driver[0]);
        CHECK(list[i].global_mem > 0 && list[i].max_work_group > 0 && list[i].compute_units > 0);
        CHECK(list[i].max_alloc > 0 && list[i].max_alloc <= list[i].global_mem);
        CHECK(list[i].extensions != NULL);
        CHECK(list[i].cl_major >= 1);
    }

    /* By index: the last device. */
    char idx[16];
    snprintf(idx, sizeof idx, "%zu", n - 1);
    cl16_ctx *ctx;
    CHECK_OK(ctx, open_dev(idx, &ctx));
    CHECK(cl16_ctx_device(ctx)->index == (int)(n - 1));
    CHECK(!strcmp(cl16_ctx_device(ctx)->name, list[n - 1].name));
    cl16_ctx_free(ctx);

    /* By name: a piece of the first device's name in upper case. */
    char piece[8] = "";
    size_t l = strlen(list[0].name);
    size_t off = l > 10 ? 3 : 0, take = l - off < 6 ? l - off : 6;
    for (size_t i = 0; i < take; i++) piece[i] = (char)toupper((unsigned char)list[0].name[off + i]);
    CHECK_OK(ctx, open_dev(piece, &ctx));
    CHECK_MSG(strstr(cl16_ctx_device(ctx)->name, list[0].name + off) != NULL ||
                  cl16_ctx_device(ctx)->index == 0,
              "'%s' selected %s", piece, cl16_ctx_device(ctx)->name);
    cl16_ctx_free(ctx);

    /* From the environment when the option is not given. */
    setenv("CL16_DEVICE", idx, 1);
    CHECK_OK(ctx, open_dev(NULL, &ctx));
    CHECK(cl16_ctx_device(ctx)->index == (int)(n - 1));
    cl16_ctx_free(ctx);
    unsetenv("CL16_DEVICE");

    /* Unknown name and out-of-range index: NO_DEVICE, naming it and listing the devices. */
    const char *unknown[] = {"no-such-device-xyz", "999"};
    for (int u = 0; u < 2; u++) {
        cl16_status s = open_dev(unknown[u], &ctx);
        CHECK(s == CL16_ERR_NO_DEVICE);
        const char *msg = cl16_ctx_last_error(ctx);
        CHECK_MSG(strstr(msg, unknown[u]) != NULL, "message does not name '%s': %s", unknown[u], msg);
        CHECK_MSG(strstr(msg, list[0].name) != NULL, "message does not list the devices: %s", msg);
        /* A failed context refuses further work with the same status. */
        cl16_tensor *t;
        int64_t d = 4;
        CHECK(cl16_tensor_create(ctx, CL16_F32, 1, &d, &t) == CL16_ERR_NO_DEVICE);
        cl16_ctx_free(ctx);
    }

    /* Bad CL16_HALF value is an argument error, not a silent default. */
    setenv("CL16_HALF", "quarter", 1);
    CHECK(open_dev(NULL, &ctx) == CL16_ERR_INVALID_ARG);
    CHECK(strstr(cl16_ctx_last_error(ctx), "CL16_HALF") != NULL);
    cl16_ctx_free(ctx);
    unsetenv("CL16_HALF");

    cl16_devices_free(list, n);
    CHECK(!strcmp(cl16_status_str(CL16_ERR_NO_DEVICE), "no such device"));
    CHECK(cl16_status_str((cl16_status)99) != NULL);
    return check_done("test_device");
}
