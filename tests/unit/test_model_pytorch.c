/* test_model_pytorch.c - cl16's architectures have PyTorch's state_dict
 * layout (names, order, shapes for every architecture at several input
 * shapes), models saved by PyTorch (tests/fixtures, made by
 * scripts/pytorch_fixtures.py) open in cl16, give PyTorch's logits in f32 and
 * f16, survive save -> reload bit for bit, and bad files are refused naming
 * every tensor that is wrong.
 *
 * Tolerances. For every logit the fixture carries two bounds on the rounding
 * error of an f32 forward and of a pure f16 forward (floats summed in float,
 * every stored tensor and every weight rounded to half), computed in float64
 * by the script: each place that rounds gets the textbook local bound (a dot
 * product of length K: K * 2^-24 * sum|w h|, K the reduction length of that
 * convolution or Linear layer plus one for the bias; the batch statistics:
 * (N*H*W + 1) * 2^-24; a rounding to half: 2^-11 of the value), and these are
 * carried to the logit through the network's Jacobian, either all aligned
 * (err_worst = sum |J| b) or as independent zero-mean errors (err_rms =
 * sqrt(sum (J b)^2), Hoeffding's scale). The test allows
 *     tol = min(err_worst, 8 * err_rms)
 * (Hoeffding: an excess of 8 rms has probability below 2 exp(-32) = 2.5e-14)
 * plus 2^-24 |logit| for the float64 reference stored as float. cl16 f32 is
 * compared with the float64 reference within tol32 and with PyTorch's own f32
 * logits within 2 tol32 (both have errors); cl16 f16 with cl16 f32 within
 * tol16 + tol32. The f16 bound assumes element arithmetic in float with one
 * rounding per stored tensor, which every path does by default (on the
 * native-half path the opt-in CL16_HALF_ARITH=1 computes element-wise in half
 * and is not covered). Gradients: see check_grads. */
#include <inttypes.h>
#include <math.h>
#include <stdint.h>
#include <sys/stat.h>
#include <unistd.h>

#include "check.h"

#ifndef CL16_FIXTURE_DIR
#define CL16_FIXTURE_DIR "tests/fixtures"
#endif

/* Relative L2 error allowed to an f32 gradient (see check_grads). */
#define GRAD_TOL32 5e-2

static char tmpdir[512];
static char err[4096];

typedef struct fixture {
    const char *arch, *stem;
    int c, h, w, classes, has_bn;
} fixture;

static const fixture FIXTURES[] = {
    {"lenet5", "lenet5_1x28x28", 1, 28, 28, 10, 0},
    {"resnet20", "resnet20_3x32x32", 3, 32, 32, 10, 1},
};

static void fixture_path(char *out, size_t n, const char *stem, const char *suffix) {
    snprintf(out, n, "%s/%s%s", CL16_FIXTURE_DIR, stem, suffix);
}

/* A copy of an F32 tensor of f as host floats (the file's data is unaligned);
 * NULL and a failed check when absent or not F32. *count gets the length. */
static float *floats_of(const cl16_safetensors *f, const char *name, size_t *count) {
    const cl16_st_tensor *t = cl16_safetensors_find(f, name);
    CHECK_MSG(t && t->dtype == CL16_ST_F32, "fixture tensor %s (F32) missing", name);
    if (!t || t->dtype != CL16_ST_F32)
        return NULL;
    float *v = malloc(t->bytes ? t->bytes : 1);
    memcpy(v, t->data, t->bytes);
    if (count)
        *count = t->bytes / sizeof(float);
    return v;
}

static int64_t i64_of(const cl16_st_tensor *t) {
    int64_t v = 0;
    if (t && t->dtype == CL16_ST_I64 && t->bytes == sizeof v)
        memcpy(&v, t->data, sizeof v);
    return v;
}

/* The tolerance of each logit, as the header comment derives it. */
static float *tolerances(const cl16_safetensors *io, const char *prefix, int bits, size_t n) {
    char a[96], b[96], r[96];
    snprintf(a, sizeof a, "%s_err%d_worst", prefix, bits);
    snprintf(b, sizeof b, "%s_err%d_rms", prefix, bits);
    snprintf(r, sizeof r, "%s_ref", prefix);
    size_t na = 0, nb = 0, nr = 0;
    float *worst = floats_of(io, a, &na), *rms = floats_of(io, b, &nb),
          *ref = floats_of(io, r, &nr);
    float *tol = NULL;
    if (worst && rms && ref && na == n && nb == n && nr == n) {
        tol = malloc(n * sizeof *tol);
        for (size_t i = 0; i < n; i++)
            tol[i] = fminf(worst[i], 8.0f * rms[i]) + ldexpf(fabsf(ref[i]), -24);
    } else {
        CHECK_MSG(0, "fixture bounds %s / %s do not match the logits", a, b);
    }
    free(worst), free(rms), free(ref);
    return tol;
}

/* Checks |got - want| <= scale * tol elementwise; prints the worst ratio. */
static void compare(const char *what, const float *got, const float *want, const float *tol,
                    float scale, size_t n) {
    double worst = 0, maxabs = 0, maxval = 0;
    size_t bad = 0, zeros = 0;
    for (size_t i = 0; i < n; i++) {
        double d = fabs((double)got[i] - (double)want[i]);
        double r = d / (scale * (double)tol[i]);
        if (!(d <= scale * (double)tol[i]))
            bad++;
        if (r > worst || isnan(r))
            worst = isnan(r) ? INFINITY : r;
        if (d > maxabs)
            maxabs = d;
        if (fabs(want[i]) > maxval)
            maxval = fabs(want[i]);
        zeros += got[i] == 0.0f;
    }
    printf("  %-40s max |diff| %.3g (logits up to %.3g), worst diff/tolerance %.3g\n", what, maxabs,
           maxval, worst);
    CHECK_MSG(bad == 0, "%s: %zu of %zu logits outside the tolerance (worst %.3g x)", what, bad, n,
              worst);
    CHECK_MSG(zeros < n, "%s: all logits are zero", what);
}

static cl16_tensor *upload(cl16_ctx *ctx, cl16_dtype dt, const float *x, const fixture *fx,
                           int64_t n) {
    int64_t dims[4] = {n, fx->c, fx->h, fx->w};
    cl16_tensor *t = NULL;
    CHECK_OK(ctx, cl16_tensor_create(ctx, dt, 4, dims, &t));
    if (t)
        CHECK_OK(ctx, cl16_tensor_write_f32(t, x, (size_t)(n * fx->c * fx->h * fx->w)));
    return t;
}

/* Forward of the fixture's x; returns the logits as host floats (malloc).
 * The model keeps a reference to its input for cl16_model_backward, so the
 * input tensor is not freed here: it replaces *input (freed first). */
