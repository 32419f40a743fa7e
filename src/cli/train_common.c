/* train_common.c - helpers shared by train, continue, eval and convert: option
 * values, data sets, building a model from a file, evaluation over a data set. */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "cli/prefetch.h"
#include "cli/train.h"

int cli_failc(const char *cmd, cl16_status s, const char *what, const char *detail) {
    fprintf(stderr, "cl16 %s: %s: %s%s%s\n", cmd, what, cl16_status_str(s),
            detail && *detail ? ": " : "", detail ? detail : "");
    return cli_exit_code(s);
}

int opt_value(int argc, char **argv, int *i, const char *cmd, const char **val) {
    if (*i + 1 >= argc) {
        fprintf(stderr, "cl16 %s: %s needs a value (see cl16 %s --help)\n", cmd, argv[*i], cmd);
        return 0;
    }
    *val = argv[++*i];
    return 1;
}

int opt_i64(const char *cmd, const char *name, const char *s, int64_t lo, int64_t hi, int64_t *out) {
    char *end;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (errno || end == s || *end || v < lo || v > hi) {
        fprintf(stderr, "cl16 %s: %s needs an integer in [%lld, %lld], got '%s'\n", cmd, name,
                (long long)lo, (long long)hi, s);
        return 0;
    }
    *out = v;
    return 1;
}

int opt_u64(const char *cmd, const char *name, const char *s, uint64_t *out) {
    char *end;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno || end == s || *end || s[0] == '-') {
        fprintf(stderr, "cl16 %s: %s needs a non-negative integer, got '%s'\n", cmd, name, s);
        return 0;
    }
    *out = v;
    return 1;
}

int opt_f64(const char *cmd, const char *name, const char *s, double lo, double hi, double *out) {
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (errno || end == s || *end || !isfinite(v) || v < lo || v > hi) {
        fprintf(stderr, "cl16 %s: %s needs a number in [%g, %g], got '%s'\n", cmd, name, lo, hi, s);
        return 0;
    }
    *out = v;
    return 1;
}

int opt_f3(const char *cmd, const char *name, const char *s, int positive, float out[3]) {
    double v[3];
    int n = 0;
    const char *p = s;
    while (n < 3) {
        char *end;
        errno = 0;
        v[n] = strtod(p, &end);
        if (errno || end == p || !isfinite(v[n]) || (positive && v[n] <= 0)) break;
        n++;
        if (*end == 0) {
            p = end;
            break;
        }
        if (*end != ',') {
            n = -1;
            break;
        }
        p = end + 1;
    }
    if ((n != 1 && n != 3) || *p) {
        fprintf(stderr, "cl16 %s: %s needs one number or three separated by commas%s, got '%s'\n",
                cmd, name, positive ? " (each > 0)" : "", s);
        return 0;
    }
    for (int c = 0; c < 3; c++) out[c] = (float)v[n == 1 ? 0 : c];
    return 1;
}

int opt_precision(const char *cmd, const char *s, cl16_dtype *out) {
    if (!strcmp(s, "fp32") || !strcmp(s, "f32"))
        *out = CL16_F32;
    else if (!strcmp(s, "fp16") || !strcmp(s, "f16"))
        *out = CL16_F16;
    else if (!strcmp(s, "bf16"))
        *out = CL16_BF16;
    else {
        fprintf(stderr, "cl16 %s: --precision must be fp32, fp16 or bf16, got '%s'\n", cmd, s);
        return 0;
    }
    return 1;
}

const char *precision_name(cl16_dtype d) {
    return d == CL16_F16 ? "fp16" : d == CL16_BF16 ? "bf16" : "fp32";
}

int opt_arch(const char *cmd, const char *s) {
    const char *const *a = cl16_model_archs();
    for (size_t i = 0; a[i]; i++)
        if (!strcmp(a[i], s)) return 1;
    fprintf(stderr, "cl16 %s: unknown model '%s' (known:", cmd, s);
    for (size_t i = 0; a[i]; i++) fprintf(stderr, "%s %s", i ? "," : "", a[i]);
    fprintf(stderr, ")\n");
    return 0;
}

