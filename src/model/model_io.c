/* model_io.c - a model's state_dict to and from safetensors files: strict name
 * and shape checks reported all at once, dtype conversion with a cast report,
 * atomic saves. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model/model_internal.h"
#include "ops/ops_util.h"

int64_t cl16__st_numel(const cl16_st_tensor *t) {
    int64_t n = 1;
    for (int k = 0; k < t->ndim; k++)
        n *= t->dims[k];
    return n;
}

void cl16__st_to_floats(const cl16_st_tensor *t, float *dst) {
    const int64_t n = cl16__st_numel(t);
    const unsigned char *p = t->data;
    for (int64_t i = 0; i < n; i++) {
        if (t->dtype == CL16_ST_F32) {
            memcpy(&dst[i], p + 4 * i, 4);
        } else {
            uint16_t h;
            memcpy(&h, p + 2 * i, 2);
            if (t->dtype == CL16_ST_F16) {
                dst[i] = cl16_half_to_float(h);
            } else { /* BF16: the high half of a float */
                uint32_t u = (uint32_t)h << 16;
                memcpy(&dst[i], &u, 4);
            }
        }
    }
}

/* Appends to a bounded list "a, b, c" (with "..." once full). */
static void list_add(char *buf, size_t n, int *count, const char *item) {
    size_t len = strlen(buf);
    if (len + strlen(item) + 8 < n)
        snprintf(buf + len, n - len, "%s%s", (*count)++ ? ", " : "", item);
    else if (len + 5 < n && !strstr(buf, "..."))
        snprintf(buf + len, n - len, ", ..."), (*count)++;
    else
        (*count)++;
}

static const char *st_dtype_name(cl16_st_dtype d) {
    return d == CL16_ST_F32 ? "F32" : d == CL16_ST_F16 ? "F16" : d == CL16_ST_BF16 ? "BF16" : "I64";
}

static void dims_str(int nd, const int64_t *d, char *buf, size_t n) { cl16__op_dims_str(nd, d, buf, n); }

