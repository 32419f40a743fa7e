/* eval.c (CLI) - `cl16 eval` (accuracy and loss of a model file on a test set)
 * and `cl16 convert` (a model file's floating-point tensors into f16, bf16 or f32,
 * with the cast report; an overflow is refused). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "cli/train.h"

static const char *eval_help =
    "usage: cl16 eval --model-file FILE.safetensors [--data D] [options]\n"
    "\n"
    "Accuracy and mean loss of a model file on a data set's test split.\n"
    "  --model-file FILE    a model or checkpoint (cl16's or PyTorch's safetensors)\n"
    "  --model M            architecture; required for a file without metadata,\n"
    "                       otherwise it must match the file's (else an error)\n"
    "  --data D             fashion-mnist | mnist | cifar10 (default: the data set the\n"
    "                       file was trained on, from its metadata)\n"
    "  --data-dir DIR       where the files are (default /usr/share/datasets/D)\n"
    "  --precision P        fp32 | fp16 | bf16 (default: the precision of the file's\n"
    "                       weights)\n"
    "  --batch B            images per forward pass (default 256)\n"
    "  --limit N            the first N test images (default all)\n"
    "  --mean A[,B,C] --std A[,B,C]   normalisation (default: the file's, else the data set's)\n"
    "  --device D           device index or name substring\n"
    "  --json               print exactly {\"accuracy\":A,\"loss\":L,\"count\":N}\n";

static const char *convert_help =
    "usage: cl16 convert --in A.safetensors --out B.safetensors --dtype f16|bf16|f32 [--force]\n"
    "\n"
    "Writes the model in A with its floating-point tensors in the given dtype (BatchNorm\n"
    "running statistics stay f32, counters I64; bf16 is written as safetensors BF16, as\n"
    "PyTorch does), rounding to nearest even, and prints the cast report (values,\n"
    "overflowed, flushed to zero, subnormal). A finite value beyond the target's range\n"
    "(f16: |x| > 65504 after rounding; bf16: above 3.39e38) is an error naming the\n"
    "tensor, and nothing is written. B is a model file: a checkpoint's optimizer state and\n"
    "run metadata are left out (it can be evaluated or continued, not resumed);\n"
    "\"arch\" and the normalisation and data set names are kept. A NaN or infinity in\n"
    "A is refused too (never a silent NaN model on disk) unless --force is given,\n"
    "e.g. to keep a diverged model for inspection.\n";

/* The dtype most of a file's floating-point values are stored in. */
static cl16_dtype file_dtype(const cl16_safetensors *f) {
    int64_t n16 = 0, nb16 = 0, n32 = 0;
    for (size_t i = 0; i < cl16_safetensors_count(f); i++) {
        const cl16_st_tensor *t = cl16_safetensors_at(f, i);
        if (!strncmp(t->name, "optim.", 6)) continue;
        if (t->dtype == CL16_ST_F16) n16 += (int64_t)t->bytes / 2;
        if (t->dtype == CL16_ST_BF16) nb16 += (int64_t)t->bytes / 2;
        if (t->dtype == CL16_ST_F32) n32 += (int64_t)t->bytes / 4;
    }
    return nb16 > n16 && nb16 > n32 ? CL16_BF16 : n16 > n32 ? CL16_F16 : CL16_F32;
}

