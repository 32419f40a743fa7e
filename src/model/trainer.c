/* trainer.c - optimizer state and the training step of a model: upload,
 * forward, softmax cross-entropy, backward, one fused optimizer kernel per
 * parameter; checkpoints with the optimizer state. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model/model_internal.h"
#include "ops/ops_util.h"

/* Per trainable parameter, NULL where unused: m and v (optimizer state), c
 * (Kahan compensation), w (mixed precision: the f32 master weights). */
enum { ST_M, ST_V, ST_C, ST_W, NSTATE };
static const char *const state_kind[NSTATE] = {"m", "v", "c", "master"};

struct cl16_trainer {
    cl16_model *m;
    cl16_train_opts o;
    cl16_precision prec;
    int scaling;                      /* resolved cl16_loss_scaling */
    double scale;                     /* current loss scale S */
    int64_t good;                     /* clean steps since S last changed */
    int64_t step, skipped, changed, stalled;
    cl16_tensor *state[NSTATE][MODEL_MAX_PARAMS];
    cl16_tensor *flag, *stats;        /* i32 [1] skip flag (non-finite loss or, with dynamic
                                         scaling, gradient), i32 [2] stall counters */
};

void cl16_train_opts_init(cl16_train_opts *o) {
    if (!o)
        return;
    memset(o, 0, sizeof *o);
    cl16_optim_params_init(&o->optim);
    o->schedule = CL16_LR_CONSTANT;
    o->step_size = 1;
    o->gamma = 0.1;
    o->precision = CL16_PREC_AUTO;
    o->scaling = CL16_SCALE_AUTO;
    o->loss_scale = 65536.0f;
    o->growth_interval = 2000;
    o->stall_stats = 1;
}

static const char *const prec_names[] = {"auto",  "fp32", "fp16",   "fp16-sr",
                                         "fp16-kahan", "mixed", "bf16", "bf16-sr"};

cl16_dtype cl16_precision_dtype(cl16_precision p) {
    return p == CL16_PREC_FP32 || p == CL16_PREC_AUTO         ? CL16_F32
           : p == CL16_PREC_BF16 || p == CL16_PREC_BF16_SR ? CL16_BF16
                                                             : CL16_F16;
}

const char *cl16_precision_name(cl16_precision p) {
    return (unsigned)p < sizeof prec_names / sizeof prec_names[0] ? prec_names[p] : "?";
}

cl16_status cl16_precision_parse(const char *s, cl16_precision *out) {
    for (unsigned i = 0; s && i < sizeof prec_names / sizeof prec_names[0]; i++)
        if (!strcmp(s, prec_names[i])) {
            if (out)
                *out = (cl16_precision)i;
            return CL16_OK;
        }
    return CL16_ERR_INVALID_ARG;
}

static const char *optim_name(cl16_optim_kind k) {
    return k == CL16_OPT_SGD ? "sgd" : k == CL16_OPT_ADAM ? "adam" : k == CL16_OPT_ADAMW ? "adamw" : "?";
}

void cl16_trainer_free(cl16_trainer *t) {
    if (!t)
        return;
    for (int k = 0; k < NSTATE; k++)
        for (int i = 0; i < MODEL_MAX_PARAMS; i++)
            cl16_tensor_free(t->state[k][i]);
    cl16_tensor_free(t->flag), cl16_tensor_free(t->stats);
    free(t);
}

/* A zeroed state tensor shaped like w, of dtype dt (or a copy of w's values). */
static cl16_status state_new(cl16_model *m, const cl16_tensor *w, cl16_dtype dt, int copy,
                             cl16_tensor **out) {
    int64_t d[4];
    for (int k = 0; k < cl16_tensor_ndim(w); k++)
        d[k] = cl16_tensor_dim(w, k);
    cl16_status s = cl16_tensor_create(m->ctx, dt, cl16_tensor_ndim(w), d, out);
    if (s)
        return s;
    if (!copy)
        return cl16_tensor_fill(*out, 0.0f);
    const size_t n = (size_t)cl16_tensor_numel(w);
    float *v = malloc(n * sizeof *v);
    if (!v)
        return cl16__fail(m->ctx, CL16_ERR_OUT_OF_MEMORY, "trainer: out of host memory");
    if (!(s = cl16_tensor_read_f32(w, v, n)))
        s = cl16_tensor_write_f32(*out, v, n);
    free(v);
    return s;
}

static int needs_m(const cl16_train_opts *o) {
    return o->optim.kind != CL16_OPT_SGD || o->optim.momentum > 0.0f;
}

