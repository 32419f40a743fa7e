/* trainer.c - optimizer state and the training step of a model: upload,
 * forward, softmax cross-entropy, backward, one fused optimizer kernel per
 * parameter; checkpoints with the optimizer state. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model/model_internal.h"
#include "ops/ops_util.h"

struct cl16_trainer {
    cl16_model *m;
    cl16_train_opts o;
    int64_t step;
    cl16_tensor *ms[MODEL_MAX_PARAMS], *vs[MODEL_MAX_PARAMS]; /* NULL where unused */
};

void cl16_train_opts_init(cl16_train_opts *o) {
    if (!o)
        return;
    memset(o, 0, sizeof *o);
    cl16_optim_params_init(&o->optim);
    o->schedule = CL16_LR_CONSTANT;
    o->step_size = 1;
    o->gamma = 0.1;
}

static const char *optim_name(cl16_optim_kind k) {
    return k == CL16_OPT_SGD ? "sgd" : k == CL16_OPT_ADAM ? "adam" : k == CL16_OPT_ADAMW ? "adamw" : "?";
}

void cl16_trainer_free(cl16_trainer *t) {
    if (!t)
        return;
    for (int i = 0; i < MODEL_MAX_PARAMS; i++)
        cl16_tensor_free(t->ms[i]), cl16_tensor_free(t->vs[i]);
    free(t);
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
    cl16_trainer *t = calloc(1, sizeof *t);
    if (!t)
        return cl16__fail(m->ctx, CL16_ERR_OUT_OF_MEMORY, "trainer_create: out of host memory");
    t->m = m, t->o = *o;
    cl16_status s = CL16_OK;
    for (size_t i = 0; i < m->nparams && !s; i++) {
        const cl16_model_param *p = &m->params[i];
        if (p->kind != CL16_PARAM_TRAINABLE)
            continue;
        const cl16_tensor *w = p->value;
        int64_t d[4];
        for (int k = 0; k < cl16_tensor_ndim(w); k++)
            d[k] = cl16_tensor_dim(w, k);
        if (needs_m(o) &&
            ((s = cl16_tensor_create(m->ctx, cl16_tensor_dtype(w), cl16_tensor_ndim(w), d, &t->ms[i])) ||
             (s = cl16_tensor_fill(t->ms[i], 0.0f))))
            break;
        if (o->optim.kind != CL16_OPT_SGD &&
            ((s = cl16_tensor_create(m->ctx, cl16_tensor_dtype(w), cl16_tensor_ndim(w), d, &t->vs[i])) ||
             (s = cl16_tensor_fill(t->vs[i], 0.0f))))
            break;
    }
    if (s) {
        cl16_trainer_free(t);
        return s;
    }
    *out = t;
    return CL16_OK;
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
    if (!images || !labels || n < 1)
        return cl16__fail(m->ctx, CL16_ERR_INVALID_ARG, "trainer_step: %s",
                          n < 1 ? "batch size below 1" : "images or labels is NULL");
    cl16_status s;
    const cl16_tensor *z;
    double l = 0;
    int64_t hits = 0;
    if ((s = cl16__model_io(m, n)) ||
        (s = cl16_tensor_write_f32(m->x, images, (size_t)cl16_tensor_numel(m->x))) ||
        (s = cl16_tensor_write_raw(m->labels, labels, (size_t)n * sizeof *labels)) ||
        (s = cl16_model_forward(m, m->x, 1, &z)))
        return s;
    s = cl16_softmax_xent(m->ctx, z, m->labels, 1.0f, &l, &hits, m->dlogits);
    if (loss)
        *loss = l;
    if (correct)
        *correct = hits;
    if (s == CL16_ERR_NUMERIC || (!s && !isfinite(l)))
        return cl16__fail(m->ctx, CL16_ERR_NUMERIC,
                          "the loss is %g at step %" PRId64 " (non-finite logits); the weights "
                          "were not updated",
                          l, t->step + 1);
    if (s || (s = cl16_model_backward(m, m->dlogits)))
        return s;
    cl16_optim_params p = t->o.optim;
    p.lr = (float)cl16_trainer_lr(t);
    for (size_t i = 0; i < m->nparams; i++) {
        cl16_model_param *q = &m->params[i];
        if (q->kind != CL16_PARAM_TRAINABLE)
            continue;
        if ((s = cl16_optim_step(m->ctx, &p, t->step + 1, q->value, q->grad, t->ms[i], t->vs[i])))
            return s;
    }
    t->step++;
    return CL16_OK;
}