int cmd_eval(int argc, char **argv, const char *device) {
    const char *cmd = "eval", *path = NULL, *arch = NULL, *data = NULL, *dir = NULL;
    int json = 0, have_prec = 0, have_mean = 0, have_std = 0;
    int64_t batch = 256, limit = 0;
    cl16_dtype dtype = CL16_F32;
    float mean_o[3], std_o[3];
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = NULL;
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            fputs(eval_help, stdout);
            return 0;
        }
        if (!strcmp(a, "--json")) {
            json = 1;
            continue;
        }
        int known = !strcmp(a, "--model-file") || !strcmp(a, "--model") || !strcmp(a, "--data") ||
                    !strcmp(a, "--data-dir") || !strcmp(a, "--precision") ||
                    !strcmp(a, "--batch") || !strcmp(a, "--limit") || !strcmp(a, "--mean") ||
                    !strcmp(a, "--std") || !strcmp(a, "--device");
        if (!known) {
            fprintf(stderr, "cl16 eval: unknown option '%s' (see cl16 eval --help)\n", a);
            return CL16_EXIT_USAGE;
        }
        if (!opt_value(argc, argv, &i, cmd, &v)) return CL16_EXIT_USAGE;
        if (!strcmp(a, "--model-file"))
            path = v;
        else if (!strcmp(a, "--model")) {
            if (!opt_arch(cmd, v)) return CL16_EXIT_USAGE;
            arch = v;
        } else if (!strcmp(a, "--data"))
            data = v;
        else if (!strcmp(a, "--data-dir"))
            dir = v;
        else if (!strcmp(a, "--device"))
            device = v;
        else if (!strcmp(a, "--precision")) {
            if (!opt_precision(cmd, v, &dtype)) return CL16_EXIT_USAGE;
            have_prec = 1;
        } else if (!strcmp(a, "--batch")) {
            if (!opt_i64(cmd, a, v, 1, 65536, &batch)) return CL16_EXIT_USAGE;
        } else if (!strcmp(a, "--limit")) {
            if (!opt_i64(cmd, a, v, 1, INT64_MAX / 2, &limit)) return CL16_EXIT_USAGE;
        } else if (!strcmp(a, "--mean")) {
            if (!opt_f3(cmd, a, v, 0, mean_o)) return CL16_EXIT_USAGE;
            have_mean = 1;
        } else if (!opt_f3(cmd, a, v, 1, std_o))
            return CL16_EXIT_USAGE;
        else
            have_std = 1;
    }
    if (!path) {
        fprintf(stderr, "cl16 eval: --model-file FILE.safetensors is required\n");
        return CL16_EXIT_USAGE;
    }
    cl16_safetensors *f = NULL;
    cl16_dataset *d = NULL;
    cl16_ctx *ctx = NULL;
    cl16_model *m = NULL;
    int rc = cli_read_file(cmd, path, &f);
    if (rc) return rc;
    if (!data) data = cl16_safetensors_meta(f, META_PREFIX "data");
    if (!data) {
        fprintf(stderr, "cl16 eval: %s does not name its data set: give --data\n", path);
        rc = CL16_EXIT_USAGE;
        goto done;
    }
    if (!have_prec) dtype = file_dtype(f);
    if ((rc = cli_load_data(cmd, data, dir, 0, &d)) || (rc = cli_ctx(&ctx, device, 0, 0)) ||
        (rc = cli_model_from_file(cmd, ctx, path, f, arch, d, dtype, json ? stderr : stdout, &m)))
        goto done;
    float mean[3], std[3];
    cli_norm_for(f, d, have_mean ? mean_o : NULL, have_std ? std_o : NULL, mean, std);
    int64_t n;
    int c, h, w, classes;
    cl16_dataset_shape(d, &n, &c, &h, &w, &classes);
    if (limit && limit < n) n = limit;
    double loss, acc;
    char err[4096] = "";
    cl16_status s = cli_evaluate(m, d, n, batch, mean, std, &loss, &acc, err, sizeof err);
    if (s) {
        rc = cli_failc(cmd, s, "evaluation failed", err);
        goto done;
    }
    if (json)
        printf("{\"accuracy\":%.6f,\"loss\":%.6f,\"count\":%lld}\n", acc, loss, (long long)n);
    else
        printf("%s (%s, %s) on the %s test set: accuracy %.2f%% (%lld of %lld), loss %.4f\n",
               path, cl16_model_get_opts(m)->arch, precision_name(dtype), data, 100 * acc,
               (long long)llround(acc * (double)n), (long long)n, loss);
done:
    cl16_model_free(m);
    cl16_ctx_free(ctx);
    cl16_dataset_free(d);
    cl16_safetensors_free(f);
    return rc;
}

/* ---- convert ------------------------------------------------------------------- */

static int ends_with(const char *s, const char *suffix) {
    size_t n = strlen(s), k = strlen(suffix);
    return n >= k && !strcmp(s + n - k, suffix);
}