static float *run_forward(cl16_model *m, const cl16_safetensors *io, const fixture *fx,
                          int training, size_t *count, cl16_tensor **input) {
    cl16_ctx *ctx = cl16_model_ctx(m);
    size_t nx = 0;
    float *x = floats_of(io, "x", &nx);
    if (!x)
        return NULL;
    int64_t n = (int64_t)(nx / (size_t)(fx->c * fx->h * fx->w));
    cl16_tensor *t = upload(ctx, cl16_model_get_opts(m)->dtype, x, fx, n);
    free(x);
    const cl16_tensor *logits = NULL;
    float *out = NULL;
    if (t) {
        cl16_status s = cl16_model_forward(m, t, training, &logits);
        CHECK_OK(ctx, s);
        if (!s && logits) {
            CHECK(cl16_tensor_ndim(logits) == 2 && cl16_tensor_dim(logits, 0) == n &&
                  cl16_tensor_dim(logits, 1) == fx->classes);
            *count = (size_t)cl16_tensor_numel(logits);
            out = malloc(*count * sizeof *out);
            CHECK_OK(ctx, cl16_tensor_read_f32(logits, out, *count));
        }
    }
    cl16_tensor_free(*input);
    *input = t;
    return out;
}

static cl16_model *open_model(cl16_ctx *ctx, const char *path, const fixture *fx, cl16_dtype dt,
                              cl16_cast_report *rep) {
    cl16_model_opts o;
    cl16_model_opts_init(&o);
    o.arch = fx->arch;
    o.height = fx->h, o.width = fx->w;
    o.dtype = dt;
    cl16_model *m = NULL;
    cl16_status s = cl16_model_open(ctx, path, &o, &m, rep, err, sizeof err);
    CHECK_MSG(s == CL16_OK && m, "open %s as %s (%s): %s: %s", path, fx->arch, cl16_dtype_name(dt),
              cl16_status_str(s), err);
    if (s != CL16_OK) {
        cl16_model_free(m);
        return NULL;
    }
    const cl16_model_opts *got = cl16_model_get_opts(m);
    CHECK_MSG(got->channels == fx->c && got->classes == fx->classes && got->height == fx->h &&
                  got->width == fx->w && got->dtype == dt,
              "%s opened as %d x %d x %d, %d classes", path, got->channels, got->height, got->width,
              got->classes);
    return m;
}

/* The model holds exactly the file's state_dict: same names, each value equal
 * to the file's after rounding to the model's dtype (f32 parameters and
 * BatchNorm tensors bit for bit), each counter equal. Returns the number of
 * counters seen. */
static int check_params_match_file(cl16_model *m, const cl16_safetensors *f, const char *what) {
    size_t np = cl16_model_param_count(m);
    CHECK_MSG(np == cl16_safetensors_count(f), "%s: model has %zu state_dict entries, file %zu",
              what, np, cl16_safetensors_count(f));
    int counters = 0;
    for (size_t i = 0; i < np; i++) {
        cl16_model_param *p = cl16_model_param_at(m, i);
        const cl16_st_tensor *t = cl16_safetensors_find(f, p->name);
        CHECK_MSG(t != NULL, "%s: %s not in the file", what, p->name);
        if (!t)
            continue;
        if (p->kind == CL16_PARAM_COUNTER) {
            counters++;
            CHECK_MSG(t->dtype == CL16_ST_I64 && p->counter == i64_of(t),
                      "%s: %s is %" PRId64 ", file %" PRId64, what, p->name, p->counter, i64_of(t));
            continue;
        }
        size_t n = (size_t)cl16_tensor_numel(p->value);
        float *got = malloc(n * sizeof *got), *want = malloc(n * sizeof *want);
        CHECK_OK(cl16_model_ctx(m), cl16_tensor_read_f32(p->value, got, n));
        CHECK_MSG(t->dtype == CL16_ST_F32 && t->bytes == n * sizeof(float),
                  "%s: %s: the file has %zu bytes of dtype %d for %zu values", what, p->name,
                  t->bytes, (int)t->dtype, n);
        if (t->dtype == CL16_ST_F32 && t->bytes == n * sizeof(float)) {
            memcpy(want, t->data, t->bytes);
            size_t diff = 0;
            for (size_t j = 0; j < n; j++) {
                float w = want[j];
                if (cl16_tensor_dtype(p->value) == CL16_F16)
                    w = cl16_half_to_float(cl16_float_to_half(w));
                diff += memcmp(&got[j], &w, sizeof w) != 0;
            }
            CHECK_MSG(diff == 0, "%s: %s: %zu of %zu values differ from the file", what, p->name,
                      diff, n);
        }
        /* BatchNorm tensors (bnN.*, shortcut.1.*) stay f32 in an f16 model. */
        if (strncmp(p->name, "bn", 2) == 0 || strstr(p->name, ".bn") ||
            strstr(p->name, "shortcut.1."))
            CHECK_MSG(cl16_tensor_dtype(p->value) == CL16_F32, "%s: BatchNorm tensor %s is %s",
                      what, p->name, cl16_dtype_name(cl16_tensor_dtype(p->value)));
        free(got), free(want);
    }
    return counters;
}

/* Every tensor of a and b agrees in name, dtype, shape and bytes. */
static void check_files_equal(const cl16_safetensors *a, const cl16_safetensors *b,
                              const char *what) {
    CHECK_MSG(cl16_safetensors_count(a) == cl16_safetensors_count(b), "%s: %zu tensors vs %zu",
              what, cl16_safetensors_count(a), cl16_safetensors_count(b));
    size_t differ = 0;
    for (size_t i = 0; i < cl16_safetensors_count(a); i++) {
        const cl16_st_tensor *x = cl16_safetensors_at(a, i);
        const cl16_st_tensor *y = cl16_safetensors_find(b, x->name);
        int same = y && x->dtype == y->dtype && x->ndim == y->ndim && x->bytes == y->bytes &&
                   memcmp(x->dims, y->dims, sizeof x->dims[0] * (size_t)x->ndim) == 0 &&
                   memcmp(x->data, y->data, x->bytes) == 0;
        if (!same && differ++ < 5)
            fprintf(stderr, "  %s: %s differs (%s)\n", what, x->name,
                    !y                     ? "absent"
                    : x->dtype != y->dtype ? "dtype"
                    : x->bytes != y->bytes ? "size"
                                           : "bytes");
        CHECK(same);
    }
}

