/* check.h - the tiny assertion kit of cl16's tests: CHECK records a failure
 * with its location and keeps going; a test's exit status is its failure count. */
#ifndef CL16_CHECK_H
#define CL16_CHECK_H
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cl16.h"

static int check_failures = 0;
#define CHECK(cond)                                                                   \
    do {                                                                              \
        if (!(cond)) {                                                                \
            fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #cond);  \
            check_failures++;                                                         \
        }                                                                             \
    } while (0)
#define CHECK_MSG(cond, ...)                                                          \
    do {                                                                              \
        if (!(cond)) {                                                                \
            fprintf(stderr, "%s:%d: CHECK failed: %s: ", __FILE__, __LINE__, #cond);  \
            fprintf(stderr, __VA_ARGS__);                                             \
            fputc('\n', stderr);                                                      \
            check_failures++;                                                         \
        }                                                                             \
    } while (0)
/* A status that must be CL16_OK; prints the context's detail otherwise. */
#define CHECK_OK(ctx, expr)                                                           \
    do {                                                                              \
        cl16_status s_ = (expr);                                                      \
        if (s_ != CL16_OK) {                                                          \
            fprintf(stderr, "%s:%d: %s -> %s: %s\n", __FILE__, __LINE__, #expr,       \
                    cl16_status_str(s_), cl16_ctx_last_error(ctx));                   \
            check_failures++;                                                         \
        }                                                                             \
    } while (0)
/* Exit code ctest treats as "skipped" (SKIP_RETURN_CODE 77); always say why. */
#define SKIP(...)                                                                     \
    do {                                                                              \
        printf("SKIP: ");                                                             \
        printf(__VA_ARGS__);                                                          \
        printf("\n");                                                                 \
        exit(77);                                                                     \
    } while (0)
static inline int check_done(const char *name) {
    if (check_failures) fprintf(stderr, "%s: %d check(s) failed\n", name, check_failures);
    else printf("%s: all checks passed\n", name);
    return check_failures ? 1 : 0;
}

/* Opens a context with a private cache directory (NULL = cache off). */
static inline cl16_ctx *test_ctx(const char *cache_dir) {
    cl16_ctx_opts o;
    cl16_ctx_opts_init(&o);
    o.cache = cache_dir ? 1 : 0;
    o.cache_dir = cache_dir;
    cl16_ctx *ctx;
    cl16_status s = cl16_ctx_create(&ctx, &o);
    if (s) {
        fprintf(stderr, "cannot create a context: %s: %s\n", cl16_status_str(s), cl16_ctx_last_error(ctx));
        cl16_ctx_free(ctx);
        exit(1);
    }
    return ctx;
}
#endif