cl16_status cl16_model_load(cl16_model *m, const cl16_safetensors *f, cl16_cast_report *rep,
                            char *err, size_t err_len) {
    if (err && err_len)
        err[0] = '\0';
    if (!m || !f) {
        if (err)
            snprintf(err, err_len, "model_load: %s is NULL", m ? "file" : "model");
        return CL16_ERR_INVALID_ARG;
    }
    cl16_cast_report r;
    memset(&r, 0, sizeof r);
    /* 1. Names and shapes, every problem collected. */
    char missing[1024] = "", unexpected[1024] = "", mismatched[1536] = "";
    int nmiss = 0, nunexp = 0, nmis = 0;
    for (size_t i = 0; i < m->nparams; i++) {
        const cl16_model_param *p = &m->params[i];
        const cl16_st_tensor *t = cl16_safetensors_find(f, p->name);
        if (!t) {
            list_add(missing, sizeof missing, &nmiss, p->name);
            continue;
        }
        char item[320], have[96], want[96];
        if (p->kind == CL16_PARAM_COUNTER) {
            if (t->dtype != CL16_ST_I64 || cl16__st_numel(t) != 1) {
                dims_str(t->ndim, t->dims, have, sizeof have);
                snprintf(item, sizeof item, "%s (%s %s, expected one I64)", p->name,
                         st_dtype_name(t->dtype), have);
                list_add(mismatched, sizeof mismatched, &nmis, item);
            }
            continue;
        }
        const cl16_tensor *v = p->value;
        int same = t->ndim == cl16_tensor_ndim(v) && t->dtype != CL16_ST_I64;
        for (int k = 0; same && k < t->ndim; k++)
            same = t->dims[k] == cl16_tensor_dim(v, k);
        if (!same) {
            int64_t vd[4];
            for (int k = 0; k < cl16_tensor_ndim(v); k++)
                vd[k] = cl16_tensor_dim(v, k);
            dims_str(t->ndim, t->dims, have, sizeof have);
            dims_str(cl16_tensor_ndim(v), vd, want, sizeof want);
            snprintf(item, sizeof item, "%s (file %s %s, model %s)", p->name,
                     st_dtype_name(t->dtype), have, want);
            list_add(mismatched, sizeof mismatched, &nmis, item);
        }
    }
    for (size_t i = 0; i < cl16_safetensors_count(f); i++) {
        const cl16_st_tensor *t = cl16_safetensors_at(f, i);
        if (strncmp(t->name, "optim.", 6) == 0)
            continue;
        int found = 0;
        for (size_t j = 0; j < m->nparams && !found; j++)
            found = !strcmp(m->params[j].name, t->name);
        if (!found)
            list_add(unexpected, sizeof unexpected, &nunexp, t->name);
    }
    if (nmiss || nunexp || nmis) {
        if (err)
            snprintf(err, err_len,
                     "the file does not hold a %s model: %d missing%s%s%s, %d unexpected%s%s%s, %d "
                     "mismatched%s%s%s",
                     m->arch, nmiss, nmiss ? " (" : "", missing, nmiss ? ")" : "", nunexp,
                     nunexp ? " (" : "", unexpected, nunexp ? ")" : "", nmis, nmis ? " (" : "",
                     mismatched, nmis ? ")" : "");
        return CL16_ERR_FORMAT;
    }
    /* 2. Convert everything on the host first, so that a refusal changes nothing. */
    void **host = calloc(m->nparams, sizeof *host);
    cl16_status s = CL16_OK;
    if (!host) {
        if (err)
            snprintf(err, err_len, "model_load: out of host memory");
        return CL16_ERR_OUT_OF_MEMORY;
    }
    for (size_t i = 0; i < m->nparams && !s; i++) {
        const cl16_model_param *p = &m->params[i];
        const cl16_st_tensor *t = cl16_safetensors_find(f, p->name);
        if (p->kind == CL16_PARAM_COUNTER)
            continue;
        const int64_t n = cl16__st_numel(t);
        const cl16_dtype dt = cl16_tensor_dtype(p->value);
        float *fl = malloc((size_t)n * sizeof *fl);
        if (!fl) {
            s = CL16_ERR_OUT_OF_MEMORY;
            if (err)
                snprintf(err, err_len, "model_load: out of host memory for %s", p->name);
            break;
        }
        cl16__st_to_floats(t, fl);
        r.values += n;
        for (int64_t j = 0; j < n; j++)
            if (!isfinite(fl[j])) {
                s = CL16_ERR_NUMERIC;
                if (err)
                    snprintf(err, err_len, "tensor %s holds a non-finite value (%g at element %" PRId64
                             "); refusing to load it",
                             p->name, (double)fl[j], j);
                break;
            }
        if (!s && dt == CL16_BF16) {
            /* bf16 has float's exponent range: only values above its largest
             * finite (3.39e38) overflow and only float subnormals below 2^-133
             * flush; BF16 in the file is taken bit for bit. */
            uint16_t *h = malloc((size_t)n * sizeof *h);
            if (!h) {
                free(fl);
                s = CL16_ERR_OUT_OF_MEMORY;
                break;
            }
            if (t->dtype == CL16_ST_BF16)
                memcpy(h, t->data, (size_t)n * 2);
            else
                cl16_floats_to_bf16s(fl, h, (size_t)n);
            for (int64_t j = 0; j < n; j++) {
                const uint16_t e = h[j] & 0x7f80u;
                if (e == 0x7f80u) {
                    if (!r.overflowed++)
                        snprintf(r.first_overflow, sizeof r.first_overflow, "%s", p->name);
                } else if (fl[j] != 0.0f && (h[j] & 0x7fffu) == 0) {
                    if (!r.flushed++)
                        snprintf(r.first_flush, sizeof r.first_flush, "%s", p->name);
                } else if (e == 0 && (h[j] & 0x7fu)) {
                    r.subnormal++;
                }
            }
            free(fl);
            host[i] = h;
        } else if (!s && dt == CL16_F16) {
            uint16_t *h = malloc((size_t)n * sizeof *h);
            if (!h) {
                free(fl);
                s = CL16_ERR_OUT_OF_MEMORY;
                break;
            }
            if (t->dtype == CL16_ST_F16)
                memcpy(h, t->data, (size_t)n * 2); /* exact: no rounding */
            else
                cl16_floats_to_halves(fl, h, (size_t)n);
            for (int64_t j = 0; j < n; j++) {
                const uint16_t e = h[j] & 0x7c00u;
                if (e == 0x7c00u) {
                    if (!r.overflowed++)
                        snprintf(r.first_overflow, sizeof r.first_overflow, "%s", p->name);
                } else if (fl[j] != 0.0f && (h[j] & 0x7fffu) == 0) {
                    if (!r.flushed++)
                        snprintf(r.first_flush, sizeof r.first_flush, "%s", p->name);
                } else if (e == 0 && (h[j] & 0x3ffu)) {
                    r.subnormal++;
                }
            }
            free(fl);
            host[i] = h;
        } else {
            host[i] = fl;
        }
    }
    if (!s && r.overflowed) {
        s = CL16_ERR_NUMERIC;
        if (err)
            snprintf(err, err_len,
                     "%" PRId64 " value(s) overflow %s, first in tensor %s; the model was not changed",
                     r.overflowed,
                     m->opts.dtype == CL16_BF16 ? "bfloat16 (|x| > 3.39e38)"
                                                : "half precision (|x| > 65504)",
                     r.first_overflow);
    }
    for (size_t i = 0; i < m->nparams && !s; i++) {
        cl16_model_param *p = &m->params[i];
        const cl16_st_tensor *t = cl16_safetensors_find(f, p->name);
        if (p->kind == CL16_PARAM_COUNTER) {
            int64_t c;
            memcpy(&c, t->data, 8);
            p->counter = c;
            continue;
        }
        s = cl16_tensor_write_raw(p->value, host[i], cl16_tensor_bytes(p->value));
        if (s && err)
            snprintf(err, err_len, "writing %s to the device: %s", p->name,
                     cl16_ctx_last_error(m->ctx));
    }
    for (size_t i = 0; i < m->nparams; i++)
        free(host[i]);
    free(host);
    if (rep)
        *rep = r;
    return s;
}