/* Raw device bytes of every value and every counter of a and b are equal. */
static void check_models_equal(cl16_model *a, cl16_model *b, const char *what) {
    size_t n = cl16_model_param_count(a);
    CHECK_MSG(n == cl16_model_param_count(b), "%s: %zu vs %zu entries", what, n,
              cl16_model_param_count(b));
    if (n != cl16_model_param_count(b))
        return;
    size_t differ = 0;
    for (size_t i = 0; i < n; i++) {
        cl16_model_param *p = cl16_model_param_at(a, i), *q = cl16_model_param_at(b, i);
        int same = strcmp(p->name, q->name) == 0 && p->kind == q->kind;
        if (same && p->kind == CL16_PARAM_COUNTER) {
            same = p->counter == q->counter;
        } else if (same) {
            size_t bytes = cl16_tensor_bytes(p->value);
            same = bytes == cl16_tensor_bytes(q->value) &&
                   cl16_tensor_dtype(p->value) == cl16_tensor_dtype(q->value);
            if (same) {
                unsigned char *x = malloc(bytes), *y = malloc(bytes);
                CHECK_OK(cl16_model_ctx(a), cl16_tensor_read_raw(p->value, x, bytes));
                CHECK_OK(cl16_model_ctx(b), cl16_tensor_read_raw(q->value, y, bytes));
                same = memcmp(x, y, bytes) == 0;
                free(x), free(y);
            }
        }
        if (!same && differ++ < 5)
            fprintf(stderr, "  %s: %s differs after the round trip\n", what, p->name);
        CHECK(same);
    }
}

/* The kind PyTorch's name implies: BatchNorm buffers are statistics or the
 * counter, everything else is trained. */
static cl16_param_kind kind_of(const char *name) {
    const char *tail = strrchr(name, '.');
    tail = tail ? tail + 1 : name;
    if (!strcmp(tail, "num_batches_tracked"))
        return CL16_PARAM_COUNTER;
    if (!strcmp(tail, "running_mean") || !strcmp(tail, "running_var"))
        return CL16_PARAM_STAT;
    return CL16_PARAM_TRAINABLE;
}

/* Every state_dict entry of m is in f with m's own bytes: values in the
 * model's storage dtype (so BatchNorm, f32 in an f16 model, must be F32 in
 * the file), counters as I64. */
static void check_file_matches_model(cl16_model *m, const cl16_safetensors *f, const char *what) {
    size_t np = cl16_model_param_count(m), differ = 0;
    CHECK_MSG(np == cl16_safetensors_count(f), "%s: %zu entries in the model, %zu in the file",
              what, np, cl16_safetensors_count(f));
    for (size_t i = 0; i < np; i++) {
        cl16_model_param *p = cl16_model_param_at(m, i);
        const cl16_st_tensor *t = cl16_safetensors_find(f, p->name);
        int same = t != NULL;
        if (same && p->kind == CL16_PARAM_COUNTER) {
            same = t->dtype == CL16_ST_I64 && i64_of(t) == p->counter;
        } else if (same) {
            cl16_dtype dt = cl16_tensor_dtype(p->value);
            size_t bytes = cl16_tensor_bytes(p->value);
            same = t->dtype == (dt == CL16_F16 ? CL16_ST_F16 : CL16_ST_F32) && t->bytes == bytes;
            if (same) {
                unsigned char *raw = malloc(bytes);
                CHECK_OK(cl16_model_ctx(m), cl16_tensor_read_raw(p->value, raw, bytes));
                same = memcmp(raw, t->data, bytes) == 0;
                free(raw);
            }
        }
        if (!same && differ++ < 5)
            fprintf(stderr, "  %s: %s is not the model's (%s)\n", what, p->name,
                    !t ? "absent" : "dtype, size or bytes");
        CHECK(same);
    }
}

/* Saves m in its own dtype, reads the file back and reopens it: the file's
 * tensors and the reopened model's are those of m, byte for byte (and with
 * orig, an f32 model's file equals PyTorch's). */
static void round_trip(cl16_ctx *ctx, cl16_model *m, const fixture *fx,
                       const cl16_safetensors *orig) {
    cl16_dtype dt = cl16_model_get_opts(m)->dtype;
    char path[768];
    snprintf(path, sizeof path, "%s/%s.%s.safetensors", tmpdir, fx->stem, cl16_dtype_name(dt));
    const char *meta[] = {"note", "written by test_model_pytorch", NULL};
    cl16_status s = cl16_model_save(m, path, dt, meta, err, sizeof err);
    CHECK_MSG(s == CL16_OK, "save %s: %s: %s", path, cl16_status_str(s), err);
    if (s)
        return;
    cl16_safetensors *f = NULL;
    s = cl16_safetensors_load(path, &f, err, sizeof err);
    CHECK_MSG(s == CL16_OK, "reading back %s: %s", path, err);
    if (!f)
        return;
    const char *arch = cl16_safetensors_meta(f, "arch");
    CHECK_MSG(arch && strcmp(arch, fx->arch) == 0, "saved arch metadata is %s",
              arch ? arch : "(none)");
    const char *note = cl16_safetensors_meta(f, "note");
    CHECK(note && strcmp(note, meta[1]) == 0);
    check_file_matches_model(m, f, dt == CL16_F32 ? "f32 save" : "f16 save");
    if (dt == CL16_F32 && orig) {
        check_files_equal(orig, f, "f32 save vs PyTorch's file");
    } else if (dt == CL16_F16) {
        /* Beyond "the model's own bytes": the file really is a 16-bit one
         * (the trained weights in F16), with BatchNorm statistics in F32. */
        size_t f16 = 0, stats_f32 = 0, stats = 0;
        for (size_t i = 0; i < cl16_safetensors_count(f); i++) {
            const cl16_st_tensor *t = cl16_safetensors_at(f, i);
            f16 += t->dtype == CL16_ST_F16;
            if (kind_of(t->name) == CL16_PARAM_STAT)
                stats++, stats_f32 += t->dtype == CL16_ST_F32;
        }
        const cl16_st_tensor *w = cl16_safetensors_find(f, fx->has_bn ? "fc.weight" : "fc3.weight");
        CHECK_MSG(w && w->dtype == CL16_ST_F16, "f16 save: the fc weight is not F16");
        CHECK_MSG(f16 > 0 && stats_f32 == stats,
                  "f16 save: %zu F16 tensors, %zu of %zu statistics F32", f16, stats_f32, stats);
    }
    cl16_model *back = open_model(ctx, path, fx, dt, NULL);
    if (back) {
        int before = check_failures;
        check_models_equal(m, back, dt == CL16_F32 ? "f32 save/reload" : "f16 save/reload");
        printf("  %s save -> reload: %zu entries %s\n", cl16_dtype_name(dt),
               cl16_model_param_count(back), check_failures == before ? "bit-exact" : "DIFFER");
        cl16_model_free(back);
    }
    cl16_safetensors_free(f);
    remove(path);
}