cl16_status cl16_trainer_create(cl16_model *m, const cl16_train_opts *o, cl16_trainer **out) {
    if (!m)
        return CL16_ERR_INVALID_ARG;
    if (!o || !out)
        return cl16__fail(m->ctx, CL16_ERR_INVALID_ARG, "trainer_create: %s is NULL",
                          out ? "opts" : "out");
    *out = NULL;
    const double lr0 = cl16_lr_at(o->schedule, o->optim.lr, 0, o->total_steps, o->warmup_steps,
                                  o->step_size, o->gamma);
    if (isnan(lr0) || o->warmup_steps < 0 || (o->schedule == CL16_LR_COSINE && o->total_steps < 1))
        return cl16__fail(m->ctx, CL16_ERR_INVALID_ARG,
                          "trainer_create: learning-rate schedule %d with warm-up %" PRId64
                          ", step size %" PRId64 ", total %" PRId64 " is not valid",
                          (int)o->schedule, o->warmup_steps, o->step_size, o->total_steps);
    const int half = m->opts.dtype == CL16_F16, bf16 = m->opts.dtype == CL16_BF16;
    cl16_precision prec = o->precision;
    if (prec == CL16_PREC_AUTO)
        prec = half ? CL16_PREC_FP16 : bf16 ? CL16_PREC_BF16 : CL16_PREC_FP32;
    if ((unsigned)prec > CL16_PREC_BF16_SR || cl16_precision_dtype(prec) != m->opts.dtype)
        return cl16__fail(m->ctx, CL16_ERR_INVALID_ARG,
                          "trainer_create: precision %s does not fit a %s model (fp32 trains f32 "
                          "models, bf16 and bf16-sr bf16 models, the other 16-bit precisions f16 "
                          "models)",
                          cl16_precision_name(prec), cl16_dtype_name(m->opts.dtype));
    /* bf16 has float's 8-bit exponent: gradients neither overflow nor flush
     * where f32 would not, so loss scaling is off by default there. */
    int scaling = o->scaling == CL16_SCALE_AUTO ? (half ? CL16_SCALE_DYNAMIC : CL16_SCALE_NONE)
                                                : (int)o->scaling;
    if (scaling < CL16_SCALE_NONE || scaling > CL16_SCALE_DYNAMIC ||
        (scaling != CL16_SCALE_NONE && !(isfinite(o->loss_scale) && o->loss_scale >= 1.0f)) ||
        (scaling == CL16_SCALE_DYNAMIC && o->growth_interval < 1))
        return cl16__fail(m->ctx, CL16_ERR_INVALID_ARG,
                          "trainer_create: loss scaling %d with scale %g and growth interval %" PRId64
                          " is not valid (scale >= 1, interval >= 1)",
                          (int)o->scaling, (double)o->loss_scale, o->growth_interval);
    cl16_trainer *t = calloc(1, sizeof *t);
    if (!t)
        return cl16__fail(m->ctx, CL16_ERR_OUT_OF_MEMORY, "trainer_create: out of host memory");
    t->m = m, t->o = *o, t->prec = prec, t->scaling = scaling;
    t->scale = scaling == CL16_SCALE_NONE ? 1.0 : o->loss_scale;
    cl16_status s = CL16_OK;
    const int64_t two = 2, one = 1;
    if ((s = cl16_tensor_create(m->ctx, CL16_I32, 1, &one, &t->flag)))
        goto fail;
    if (o->stall_stats && (half || bf16) && (s = cl16_tensor_create(m->ctx, CL16_I32, 1, &two, &t->stats)))
        goto fail;
    for (size_t i = 0; i < m->nparams && !s; i++) {
        const cl16_model_param *p = &m->params[i];
        if (p->kind != CL16_PARAM_TRAINABLE)
            continue;
        const cl16_tensor *w = p->value;
        const int f16 = cl16_tensor_dtype(w) == CL16_F16;
        /* Mixed: f32 master and state for the f16 weights (BatchNorm's are f32 already). */
        const int master = prec == CL16_PREC_MIXED && f16;
        const cl16_dtype sdt = master ? CL16_F32 : cl16_tensor_dtype(w);
        if (master)
            s = state_new(m, w, CL16_F32, 1, &t->state[ST_W][i]);
        if (!s && needs_m(o))
            s = state_new(m, w, sdt, 0, &t->state[ST_M][i]);
        if (!s && o->optim.kind != CL16_OPT_SGD)
            s = state_new(m, w, sdt, 0, &t->state[ST_V][i]);
        if (!s && prec == CL16_PREC_FP16_KAHAN && f16)
            s = state_new(m, w, CL16_F16, 0, &t->state[ST_C][i]);
    }
    if (s)
        goto fail;
    *out = t;
    return CL16_OK;
fail:
    cl16_trainer_free(t);
    return s;
}