const char **cl16__meta_merge(const char *const *own, size_t nown, const char *const *meta) {
    size_t nmeta = 0;
    while (meta && meta[nmeta])
        nmeta++;
    const char **all = malloc((nown + nmeta + 1) * sizeof *all);
    if (!all)
        return NULL;
    size_t k = 0;
    for (size_t i = 0; i + 1 < nown; i += 2) {
        int overridden = 0; /* a caller's key replaces ours */
        for (size_t j = 0; j + 1 < nmeta && !overridden; j += 2)
            overridden = !strcmp(meta[j], own[i]);
        if (!overridden)
            all[k++] = own[i], all[k++] = own[i + 1];
    }
    for (size_t j = 0; j < nmeta; j++)
        all[k++] = meta[j];
    all[k] = NULL;
    return all;
}

cl16_status cl16__model_save_ex(cl16_model *m, const char *path, cl16_dtype file_dtype,
                                const cl16_tensor *const *extra, const char *const *extra_names,
                                size_t n_extra, const char *const *meta, char *err,
                                size_t err_len) {
    if (err && err_len)
        err[0] = '\0';
    if (!m || !path) {
        if (err)
            snprintf(err, err_len, "model_save: %s is NULL", m ? "path" : "model");
        return CL16_ERR_INVALID_ARG;
    }
    if (file_dtype != CL16_F32 && file_dtype != CL16_F16 && file_dtype != CL16_BF16) {
        if (err)
            snprintf(err, err_len, "model_save: file dtype must be f32, f16 or bf16");
        return CL16_ERR_INVALID_ARG;
    }
    const size_t total = m->nparams + n_extra;
    cl16_st_tensor *st = calloc(total, sizeof *st);
    void **host = calloc(total, sizeof *host);
    cl16_status s = CL16_OK;
    if (!st || !host) {
        free(st), free(host);
        if (err)
            snprintf(err, err_len, "model_save: out of host memory");
        return CL16_ERR_OUT_OF_MEMORY;
    }
    for (size_t i = 0; i < total && !s; i++) {
        const cl16_tensor *v;
        cl16_st_tensor *e = &st[i];
        if (i < m->nparams) {
            const cl16_model_param *p = &m->params[i];
            e->name = p->name;
            if (p->kind == CL16_PARAM_COUNTER) {
                e->dtype = CL16_ST_I64, e->ndim = 0, e->bytes = 8;
                if (!(host[i] = malloc(8))) {
                    s = CL16_ERR_OUT_OF_MEMORY;
                    break;
                }
                memcpy(host[i], &p->counter, 8);
                e->data = host[i];
                continue;
            }
            v = p->value;
        } else {
            v = extra[i - m->nparams];
            e->name = extra_names[i - m->nparams];
        }
        const cl16_dtype dt = cl16_tensor_dtype(v);
        /* Model weights go out in file_dtype; f32-only tensors (BatchNorm) and
         * extra tensors (optimizer state) keep their own dtype. */
        const cl16_dtype out_dt = i < m->nparams && !m->keep_f32[i] ? file_dtype : dt;
        e->dtype = out_dt == CL16_F16 ? CL16_ST_F16 : out_dt == CL16_BF16 ? CL16_ST_BF16 : CL16_ST_F32;
        e->ndim = cl16_tensor_ndim(v);
        for (int k = 0; k < e->ndim; k++)
            e->dims[k] = cl16_tensor_dim(v, k);
        const size_t n = (size_t)cl16_tensor_numel(v);
        e->bytes = n * cl16_dtype_size(out_dt);
        if (!(host[i] = malloc(n * 4 + 4))) {
            s = CL16_ERR_OUT_OF_MEMORY;
            break;
        }
        if (out_dt == dt) {
            s = cl16_tensor_read_raw(v, host[i], cl16_tensor_bytes(v));
        } else {
            float *fl = malloc(n * sizeof *fl);
            if (!fl) {
                s = CL16_ERR_OUT_OF_MEMORY;
                break;
            }
            s = cl16_tensor_read_f32(v, fl, n);
            if (!s && out_dt == CL16_F16)
                cl16_floats_to_halves(fl, host[i], n);
            else if (!s && out_dt == CL16_BF16)
                cl16_floats_to_bf16s(fl, host[i], n);
            else if (!s)
                memcpy(host[i], fl, n * 4);
            free(fl);
        }
        e->data = host[i];
        if (s && err)
            snprintf(err, err_len, "reading %s from the device: %s", e->name,
                     cl16_ctx_last_error(m->ctx));
        /* Never a silent NaN model on disk: a non-finite value (trained into
         * the model, or a finite one that overflows the file's half) refuses
         * the save, and the file at path stays as it was. */
        for (size_t j = 0; !s && j < n; j++) {
            int bad;
            float x;
            if (out_dt == CL16_F16) {
                const uint16_t h = ((const uint16_t *)host[i])[j];
                bad = (h & 0x7c00u) == 0x7c00u;
                x = cl16_half_to_float(h);
            } else if (out_dt == CL16_BF16) {
                const uint16_t h = ((const uint16_t *)host[i])[j];
                bad = (h & 0x7f80u) == 0x7f80u;
                x = cl16_bf16_to_float(h);
            } else {
                memcpy(&x, (const unsigned char *)host[i] + 4 * j, 4);
                bad = !isfinite(x);
            }
            if (bad) {
                s = CL16_ERR_NUMERIC;
                if (err)
                    snprintf(err, err_len,
                             "tensor %s holds %s at element %zu%s; not saved, %s is unchanged",
                             e->name, isnan(x) ? "NaN" : "infinity", j,
                             out_dt != dt ? " after conversion to half (|x| > 65504)" : "", path);
            }
        }
    }
    if (s == CL16_ERR_OUT_OF_MEMORY && err && !err[0])
        snprintf(err, err_len, "model_save: out of host memory");
    if (!s) {
        /* Metadata: the model's own keys, then the caller's. */
        char ch[16], hh[16], ww[16], cl[16], h1[16], h2[16];
        snprintf(ch, sizeof ch, "%d", m->opts.channels), snprintf(hh, sizeof hh, "%d", m->opts.height);
        snprintf(ww, sizeof ww, "%d", m->opts.width), snprintf(cl, sizeof cl, "%d", m->opts.classes);
        snprintf(h1, sizeof h1, "%d", m->opts.hidden1), snprintf(h2, sizeof h2, "%d", m->opts.hidden2);
        const char *own[] = {"arch",   m->arch, "channels", ch, "height",  hh, "width",   ww,
                             "classes", cl,     "format",   "cl16", "hidden1", h1, "hidden2", h2};
        /* hidden sizes only mean something for mlp */
        const size_t nown = sizeof own / sizeof own[0] - (strcmp(m->arch, "mlp") ? 4 : 0);
        const char **all = cl16__meta_merge(own, nown, meta);
        if (!all) {
            s = CL16_ERR_OUT_OF_MEMORY;
        } else {
            s = cl16_safetensors_save(path, st, total, all, err, err_len);
            free((void *)all);
        }
    }
    for (size_t i = 0; i < total; i++)
        free(host[i]);
    free(host), free(st);
    return s;
}