/* Running statistics and counters after one training-mode forward against
 * PyTorch's (float64) update. A channel's statistics are computed from
 * activations that carry the f32 rounding errors bounded above, about 1e-4 of
 * the channel's scale at most (the logits' own bound relative to the
 * logits); with momentum 0.1 and a tenfold margin: |running mean| within
 * 1e-4 of the channel's standard deviation, running var within 2e-4 of it. */
static void check_running_after_train(cl16_model *m, const cl16_safetensors *io) {
    size_t np = cl16_model_param_count(m), checked = 0;
    double worst = 0;
    for (size_t i = 0; i < np; i++) {
        cl16_model_param *p = cl16_model_param_at(m, i);
        char key[256];
        snprintf(key, sizeof key, "after_train.%s", p->name);
        const cl16_st_tensor *t = cl16_safetensors_find(io, key);
        if (p->kind == CL16_PARAM_COUNTER) {
            CHECK_MSG(t && p->counter == i64_of(t),
                      "%s is %" PRId64 " after a training forward, "
                      "PyTorch %" PRId64,
                      p->name, p->counter, i64_of(t));
            checked++;
            continue;
        }
        if (p->kind != CL16_PARAM_STAT)
            continue;
        int is_var = strstr(p->name, "running_var") != NULL;
        char vkey[256];
        snprintf(vkey, sizeof vkey, "%s", key);
        if (!is_var) {
            char *dot = strstr(vkey, "running_mean");
            if (dot)
                strcpy(dot, "running_var");
        }
        size_t n = 0, nv = 0;
        float *want = floats_of(io, key, &n), *var = floats_of(io, vkey, &nv);
        if (want && var && n == nv && n == (size_t)cl16_tensor_numel(p->value)) {
            float *got = malloc(n * sizeof *got);
            CHECK_OK(cl16_model_ctx(m), cl16_tensor_read_f32(p->value, got, n));
            size_t bad = 0;
            for (size_t j = 0; j < n; j++) {
                double tol = is_var ? 2e-4 * var[j] : 1e-4 * sqrt(var[j]);
                double r = fabs((double)got[j] - want[j]) / tol;
                bad += !(r <= 1.0);
                if (r > worst || isnan(r))
                    worst = isnan(r) ? INFINITY : r;
            }
            CHECK_MSG(bad == 0, "%s: %zu of %zu channels differ from PyTorch's update", p->name,
                      bad, n);
            free(got);
            checked++;
        }
        free(want), free(var);
    }
    printf(
        "  running statistics after a training forward: %zu tensors, worst diff/tolerance %.3g\n",
        checked, worst);
    CHECK(checked > 0);
}

/* After a training-mode forward of the fixture's x: backward from its
 * dlogits, then each gradient the fixture holds (PyTorch, float64) against
 * the model's, as a relative L2 error per tensor.
 * f32 must be within GRAD_TOL32 = 5e-2. Rounding alone puts PyTorch's own
 * f32 gradients within 3.4e-6 of float64 (printed by the fixture script),
 * but the gradient of a ReLU network is discontinuous: where a ReLU input (or
 * the runner-up of a max-pool window) lies within rounding distance of the
 * kink, float rounding decides which side it takes. With several hundred
 * thousand activations some always lie that close: in PyTorch float64, a
 * relative perturbation of 1e-6 of the weights moves these gradients by up to
 * 1.7 % (8 draws, both fixtures; scripts/pytorch_fixtures.py's margin study
 * in docs/models.md). One flip on another device or summation order must not
 * fail the test; the bound allows about three, and is still far below the
 * order-1 errors of a wrong or missing term of the backward pass.
 * f16 must be within three times the error of the fixture's float64 emulation of
 * half storage (grad_half_relerr.*: every weight, activation and gradient
 * rounded to half, sums exact) plus 1e-3: the same rounding model, so errors
 * of the same size, differing only in which values land on which side of a
 * rounding boundary. With ResNet-20 in training mode on a batch of 4 that
 * emulated error itself reaches 0.22 in layer1's BatchNorm gradients (sums
 * of dy that cancel), so the f16 gradients are checked against it, not
 * against a fixed bound. */
static void check_grads(cl16_model *m, const cl16_safetensors *io, const char *what) {
    const int half = cl16_model_get_opts(m)->dtype == CL16_F16;
    cl16_ctx *ctx = cl16_model_ctx(m);
    size_t nd = 0;
    float *dl = floats_of(io, "dlogits", &nd);
    if (!dl)
        return;
    int64_t dims[2] = {(int64_t)nd / cl16_model_get_opts(m)->classes,
                       cl16_model_get_opts(m)->classes};
    cl16_tensor *t = NULL;
    CHECK_OK(ctx, cl16_tensor_create(ctx, cl16_model_get_opts(m)->dtype, 2, dims, &t));
    if (t)
        CHECK_OK(ctx, cl16_tensor_write_f32(t, dl, nd));
    cl16_status s = t ? cl16_model_backward(m, t) : CL16_ERR_INVALID_ARG;
    CHECK_OK(ctx, s);
    size_t compared = 0, bad = 0;
    double worst = 0;
    const char *worst_name = "";
    for (size_t i = 0; !s && i < cl16_model_param_count(m); i++) {
        cl16_model_param *p = cl16_model_param_at(m, i);
        char key[256];
        snprintf(key, sizeof key, "grad.%s", p->name);
        if (p->kind != CL16_PARAM_TRAINABLE || !cl16_safetensors_find(io, key))
            continue;
        size_t n = 0;
        float *want = floats_of(io, key, &n);
        if (!want || n != (size_t)cl16_tensor_numel(p->grad)) {
            CHECK_MSG(0, "%s: %s has %zu values in the fixture", what, key, n);
            free(want);
            continue;
        }
        float *got = malloc(n * sizeof *got);
        CHECK_OK(ctx, cl16_tensor_read_f32(p->grad, got, n));
        double num = 0, den = 0;
        for (size_t j = 0; j < n; j++) {
            double d = (double)got[j] - want[j];
            num += d * d, den += (double)want[j] * want[j];
        }
        double rel = den > 0 ? sqrt(num / den) : sqrt(num), limit = GRAD_TOL32;
        if (half) {
            snprintf(key, sizeof key, "grad_half_relerr.%s", p->name);
            float *e = floats_of(io, key, NULL);
            limit = e ? 3.0 * e[0] + 1e-3 : 0;
            free(e);
        }
        if (getenv("CL16_TEST_VERBOSE"))
            printf("    %s: %s relative L2 error %.3g (limit %.3g)\n", what, p->name, rel, limit);
        if (!(rel / limit <= worst)) /* NaN too */
            worst = rel / limit, worst_name = p->name;
        if (!(rel <= limit) && bad++ < 5)
            fprintf(stderr, "  %s: gradient of %s off by %.3g (relative L2), limit %.3g\n", what,
                    p->name, rel, limit);
        compared++;
        free(got), free(want);
    }
    printf("  %-40s %zu tensors, worst error/limit %.3g (%s)\n", what, compared, worst, worst_name);
    CHECK_MSG(compared > 0, "%s: no gradient compared", what);
    CHECK_MSG(bad == 0, "%s: %zu gradients beyond their limit", what, bad);
    cl16_tensor_free(t);
    free(dl);
}

