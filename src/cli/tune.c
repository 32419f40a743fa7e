/* tune.c (CLI) - `cl16 tune gemm`: runs the GEMM tuner on one device, prints
 * every measurement as it goes and the winner per shape class, and saves the
 * result in the cache directory for later runs on that device; `cl16 tune
 * clblast-import` keeps CLBlast's own tuner's parameters the same way. */
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"

static void print_progress(void *user, const char *line) {
    (void)user;
    fprintf(stderr, "  %s\n", line);
    fflush(stderr);
}

/* `cl16 tune clblast-import FILE [--device D]`: keeps parameters from CLBlast's
 * own tuner (converted by scripts/tune-clblast.sh) for the device they were tuned
 * on; `cl16 bench gemm` then measures its clblast_tuned peers with them. */
static int tune_clblast_import(int argc, char **argv, const char *device) {
    const char *file = NULL;
    for (int i = 2; i < argc; i++) {
        if (i + 1 < argc && !strcmp(argv[i], "--device")) device = argv[++i];
        else if (!file && argv[i][0] != '-') file = argv[i];
        else {
            fprintf(stderr, "cl16 tune clblast-import: unknown or extra argument '%s'\n", argv[i]);
            return CL16_EXIT_USAGE;
        }
    }
    if (!file) {
        fprintf(stderr, "cl16 tune clblast-import: which file? (cl16 tune clblast-import FILE "
                        "[--device D]; scripts/tune-clblast.sh writes it)\n");
        return CL16_EXIT_USAGE;
    }
    cl16_ctx *ctx;
    int rc = cli_ctx(&ctx, device, 0, 0);
    if (rc) return rc;
    char dest[4200];
    cl16_status s = cl16_clblast_tuned_import(ctx, file, dest, sizeof dest);
    if (s) rc = cli_fail(s, "tune clblast-import", cl16_ctx_last_error(ctx));
    else printf("saved %s\n", dest);
    cl16_ctx_free(ctx);
    return rc;
}

int cmd_tune(int argc, char **argv, const char *device) {
    if (argc >= 2 && !strcmp(argv[1], "clblast-import")) return tune_clblast_import(argc, argv, device);
    if (argc < 2 || strcmp(argv[1], "gemm")) {
        fprintf(stderr, "cl16 tune: what to tune? (cl16 tune gemm [--quick] [--dtype f16|f32|both] "
                        "[--no-save], or cl16 tune clblast-import FILE: see scripts/tune-clblast.sh)\n");
        return CL16_EXIT_USAGE;
    }
    cl16_tune_opts o;
    cl16_tune_opts_init(&o);
    for (int i = 2; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "--quick")) o.quick = 1;
        else if (!strcmp(a, "--no-save")) o.save = 0;
        else if (v && !strcmp(a, "--device")) { device = v; i++; }
        else if (v && !strcmp(a, "--dtype")) {
            o.f16 = !strcmp(v, "f16") || !strcmp(v, "both");
            o.f32 = !strcmp(v, "f32") || !strcmp(v, "both");
            if (!o.f16 && !o.f32) {
                fprintf(stderr, "cl16 tune gemm: --dtype must be f16, f32 or both, got '%s'\n", v);
                return CL16_EXIT_USAGE;
            }
            i++;
        } else {
            fprintf(stderr, "cl16 tune gemm: unknown or incomplete option '%s'\n", a);
            return CL16_EXIT_USAGE;
        }
    }
    cl16_ctx *ctx;
    int rc = cli_ctx(&ctx, device, 0, 0);
    if (rc) return rc;
    const cl16_device_info *d = cl16_ctx_device(ctx);
    fprintf(stderr, "tuning GEMM on device %d: %s (%s), half path %s%s\n", d->index, d->name, d->driver,
            cl16_ctx_half_path(ctx) == CL16_HALF_NATIVE ? "native" : "storage",
            o.quick ? ", quick grid" : "");
    o.progress = print_progress;
    cl16_status s = cl16_gemm_tune(ctx, &o);
    if (s) {
        rc = cli_fail(s, "tune gemm", cl16_ctx_last_error(ctx));
    } else if (o.save) {
        printf("saved %s\n", cl16_gemm_tune_path(ctx));
    } else {
        printf("not saved (--no-save)\n");
    }
    cl16_ctx_free(ctx);
    return rc;
}