int cli_load_data(const char *cmd, const char *name, const char *dir, int train, cl16_dataset **out) {
    char err[1024] = "";
    cl16_status s = cl16_dataset_load(name, dir, train, out, err, sizeof err);
    if (s) {
        char what[256];
        snprintf(what, sizeof what, "cannot load the %s set of %s", train ? "training" : "test",
                 name);
        return cli_failc(cmd, s, what, err);
    }
    return 0;
}

int cli_read_file(const char *cmd, const char *path, cl16_safetensors **out) {
    char err[1024] = "";
    cl16_status s = cl16_safetensors_load(path, out, err, sizeof err);
    if (s) {
        char what[1200];
        snprintf(what, sizeof what, "cannot read model file %s", path);
        return cli_failc(cmd, s, what, err);
    }
    return 0;
}

void cli_print_cast(FILE *to, const char *path, const char *dtype, const cl16_cast_report *r) {
    fprintf(to, "cast %s into %s: %lld values, %lld overflowed, %lld flushed to zero%s%s%s, %lld subnormal\n",
            path, dtype, (long long)r->values, (long long)r->overflowed, (long long)r->flushed,
            r->flushed ? " (first: " : "", r->flushed ? r->first_flush : "", r->flushed ? ")" : "",
            (long long)r->subnormal);
}

int cli_check_arch(const char *cmd, const char *path, const cl16_safetensors *f, const char *arch) {
    const char *file_arch = cl16_safetensors_meta(f, "arch");
    if (file_arch && arch && strcmp(file_arch, arch)) {
        char detail[1200];
        snprintf(detail, sizeof detail, "%s holds a %s model, not --model %s", path, file_arch,
                 arch);
        return cli_failc(cmd, CL16_ERR_INVALID_ARG, "architecture mismatch", detail);
    }
    return 0;
}

/* The model's first dimension of tensor `name` in f, or 0. */
static int first_dim(const cl16_safetensors *f, const char *name) {
    const cl16_st_tensor *t = cl16_safetensors_find(f, name);
    return t && t->ndim >= 1 && t->dims[0] > 0 && t->dims[0] <= 1 << 24 ? (int)t->dims[0] : 0;
}

int cli_model_from_file(const char *cmd, cl16_ctx *ctx, const char *path,
                        const cl16_safetensors *f, const char *arch, const cl16_dataset *d,
                        cl16_dtype dtype, FILE *report, cl16_model **out) {
    *out = NULL;
    const char *file_arch = cl16_safetensors_meta(f, "arch");
    int rc = cli_check_arch(cmd, path, f, arch);
    if (rc) return rc;
    if (!file_arch && !arch) {
        char detail[1200];
        snprintf(detail, sizeof detail,
                 "%s has no \"arch\" metadata (a file written by PyTorch): name its "
                 "architecture with --model",
                 path);
        return cli_failc(cmd, CL16_ERR_INVALID_ARG, "unknown architecture", detail);
    }
    const char *use = file_arch ? file_arch : arch;
    if (!opt_arch(cmd, use)) return cli_exit_code(CL16_ERR_INVALID_ARG);
    cl16_model_opts o;
    cl16_model_opts_init(&o);
    o.arch = use;
    int64_t count;
    cl16_dataset_shape(d, &count, &o.channels, &o.height, &o.width, &o.classes);
    o.dtype = dtype;
    if (!strcmp(use, "mlp")) {
        int h1 = first_dim(f, "fc1.weight"), h2 = first_dim(f, "fc2.weight");
        if (h1) o.hidden1 = h1;
        if (h2) o.hidden2 = h2;
    }
    cl16_status s = cl16_model_create(ctx, &o, 0, out);
    if (s) {
        rc = cli_failc(cmd, s, "cannot create the model", cl16_ctx_last_error(ctx));
        cl16_model_free(*out);
        *out = NULL;
        return rc;
    }
    cl16_cast_report rep;
    memset(&rep, 0, sizeof rep);
    char err[4096] = "";
    s = cl16_model_load(*out, f, &rep, err, sizeof err);
    if (s) {
        char what[1200];
        snprintf(what, sizeof what, "cannot load %s into a %s %s model", path, precision_name(dtype),
                 use);
        if (s == CL16_ERR_NUMERIC && rep.overflowed)
            snprintf(what, sizeof what, "%s overflows %s (|x| > 65504; first: %s)", path,
                     precision_name(dtype), rep.first_overflow);
        cl16_model_free(*out);
        *out = NULL;
        return cli_failc(cmd, s, what, err);
    }
    if (report) cli_print_cast(report, path, cl16_dtype_name(dtype), &rep);
    return 0;
}