/* Host copy of a tensor as floats (malloc). */
static float *host_f32(cl16_ctx *ctx, const cl16_tensor *t) {
    size_t n = (size_t)cl16_tensor_numel(t);
    float *v = malloc(n * sizeof *v);
    CHECK_OK(ctx, cl16_tensor_read_f32(t, v, n));
    return v;
}

/* Two SGD steps through cl16_trainer (fp32, no loss scaling; momentum 0.9,
 * weight decay 5e-4, lr 0.05; the fixture's x with its train_labels both
 * times) against PyTorch's torch.optim.SGD in float64.
 * - Losses: cross entropy moves by at most 2 max|d logit| (its gradient,
 *   softmax - onehot, has an l1 norm below 2), so both within twice the
 *   largest f32 logit tolerance of the fixture (the first step's weights; the
 *   loss is continuous in the weights).
 * - First step, each parameter's change against PyTorch's: within
 *   GRAD_TOL32 relative L2, as the gradients (check_grads), since the change
 *   is the gradient plus terms exact to float rounding.
 * - Second step against the SGD formula with cl16's own gradients (the
 *   trainer leaves each step's gradient in the model): w2 = w1 - lr * buf2,
 *   buf2 = 0.9 * buf1 + g1 + wd * w1, buf1 = g0 + wd * w0, per element within
 *   float rounding (2^-22 of |w1| + |w2|, plus 1e-5 of lr |buf2| for the
 *   buffer's own roundings). Not against PyTorch's second step: at the
 *   weights after a step this large a ReLU input of the batch sits within
 *   float rounding of 0, so rounding alone may flip it (in PyTorch float64,
 *   a relative perturbation of 1e-6 of the weights moves some gradients
 *   there by 1.5 %). */
static void check_sgd_steps(cl16_ctx *ctx, const fixture *fx, const cl16_safetensors *io,
                            const char *path) {
    const float lr = 0.05f, mom = 0.9f, wd = 5e-4f;
    size_t nx = 0, nl = 0;
    float *x = floats_of(io, "x", &nx), *want_loss = floats_of(io, "train_loss", NULL);
    float *tol = tolerances(io, fx->has_bn ? "logits_train" : "logits", 32,
                            (nx / (size_t)(fx->c * fx->h * fx->w)) * (size_t)fx->classes);
    const cl16_st_tensor *lt = cl16_safetensors_find(io, "train_labels");
    cl16_model *m = open_model(ctx, path, fx, CL16_F32, NULL);
    cl16_trainer *t = NULL;
    int32_t *labels = NULL;
    size_t np = m ? cl16_model_param_count(m) : 0;
    float **w0 = calloc(np + 1, sizeof *w0), **g0 = calloc(np + 1, sizeof *g0),
          **w1 = calloc(np + 1, sizeof *w1);
    if (!x || !want_loss || !tol || !lt || lt->dtype != CL16_ST_I64 || !m) {
        CHECK_MSG(0, "SGD steps: fixture or model missing");
        goto out;
    }
    nl = lt->bytes / 8;
    labels = malloc(nl * sizeof *labels);
    for (size_t i = 0; i < nl; i++) {
        int64_t v;
        memcpy(&v, (const char *)lt->data + 8 * i, 8);
        labels[i] = (int32_t)v;
    }
    cl16_train_opts to;
    cl16_train_opts_init(&to);
    to.optim.kind = CL16_OPT_SGD;
    to.optim.lr = lr, to.optim.momentum = mom, to.optim.weight_decay = wd;
    to.schedule = CL16_LR_CONSTANT;
    to.precision = CL16_PREC_FP32;
    to.scaling = CL16_SCALE_NONE;
    CHECK_OK(ctx, cl16_trainer_create(m, &to, &t));
    if (!t)
        goto out;
    float maxtol = 0;
    for (size_t i = 0; i < nl * (size_t)fx->classes; i++)
        maxtol = fmaxf(maxtol, tol[i]);
    for (size_t i = 0; i < np; i++)
        if (cl16_model_param_at(m, i)->kind == CL16_PARAM_TRAINABLE)
            w0[i] = host_f32(ctx, cl16_model_param_at(m, i)->value);
    size_t compared = 0, bad = 0, bad2 = 0, checked2 = 0;
    double worst = 0, worst2 = 0;
    for (int step = 0; step < 2; step++) {
        double loss = NAN;
        CHECK_OK(ctx, cl16_trainer_step(t, x, labels, (int64_t)nl, &loss, NULL));
        CHECK_MSG(fabs(loss - want_loss[step]) <= 2.0 * maxtol,
                  "SGD step %d: loss %.9g, PyTorch %.9g (allowed %.3g)", step + 1, loss,
                  (double)want_loss[step], 2.0 * maxtol);
        printf("  SGD step %d: loss %.7f, PyTorch %.7f (allowed difference %.2g)\n", step + 1, loss,
               (double)want_loss[step], 2.0 * maxtol);
        for (size_t i = 0; i < np; i++) {
            cl16_model_param *p = cl16_model_param_at(m, i);
            if (p->kind != CL16_PARAM_TRAINABLE)
                continue;
            size_t n = (size_t)cl16_tensor_numel(p->value);
            float *w = host_f32(ctx, p->value), *g = host_f32(ctx, p->grad);
            if (step == 0) {
                char key[256];
                snprintf(key, sizeof key, "sgd_step1.%s", p->name);
                size_t nw = 0;
                float *want = cl16_safetensors_find(io, key) ? floats_of(io, key, &nw) : NULL;
                if (want && nw == n) {
                    double num = 0, den = 0;
                    for (size_t j = 0; j < n; j++) {
                        double d = ((double)w[j] - w0[i][j]) - want[j];
                        num += d * d, den += (double)want[j] * want[j];
                    }
                    double rel = den > 0 ? sqrt(num / den) : sqrt(num);
                    if (!(rel <= worst))
                        worst = rel;
                    if (!(rel <= GRAD_TOL32) && bad++ < 5)
                        fprintf(stderr, "  SGD step 1: the change of %s is off by %.3g\n", p->name,
                                rel);
                    compared++;
                }
                free(want);
                w1[i] = w, g0[i] = g;
                continue;
            }
            for (size_t j = 0; j < n; j++) {
                double buf1 = (double)g0[i][j] + wd * (double)w0[i][j];
                double buf2 = mom * buf1 + (double)g[j] + wd * (double)w1[i][j];
                double e = (double)w1[i][j] - lr * buf2;
                double lim = ldexp(fabs(w1[i][j]) + fabs(w[j]), -22) + 1e-5 * lr * fabs(buf2);
                double r = fabs(w[j] - e) / lim;
                if (!(r <= worst2))
                    worst2 = r;
                if (!(r <= 1.0) && bad2++ < 5)
                    fprintf(stderr, "  SGD step 2: %s[%zu] = %.9g, the formula gives %.9g\n",
                            p->name, j, (double)w[j], e);
            }
            checked2 += n;
            free(w), free(g);
        }
    }
    printf("  %-40s %zu tensors, worst relative L2 error %.3g\n", "SGD step 1: changes vs PyTorch",
           compared, worst);
    printf("  %-40s %zu values, worst difference/limit %.3g\n",
           "SGD step 2: momentum + weight decay", checked2, worst2);
    CHECK_MSG(compared > 0 && bad == 0, "SGD step 1: %zu of %zu changes beyond %g", bad, compared,
              GRAD_TOL32);
    CHECK_MSG(checked2 > 0 && bad2 == 0, "SGD step 2: %zu values off the formula", bad2);
out:
    for (size_t i = 0; i < np; i++)
        free(w0[i]), free(g0[i]), free(w1[i]);
    free(w0), free(g0), free(w1);
    cl16_trainer_free(t);
    cl16_model_free(m);
    free(x), free(want_loss), free(tol), free(labels);
}

