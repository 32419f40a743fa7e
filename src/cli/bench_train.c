/* bench_train.c - `cl16 bench train`: the time and peak device memory of a
 * whole training step (upload, forward, loss, backward, optimizer) of each
 * built-in model in fp32 and fp16 on one device, and their ratios. Each run
 * gets a fresh context so that its peak memory is its own. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/bench_util.h"
#include "cli/cli.h"

typedef struct result {
    const char *model;
    const char *dtype; /* the precision's name */
    int batch, steps;
    double first_s, step_s, images_per_s, loss;
    double median_s, max_s; /* over the blocks: the spread of ms/step */
    uint64_t peak;
    int rc;
} result;

/* One model in one dtype: warm-up steps (kernel builds, algorithm choices),
 * then `steps` timed steps; the best of `blocks` blocks per step. */
static int run_one(const char *device, const char *model, cl16_precision prec, int batch,
                   int steps, int blocks, result *r) {
    memset(r, 0, sizeof *r);
    const cl16_dtype dt = cl16_precision_dtype(prec);
    r->model = model, r->dtype = cl16_precision_name(prec);
    r->batch = batch, r->steps = steps;
    cl16_ctx *ctx = NULL;
    int rc = cli_ctx(&ctx, device, 0, 0);
    if (rc)
        return r->rc = rc;
    cl16_model_opts mo;
    cl16_model_opts_init(&mo);
    mo.arch = model, mo.dtype = dt;
    if (strncmp(model, "resnet", 6) == 0) /* CIFAR-10's shape, what ResNet-20 is for */
        mo.channels = 3, mo.height = mo.width = 32;
    cl16_model *m = NULL;
    cl16_trainer *t = NULL;
    cl16_train_opts to;
    cl16_train_opts_init(&to);
    to.optim.lr = 0.01f, to.optim.momentum = 0.9f, to.optim.weight_decay = 5e-4f;
    to.precision = prec; /* 16-bit: dynamic loss scaling and stall counting on, as in training */
    const size_t px = (size_t)batch * mo.channels * mo.height * mo.width;
    float *img = malloc(px * sizeof *img);
    int32_t *lab = malloc((size_t)batch * sizeof *lab);
    cl16_status s = img && lab ? CL16_OK : CL16_ERR_OUT_OF_MEMORY;
    if (!s)
        s = cl16_model_create(ctx, &mo, 1, &m);
    if (!s)
        s = cl16_trainer_create(m, &to, &t);
    if (s) {
        rc = cli_fail(s, "bench train", cl16_ctx_last_error(ctx));
        goto out;
    }
    bench_fill_random(img, px, 7, 0);
    for (int i = 0; i < batch; i++)
        lab[i] = (i * 7) % mo.classes;
    double t0 = bench_now();
    for (int i = 0; i < 2 && !s; i++) /* warm-up */
        s = cl16_trainer_step(t, img, lab, batch, &r->loss, NULL);
    r->first_s = bench_now() - t0;
    r->step_s = 1e30;
    double per_block[16];
    int nb = 0;
    for (int b = 0; b < blocks && !s; b++) {
        t0 = bench_now();
        for (int i = 0; i < steps && !s; i++)
            s = cl16_trainer_step(t, img, lab, batch, &r->loss, NULL);
        if (!s)
            s = cl16_ctx_finish(ctx);
        const double per = (bench_now() - t0) / steps;
        if (per < r->step_s)
            r->step_s = per;
        if (nb < 16)
            per_block[nb++] = per;
    }
    if (s) {
        rc = cli_fail(s, "bench train", cl16_ctx_last_error(ctx));
        goto out;
    }
    r->images_per_s = batch / r->step_s;
    for (int i = 1; i < nb; i++) /* insertion sort: a handful of blocks */
        for (int j = i; j > 0 && per_block[j - 1] > per_block[j]; j--) {
            const double tmp = per_block[j];
            per_block[j] = per_block[j - 1], per_block[j - 1] = tmp;
        }
    r->median_s = nb ? per_block[nb / 2] : r->step_s;
    r->max_s = nb ? per_block[nb - 1] : r->step_s;
    uint64_t cur;
    cl16_ctx_memory(ctx, &cur, &r->peak);
out:
    free(img), free(lab);
    cl16_trainer_free(t);
    cl16_model_free(m);
    cl16_ctx_free(ctx);
    return r->rc = rc;
}

static const char *usage_text =
    "usage: cl16 bench train [--models M1,M2,...] [--precisions P1,P2,...] [--batch B]\n"
    "                        [--steps S] [--quick] [--json FILE]\n"
    "  Time whole training steps (upload, forward, loss, backward, SGD with momentum)\n"
    "  of each model in each precision on random data, each run in a fresh context;\n"
    "  report ms/step, images/s, peak device memory and the ratios to fp32.\n"
    "  defaults: --models lenet5,resnet20 --precisions fp32,fp16 (any of fp32 fp16\n"
    "  fp16-sr fp16-kahan mixed bf16 bf16-sr; fp32 first) --batch 128 --steps 5 (best of 3 blocks);\n"
    "  --quick: batch 32, 2 steps, 2 blocks. ResNets take 3x32x32 inputs, the others 1x28x28.\n";