void cl16_trainer_get_stats(const cl16_trainer *t, cl16_train_stats *st) {
    if (!t || !st)
        return;
    st->steps = t->step, st->skipped = t->skipped, st->loss_scale = t->scale;
    st->changed = t->changed, st->stalled = t->stalled;
}

void cl16_trainer_reset_stall(cl16_trainer *t) {
    if (t)
        t->changed = t->stalled = 0;
}

int64_t cl16_trainer_steps(const cl16_trainer *t) { return t ? t->step : 0; }

double cl16_trainer_lr(const cl16_trainer *t) {
    if (!t)
        return NAN;
    return cl16_lr_at(t->o.schedule, t->o.optim.lr, t->step, t->o.total_steps, t->o.warmup_steps,
                      t->o.step_size, t->o.gamma);
}

cl16_status cl16_trainer_step(cl16_trainer *t, const float *images, const int32_t *labels,
                              int64_t n, double *loss, int64_t *correct) {
    if (!t)
        return CL16_ERR_INVALID_ARG;
    cl16_model *m = t->m;
    const cl16_tensor *z;
    cl16_status s = cl16__model_run(m, "trainer_step", images, labels, n, 1, &z);
    if (s)
        return s;
    /* One host sync per step, at its end: the flag is cleared, the loss, the
     * backward, the gradient checks and the updates are queued behind the
     * forward, and the updates read the flag on the device. The loss kernel
     * sets it for a non-finite sample, so such a step writes no weight, as an
     * overflowing gradient's does. */
    cl16__xent xe;
    if ((s = cl16_tensor_fill(t->flag, 0.0f)) ||
        (t->stats && (s = cl16_tensor_fill(t->stats, 0.0f))) ||
        (s = cl16__xent_launch(m->ctx, z, m->labels, labels, (float)t->scale, m->dlogits, t->flag,
                               &xe)))
        return s;
    s = cl16_model_backward(m, m->dlogits);
    if (t->scaling == CL16_SCALE_DYNAMIC && !s) { /* every gradient checked before any update */
        const cl16_tensor *gs[MODEL_MAX_PARAMS];
        size_t ng = 0;
        for (size_t i = 0; i < m->nparams; i++)
            if (m->params[i].kind == CL16_PARAM_TRAINABLE)
                gs[ng++] = m->params[i].grad;
        s = cl16_grad_check_n(m->ctx, gs, ng, t->flag);
    }
    cl16_optim_params p = t->o.optim;
    p.lr = (float)cl16_trainer_lr(t);
    cl16_optim_extra x;
    cl16_optim_extra_init(&x);
    x.rounding = t->prec == CL16_PREC_FP16_SR || t->prec == CL16_PREC_BF16_SR ? CL16_ROUND_STOCHASTIC
                 : t->prec == CL16_PREC_FP16_KAHAN ? CL16_ROUND_KAHAN
                                                   : CL16_ROUND_NEAREST;
    x.seed = t->o.seed;
    x.grad_scale = (float)(1.0 / t->scale);
    x.skip = t->flag;
    x.stats = t->stats;
    for (size_t i = 0; i < m->nparams && !s; i++) {
        cl16_model_param *q = &m->params[i];
        if (q->kind != CL16_PARAM_TRAINABLE)
            continue;
        x.tensor_id = (uint32_t)i;
        x.comp = t->state[ST_C][i];
        cl16_tensor *w = q->value;
        x.w16 = NULL;
        if (t->state[ST_W][i]) /* mixed: update the master, refresh the f16 copy */
            x.w16 = w, w = t->state[ST_W][i];
        s = cl16_optim_step_ex(m->ctx, &p, t->step + 1, w, q->grad, t->state[ST_M][i],
                               t->state[ST_V][i], &x);
    }
    int32_t flag = 0, st[2] = {0, 0};
    if (s || (s = cl16_tensor_read_raw(t->flag, &flag, 4))) {
        cl16__xent_free(m->ctx, &xe); /* waits for the queued reads first */
        return s;
    }
    double l = 0;
    int64_t hits = 0;
    s = cl16__xent_collect(m->ctx, &xe, &l, &hits);
    if (loss)
        *loss = l;
    if (correct)
        *correct = hits;
    if (s == CL16_ERR_NUMERIC || (!s && !isfinite(l)))
        return cl16__fail(m->ctx, CL16_ERR_NUMERIC,
                          "the loss is %g at step %" PRId64 " (non-finite logits); the weights "
                          "were not updated",
                          l, t->step + 1);
    if (s)
        return s;
    if (t->stats && !flag && (s = cl16_tensor_read_raw(t->stats, st, 8)))
        return s;
    t->changed += st[0], t->stalled += st[1];
    if (flag) { /* overflow: nothing was written; try again with half the scale */
        t->skipped++;
        t->good = 0;
        if (t->scale > 1.0)
            t->scale *= 0.5;
        return CL16_OK;
    }
    t->step++;
    if (t->scaling == CL16_SCALE_DYNAMIC && ++t->good >= t->o.growth_interval) {
        t->good = 0;
        if (t->scale < 16777216.0) /* 2^24: beyond, half gradients overflow anyway */
            t->scale *= 2.0;
    }
    return CL16_OK;
}