static void test_fixture(cl16_ctx *ctx, const fixture *fx) {
    char path[768], iopath[768];
    fixture_path(path, sizeof path, fx->stem, ".safetensors");
    fixture_path(iopath, sizeof iopath, fx->stem, ".io.safetensors");
    cl16_safetensors *orig = NULL, *io = NULL;
    CHECK_MSG(cl16_safetensors_load(path, &orig, err, sizeof err) == CL16_OK, "%s", err);
    CHECK_MSG(cl16_safetensors_load(iopath, &io, err, sizeof err) == CL16_OK, "%s", err);
    if (!orig || !io)
        goto done;
    CHECK_MSG(cl16_safetensors_meta(orig, "arch") == NULL, "the PyTorch fixture has metadata");
    printf("%s (%s, %zu tensors, no metadata):\n", fx->arch, path, cl16_safetensors_count(orig));

    size_t nl = 0;
    float *pt = floats_of(io, "logits", &nl), *ref = floats_of(io, "logits_ref", NULL);
    float *tol32 = tolerances(io, "logits", 32, nl), *tol16 = tolerances(io, "logits", 16, nl);
    float *emu = floats_of(io, "logits_half_emulated", NULL);
    float *l32 = NULL, *l16 = NULL;
    cl16_tensor *xm = NULL, *xh = NULL; /* the models' inputs, alive until after backward */

    /* f32: loaded exactly, counters read, PyTorch's logits. */
    cl16_cast_report rep;
    memset(&rep, 0, sizeof rep);
    cl16_model *m = open_model(ctx, path, fx, CL16_F32, &rep);
    if (m) {
        int counters = check_params_match_file(m, orig, "f32 open");
        CHECK_MSG(counters == (fx->has_bn ? 21 : 0), "%d num_batches_tracked entries", counters);
        CHECK_MSG(rep.overflowed == 0 && rep.flushed == 0,
                  "f32 open: %" PRId64 " overflowed, %" PRId64 " flushed", rep.overflowed,
                  rep.flushed);
        size_t n = 0;
        l32 = run_forward(m, io, fx, 0, &n, &xm);
        if (l32 && pt && ref && tol32 && n == nl) {
            compare("f32 eval vs float64 reference", l32, ref, tol32, 1.0f, n);
            compare("f32 eval vs PyTorch f32", l32, pt, tol32, 2.0f, n);
        } else {
            CHECK_MSG(0, "no f32 logits to compare (%zu of %zu)", n, nl);
        }
        round_trip(ctx, m, fx, orig);
    }

    /* f16: parameters rounded once, BatchNorm kept f32, logits near f32's. */
    memset(&rep, 0, sizeof rep);
    cl16_model *h = open_model(ctx, path, fx, CL16_F16, &rep);
    if (h) {
        check_params_match_file(h, orig, "f16 open");
        CHECK_MSG(rep.overflowed == 0, "f16 open: %" PRId64 " values overflowed", rep.overflowed);
        CHECK_MSG(rep.values > 0, "f16 open: the cast report counted no values");
        printf("  f16 open: %" PRId64 " values cast, %" PRId64 " flushed to zero, %" PRId64
               " subnormal\n",
               rep.values, rep.flushed, rep.subnormal);
        size_t n = 0;
        l16 = run_forward(h, io, fx, 0, &n, &xh);
        if (l16 && l32 && tol16 && tol32 && n == nl) {
            float *tol = malloc(n * sizeof *tol);
            for (size_t i = 0; i < n; i++)
                tol[i] = tol16[i] + tol32[i];
            compare("f16 eval vs cl16 f32", l16, l32, tol, 1.0f, n);
            if (emu) /* for information: how far from a float64 emulation of half storage */
                compare("(f16 eval vs emulated half, info)", l16, emu, tol, 1.0f, n);
            free(tol);
        } else {
            CHECK_MSG(0, "no f16 logits to compare");
        }
        round_trip(ctx, h, fx, orig);
    }

    /* Training mode on the f32 model: batch statistics, then the running
     * statistics and counters move as PyTorch's do. */
    if (fx->has_bn && m) {
        size_t n = 0;
        float *lt = run_forward(m, io, fx, 1, &n, &xm);
        float *tref = floats_of(io, "logits_train_ref", NULL),
              *tpt = floats_of(io, "logits_train", NULL);
        float *tt32 = tolerances(io, "logits_train", 32, nl),
              *tt16 = tolerances(io, "logits_train", 16, nl);
        if (lt && tref && tpt && tt32 && n == nl) {
            compare("f32 train vs float64 reference", lt, tref, tt32, 1.0f, n);
            compare("f32 train vs PyTorch f32", lt, tpt, tt32, 2.0f, n);
            check_running_after_train(m, io);
            check_grads(m, io, "f32 gradients vs float64 reference");
            /* The moved statistics and counters survive a save and reload. */
            round_trip(ctx, m, fx, NULL);
        } else {
            CHECK_MSG(0, "no training-mode logits to compare");
        }
        if (h && lt && tt16 && tt32) {
            size_t n16 = 0;
            float *lt16 = run_forward(h, io, fx, 1, &n16, &xh);
            if (lt16 && n16 == nl) {
                float *tol = malloc(n16 * sizeof *tol);
                for (size_t i = 0; i < n16; i++)
                    tol[i] = tt16[i] + tt32[i];
                compare("f16 train vs cl16 f32 train", lt16, lt, tol, 1.0f, n16);
                check_grads(h, io, "f16 gradients vs float64 reference");
                free(tol);
            }
            free(lt16);
        }
        free(lt), free(tref), free(tpt), free(tt32), free(tt16);
    }
    if (!fx->has_bn) { /* no BatchNorm: a training forward is the evaluation one */
        size_t n = 0;
        float *lt = m ? run_forward(m, io, fx, 1, &n, &xm) : NULL;
        if (lt)
            check_grads(m, io, "f32 gradients vs float64 reference");
        free(lt);
        lt = h ? run_forward(h, io, fx, 1, &n, &xh) : NULL;
        if (lt)
            check_grads(h, io, "f16 gradients vs float64 reference");
        free(lt);
    }
    check_sgd_steps(ctx, fx, io, path);
    cl16_model_free(m);
    cl16_model_free(h);
    cl16_tensor_free(xm), cl16_tensor_free(xh);
    free(pt), free(ref), free(tol32), free(tol16), free(emu), free(l32), free(l16);
done:
    cl16_safetensors_free(orig);
    cl16_safetensors_free(io);
}