int bench_train(int argc, char **argv, const char *device) {
    char models[256] = "lenet5,resnet20", precs[256] = "fp32,fp16";
    int batch = 128, steps = 5, blocks = 3, quick = 0;
    const char *json = NULL;
    for (int i = 2; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        const int c = bench_common_opt(argc, argv, &i, usage_text, &quick, &json, &device);
        if (c == 2)
            return 0;
        if (c)
            continue;
        if (v && !strcmp(a, "--models")) {
            snprintf(models, sizeof models, "%s", v), i++;
        } else if (v && !strcmp(a, "--precisions")) {
            snprintf(precs, sizeof precs, "%s", v), i++;
        } else if (v && (!strcmp(a, "--batch") || !strcmp(a, "--steps"))) {
            char *end;
            long x = strtol(v, &end, 10);
            if (*end || x < 1 || x > 65536) {
                fprintf(stderr, "cl16 bench train: %s must be an integer in 1..65536, got '%s'\n", a, v);
                return CL16_EXIT_USAGE;
            }
            *(a[2] == 'b' ? &batch : &steps) = (int)x, i++;
        } else {
            fprintf(stderr, "cl16 bench train: unknown or incomplete option '%s'\n%s", a, usage_text);
            return CL16_EXIT_USAGE;
        }
    }
    if (quick)
        batch = 32, steps = 2, blocks = 2;
    bench_out jo;
    if (bench_out_open(&jo, json, "bench train"))
        return cli_exit_code(CL16_ERR_IO);
    FILE *jf = jo.f;
    enum { MAXP = 8 };
    static result res[32][MAXP];
    const char *names[32];
    cl16_precision pl[MAXP];
    int n = 0, np = 0, rc = 0;
    for (char *tok = strtok(models, ","); tok && n < 32; tok = strtok(NULL, ","))
        names[n++] = tok;
    for (char *tok = strtok(precs, ","); tok; tok = strtok(NULL, ",")) {
        if (np == MAXP || cl16_precision_parse(tok, &pl[np]) || pl[np] == CL16_PREC_AUTO ||
            (np == 0) != (pl[np] == CL16_PREC_FP32)) {
            fprintf(stderr, "cl16 bench train: --precisions takes fp32 first, then up to %d of "
                    "fp16, fp16-sr, fp16-kahan, mixed, bf16, bf16-sr; got '%s'\n", MAXP - 1, tok);
            return CL16_EXIT_USAGE;
        }
        np++;
    }
    cl16_ctx *ctx = NULL; /* for the device line and the JSON head */
    if ((rc = cli_ctx(&ctx, device, 0, 0)))
        goto out;
    fprintf(stderr, "cl16 bench train: %d model(s) at batch %d on %s, half path %s\n", n, batch,
            cl16_ctx_device(ctx)->name,
            cl16_ctx_half_path(ctx) == CL16_HALF_NATIVE ? "native" : "storage");
    printf("%-10s %10s %10s %10s %10s %9s %9s\n", "model", "precision", "ms/step", "images/s", "peak MB",
           "time x", "memory x");
    for (int i = 0; i < n && !rc; i++)
        for (int d = 0; d < np && !rc; d++) {
            fprintf(stderr, "  %s %s ...\n", names[i], cl16_precision_name(pl[d]));
            rc = run_one(device, names[i], pl[d], batch, steps, blocks, &res[i][d]);
            if (rc)
                break;
            const result *r = &res[i][d], *b = &res[i][0];
            printf("%-10s %10s %10.2f %10.1f %10.2f", r->model, r->dtype, r->step_s * 1e3,
                   r->images_per_s, r->peak / 1e6);
            if (d)
                printf(" %9.2f %9.2f\n", r->step_s / b->step_s, (double)r->peak / (double)b->peak);
            else
                printf(" %9s %9s\n", "1", "1");
            fflush(stdout);
        }
    if (!rc && jf) {
        bench_json_head(jf, "train", ctx);
        fprintf(jf, ",\n  \"batch\": %d, \"steps\": %d, \"optimizer\": \"sgd-momentum\",\n  \"runs\": [", batch,
                steps);
        for (int i = 0; i < n; i++)
            for (int d = 0; d < np; d++) {
                const result *r = &res[i][d];
                fprintf(jf, "%s\n    {\"model\": ", i || d ? "," : "");
                bench_json_str(jf, r->model);
                fprintf(jf, ", \"precision\": \"%s\", \"ms_per_step\": ", r->dtype);
                bench_json_num(jf, r->step_s * 1e3);
                fprintf(jf, ", \"ms_per_step_median\": ");
                bench_json_num(jf, r->median_s * 1e3);
                fprintf(jf, ", \"ms_per_step_max\": ");
                bench_json_num(jf, r->max_s * 1e3);
                fprintf(jf, ", \"images_per_s\": ");
                bench_json_num(jf, r->images_per_s);
                fprintf(jf, ", \"peak_device_bytes\": %llu, \"first_steps_s\": ",
                        (unsigned long long)r->peak);
                bench_json_num(jf, r->first_s);
                if (d) {
                    fprintf(jf, ", \"time_vs_fp32\": ");
                    bench_json_num(jf, r->step_s / res[i][0].step_s);
                    fprintf(jf, ", \"memory_vs_fp32\": ");
                    bench_json_num(jf, (double)r->peak / (double)res[i][0].peak);
                }
                fprintf(jf, "}");
            }
        fprintf(jf, "\n  ]\n}\n");
    }
out:
    cl16_ctx_free(ctx);
    if (jf) {
        const int e = bench_out_close(&jo, !rc, "bench train");
        if (!rc)
            rc = e;
    }
    return rc;
}