/* Names of the optimizer state: "optim.m.<param>", "optim.v.<param>". */
static char *state_name(const char *kind, const char *param) {
    size_t n = strlen(param) + strlen(kind) + 9;
    char *s = malloc(n);
    if (s)
        snprintf(s, n, "optim.%s.%s", kind, param);
    return s;
}

cl16_status cl16_trainer_save(cl16_trainer *t, const char *path, const char *const *meta,
                              char *err, size_t err_len) {
    if (!t) {
        if (err)
            snprintf(err, err_len, "trainer_save: trainer is NULL");
        return CL16_ERR_INVALID_ARG;
    }
    cl16_model *m = t->m;
    const cl16_tensor **extra = calloc(NSTATE * MODEL_MAX_PARAMS, sizeof *extra);
    char **names = calloc(NSTATE * MODEL_MAX_PARAMS, sizeof *names);
    size_t n = 0;
    cl16_status s = extra && names ? CL16_OK : CL16_ERR_OUT_OF_MEMORY;
    for (size_t i = 0; i < m->nparams && !s; i++)
        for (int k = 0; k < NSTATE && !s; k++)
            if (t->state[k][i]) {
                extra[n] = t->state[k][i];
                if (!(names[n++] = state_name(state_kind[k], m->params[i].name)))
                    s = CL16_ERR_OUT_OF_MEMORY;
            }
    if (!s) {
        char step[32], skipped[32], scale[32], good[32];
        snprintf(step, sizeof step, "%" PRId64, t->step);
        snprintf(skipped, sizeof skipped, "%" PRId64, t->skipped);
        snprintf(scale, sizeof scale, "%.17g", t->scale);
        snprintf(good, sizeof good, "%" PRId64, t->good);
        const char *own[] = {"step",       step,    "optimizer",    optim_name(t->o.optim.kind),
                             "precision",  cl16_precision_name(t->prec), "loss_scale", scale,
                             "scale_good", good,    "skipped_steps", skipped};
        const size_t nown = sizeof own / sizeof own[0];
        const char **all = cl16__meta_merge(own, nown, meta);
        if (!all) {
            s = CL16_ERR_OUT_OF_MEMORY;
        } else {
            s = cl16__model_save_ex(m, path, m->opts.dtype, extra, (const char *const *)names, n,
                                    all, err, err_len);
            free((void *)all);
        }
    }
    if (s == CL16_ERR_OUT_OF_MEMORY && err && !err[0])
        snprintf(err, err_len, "trainer_save: out of host memory");
    for (size_t i = 0; names && i < n; i++)
        free(names[i]);
    free(names), free((void *)extra);
    return s;
}

/* A non-negative integer from metadata, or -1. */
static int64_t meta_count(const cl16_safetensors *f, const char *key) {
    const char *v = cl16_safetensors_meta(f, key);
    char *end = NULL;
    const long long x = v ? strtoll(v, &end, 10) : -1;
    return v && *v && !*end && x >= 0 ? (int64_t)x : -1;
}