/* Every architecture at several input shapes (fixtures/architectures.txt,
 * written by PyTorch): cl16_model_create gives the same state_dict names in
 * the same order, with the same shapes and kinds and the same number of
 * trainable scalars. */
static void test_architectures(cl16_ctx *ctx) {
    char path[768], line[512];
    snprintf(path, sizeof path, "%s/architectures.txt", CL16_FIXTURE_DIR);
    FILE *f = fopen(path, "r");
    CHECK_MSG(f != NULL, "cannot read %s", path);
    if (!f)
        return;
    int models = 0;
    cl16_model *m = NULL;
    size_t idx = 0, bad = 0;
    char label[128] = "";
    while (fgets(line, sizeof line, f)) {
        line[strcspn(line, "\n")] = 0;
        if (line[0] == '#' || !line[0])
            continue;
        char arch[32];
        cl16_model_opts o;
        cl16_model_opts_init(&o);
        long long numel = 0, entries = 0;
        if (sscanf(line, "model %31s %d %d %d %d %d %d %lld %lld", arch, &o.channels, &o.height,
                   &o.width, &o.classes, &o.hidden1, &o.hidden2, &numel, &entries) == 9) {
            o.arch = arch;
            snprintf(label, sizeof label, "%s %dx%dx%d/%d", arch, o.channels, o.height, o.width,
                     o.classes);
            m = NULL, idx = 0, bad = 0;
            CHECK_OK(ctx, cl16_model_create(ctx, &o, 1, &m));
            models++;
            if (m) {
                CHECK_MSG(cl16_model_numel(m) == numel,
                          "%s: %" PRId64 " trainable scalars, PyTorch %lld", label,
                          cl16_model_numel(m), numel);
                CHECK_MSG((long long)cl16_model_param_count(m) == entries,
                          "%s: %zu state_dict entries, PyTorch %lld", label,
                          cl16_model_param_count(m), entries);
            }
            continue;
        }
        if (!strcmp(line, "end")) {
            printf("  %-28s %s\n", label,
                   m && !bad ? "same names, order, shapes, kinds" : "DIFFERS");
            cl16_model_free(m);
            m = NULL;
            continue;
        }
        if (!m)
            continue;
        /* NAME DIM... */
        char *save = NULL, *name = strtok_r(line, " ", &save);
        int64_t dims[8];
        int nd = 0;
        for (char *tok; nd < 8 && (tok = strtok_r(NULL, " ", &save));)
            dims[nd++] = strtoll(tok, NULL, 10);
        cl16_model_param *p = idx < cl16_model_param_count(m) ? cl16_model_param_at(m, idx) : NULL;
        idx++;
        int same = p && !strcmp(p->name, name) && p->kind == kind_of(name);
        if (same && p->kind != CL16_PARAM_COUNTER) {
            same = cl16_tensor_ndim(p->value) == nd;
            for (int d = 0; same && d < nd; d++)
                same = cl16_tensor_dim(p->value, d) == dims[d];
        } else if (same) {
            same = nd == 0;
        }
        if (!same && bad++ < 3)
            fprintf(stderr, "  %s: entry %zu is %s, PyTorch has %s\n", label, idx - 1,
                    p ? p->name : "(none)", name);
        CHECK(same);
    }
    fclose(f);
    cl16_model_free(m);
    CHECK_MSG(models >= 9, "only %d models listed in %s", models, path);
}

/* A copy of f's tensors (pointing into f) with room for `extra` more. */
static cl16_st_tensor *copy_tensors(const cl16_safetensors *f, size_t extra, size_t *n) {
    *n = cl16_safetensors_count(f);
    cl16_st_tensor *t = calloc(*n + extra, sizeof *t);
    for (size_t i = 0; i < *n; i++)
        t[i] = *cl16_safetensors_at(f, i);
    return t;
}

static size_t index_of(const cl16_st_tensor *t, size_t n, const char *name) {
    for (size_t i = 0; i < n; i++)
        if (!strcmp(t[i].name, name))
            return i;
    CHECK_MSG(0, "fixture lacks %s", name);
    return n;
}

/* A resnet20 file with a missing weight, a missing counter, an extra tensor
 * and a tensor of the wrong shape: one refusal naming all four, both from
 * cl16_model_open and from cl16_model_load into a live model, which stays as
 * it was. Then lenet5's file opened as resnet20, and a value too large for
 * half opened in f16. */