int cmd_convert(int argc, char **argv, const char *device) {
    (void)device;
    const char *cmd = "convert", *in = NULL, *out = NULL, *dt = NULL;
    int force = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = NULL;
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            fputs(convert_help, stdout);
            return 0;
        }
        if (!strcmp(a, "--force")) {
            force = 1;
            continue;
        }
        if (strcmp(a, "--in") && strcmp(a, "--out") && strcmp(a, "--dtype")) {
            fprintf(stderr, "cl16 convert: unknown option '%s' (see cl16 convert --help)\n", a);
            return CL16_EXIT_USAGE;
        }
        if (!opt_value(argc, argv, &i, cmd, &v)) return CL16_EXIT_USAGE;
        if (!strcmp(a, "--in")) in = v;
        else if (!strcmp(a, "--out")) out = v;
        else dt = v;
    }
    if (!in || !out || !dt) {
        fprintf(stderr, "cl16 convert: --in, --out and --dtype are all required\n");
        return CL16_EXIT_USAGE;
    }
    cl16_dtype to;
    if (!strcmp(dt, "f16") || !strcmp(dt, "fp16"))
        to = CL16_F16;
    else if (!strcmp(dt, "bf16"))
        to = CL16_BF16;
    else if (!strcmp(dt, "f32") || !strcmp(dt, "fp32"))
        to = CL16_F32;
    else {
        fprintf(stderr, "cl16 convert: --dtype must be f16, bf16 or f32, got '%s'\n", dt);
        return CL16_EXIT_USAGE;
    }
    cl16_safetensors *f = NULL;
    int rc = cli_read_file(cmd, in, &f);
    if (rc) return rc;
    size_t count = cl16_safetensors_count(f), kept = 0;
    cl16_st_tensor *ts = calloc(count ? count : 1, sizeof *ts);
    void **bufs = calloc(count ? count : 1, sizeof *bufs);
    cl16_cast_report rep;
    memset(&rep, 0, sizeof rep);
    if (!ts || !bufs) {
        rc = cli_failc(cmd, CL16_ERR_OUT_OF_MEMORY, "cannot allocate the tensor list", "");
        goto done;
    }
    for (size_t i = 0; i < count; i++) {
        const cl16_st_tensor *t = cl16_safetensors_at(f, i);
        if (!strncmp(t->name, "optim.", 6)) continue; /* a checkpoint's optimizer state */
        cl16_st_tensor *o = &ts[kept++];
        *o = *t;
        int is_float = t->dtype == CL16_ST_F32 || t->dtype == CL16_ST_F16 || t->dtype == CL16_ST_BF16;
        if (!is_float) continue; /* counters pass through */
        /* BatchNorm running statistics stay f32, as cl16_model_save writes them. */
        int stat = ends_with(t->name, ".running_mean") || ends_with(t->name, ".running_var");
        cl16_st_dtype want = stat || to == CL16_F32 ? CL16_ST_F32 : to == CL16_F16 ? CL16_ST_F16 : CL16_ST_BF16;
        size_t esz = t->dtype == CL16_ST_F32 ? 4 : 2, n = t->bytes / esz;
        void *buf = malloc(n * (want == CL16_ST_F32 ? 4 : 2) + 1);
        if (!buf) {
            rc = cli_failc(cmd, CL16_ERR_OUT_OF_MEMORY, "cannot allocate a tensor", t->name);
            goto done;
        }
        bufs[i] = buf;
        const unsigned char *src = t->data;
        for (size_t k = 0; k < n; k++) {
            float x;
            if (t->dtype == CL16_ST_F32)
                memcpy(&x, src + 4 * k, 4);
            else {
                uint16_t hbits;
                memcpy(&hbits, src + 2 * k, 2);
                x = t->dtype == CL16_ST_F16 ? cl16_half_to_float(hbits) : cl16_bf16_to_float(hbits);
            }
            rep.values++;
            if (!isfinite(x) && !force) {
                char detail[600];
                snprintf(detail, sizeof detail,
                         "tensor %s holds %s at element %zu; nothing was written (--force writes "
                         "it anyway)",
                         t->name, isnan(x) ? "NaN" : "infinity", k);
                rc = cli_failc(cmd, CL16_ERR_NUMERIC, "non-finite value", detail);
                goto done;
            }
            if (want == CL16_ST_F32) {
                memcpy((char *)buf + 4 * k, &x, 4);
                continue;
            }
            const int bf = want == CL16_ST_BF16;
            uint16_t hv = bf ? cl16_float_to_bf16(x) : cl16_float_to_half(x);
            float back = bf ? cl16_bf16_to_float(hv) : cl16_half_to_float(hv);
            if (isfinite(x) && !isfinite(back)) {
                if (!rep.overflowed++) {
                    char detail[600];
                    snprintf(detail, sizeof detail,
                             "tensor %s holds %g at element %zu, beyond the %s range (%s); "
                             "nothing was written",
                             t->name, (double)x, k, bf ? "bf16" : "f16", bf ? "3.39e38" : "65504");
                    rc = cli_failc(cmd, CL16_ERR_NUMERIC, bf ? "value overflows bf16" : "value overflows f16",
                                   detail);
                    goto done;
                }
            }
            if (x != 0 && back == 0 && !rep.flushed++)
                snprintf(rep.first_flush, sizeof rep.first_flush, "%s", t->name);
            if (back != 0 && fabsf(back) < (bf ? 0x1p-126f : 6.103515625e-05f)) rep.subnormal++;
            memcpy((char *)buf + 2 * k, &hv, 2);
        }
        o->dtype = want;
        o->data = buf;
        o->bytes = n * (want == CL16_ST_F32 ? 4 : 2);
    }
    const char *keys[] = {"arch", META_PREFIX "data", META_PREFIX "mean", META_PREFIX "std"};
    const char *meta[2 * 4 + 1];
    int nm = 0;
    for (int k = 0; k < 4; k++) {
        const char *v = cl16_safetensors_meta(f, keys[k]);
        if (v) meta[2 * nm] = keys[k], meta[2 * nm + 1] = v, nm++;
    }
    meta[2 * nm] = NULL;
    char err[4096] = "";
    cl16_status s = cl16_safetensors_save(out, ts, kept, meta, err, sizeof err);
    if (s) {
        char what[4200];
        snprintf(what, sizeof what, "cannot write %s", out);
        rc = cli_failc(cmd, s, what, err);
        goto done;
    }
    cli_print_cast(stdout, in, cl16_dtype_name(to), &rep);
    printf("wrote %s (%zu tensors)\n", out, kept);
done:
    if (bufs)
        for (size_t i = 0; i < count; i++) free(bufs[i]);
    free(bufs);
    free(ts);
    cl16_safetensors_free(f);
    return rc;
}
