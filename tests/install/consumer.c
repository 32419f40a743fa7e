/* consumer.c - a program outside the cl16 tree, built against an installed
 * cl16 to prove the header, library, pkg-config file and CMake package work. */
#include <cl16.h>
#include <stdio.h>

int main(void) {
    cl16_ctx *ctx;
    cl16_ctx_opts o;
    cl16_ctx_opts_init(&o);
    o.cache = 0;
    cl16_status s = cl16_ctx_create(&ctx, &o);
    if (s) {
        fprintf(stderr, "consumer: %s: %s\n", cl16_status_str(s), cl16_ctx_last_error(ctx));
        cl16_ctx_free(ctx);
        return 1;
    }
    int64_t n = 4;
    cl16_tensor *t;
    float x[4] = {1, 2, 3, 0.1f}, y[4];
    s = cl16_tensor_create(ctx, CL16_F16, 1, &n, &t);
    if (!s) s = cl16_tensor_write_f32(t, x, 4);
    if (!s) s = cl16_tensor_read_f32(t, y, 4);
    int ok = !s && y[2] == 3.0f && y[3] == cl16_half_to_float(cl16_float_to_half(0.1f));
    printf("consumer: cl16 %s, round trip %s\n", cl16_version(), ok ? "ok" : "WRONG");
    cl16_tensor_free(t);
    cl16_ctx_free(ctx);
    return ok ? 0 : 1;
}