/* "a,b,c" from a file's metadata into v; 0 when absent or malformed. */
static int meta_f3(const cl16_safetensors *f, const char *key, float v[3]) {
    const char *s = f ? cl16_safetensors_meta(f, key) : NULL;
    if (!s) return 0;
    char *end;
    for (int c = 0; c < 3; c++) {
        double x = strtod(s, &end);
        if (end == s || !isfinite(x)) return 0;
        v[c] = (float)x;
        if (c < 2 && *end != ',') return 0;
        s = end + 1;
    }
    return *end == 0;
}

void cli_norm_for(const cl16_safetensors *f, const cl16_dataset *d, const float *mean_opt,
                  const float *std_opt, float mean[3], float std[3]) {
    float mo[3], so[3], v[3]; /* the options may alias the outputs */
    if (mean_opt) memcpy(mo, mean_opt, sizeof mo);
    if (std_opt) memcpy(so, std_opt, sizeof so);
    cl16_dataset_default_norm(d, mean, std);
    if (meta_f3(f, META_PREFIX "mean", v)) memcpy(mean, v, sizeof v);
    if (meta_f3(f, META_PREFIX "std", v) && v[0] > 0 && v[1] > 0 && v[2] > 0) memcpy(std, v, sizeof v);
    if (mean_opt) memcpy(mean, mo, sizeof mo);
    if (std_opt) memcpy(std, so, sizeof so);
}

cl16_status cli_evaluate(cl16_model *m, const cl16_dataset *d, int64_t n, int64_t bs,
                         const float mean[3], const float std[3], double *loss,
                         double *accuracy, char *err, size_t err_len) {
    int64_t *idx = malloc((size_t)(n > 0 ? n : 1) * sizeof *idx);
    if (!idx) {
        snprintf(err, err_len, "cannot allocate %lld indices", (long long)n);
        return CL16_ERR_OUT_OF_MEMORY;
    }
    for (int64_t i = 0; i < n; i++) idx[i] = i;
    prefetch_job job = {d, idx, n, bs, 0, mean, std, 0, 0, 0};
    prefetch p;
    double loss_sum = 0;
    int64_t correct = 0;
    cl16_status s = prefetch_start(&p, &job, err, err_len);
    for (int64_t b = 0; !s && b < p.batches; b++) {
        const float *x;
        const int32_t *y;
        int64_t k;
        if ((s = prefetch_next(&p, &x, &y, &k, err, err_len))) break;
        s = cl16_model_evaluate(m, x, y, k, &loss_sum, &correct);
        if (s)
            snprintf(err, err_len, "evaluating batch %lld of %lld: %s", (long long)b + 1,
                     (long long)p.batches, cl16_ctx_last_error(cl16_model_ctx(m)));
        prefetch_release(&p);
    }
    prefetch_stop(&p);
    free(idx);
    if (!s) {
        *loss = n ? loss_sum / (double)n : 0;
        *accuracy = n ? (double)correct / (double)n : 0;
    }
    return s;
}