static void test_bad_files(cl16_ctx *ctx) {
    const fixture *rn = &FIXTURES[1], *ln = &FIXTURES[0];
    char path[768], bad[768];
    fixture_path(path, sizeof path, rn->stem, ".safetensors");
    cl16_safetensors *f = NULL;
    if (cl16_safetensors_load(path, &f, err, sizeof err)) {
        CHECK_MSG(0, "%s", err);
        return;
    }
    size_t n = 0;
    cl16_st_tensor *t = copy_tensors(f, 1, &n);
    size_t miss_w = index_of(t, n, "layer2.1.conv2.weight");
    size_t miss_c = index_of(t, n, "layer3.0.shortcut.1.num_batches_tracked");
    size_t shape = index_of(t, n, "fc.weight");
    if (miss_w < n && miss_c < n && shape < n) {
        cl16_st_tensor *d = calloc(n + 1, sizeof *d);
        size_t count = 0;
        for (size_t i = 0; i < n; i++) {
            if (i == miss_w || i == miss_c)
                continue;
            d[count] = t[i];
            if (i == shape) { /* fc.weight [10, 64] declared [10, 32]: half its bytes */
                d[count].dims[1] = 32;
                d[count].bytes /= 2;
            }
            count++;
        }
        d[count] = t[miss_w];
        d[count++].name = "layer4.0.conv1.weight";
        free(t);
        t = d;
        snprintf(bad, sizeof bad, "%s/damaged.safetensors", tmpdir);
        cl16_status s = cl16_safetensors_save(bad, t, count, NULL, err, sizeof err);
        CHECK_MSG(s == CL16_OK, "writing the damaged copy: %s", err);

        static const char *const names[] = {"layer2.1.conv2.weight",
                                            "layer3.0.shortcut.1.num_batches_tracked",
                                            "layer4.0.conv1.weight", "fc.weight"};
        cl16_model_opts o;
        cl16_model_opts_init(&o);
        o.arch = "resnet20", o.height = 32, o.width = 32;
        cl16_model *m = NULL;
        err[0] = 0;
        s = cl16_model_open(ctx, bad, &o, &m, NULL, err, sizeof err);
        printf("damaged resnet20 refused: %s\n", err);
        CHECK_MSG(s == CL16_ERR_FORMAT && m == NULL, "damaged file: %s", cl16_status_str(s));
        for (size_t i = 0; i < 4; i++)
            CHECK_MSG(strstr(err, names[i]) != NULL, "the refusal does not name %s", names[i]);
        cl16_model_free(m);

        /* The same through cl16_model_load into a model opened from the good file. */
        m = open_model(ctx, path, rn, CL16_F32, NULL);
        cl16_safetensors *df = NULL;
        if (m && cl16_safetensors_load(bad, &df, err, sizeof err) == CL16_OK) {
            err[0] = 0;
            s = cl16_model_load(m, df, NULL, err, sizeof err);
            CHECK_MSG(s == CL16_ERR_FORMAT, "load of the damaged file: %s", cl16_status_str(s));
            for (size_t i = 0; i < 4; i++)
                CHECK_MSG(strstr(err, names[i]) != NULL, "load: the refusal does not name %s",
                          names[i]);
            check_params_match_file(m, f, "after a refused load");
        }
        cl16_safetensors_free(df);
        cl16_model_free(m);
        remove(bad);
    }
    free(t);

    /* A value beyond half's range: fine in f32, refused in f16 naming it. */
    t = copy_tensors(f, 0, &n);
    size_t fw = index_of(t, n, "layer1.1.conv1.weight");
    if (fw < n) {
        unsigned char *copy = malloc(t[fw].bytes);
        memcpy(copy, t[fw].data, t[fw].bytes);
        float big = 1.0e5f;
        memcpy(copy + 4 * 7, &big, sizeof big);
        t[fw].data = copy;
        snprintf(bad, sizeof bad, "%s/overflow.safetensors", tmpdir);
        CHECK_MSG(cl16_safetensors_save(bad, t, n, NULL, err, sizeof err) == CL16_OK, "%s", err);
        cl16_model *m = open_model(ctx, bad, rn, CL16_F32, NULL);
        cl16_model_free(m);
        cl16_model_opts o;
        cl16_model_opts_init(&o);
        o.arch = "resnet20", o.height = 32, o.width = 32, o.dtype = CL16_F16;
        m = NULL;
        err[0] = 0;
        cl16_status s = cl16_model_open(ctx, bad, &o, &m, NULL, err, sizeof err);
        printf("1e5 in f16 refused: %s\n", err);
        CHECK_MSG(s == CL16_ERR_NUMERIC && m == NULL, "overflow in f16: %s", cl16_status_str(s));
        CHECK_MSG(strstr(err, "layer1.1.conv1.weight") != NULL,
                  "the refusal does not name the tensor");
        cl16_model_free(m);
        remove(bad);
        free(copy);
    }
    free(t);
    cl16_safetensors_free(f);

    /* lenet5's file is not a resnet20. */
    fixture_path(path, sizeof path, ln->stem, ".safetensors");
    cl16_model_opts o;
    cl16_model_opts_init(&o);
    o.arch = "resnet20", o.height = 28, o.width = 28;
    cl16_model *m = NULL;
    err[0] = 0;
    cl16_status s = cl16_model_open(ctx, path, &o, &m, NULL, err, sizeof err);
    printf("lenet5 as resnet20 refused: %s\n", err);
    CHECK_MSG(s == CL16_ERR_FORMAT && m == NULL, "lenet5's file opened as resnet20: %s",
              cl16_status_str(s));
    /* One of each kind: missing, unexpected, mismatched (conv1 is 5x5 in lenet5). */
    static const char *const named[] = {"layer1.0.conv1.weight", "fc3.weight", "conv1.weight"};
    for (size_t i = 0; i < 3; i++)
        CHECK_MSG(strstr(err, named[i]) != NULL, "the refusal does not name %s", named[i]);
    cl16_model_free(m);
}

int main(void) {
    char probe[768];
    for (size_t i = 0; i < sizeof FIXTURES / sizeof FIXTURES[0]; i++) {
        fixture_path(probe, sizeof probe, FIXTURES[i].stem, ".io.safetensors");
        if (access(probe, R_OK) != 0)
            SKIP("fixture %s is missing (regenerate with scripts/pytorch_fixtures.py "
                 "tests/fixtures)",
                 probe);
    }
    const char *base = getenv("TMPDIR");
    snprintf(tmpdir, sizeof tmpdir, "%s/cl16-torch-XXXXXX", base && base[0] ? base : "/tmp");
    if (!mkdtemp(tmpdir)) {
        perror("mkdtemp");
        return 1;
    }
    cl16_ctx *ctx = test_ctx(getenv("CL16_CACHE_DIR"));
    printf("state_dict layouts against PyTorch's (architectures.txt):\n");
    test_architectures(ctx);
    for (size_t i = 0; i < sizeof FIXTURES / sizeof FIXTURES[0]; i++)
        test_fixture(ctx, &FIXTURES[i]);
    test_bad_files(ctx);
    cl16_ctx_free(ctx);
    rmdir(tmpdir);
    return check_done("model_pytorch");
}