/* Names of the optimizer state: "optim.m.<param>", "optim.v.<param>". */
static char *state_name(const char *kind, const char *param) {
    size_t n = strlen(param) + 10;
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
    const cl16_tensor *extra[2 * MODEL_MAX_PARAMS];
    char *names[2 * MODEL_MAX_PARAMS];
    size_t n = 0;
    cl16_status s = CL16_OK;
    for (size_t i = 0; i < m->nparams && !s; i++) {
        if (t->ms[i]) {
            extra[n] = t->ms[i];
            if (!(names[n++] = state_name("m", m->params[i].name)))
                s = CL16_ERR_OUT_OF_MEMORY;
        }
        if (t->vs[i] && !s) {
            extra[n] = t->vs[i];
            if (!(names[n++] = state_name("v", m->params[i].name)))
                s = CL16_ERR_OUT_OF_MEMORY;
        }
    }
    if (!s) {
        char step[32];
        snprintf(step, sizeof step, "%" PRId64, t->step);
        const char *own[] = {"step", step, "optimizer", optim_name(t->o.optim.kind), "precision",
                             m->opts.dtype == CL16_F16 ? "fp16" : "fp32"};
        size_t nmeta = 0;
        while (meta && meta[nmeta])
            nmeta++;
        const char **all = malloc((6 + nmeta + 1) * sizeof *all);
        if (!all) {
            s = CL16_ERR_OUT_OF_MEMORY;
        } else {
            size_t k = 0;
            for (size_t i = 0; i < 6; i += 2) {
                int overridden = 0;
                for (size_t j = 0; j + 1 < nmeta && !overridden; j += 2)
                    overridden = !strcmp(meta[j], own[i]);
                if (!overridden)
                    all[k++] = own[i], all[k++] = own[i + 1];
            }
            for (size_t j = 0; j < nmeta; j++)
                all[k++] = meta[j];
            all[k] = NULL;
            s = cl16__model_save_ex(m, path, m->opts.dtype, extra, (const char *const *)names, n,
                                    all, err, err_len);
            free((void *)all);
        }
    }
    if (s == CL16_ERR_OUT_OF_MEMORY && err && !err[0])
        snprintf(err, err_len, "trainer_save: out of host memory");
    for (size_t i = 0; i < n; i++)
        free(names[i]);
    return s;
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
    int any = 0;
    for (size_t i = 0; i < cl16_safetensors_count(f) && !any; i++)
        any = !strncmp(cl16_safetensors_at(f, i)->name, "optim.", 6);
    if (!any) {
        t->step = 0;
        return CL16_OK; /* a plain model file: the optimizer starts fresh */
    }
    const char *opt = cl16_safetensors_meta(f, "optimizer"), *step = cl16_safetensors_meta(f, "step");
    if (!opt || strcmp(opt, optim_name(t->o.optim.kind))) {
        if (err)
            snprintf(err, err_len, "the checkpoint's optimizer state is for %s, not %s",
                     opt ? opt : "(unnamed)", optim_name(t->o.optim.kind));
        return CL16_ERR_FORMAT;
    }
    char *end = NULL;
    const long long st = step ? strtoll(step, &end, 10) : -1;
    if (!step || *end || st < 0) {
        if (err)
            snprintf(err, err_len, "the checkpoint's \"step\" metadata is missing or not a count");
        return CL16_ERR_FORMAT;
    }
    /* Every state tensor must be there, with the parameter's shape. */
    int nstate = 0;
    for (size_t i = 0; i < m->nparams; i++)
        for (int k = 0; k < 2; k++) {
            cl16_tensor *dst = k ? t->vs[i] : t->ms[i];
            if (!dst)
                continue;
            nstate++;
            char *name = state_name(k ? "v" : "m", m->params[i].name);
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
            snprintf(err, err_len, "the checkpoint holds optimizer state this %s trainer does not use",
                     optim_name(t->o.optim.kind));
        return CL16_ERR_FORMAT;
    }
    cl16_status s = CL16_OK;
    for (size_t i = 0; i < m->nparams && !s; i++)
        for (int k = 0; k < 2 && !s; k++) {
            cl16_tensor *dst = k ? t->vs[i] : t->ms[i];
            if (!dst)
                continue;
            char *name = state_name(k ? "v" : "m", m->params[i].name);
            const cl16_st_tensor *e = cl16_safetensors_find(f, name);
            free(name);
            const size_t n = (size_t)cl16_tensor_numel(dst);
            const int same = (e->dtype == CL16_ST_F16 && cl16_tensor_dtype(dst) == CL16_F16) ||
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
    return CL16_OK;
}