cl16_status cl16_model_save(cl16_model *m, const char *path, cl16_dtype file_dtype,
                            const char *const *meta, char *err, size_t err_len) {
    return cl16__model_save_ex(m, path, file_dtype, NULL, NULL, 0, meta, err, err_len);
}

/* The first dimension of a named tensor of f, or -1. */
static int64_t dim_of(const cl16_safetensors *f, const char *name, int k) {
    const cl16_st_tensor *t = cl16_safetensors_find(f, name);
    return t && t->ndim > k ? t->dims[k] : -1;
}

cl16_status cl16_model_open(cl16_ctx *ctx, const char *path, const cl16_model_opts *o,
                            cl16_model **out, cl16_cast_report *rep, char *err, size_t err_len) {
    if (err && err_len)
        err[0] = '\0';
    if (!ctx || !path || !o || !out) {
        if (err)
            snprintf(err, err_len, "model_open: a NULL argument");
        return CL16_ERR_INVALID_ARG;
    }
    *out = NULL;
    cl16_safetensors *f = NULL;
    cl16_status s = cl16_safetensors_load(path, &f, err, err_len);
    if (s)
        return s;
    cl16_model_opts mo = *o;
    const char *arch = cl16_safetensors_meta(f, "arch");
    if (arch && o->arch && strcmp(arch, o->arch)) {
        if (err)
            snprintf(err, err_len, "%s holds a %s model, not %s", path, arch, o->arch);
        cl16_safetensors_free(f);
        return CL16_ERR_FORMAT;
    }
    if (!arch && !o->arch) {
        if (err)
            snprintf(err, err_len,
                     "%s has no \"arch\" metadata (as PyTorch writes files): name the architecture "
                     "(--model)",
                     path);
        cl16_safetensors_free(f);
        return CL16_ERR_INVALID_ARG;
    }
    mo.arch = arch ? arch : o->arch;
    /* Shapes the tensors decide. */
    const int mlp = !strcmp(mo.arch, "mlp"), lenet = !strcmp(mo.arch, "lenet5");
    if (mlp) {
        if (dim_of(f, "fc1.weight", 0) > 0)
            mo.hidden1 = (int)dim_of(f, "fc1.weight", 0);
        if (dim_of(f, "fc2.weight", 0) > 0)
            mo.hidden2 = (int)dim_of(f, "fc2.weight", 0);
        const char *c = cl16_safetensors_meta(f, "channels");
        if (c)
            mo.channels = atoi(c);
    } else if (dim_of(f, "conv1.weight", 1) > 0) {
        mo.channels = (int)dim_of(f, "conv1.weight", 1);
    }
    const int64_t classes = dim_of(f, mlp || lenet ? "fc3.weight" : "fc.weight", 0);
    if (classes > 0)
        mo.classes = (int)classes;
    if ((s = cl16_model_create(ctx, &mo, 0, out))) {
        if (err)
            snprintf(err, err_len, "%s: %s", path, cl16_ctx_last_error(ctx));
        cl16_safetensors_free(f);
        return s;
    }
    char detail[3072];
    if ((s = cl16_model_load(*out, f, rep, detail, sizeof detail))) {
        if (err)
            snprintf(err, err_len, "%s: %s", path, detail);
        cl16_model_free(*out);
        *out = NULL;
    }
    cl16_safetensors_free(f);
    return s;
}