cl16_status cl16_trainer_restore(cl16_trainer *t, const cl16_safetensors *f, char *err,
                                 size_t err_len) {
    if (err && err_len)
        err[0] = '\0';
    if (!t || !f) {
        if (err)
            snprintf(err, err_len, "trainer_restore: %s is NULL", t ? "file" : "trainer");
        return CL16_ERR_INVALID_ARG;
    }
    cl16_model *m = t->m;
    /* A checkpoint says how many steps it took (plain SGD has no state
     * tensors at all); a model file, ours or PyTorch's, does not. */
    int any = cl16_safetensors_meta(f, "step") != NULL;
    for (size_t i = 0; i < cl16_safetensors_count(f) && !any; i++)
        any = !strncmp(cl16_safetensors_at(f, i)->name, "optim.", 6);
    if (!any) {
        t->step = 0;
        return CL16_OK; /* a plain model file: the optimizer starts fresh */
    }
    const char *opt = cl16_safetensors_meta(f, "optimizer");
    if (!opt || strcmp(opt, optim_name(t->o.optim.kind))) {
        if (err)
            snprintf(err, err_len, "the checkpoint's optimizer state is for %s, not %s",
                     opt ? opt : "(unnamed)", optim_name(t->o.optim.kind));
        return CL16_ERR_FORMAT;
    }
    const char *prec = cl16_safetensors_meta(f, "precision");
    if (prec && strcmp(prec, cl16_precision_name(t->prec))) {
        if (err)
            snprintf(err, err_len, "the checkpoint was trained in %s, this trainer runs %s", prec,
                     cl16_precision_name(t->prec));
        return CL16_ERR_FORMAT;
    }
    const int64_t st = meta_count(f, "step");
    if (st < 0) {
        if (err)
            snprintf(err, err_len, "the checkpoint's \"step\" metadata is missing or not a count");
        return CL16_ERR_FORMAT;
    }
    /* Every state tensor must be there, with the parameter's count, and no other. */
    int nstate = 0;
    for (size_t i = 0; i < m->nparams; i++)
        for (int k = 0; k < NSTATE; k++) {
            cl16_tensor *dst = t->state[k][i];
            if (!dst)
                continue;
            nstate++;
            char *name = state_name(state_kind[k], m->params[i].name);
            const cl16_st_tensor *e = name ? cl16_safetensors_find(f, name) : NULL;
            int ok = e && e->dtype != CL16_ST_I64 && cl16__st_numel(e) == cl16_tensor_numel(dst);
            if (!ok) {
                if (err)
                    snprintf(err, err_len, "optimizer state %s is %s", name ? name : "?",
                             e ? "of the wrong shape or dtype" : "missing");
                free(name);
                return CL16_ERR_FORMAT;
            }
            free(name);
        }
    for (size_t i = 0; i < cl16_safetensors_count(f); i++)
        if (!strncmp(cl16_safetensors_at(f, i)->name, "optim.", 6))
            nstate--;
    if (nstate != 0) {
        if (err)
            snprintf(err, err_len,
                     "the checkpoint holds optimizer state this %s %s trainer does not use",
                     cl16_precision_name(t->prec), optim_name(t->o.optim.kind));
        return CL16_ERR_FORMAT;
    }
    cl16_status s = CL16_OK;
    for (size_t i = 0; i < m->nparams && !s; i++)
        for (int k = 0; k < NSTATE && !s; k++) {
            cl16_tensor *dst = t->state[k][i];
            if (!dst)
                continue;
            char *name = state_name(state_kind[k], m->params[i].name);
            const cl16_st_tensor *e = cl16_safetensors_find(f, name);
            free(name);
            const size_t n = (size_t)cl16_tensor_numel(dst);
            const int same = (e->dtype == CL16_ST_F16 && cl16_tensor_dtype(dst) == CL16_F16) ||
                             (e->dtype == CL16_ST_BF16 && cl16_tensor_dtype(dst) == CL16_BF16) ||
                             (e->dtype == CL16_ST_F32 && cl16_tensor_dtype(dst) == CL16_F32);
            if (same) { /* bit-exact */
                void *buf = malloc(e->bytes);
                if (!buf)
                    return CL16_ERR_OUT_OF_MEMORY;
                memcpy(buf, e->data, e->bytes);
                s = cl16_tensor_write_raw(dst, buf, e->bytes);
                free(buf);
            } else {
                float *fl = malloc(n * sizeof *fl);
                if (!fl)
                    return CL16_ERR_OUT_OF_MEMORY;
                cl16__st_to_floats(e, fl);
                s = cl16_tensor_write_f32(dst, fl, n);
                free(fl);
            }
        }
    if (s) {
        if (err)
            snprintf(err, err_len, "restoring optimizer state: %s", cl16_ctx_last_error(m->ctx));
        return s;
    }
    t->step = st;
    const int64_t skipped = meta_count(f, "skipped_steps"), good = meta_count(f, "scale_good");
    const char *scale = cl16_safetensors_meta(f, "loss_scale");
    if (skipped >= 0)
        t->skipped = skipped;
    if (good >= 0)
        t->good = good;
    if (scale && t->scaling == CL16_SCALE_DYNAMIC) {
        const double x = strtod(scale, NULL);
        if (isfinite(x) && x >= 1.0)
            t->scale = x;
    }
    return CL16_OK;
}
