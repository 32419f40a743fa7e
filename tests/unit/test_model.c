/* test_model.c - the built-in models: PyTorch state_dict names and parameter
 * counts, backward against finite differences of the loss (residual blocks,
 * projection shortcuts, BatchNorm, max-pool, Linear), safetensors round trips
 * bit-exact in f32 and f16, strict name/shape checks reported at once, the
 * half cast report (overflow refused, flush counted), and a checkpoint that
 * resumes training bit-exactly. */
#include <math.h>
#include <stdint.h>
#include <unistd.h>

#include "check.h"

static uint64_t rng = 99;
static float frand(void) {
    uint64_t z = (rng += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull, z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    z ^= z >> 31;
    return (float)((double)(z >> 11) / 9007199254740992.0 * 2.0 - 1.0);
}

static cl16_model *mk(cl16_ctx *ctx, const char *arch, int c, int h, int w, cl16_dtype dt,
                      uint64_t seed) {
    cl16_model_opts o;
    cl16_model_opts_init(&o);
    o.arch = arch, o.channels = c, o.height = h, o.width = w, o.dtype = dt;
    o.hidden1 = 32, o.hidden2 = 16;
    cl16_model *m = NULL;
    CHECK_OK(ctx, cl16_model_create(ctx, &o, seed, &m));
    return m;
}

static cl16_model_param *find(cl16_model *m, const char *name) {
    for (size_t i = 0; i < cl16_model_param_count(m); i++)
        if (!strcmp(cl16_model_param_at(m, i)->name, name))
            return cl16_model_param_at(m, i);
    return NULL;
}

static void names_and_counts(cl16_ctx *ctx) {
    cl16_model *m = mk(ctx, "resnet20", 3, 32, 32, CL16_F32, 1);
    if (!m)
        return;
    /* He et al.'s ResNet-20 with projection shortcuts: 272,474 parameters for 10 classes. */
    CHECK_MSG(cl16_model_numel(m) == 272474, "resnet20 has %lld parameters",
              (long long)cl16_model_numel(m));
    CHECK(!strcmp(cl16_model_param_at(m, 0)->name, "conv1.weight"));
    CHECK(find(m, "layer2.0.shortcut.1.running_var") &&
          find(m, "layer2.0.shortcut.1.running_var")->kind == CL16_PARAM_STAT);
    CHECK(find(m, "layer3.2.bn2.num_batches_tracked") &&
          find(m, "layer3.2.bn2.num_batches_tracked")->kind == CL16_PARAM_COUNTER);
    CHECK(!find(m, "layer1.0.shortcut.0.weight")); /* identity: same shape */
    CHECK(!strcmp(cl16_model_param_at(m, cl16_model_param_count(m) - 1)->name, "fc.bias"));
    cl16_model_free(m);
    m = mk(ctx, "lenet5", 1, 28, 28, CL16_F32, 1);
    CHECK_MSG(m && cl16_model_numel(m) == 61706, "lenet5 parameters");
    CHECK(m && cl16_model_param_count(m) == 10);
    cl16_model_free(m);
    m = mk(ctx, "resnet56", 3, 32, 32, CL16_F16, 1);
    CHECK_MSG(m && cl16_model_numel(m) == 855770, "resnet56 parameters %lld",
              m ? (long long)cl16_model_numel(m) : -1LL);
    cl16_model_free(m);
    /* Refusals name the problem. */
    cl16_model_opts o;
    cl16_model_opts_init(&o);
    cl16_model *bad = NULL;
    o.arch = "resnet21";
    CHECK(cl16_model_create(ctx, &o, 0, &bad) == CL16_ERR_INVALID_ARG && !bad);
    CHECK(strstr(cl16_ctx_last_error(ctx), "resnet21"));
    o.arch = "lenet5", o.height = o.width = 8;
    CHECK(cl16_model_create(ctx, &o, 0, &bad) == CL16_ERR_SHAPE && !bad);
    CHECK_MSG(strstr(cl16_ctx_last_error(ctx), "conv2"), "%s", cl16_ctx_last_error(ctx));
}

/* Mean cross-entropy of a training-mode forward. */
static double loss_of(cl16_ctx *ctx, cl16_model *m, cl16_tensor *x, cl16_tensor *lab,
                      cl16_tensor *dz) {
    const cl16_tensor *z = NULL;
    double loss = NAN;
    CHECK_OK(ctx, cl16_model_forward(m, x, 1, &z));
    if (z)
        CHECK_OK(ctx, cl16_softmax_xent(ctx, z, lab, 1.0f, &loss, NULL, dz));
    return loss;
}

static void gradcheck(cl16_ctx *ctx, const char *arch, int c, int h, int w, const char *const *names) {
    const int N = 4;
    cl16_model *m = mk(ctx, arch, c, h, w, CL16_F32, 7);
    if (!m)
        return;
    const int64_t xd[4] = {N, c, h, w}, n4 = N;
    cl16_tensor *x = NULL, *lab = NULL, *dz = NULL;
    CHECK_OK(ctx, cl16_tensor_create(ctx, CL16_F32, 4, xd, &x));
    CHECK_OK(ctx, cl16_tensor_create(ctx, CL16_I32, 1, &n4, &lab));
    CHECK_OK(ctx, cl16_tensor_create(ctx, CL16_F32, 2, (const int64_t[]){N, 10}, &dz));
    const size_t nx = (size_t)N * c * h * w;
    float *xv = malloc(nx * sizeof *xv);
    for (size_t i = 0; i < nx; i++)
        xv[i] = frand();
    CHECK_OK(ctx, cl16_tensor_write_f32(x, xv, nx));
    CHECK_OK(ctx, cl16_tensor_write_raw(lab, (const int32_t[]){1, 3, 5, 7}, 16));
    loss_of(ctx, m, x, lab, dz);
    CHECK_OK(ctx, cl16_model_backward(m, dz));
    for (int k = 0; names[k]; k++) {
        cl16_model_param *p = find(m, names[k]);
        CHECK_MSG(p, "%s: no parameter %s", arch, names[k]);
        if (!p)
            continue;
        const size_t n = (size_t)cl16_tensor_numel(p->value);
        float *v = malloc(n * sizeof *v), *g = malloc(n * sizeof *g);
        CHECK_OK(ctx, cl16_tensor_read_f32(p->value, v, n));
        CHECK_OK(ctx, cl16_tensor_read_f32(p->grad, g, n));
        /* The two entries with the largest gradients: far from noise. */
        size_t best[2] = {0, 0};
        for (size_t i = 0; i < n; i++)
            if (fabsf(g[i]) > fabsf(g[best[0]]))
                best[1] = best[0], best[0] = i;
            else if (fabsf(g[i]) > fabsf(g[best[1]]) || best[1] == best[0])
                best[1] = i;
        for (int j = 0; j < 2; j++) {
            const size_t i = best[j];
            /* Central differences at three step sizes; one must agree. Too
             * large a step meets curvature (BatchNorm over a tiny batch), too
             * small one float rounding of the loss or a ReLU/max-pool kink;
             * a wrong backward disagrees at every step size. */
            static const float steps[3] = {3e-3f, 1e-2f, 1e-3f};
            double fd[3];
            int ok = 0;
            for (int q = 0; q < 3 && !ok; q++) {
                const float h0 = steps[q] * fmaxf(1.0f, fabsf(v[i])), orig = v[i];
                v[i] = orig + h0;
                CHECK_OK(ctx, cl16_tensor_write_f32(p->value, v, n));
                const double lp = loss_of(ctx, m, x, lab, NULL);
                v[i] = orig - h0;
                CHECK_OK(ctx, cl16_tensor_write_f32(p->value, v, n));
                const double lm = loss_of(ctx, m, x, lab, NULL);
                v[i] = orig;
                CHECK_OK(ctx, cl16_tensor_write_f32(p->value, v, n));
                fd[q] = (lp - lm) / (2.0 * h0);
                ok = fabs(fd[q] - g[i]) <= 0.05 * fabs(g[i]) + 2e-4;
            }
            CHECK_MSG(ok, "%s %s[%zu]: backward %.6g, finite differences %.6g %.6g %.6g", arch,
                      names[k], i, (double)g[i], fd[0], fd[1], fd[2]);
        }
        free(v), free(g);
    }
    free(xv);
    cl16_tensor_free(x), cl16_tensor_free(lab), cl16_tensor_free(dz);
    cl16_model_free(m);
}

static int files_equal(const char *a, const char *b) {
    FILE *fa = fopen(a, "rb"), *fb = fopen(b, "rb");
    int same = fa && fb;
    while (same) {
        int ca = fgetc(fa), cb = fgetc(fb);
        same = ca == cb;
        if (ca == EOF)
            break;
    }
    if (fa)
        fclose(fa);
    if (fb)
        fclose(fb);
    return same;
}

static void round_trips(cl16_ctx *ctx, const char *dir) {
    char p1[512], p2[512], err[2048];
    for (int d = 0; d < 3; d++) {
        const cl16_dtype dt = d == 2 ? CL16_BF16 : d ? CL16_F16 : CL16_F32;
        cl16_model *m = mk(ctx, "resnet20", 3, 16, 16, dt, 3);
        if (!m)
            return;
        find(m, "bn1.num_batches_tracked")->counter = 12345678901LL;
        snprintf(p1, sizeof p1, "%s/a%d.safetensors", dir, d);
        snprintf(p2, sizeof p2, "%s/b%d.safetensors", dir, d);
        CHECK_MSG(!cl16_model_save(m, p1, dt, NULL, err, sizeof err), "%s", err);
        cl16_model_opts o;
        cl16_model_opts_init(&o);
        o.arch = NULL, o.height = o.width = 16, o.dtype = dt;
        cl16_model *r = NULL;
        cl16_cast_report rep;
        CHECK_MSG(!cl16_model_open(ctx, p1, &o, &r, &rep, err, sizeof err), "%s", err);
        if (!r) {
            cl16_model_free(m);
            continue;
        }
        CHECK(cl16_model_get_opts(r)->channels == 3 && !strcmp(cl16_model_get_opts(r)->arch, "resnet20"));
        int64_t values = 0; /* every float value of the state_dict */
        for (size_t i = 0; i < cl16_model_param_count(m); i++)
            if (cl16_model_param_at(m, i)->value)
                values += cl16_tensor_numel(cl16_model_param_at(m, i)->value);
        CHECK_MSG(rep.overflowed == 0 && rep.flushed == 0 && rep.values == values,
                  "cast report: %lld values (expected %lld), %lld overflowed, %lld flushed",
                  (long long)rep.values, (long long)values, (long long)rep.overflowed,
                  (long long)rep.flushed);
        CHECK(find(r, "bn1.num_batches_tracked")->counter == 12345678901LL);
        CHECK_MSG(!cl16_model_save(r, p2, dt, NULL, err, sizeof err), "%s", err);
        CHECK_MSG(files_equal(p1, p2), "%s round trip: %s and %s differ", cl16_dtype_name(dt), p1, p2);
        /* The file's dtypes: weights in the model's, BatchNorm F32, counters I64. */
        cl16_safetensors *f = NULL;
        CHECK_OK(ctx, cl16_safetensors_load(p1, &f, err, sizeof err));
        if (f) {
            CHECK(cl16_safetensors_find(f, "conv1.weight")->dtype ==
                  (d == 2 ? CL16_ST_BF16 : d ? CL16_ST_F16 : CL16_ST_F32));
            CHECK(cl16_safetensors_find(f, "bn1.weight")->dtype == CL16_ST_F32);
            CHECK(cl16_safetensors_find(f, "bn1.num_batches_tracked")->dtype == CL16_ST_I64);
            CHECK(cl16_safetensors_find(f, "bn1.num_batches_tracked")->ndim == 0);
            CHECK(!strcmp(cl16_safetensors_meta(f, "arch"), "resnet20"));
            cl16_safetensors_free(f);
        }
        cl16_model_free(r);
        cl16_model_free(m);
    }
    /* Across dtypes: the f32 file opened as bf16 rounds each weight to nearest
     * even (the host converter), and the BF16 file opened as f32 widens it
     * exactly, so saving that f32 model as bf16 gives the BF16 file back. */
    {
        snprintf(p1, sizeof p1, "%s/a0.safetensors", dir);
        snprintf(p2, sizeof p2, "%s/a2.safetensors", dir);
        char p3[512];
        snprintf(p3, sizeof p3, "%s/c2.safetensors", dir);
        cl16_model_opts o;
        cl16_model_opts_init(&o);
        o.arch = NULL, o.height = o.width = 16, o.dtype = CL16_BF16;
        cl16_model *bm = NULL, *fm = NULL;
        CHECK_MSG(!cl16_model_open(ctx, p1, &o, &bm, NULL, err, sizeof err), "%s", err);
        cl16_safetensors *f32f = NULL;
        CHECK_OK(ctx, cl16_safetensors_load(p1, &f32f, err, sizeof err));
        if (bm && f32f) {
            const cl16_st_tensor *e = cl16_safetensors_find(f32f, "conv1.weight");
            const size_t n = e->bytes / 4;
            float *src = malloc(e->bytes), *got = malloc(e->bytes);
            memcpy(src, e->data, e->bytes);
            CHECK_OK(ctx, cl16_tensor_read_f32(find(bm, "conv1.weight")->value, got, n));
            int bad = 0;
            for (size_t i = 0; i < n; i++)
                bad += got[i] != cl16_bf16_to_float(cl16_float_to_bf16(src[i]));
            CHECK_MSG(bad == 0, "f32 file into a bf16 model: %d weights not rounded to nearest", bad);
            free(src), free(got);
        }
        cl16_safetensors_free(f32f);
        o.dtype = CL16_F32;
        CHECK_MSG(!cl16_model_open(ctx, p2, &o, &fm, NULL, err, sizeof err), "%s", err);
        if (fm) {
            CHECK_MSG(!cl16_model_save(fm, p3, CL16_BF16, NULL, err, sizeof err), "%s", err);
            CHECK_MSG(files_equal(p2, p3), "BF16 -> f32 model -> BF16 file differs");
        }
        cl16_model_free(bm), cl16_model_free(fm);
    }
    /* A lenet5 file opened as resnet20: every problem in one message. */
    cl16_model *l = mk(ctx, "lenet5", 1, 28, 28, CL16_F32, 1);
    snprintf(p1, sizeof p1, "%s/lenet.safetensors", dir);
    CHECK_MSG(l && !cl16_model_save(l, p1, CL16_F32, NULL, err, sizeof err), "%s", err);
    cl16_model *r = mk(ctx, "resnet20", 1, 28, 28, CL16_F32, 1), *r2 = NULL;
    cl16_safetensors *f = NULL;
    CHECK_OK(ctx, cl16_safetensors_load(p1, &f, err, sizeof err));
    if (r && f) {
        CHECK(cl16_model_load(r, f, NULL, err, sizeof err) == CL16_ERR_FORMAT);
        CHECK_MSG(strstr(err, "missing (conv1.bias") == NULL && strstr(err, "layer1.0.conv1.weight") &&
                      strstr(err, "unexpected (") && strstr(err, "conv2.weight") &&
                      strstr(err, "mismatched (conv1.weight (file F32 [6,1,5,5], model [16,1,3,3])"),
                  "message: %s", err);
    }
    cl16_model_opts o;
    cl16_model_opts_init(&o);
    o.arch = "resnet20";
    CHECK(cl16_model_open(ctx, p1, &o, &r2, NULL, err, sizeof err) == CL16_ERR_FORMAT && !r2);
    CHECK_MSG(strstr(err, "holds a lenet5 model, not resnet20"), "message: %s", err);
    cl16_safetensors_free(f);
    cl16_model_free(r);
    /* Cast report: one value above the half range is refused (the model is
     * untouched), one below it is flushed and counted. */
    if (l) {
        cl16_model_param *w = find(l, "fc1.weight");
        const size_t n = (size_t)cl16_tensor_numel(w->value);
        float *v = malloc(n * sizeof *v);
        CHECK_OK(ctx, cl16_tensor_read_f32(w->value, v, n));
        v[7] = 1e-9f;
        CHECK_OK(ctx, cl16_tensor_write_f32(w->value, v, n));
        CHECK_MSG(!cl16_model_save(l, p1, CL16_F32, NULL, err, sizeof err), "%s", err);
        cl16_model *h = mk(ctx, "lenet5", 1, 28, 28, CL16_F16, 5);
        cl16_cast_report rep;
        CHECK_OK(ctx, cl16_safetensors_load(p1, &f, err, sizeof err));
        CHECK_MSG(h && f && !cl16_model_load(h, f, &rep, err, sizeof err), "%s", err);
        CHECK_MSG(rep.flushed == 1 && !strcmp(rep.first_flush, "fc1.weight") && rep.overflowed == 0,
                  "flushed %lld in '%s'", (long long)rep.flushed, rep.first_flush);
        cl16_safetensors_free(f);
        v[7] = 1e5f;
        CHECK_OK(ctx, cl16_tensor_write_f32(w->value, v, n));
        CHECK_MSG(!cl16_model_save(l, p1, CL16_F32, NULL, err, sizeof err), "%s", err);
        CHECK_OK(ctx, cl16_safetensors_load(p1, &f, err, sizeof err));
        CHECK(h && f && cl16_model_load(h, f, &rep, err, sizeof err) == CL16_ERR_NUMERIC);
        CHECK_MSG(strstr(err, "fc1.weight") && strstr(err, "overflow"), "message: %s", err);
        float *hv = malloc(n * sizeof *hv); /* still the flushed 0 of the previous load, not inf */
        CHECK_OK(ctx, cl16_tensor_read_f32(find(h, "fc1.weight")->value, hv, n));
        CHECK_MSG(hv[7] == 0.0f && fabsf(hv[8] - v[8]) <= 1e-3f * fabsf(v[8]) + 1e-7f,
                  "refused load changed the model: %g", (double)hv[7]);
        free(hv);
        cl16_safetensors_free(f);
        free(v);
        cl16_model_free(h);
    }
    /* A model holding a NaN is not saved, and the file there stays intact. */
    if (l) {
        snprintf(p2, sizeof p2, "%s/keep.safetensors", dir);
        CHECK_MSG(!cl16_model_save(l, p2, CL16_F32, NULL, err, sizeof err), "%s", err);
        cl16_model_param *w = find(l, "fc2.bias");
        float v[84];
        CHECK_OK(ctx, cl16_tensor_read_f32(w->value, v, 84));
        v[3] = NAN;
        CHECK_OK(ctx, cl16_tensor_write_f32(w->value, v, 84));
        snprintf(p1, sizeof p1, "%s/keep-copy.safetensors", dir);
        char cmd[1200];
        snprintf(cmd, sizeof cmd, "cp %s %s", p2, p1);
        CHECK(system(cmd) == 0);
        CHECK(cl16_model_save(l, p2, CL16_F32, NULL, err, sizeof err) == CL16_ERR_NUMERIC);
        CHECK_MSG(strstr(err, "fc2.bias holds NaN at element 3"), "message: %s", err);
        CHECK_MSG(files_equal(p1, p2), "the refused save changed %s", p2);
        v[3] = 7e4f; /* finite in f32, infinite in half */
        CHECK_OK(ctx, cl16_tensor_write_f32(w->value, v, 84));
        CHECK(cl16_model_save(l, p2, CL16_F16, NULL, err, sizeof err) == CL16_ERR_NUMERIC);
        CHECK_MSG(strstr(err, "after conversion to half"), "message: %s", err);
        CHECK(files_equal(p1, p2));
    }
    cl16_model_free(l);
}

/* Three steps straight, or two, a checkpoint, a fresh process-like restart and
 * the third: the weights must be bit-identical. */
static void resume(cl16_ctx *ctx, const char *dir, const char *arch, cl16_dtype dt,
                   cl16_optim_kind kind, cl16_precision prec) {
    enum { N = 8 };
    const int c = 1, h = 28, w = 28;
    static float img[3][N * 784];
    int32_t lab[3][N];
    for (int s = 0; s < 3; s++) {
        for (int i = 0; i < N * c * h * w; i++)
            img[s][i] = frand();
        for (int i = 0; i < N; i++)
            lab[s][i] = (s * 7 + i * 3) % 10;
    }
    cl16_train_opts o;
    cl16_train_opts_init(&o);
    o.optim.kind = kind, o.optim.lr = kind == CL16_OPT_SGD ? 0.05f : 1e-3f;
    o.optim.momentum = kind == CL16_OPT_SGD ? 0.9f : 0.0f, o.optim.weight_decay = 1e-4f;
    o.schedule = CL16_LR_COSINE, o.total_steps = 10, o.warmup_steps = 1;
    o.precision = prec, o.seed = 5;
    char ck[512], pa[512], pb[512], err[2048];
    snprintf(ck, sizeof ck, "%s/ck.safetensors", dir);
    snprintf(pa, sizeof pa, "%s/ra.safetensors", dir);
    snprintf(pb, sizeof pb, "%s/rb.safetensors", dir);
    cl16_model *a = mk(ctx, arch, c, h, w, dt, 11);
    cl16_trainer *ta = NULL;
    CHECK_OK(ctx, cl16_trainer_create(a, &o, &ta));
    if (!ta)
        return;
    double loss[3];
    for (int s = 0; s < 3; s++) {
        CHECK_OK(ctx, cl16_trainer_step(ta, img[s], lab[s], N, &loss[s], NULL));
        if (s == 1)
            CHECK_MSG(!cl16_trainer_save(ta, ck, NULL, err, sizeof err), "%s", err);
    }
    CHECK_MSG(!cl16_trainer_save(ta, pa, NULL, err, sizeof err), "%s", err);
    cl16_train_stats st;
    cl16_trainer_get_stats(ta, &st); /* f16: dynamic loss scaling may skip the first steps */
    CHECK_MSG(st.steps + st.skipped == 3 && st.steps == cl16_trainer_steps(ta) && isfinite(loss[2]),
              "%lld steps, %lld skipped", (long long)st.steps, (long long)st.skipped);
    if (dt == CL16_F16)
        printf("%s f16: %lld of 3 steps skipped, loss scale now %g, %lld of %lld updates stalled\n",
               arch, (long long)st.skipped, st.loss_scale, (long long)st.stalled,
               (long long)st.changed);
    cl16_model_opts mo;
    cl16_model_opts_init(&mo);
    mo.arch = NULL, mo.dtype = dt;
    cl16_model *b = NULL;
    CHECK_MSG(!cl16_model_open(ctx, ck, &mo, &b, NULL, err, sizeof err), "%s", err);
    cl16_trainer *tb = NULL;
    cl16_safetensors *f = NULL;
    if (b)
        CHECK_OK(ctx, cl16_trainer_create(b, &o, &tb));
    CHECK_OK(ctx, cl16_safetensors_load(ck, &f, err, sizeof err));
    if (tb && f) {
        CHECK_MSG(!cl16_trainer_restore(tb, f, err, sizeof err), "%s", err);
        cl16_train_stats sb;
        cl16_trainer_get_stats(tb, &sb);
        CHECK_MSG(sb.skipped + sb.steps == 2, "restored %lld steps + %lld skipped",
                  (long long)sb.steps, (long long)sb.skipped);
        double l3;
        CHECK_OK(ctx, cl16_trainer_step(tb, img[2], lab[2], N, &l3, NULL));
        CHECK_MSG(l3 == loss[2], "%s %s: resumed loss %.9g, straight %.9g", arch,
                  cl16_dtype_name(dt), l3, loss[2]);
        CHECK_MSG(!cl16_trainer_save(tb, pb, NULL, err, sizeof err), "%s", err);
        CHECK_MSG(files_equal(pa, pb), "%s %s optimizer %d: resumed checkpoint differs", arch,
                  cl16_dtype_name(dt), (int)kind);
        /* Another optimizer's state is refused, by name. */
        cl16_train_opts o2 = o;
        o2.optim.kind = kind == CL16_OPT_SGD ? CL16_OPT_ADAM : CL16_OPT_SGD;
        o2.optim.momentum = 0.9f, o2.optim.lr = 0.01f;
        cl16_trainer *tc = NULL;
        CHECK_OK(ctx, cl16_trainer_create(b, &o2, &tc));
        CHECK(tc && cl16_trainer_restore(tc, f, err, sizeof err) == CL16_ERR_FORMAT);
        CHECK_MSG(strstr(err, "optimizer state is for"), "message: %s", err);
        cl16_trainer_free(tc);
    }
    cl16_safetensors_free(f);
    cl16_trainer_free(tb), cl16_model_free(b);
    cl16_trainer_free(ta), cl16_model_free(a);
}

/* A step whose loss is not finite fails with CL16_ERR_NUMERIC and writes no
 * weight: the trainer queues the backward and the updates behind the loss and
 * syncs once, so the loss kernel's flag is what skips the updates on the
 * device. fc3.bias[0] = inf makes every sample's logits non-finite; after the
 * refused step every trainable tensor holds the same bytes, the step count
 * has not moved, and a finite bias trains again. */
static void nonfinite_step(cl16_ctx *ctx, cl16_dtype dt, cl16_precision prec) {
    enum { N = 8, MAXP = 16 };
    static float img[N * 784];
    int32_t lab[N];
    for (int i = 0; i < N * 784; i++) /* not frand(): the tests after this one keep their data */
        img[i] = (float)((i * 37) % 101) / 50.0f - 1.0f;
    for (int i = 0; i < N; i++)
        lab[i] = i % 10;
    cl16_model *m = mk(ctx, "mlp", 1, 28, 28, dt, 3);
    cl16_train_opts o;
    cl16_train_opts_init(&o);
    o.optim.kind = CL16_OPT_SGD, o.optim.lr = 0.05f, o.optim.momentum = 0.9f, o.precision = prec;
    cl16_trainer *t = NULL;
    if (m)
        CHECK_OK(ctx, cl16_trainer_create(m, &o, &t));
    cl16_model_param *bias = m ? find(m, "fc3.bias") : NULL;
    if (!t || !bias)
        goto done;
    double loss = 0;
    CHECK_OK(ctx, cl16_trainer_step(t, img, lab, N, &loss, NULL));
    float bv[10];
    CHECK_OK(ctx, cl16_tensor_read_f32(bias->value, bv, 10));
    const float b0 = bv[0];
    bv[0] = INFINITY;
    CHECK_OK(ctx, cl16_tensor_write_f32(bias->value, bv, 10));
    unsigned char *before[MAXP] = {0}, *after[MAXP] = {0};
    size_t np = cl16_model_param_count(m), bytes[MAXP] = {0};
    CHECK(np <= MAXP);
    for (size_t i = 0; i < np && i < MAXP; i++) {
        cl16_model_param *q = cl16_model_param_at(m, i);
        if (q->kind != CL16_PARAM_TRAINABLE)
            continue;
        bytes[i] = (size_t)cl16_tensor_numel(q->value) * cl16_dtype_size(cl16_tensor_dtype(q->value));
        before[i] = malloc(bytes[i]), after[i] = malloc(bytes[i]);
        CHECK_OK(ctx, cl16_tensor_read_raw(q->value, before[i], bytes[i]));
    }
    const int64_t steps = cl16_trainer_steps(t);
    const cl16_status s = cl16_trainer_step(t, img, lab, N, &loss, NULL);
    CHECK_MSG(s == CL16_ERR_NUMERIC && strstr(cl16_ctx_last_error(ctx), "were not updated"),
              "%s: status %s, message: %s", cl16_precision_name(prec), cl16_status_str(s),
              cl16_ctx_last_error(ctx));
    CHECK(cl16_trainer_steps(t) == steps);
    int changed = 0;
    for (size_t i = 0; i < np && i < MAXP; i++)
        if (before[i]) {
            CHECK_OK(ctx, cl16_tensor_read_raw(cl16_model_param_at(m, i)->value, after[i], bytes[i]));
            changed += memcmp(before[i], after[i], bytes[i]) != 0;
        }
    CHECK_MSG(changed == 0, "%s: the refused step changed %d weight tensors",
              cl16_precision_name(prec), changed);
    bv[0] = b0;
    CHECK_OK(ctx, cl16_tensor_write_f32(bias->value, bv, 10));
    CHECK_OK(ctx, cl16_trainer_step(t, img, lab, N, &loss, NULL));
    CHECK_MSG(isfinite(loss), "%s: loss %g after the bias was restored", cl16_precision_name(prec),
              loss);
    for (size_t i = 0; i < MAXP; i++)
        free(before[i]), free(after[i]);
done:
    cl16_trainer_free(t);
    cl16_model_free(m);
}

int main(void) {
    cl16_ctx *ctx = test_ctx(getenv("CL16_CACHE_DIR"));
    char dir[] = "/tmp/cl16-test-model-XXXXXX";
    CHECK(mkdtemp(dir) != NULL);
    names_and_counts(ctx);
    static const char *const rn[] = {"conv1.weight",      "bn1.bias",
                                     "layer1.0.conv1.weight", "layer1.2.bn2.weight",
                                     "layer2.0.shortcut.0.weight", "layer2.0.conv1.weight",
                                     "layer3.2.conv2.weight", "fc.weight", "fc.bias", NULL};
    gradcheck(ctx, "resnet20", 3, 8, 8, rn);
    static const char *const ln[] = {"conv1.weight", "conv1.bias", "conv2.weight", "fc1.weight",
                                     "fc3.bias", NULL};
    gradcheck(ctx, "lenet5", 1, 28, 28, ln);
    static const char *const mn[] = {"fc1.weight", "fc2.bias", "fc3.weight", NULL};
    gradcheck(ctx, "mlp", 1, 28, 28, mn);
    round_trips(ctx, dir);
    /* A batch that cannot fit is refused before anything is allocated, with
     * the bytes needed against those available and a hint. */
    {
        cl16_model_opts o;
        cl16_model_opts_init(&o);
        o.arch = "mlp", o.hidden1 = 1 << 16, o.hidden2 = 16;
        cl16_model *big = NULL;
        uint64_t before, after, pk;
        cl16_tensor *x = NULL;
        CHECK_OK(ctx, cl16_model_create(ctx, &o, 1, &big));
        const uint64_t need = (uint64_t)65536 * (1 << 16) * 4; /* fc1 output alone */
        const int64_t xd[4] = {65536, 1, 28, 28};
        CHECK_OK(ctx, cl16_tensor_create(ctx, CL16_F32, 4, xd, &x));
        if (big && x && need > cl16_ctx_device(ctx)->global_mem) {
            cl16_ctx_memory(ctx, &before, &pk);
            const cl16_tensor *z;
            CHECK(cl16_model_forward(big, x, 1, &z) == CL16_ERR_OUT_OF_MEMORY);
            const char *e = cl16_ctx_last_error(ctx);
            CHECK_MSG(strstr(e, "at batch 65536 needs") && strstr(e, "MB free") &&
                          strstr(e, "smaller --batch or a 16-bit precision"),
                      "message: %s", e);
            cl16_ctx_memory(ctx, &after, &pk);
            CHECK_MSG(after == before, "the refusal allocated %llu bytes",
                      (unsigned long long)(after - before));
        } else if (big && x) {
            printf("note: this device has %.1f GB; the out-of-memory refusal is not exercised\n",
                   cl16_ctx_device(ctx)->global_mem / 1e9);
        }
        cl16_tensor_free(x);
        cl16_model_free(big);
    }
    nonfinite_step(ctx, CL16_F32, CL16_PREC_FP32);
    nonfinite_step(ctx, CL16_F16, CL16_PREC_FP16);
    resume(ctx, dir, "lenet5", CL16_F16, CL16_OPT_SGD, CL16_PREC_AUTO);
    resume(ctx, dir, "mlp", CL16_F32, CL16_OPT_ADAM, CL16_PREC_FP32);
    resume(ctx, dir, "mlp", CL16_F16, CL16_OPT_ADAMW, CL16_PREC_FP16);
    resume(ctx, dir, "lenet5", CL16_F16, CL16_OPT_SGD, CL16_PREC_FP16_SR);
    resume(ctx, dir, "mlp", CL16_F16, CL16_OPT_ADAM, CL16_PREC_FP16_KAHAN);
    resume(ctx, dir, "lenet5", CL16_F16, CL16_OPT_SGD, CL16_PREC_MIXED);
    resume(ctx, dir, "lenet5", CL16_BF16, CL16_OPT_SGD, CL16_PREC_AUTO);
    resume(ctx, dir, "mlp", CL16_BF16, CL16_OPT_ADAMW, CL16_PREC_BF16);
    resume(ctx, dir, "lenet5", CL16_BF16, CL16_OPT_SGD, CL16_PREC_BF16_SR);
    /* A precision that does not fit the model's dtype is refused by name. */
    {
        cl16_model *mm = mk(ctx, "mlp", 1, 28, 28, CL16_F32, 1);
        cl16_train_opts o;
        cl16_train_opts_init(&o);
        o.precision = CL16_PREC_FP16_SR;
        cl16_trainer *tt = NULL;
        CHECK(mm && cl16_trainer_create(mm, &o, &tt) == CL16_ERR_INVALID_ARG && !tt);
        CHECK(strstr(cl16_ctx_last_error(ctx), "fp16-sr"));
        cl16_model_free(mm);
        cl16_precision pp;
        CHECK(!cl16_precision_parse("fp16-kahan", &pp) && pp == CL16_PREC_FP16_KAHAN);
        CHECK(!cl16_precision_parse("bf16-sr", &pp) && pp == CL16_PREC_BF16_SR);
        CHECK(!strcmp(cl16_precision_name(CL16_PREC_BF16), "bf16"));
        CHECK(cl16_precision_dtype(CL16_PREC_BF16_SR) == CL16_BF16 &&
              cl16_precision_dtype(CL16_PREC_FP16_SR) == CL16_F16 &&
              cl16_precision_dtype(CL16_PREC_FP32) == CL16_F32);
        /* bf16 precisions train bf16 models only, and the f16 ones not bf16 models. */
        cl16_model *hm = mk(ctx, "mlp", 1, 28, 28, CL16_F16, 1);
        o.precision = CL16_PREC_BF16;
        CHECK(hm && cl16_trainer_create(hm, &o, &tt) == CL16_ERR_INVALID_ARG && !tt);
        CHECK(strstr(cl16_ctx_last_error(ctx), "bf16"));
        cl16_model_free(hm);
        cl16_model *bm = mk(ctx, "mlp", 1, 28, 28, CL16_BF16, 1);
        o.precision = CL16_PREC_FP16_SR;
        CHECK(bm && cl16_trainer_create(bm, &o, &tt) == CL16_ERR_INVALID_ARG && !tt);
        /* AUTO on a bf16 model: bf16, without loss scaling (float's exponent range). */
        o.precision = CL16_PREC_AUTO;
        CHECK_OK(ctx, cl16_trainer_create(bm, &o, &tt));
        if (tt) {
            cl16_train_stats ts;
            cl16_trainer_get_stats(tt, &ts);
            CHECK_MSG(ts.loss_scale == 1.0, "bf16: loss scale %g, expected 1 (none)", ts.loss_scale);
        }
        cl16_trainer_free(tt);
        cl16_model_free(bm);
        CHECK(cl16_precision_parse("fp8", &pp) == CL16_ERR_INVALID_ARG);
    }
    char cmd[600];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    if (system(cmd) != 0)
        fprintf(stderr, "could not remove %s\n", dir);
    cl16_ctx_free(ctx);
    return check_done("model");
}
