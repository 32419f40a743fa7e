/* model.c - the built-in architectures (mlp, lenet5, resnet20/32/56) as layer
 * lists with PyTorch state_dict names, their initialisation, and the forward
 * and backward passes over the layer calls of src/ops. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model/model_internal.h"
#include "ops/ops_util.h"

static const char *const archs[] = {"mlp", "lenet5", "resnet20", "resnet32", "resnet56", NULL};

const char *const *cl16_model_archs(void) { return archs; }

void cl16_model_opts_init(cl16_model_opts *o) {
    if (!o)
        return;
    memset(o, 0, sizeof *o);
    o->arch = "lenet5";
    o->channels = 1, o->height = 28, o->width = 28, o->classes = 10;
    o->hidden1 = 256, o->hidden2 = 128;
    o->dtype = CL16_F32;
}

const cl16_model_opts *cl16_model_get_opts(const cl16_model *m) { return m ? &m->opts : NULL; }
cl16_ctx *cl16_model_ctx(const cl16_model *m) { return m ? m->ctx : NULL; }
size_t cl16_model_param_count(const cl16_model *m) { return m ? m->nparams : 0; }
cl16_model_param *cl16_model_param_at(cl16_model *m, size_t i) {
    return m && i < m->nparams ? &m->params[i] : NULL;
}

int64_t cl16_model_numel(const cl16_model *m) {
    int64_t n = 0;
    for (size_t i = 0; m && i < m->nparams; i++)
        if (m->params[i].kind == CL16_PARAM_TRAINABLE)
            n += cl16_tensor_numel(m->params[i].value);
    return n;
}

/* ---- building ---------------------------------------------------------------- */

typedef struct builder {
    cl16_model *m;
    cl16_status st;  /* first failure; later calls do nothing */
    uint64_t rng;
} builder;

static float uniform(builder *b, float bound) {
    uint64_t z = (b->rng += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    z ^= z >> 31;
    return (float)(((double)(z >> 11) * (1.0 / 9007199254740992.0) * 2.0 - 1.0) * bound);
}

/* A state_dict entry: name = prefix + "." + leaf. Trainable entries get a
 * gradient; init: 'u' uniform(+-bound), '1' ones, '0' zeros. */
static int param(builder *b, const char *prefix, const char *leaf, cl16_param_kind kind,
                 cl16_dtype dt, int ndim, const int64_t *dims, char init, float bound) {
    cl16_model *m = b->m;
    if (b->st)
        return -1;
    if (m->nparams >= MODEL_MAX_PARAMS) {
        b->st = cl16__fail(m->ctx, CL16_ERR_INTERNAL, "model: more than %d parameters",
                           MODEL_MAX_PARAMS);
        return -1;
    }
    size_t len = strlen(prefix) + strlen(leaf) + 2;
    char *name = malloc(len);
    if (!name) {
        b->st = cl16__fail(m->ctx, CL16_ERR_OUT_OF_MEMORY, "model: out of host memory");
        return -1;
    }
    snprintf(name, len, "%s%s%s", prefix, *prefix ? "." : "", leaf);
    int i = (int)m->nparams++;
    m->names[i] = name;
    cl16_model_param *p = &m->params[i];
    p->name = name;
    p->kind = kind;
    if (kind == CL16_PARAM_COUNTER)
        return i;
    if ((b->st = cl16_tensor_create(m->ctx, dt, ndim, dims, &p->value)))
        return -1;
    if (kind == CL16_PARAM_TRAINABLE &&
        ((b->st = cl16_tensor_create(m->ctx, dt, ndim, dims, &p->grad)) ||
         (b->st = cl16_tensor_fill(p->grad, 0.0f))))
        return -1;
    const int64_t n = cl16_tensor_numel(p->value);
    float *v = malloc((size_t)n * sizeof *v);
    if (!v) {
        b->st = cl16__fail(m->ctx, CL16_ERR_OUT_OF_MEMORY, "model: out of host memory");
        return -1;
    }
    for (int64_t j = 0; j < n; j++)
        v[j] = init == 'u' ? uniform(b, bound) : init == '1' ? 1.0f : 0.0f;
    b->st = cl16_tensor_write_f32(p->value, v, (size_t)n);
    free(v);
    return i;
}

static int new_act(builder *b, int ndim, int64_t c, int64_t h, int64_t w) {
    cl16_model *m = b->m;
    if (b->st)
        return -1;
    if (m->nacts > MODEL_MAX_LAYERS) {
        b->st = cl16__fail(m->ctx, CL16_ERR_INTERNAL, "model: more than %d layers", MODEL_MAX_LAYERS);
        return -1;
    }
    act_shape *s = &m->shapes[m->nacts];
    s->ndim = ndim;
    s->dims[0] = 0, s->dims[1] = c, s->dims[2] = h, s->dims[3] = w;
    return m->nacts++;
}

static layer *new_layer(builder *b, layer_type t, int in) {
    if (b->st)
        return NULL;
    if (b->m->nlayers >= MODEL_MAX_LAYERS) {
        b->st = cl16__fail(b->m->ctx, CL16_ERR_INTERNAL, "model: more than %d layers",
                           MODEL_MAX_LAYERS);
        return NULL;
    }
    layer *l = &b->m->layers[b->m->nlayers++];
    memset(l, 0, sizeof *l);
    l->type = t, l->in = in, l->in2 = -1, l->w = l->b = l->rmean = l->rvar = l->nbt = -1;
    return l;
}

static int conv(builder *b, const char *name, int in, int64_t cout, int k, int stride, int pad,
                int bias) {
    cl16_model *m = b->m;
    if (b->st)
        return -1;
    const act_shape *s = &m->shapes[in];
    cl16_conv2d_params cp;
    cl16_conv2d_params_init(&cp);
    cp.stride_h = cp.stride_w = stride, cp.pad_h = cp.pad_w = pad;
    int64_t xd[4] = {1, s->dims[1], s->dims[2], s->dims[3]}, wd[4] = {cout, s->dims[1], k, k}, yd[4];
    if ((b->st = cl16_conv2d_out_dims(m->ctx, &cp, xd, wd, yd))) {
        char msg[512];
        snprintf(msg, sizeof msg, "%s", cl16_ctx_last_error(m->ctx));
        b->st = cl16__fail(m->ctx, CL16_ERR_SHAPE,
                           "model %s: layer %s cannot take a %" PRId64 "x%" PRId64 "x%" PRId64
                           " input (%s)",
                           m->arch, name, s->dims[1], s->dims[2], s->dims[3], msg);
        return -1;
    }
    const float bound = 1.0f / sqrtf((float)(s->dims[1] * k * k));
    layer *l = new_layer(b, L_CONV, in);
    if (!l)
        return -1;
    l->conv = cp;
    l->w = param(b, name, "weight", CL16_PARAM_TRAINABLE, m->opts.dtype, 4, wd, 'u', bound);
    if (bias)
        l->b = param(b, name, "bias", CL16_PARAM_TRAINABLE, m->opts.dtype, 1, &cout, 'u', bound);
    return l->out = new_act(b, 4, yd[1], yd[2], yd[3]);
}

static int batchnorm(builder *b, const char *name, int in) {
    cl16_model *m = b->m;
    if (b->st)
        return -1;
    const act_shape *s = &m->shapes[in];
    layer *l = new_layer(b, L_BN, in);
    if (!l)
        return -1;
    const int64_t c = s->dims[1];
    l->w = param(b, name, "weight", CL16_PARAM_TRAINABLE, CL16_F32, 1, &c, '1', 0);
    l->b = param(b, name, "bias", CL16_PARAM_TRAINABLE, CL16_F32, 1, &c, '0', 0);
    l->rmean = param(b, name, "running_mean", CL16_PARAM_STAT, CL16_F32, 1, &c, '0', 0);
    l->rvar = param(b, name, "running_var", CL16_PARAM_STAT, CL16_F32, 1, &c, '1', 0);
    l->nbt = param(b, name, "num_batches_tracked", CL16_PARAM_COUNTER, CL16_F32, 0, NULL, 0, 0);
    if (!b->st)
        m->keep_f32[l->w] = m->keep_f32[l->b] = m->keep_f32[l->rmean] = m->keep_f32[l->rvar] = 1;
    return l->out = new_act(b, 4, c, s->dims[2], s->dims[3]);
}

/* BatchNorm2d then ReLU as one layer (cl16_batchnorm2d_relu_*): no pass and
 * no activation for the pre-ReLU output. */
static int bn_relu(builder *b, const char *name, int in) {
    const int out = batchnorm(b, name, in);
    if (!b->st)
        b->m->layers[b->m->nlayers - 1].relu = 1;
    return out;
}

static int simple(builder *b, layer_type t, int in) {
    if (b->st)
        return -1;
    const act_shape s = b->m->shapes[in];
    layer *l = new_layer(b, t, in);
    if (!l)
        return -1;
    if (t == L_MAXPOOL) {
        cl16_pool2d_params_init(&l->pool); /* max, 2x2, stride 2 */
        if (s.dims[2] < 2 || s.dims[3] < 2) {
            b->st = cl16__fail(b->m->ctx, CL16_ERR_SHAPE,
                               "model %s: a max-pool gets a %" PRId64 "x%" PRId64
                               " map; the input image is too small",
                               b->m->arch, s.dims[2], s.dims[3]);
            return -1;
        }
        return l->out = new_act(b, 4, s.dims[1], s.dims[2] / 2, s.dims[3] / 2);
    }
    if (t == L_GAP)
        return l->out = new_act(b, 2, s.dims[1], 1, 1);
    return l->out = new_act(b, s.ndim, s.dims[1], s.dims[2], s.dims[3]);
}

/* ReLU then 2x2 max-pool as one layer: the pool applies the ReLU to its
 * output (cl16_pool2d_params.relu), the same values and gradients without the
 * ReLU's pass and its full-size activation. */
static int maxpool_relu(builder *b, int in) {
    const int out = simple(b, L_MAXPOOL, in);
    if (!b->st)
        b->m->layers[b->m->nlayers - 1].pool.relu = 1;
    return out;
}

static int features(const act_shape *s) {
    return (int)(s->ndim == 2 ? s->dims[1] : s->dims[1] * s->dims[2] * s->dims[3]);
}

static int linear(builder *b, const char *name, int in, int64_t out, int relu) {
    if (b->st)
        return -1;
    const int64_t fin = features(&b->m->shapes[in]);
    layer *l = new_layer(b, L_LINEAR, in);
    if (!l)
        return -1;
    l->relu = relu;
    const int64_t wd[2] = {out, fin};
    const float bound = 1.0f / sqrtf((float)fin);
    l->w = param(b, name, "weight", CL16_PARAM_TRAINABLE, b->m->opts.dtype, 2, wd, 'u', bound);
    l->b = param(b, name, "bias", CL16_PARAM_TRAINABLE, b->m->opts.dtype, 1, &out, 'u', bound);
    return l->out = new_act(b, 2, out, 1, 1);
}

static int add_relu(builder *b, int x, int y) {
    layer *l = new_layer(b, L_ADD_RELU, x);
    if (!l)
        return -1;
    l->in2 = y;
    const act_shape *s = &b->m->shapes[x];
    return l->out = new_act(b, 4, s->dims[1], s->dims[2], s->dims[3]);
}

/* CIFAR ResNet BasicBlock with PyTorch names (prefix "layer2.0"). */
static int basic_block(builder *b, const char *prefix, int in, int64_t width, int stride) {
    char n[64];
    snprintf(n, sizeof n, "%s.conv1", prefix);
    int x = conv(b, n, in, width, 3, stride, 1, 0);
    snprintf(n, sizeof n, "%s.bn1", prefix);
    x = bn_relu(b, n, x);
    snprintf(n, sizeof n, "%s.conv2", prefix);
    x = conv(b, n, x, width, 3, 1, 1, 0);
    snprintf(n, sizeof n, "%s.bn2", prefix);
    x = batchnorm(b, n, x);
    int sc = in;
    if (!b->st && (stride != 1 || b->m->shapes[in].dims[1] != width)) {
        snprintf(n, sizeof n, "%s.shortcut.0", prefix);
        sc = conv(b, n, in, width, 1, stride, 0, 0);
        snprintf(n, sizeof n, "%s.shortcut.1", prefix);
        sc = batchnorm(b, n, sc);
    }
    return add_relu(b, x, sc);
}

static void build(builder *b) {
    cl16_model *m = b->m;
    const cl16_model_opts *o = &m->opts;
    int x = new_act(b, 4, o->channels, o->height, o->width);
    if (!strcmp(m->arch, "mlp")) {
        x = linear(b, "fc1", x, o->hidden1, 1);
        x = linear(b, "fc2", x, o->hidden2, 1);
        linear(b, "fc3", x, o->classes, 0);
    } else if (!strcmp(m->arch, "lenet5")) {
        x = maxpool_relu(b, conv(b, "conv1", x, 6, 5, 1, 2, 1));
        x = maxpool_relu(b, conv(b, "conv2", x, 16, 5, 1, 0, 1));
        x = linear(b, "fc1", x, 120, 1);
        x = linear(b, "fc2", x, 84, 1);
        linear(b, "fc3", x, o->classes, 0);
    } else {
        const int n = (atoi(m->arch + 6) - 2) / 6; /* resnet20: 3 blocks per stage */
        x = bn_relu(b, "bn1", conv(b, "conv1", x, 16, 3, 1, 1, 0));
        for (int stage = 0; stage < 3; stage++)
            for (int i = 0; i < n; i++) {
                char prefix[32];
                snprintf(prefix, sizeof prefix, "layer%d.%d", stage + 1, i);
                x = basic_block(b, prefix, x, 16 << stage, stage > 0 && i == 0 ? 2 : 1);
            }
        linear(b, "fc", simple(b, L_GAP, x), o->classes, 0);
    }
}

static void free_batch(cl16_model *m) {
    for (int i = 1; i < m->nacts; i++) {
        cl16_tensor_free(m->act[i]), m->act[i] = NULL;
        cl16_tensor_free(m->dact[i]), m->dact[i] = NULL;
    }
    for (int i = 0; i < m->nlayers; i++) {
        cl16_tensor_free(m->layers[i].aux1), m->layers[i].aux1 = NULL;
        cl16_tensor_free(m->layers[i].aux2), m->layers[i].aux2 = NULL;
    }
    m->batch = 0, m->has_grads = 0, m->trained_forward = 0;
}

void cl16_model_free(cl16_model *m) {
    if (!m)
        return;
    free_batch(m);
    cl16_tensor_free(m->x), cl16_tensor_free(m->labels), cl16_tensor_free(m->dlogits);
    for (size_t i = 0; i < m->nparams; i++) {
        cl16_tensor_free(m->params[i].value), cl16_tensor_free(m->params[i].grad);
        free(m->names[i]);
    }
    free(m);
}

cl16_status cl16_model_create(cl16_ctx *ctx, const cl16_model_opts *o, uint64_t seed,
                              cl16_model **out) {
    CL16_OP_CTX(ctx);
    if (!out || !o)
        return cl16__fail(ctx, CL16_ERR_INVALID_ARG, "model_create: %s is NULL", out ? "opts" : "out");
    *out = NULL;
    int known = 0;
    for (int i = 0; o->arch && archs[i]; i++)
        known |= !strcmp(o->arch, archs[i]);
    if (!known)
        return cl16__fail(ctx, CL16_ERR_INVALID_ARG,
                          "unknown model '%s' (known: mlp, lenet5, resnet20, resnet32, resnet56)",
                          o->arch ? o->arch : "(null)");
    if (o->dtype != CL16_F32 && o->dtype != CL16_F16 && o->dtype != CL16_BF16)
        return cl16__fail(ctx, CL16_ERR_INVALID_ARG, "model_create: dtype must be f32, f16 or bf16");
    if (o->channels < 1 || o->channels > 4096 || o->height < 1 || o->height > 4096 || o->width < 1 ||
        o->width > 4096 || o->classes < 2 || o->classes > 1000000 ||
        (!strcmp(o->arch, "mlp") && (o->hidden1 < 1 || o->hidden2 < 1 || o->hidden1 > 1 << 20 ||
                                     o->hidden2 > 1 << 20)))
        return cl16__fail(ctx, CL16_ERR_INVALID_ARG,
                          "model %s: input %dx%dx%d, %d classes, hidden %d/%d out of range", o->arch,
                          o->channels, o->height, o->width, o->classes, o->hidden1, o->hidden2);
    cl16_model *m = calloc(1, sizeof *m);
    if (!m)
        return cl16__fail(ctx, CL16_ERR_OUT_OF_MEMORY, "model_create: out of host memory");
    m->ctx = ctx;
    m->opts = *o;
    snprintf(m->arch, sizeof m->arch, "%s", o->arch);
    m->opts.arch = m->arch;
    builder b = {m, CL16_OK, seed};
    build(&b);
    if (b.st) {
        cl16_model_free(m);
        return b.st;
    }
    *out = m;
    return CL16_OK;
}

/* ---- per-batch buffers --------------------------------------------------------- */

/* Bytes the per-batch buffers of n images take: activations, their gradients
 * (training) and the layers' saved statistics / indices; *largest gets the
 * biggest single buffer. */
static uint64_t batch_bytes(const cl16_model *m, int64_t n, int grads, uint64_t *largest) {
    const uint64_t es = cl16_dtype_size(m->opts.dtype);
    uint64_t total = 0, big = 0;
    for (int i = 1; i < m->nacts; i++) {
        const act_shape *sh = &m->shapes[i];
        uint64_t per = 1;
        for (int k = 1; k < sh->ndim; k++)
            per *= (uint64_t)sh->dims[k];
        const uint64_t b = per * (uint64_t)n * es;
        total += b * (grads && i + 1 < m->nacts ? 2 : 1);
        if (b > big)
            big = b;
    }
    for (int i = 0; i < m->nlayers; i++) {
        const layer *l = &m->layers[i];
        if (l->type == L_BN)
            total += 8 * (uint64_t)m->shapes[l->in].dims[1];
        else if (l->type == L_MAXPOOL)
            total += 4 * (uint64_t)n * (uint64_t)m->shapes[l->out].dims[1] *
                     (uint64_t)m->shapes[l->out].dims[2] * (uint64_t)m->shapes[l->out].dims[3];
    }
    *largest = big;
    return total;
}

static cl16_status ensure_batch(cl16_model *m, int64_t n, int grads) {
    cl16_status s;
    if (n != m->batch)
        free_batch(m);
    if (!m->batch || (grads && !m->has_grads)) {
        /* Refuse up front what cannot fit, from the plan, before allocating
         * anything (the convolution and GEMM workspaces come on top). */
        const cl16_device_info *d = cl16_ctx_device(m->ctx);
        uint64_t cur, peak, largest;
        cl16_ctx_memory(m->ctx, &cur, &peak);
        const uint64_t need = batch_bytes(m, n, grads, &largest);
        const uint64_t have = d->global_mem > cur ? d->global_mem - cur : 0;
        if (need > have || largest > d->max_alloc)
            return cl16__fail(
                m->ctx, CL16_ERR_OUT_OF_MEMORY,
                "model %s at batch %" PRId64 " needs %.1f MB of %s buffers (largest %.1f MB) "
                "but device '%s' has %.1f MB free of %.1f MB (largest buffer %.1f MB); try a "
                "smaller --batch%s",
                m->arch, n, need / 1e6, grads ? "activation and gradient" : "activation",
                largest / 1e6, d->name, have / 1e6, d->global_mem / 1e6, d->max_alloc / 1e6,
                m->opts.dtype == CL16_F32 ? " or a 16-bit precision (half the activation memory)"
                                          : "");
    }
    if (!m->batch) {
        for (int i = 1; i < m->nacts; i++) {
            act_shape sh = m->shapes[i];
            sh.dims[0] = n;
            if ((s = cl16_tensor_create(m->ctx, m->opts.dtype, sh.ndim, sh.dims, &m->act[i])))
                goto fail;
        }
        for (int i = 0; i < m->nlayers; i++) {
            layer *l = &m->layers[i];
            if (l->type == L_BN) {
                const int64_t c = m->shapes[l->in].dims[1];
                if ((s = cl16_tensor_create(m->ctx, CL16_F32, 1, &c, &l->aux1)) ||
                    (s = cl16_tensor_create(m->ctx, CL16_F32, 1, &c, &l->aux2)))
                    goto fail;
            } else if (l->type == L_MAXPOOL) {
                act_shape sh = m->shapes[l->out];
                sh.dims[0] = n;
                if ((s = cl16_tensor_create(m->ctx, CL16_I32, 4, sh.dims, &l->aux1)))
                    goto fail;
            }
        }
        m->batch = n;
    }
    if (grads && !m->has_grads) {
        /* The last activation's gradient is the caller's dlogits; the input's is not needed. */
        for (int i = 1; i + 1 < m->nacts; i++) {
            act_shape sh = m->shapes[i];
            sh.dims[0] = n;
            if ((s = cl16_tensor_create(m->ctx, m->opts.dtype, sh.ndim, sh.dims, &m->dact[i])))
                goto fail;
        }
        m->has_grads = 1;
    }
    return CL16_OK;
fail:
    free_batch(m);
    return s;
}

/* ---- forward and backward ------------------------------------------------------ */

#define PV(i) (m->params[i].value)
#define PG(i) (m->params[i].grad)

cl16_status cl16_model_forward(cl16_model *m, const cl16_tensor *x, int training,
                               const cl16_tensor **logits) {
    if (!m)
        return CL16_ERR_INVALID_ARG;
    cl16_ctx *ctx = m->ctx;
    cl16_status s;
    if ((s = cl16__op_tensor(ctx, "model_forward", "x", x)))
        return s;
    const act_shape *in = &m->shapes[0];
    if (x->ndim != 4 || x->dims[0] < 1 || x->dims[1] != in->dims[1] || x->dims[2] != in->dims[2] ||
        x->dims[3] != in->dims[3] || x->dtype != m->opts.dtype) {
        char have[96];
        return cl16__fail(ctx, CL16_ERR_SHAPE,
                          "model %s: input is %s %s; expected %s [N,%" PRId64 ",%" PRId64
                          ",%" PRId64 "]",
                          m->arch, cl16_dtype_name(x->dtype),
                          cl16__op_dims_str(x->ndim, x->dims, have, sizeof have),
                          cl16_dtype_name(m->opts.dtype), in->dims[1], in->dims[2], in->dims[3]);
    }
    if ((s = ensure_batch(m, x->dims[0], training)))
        return s;
    m->act[0] = (cl16_tensor *)x; /* read only: never written through */
    m->input = x;
    m->trained_forward = 0;
    for (int i = 0; i < m->nlayers; i++) {
        const layer *l = &m->layers[i];
        cl16_tensor *a = m->act[l->in], *y = m->act[l->out];
        switch (l->type) {
        case L_CONV:
            s = cl16_conv2d_forward(ctx, &l->conv, a, PV(l->w), l->b >= 0 ? PV(l->b) : NULL, y);
            break;
        case L_BN:
            s = (l->relu ? cl16_batchnorm2d_relu_forward : cl16_batchnorm2d_forward)(
                ctx, training, 0.1f, 1e-5f, a, PV(l->w), PV(l->b), PV(l->rmean), PV(l->rvar),
                l->aux1, l->aux2, y);
            if (!s && training)
                m->params[l->nbt].counter++;
            break;
        case L_RELU: s = cl16_relu_forward(ctx, a, y); break;
        case L_MAXPOOL: s = cl16_pool2d_forward(ctx, &l->pool, a, y, l->aux1); break;
        case L_GAP: s = cl16_global_avgpool_forward(ctx, a, y); break;
        case L_LINEAR: s = cl16_linear_forward(ctx, a, PV(l->w), PV(l->b), l->relu, y); break;
        case L_ADD_RELU: s = cl16_axpby(ctx, 1.0f, a, 1.0f, m->act[l->in2], 1, y); break;
        }
        if (s)
            return s;
    }
    m->trained_forward = training;
    if (logits)
        *logits = m->act[m->nacts - 1];
    return CL16_OK;
}

cl16_status cl16_model_backward(cl16_model *m, const cl16_tensor *dlogits) {
    if (!m)
        return CL16_ERR_INVALID_ARG;
    cl16_ctx *ctx = m->ctx;
    cl16_status s;
    if (!m->trained_forward)
        return cl16__fail(ctx, CL16_ERR_INVALID_ARG,
                          "model_backward: needs a training-mode forward first");
    const int last = m->nacts - 1;
    if ((s = cl16__op_check(ctx, "model_backward", "dlogits", dlogits, m->opts.dtype,
                            m->act[last]->dims, 2)))
        return s;
    char written[MODEL_MAX_LAYERS + 1] = {0};
    cl16_tensor *d[MODEL_MAX_LAYERS + 1];
    memcpy(d, m->dact, sizeof d);
    d[last] = (cl16_tensor *)dlogits; /* read only */
    written[last] = 1;
#define BETA(i) (written[i] ? 1.0f : (written[i] = 1, 0.0f))
    for (int i = m->nlayers - 1; i >= 0; i--) {
        const layer *l = &m->layers[i];
        cl16_tensor *a = m->act[l->in], *y = m->act[l->out], *dy = d[l->out];
        const int need_dx = l->in != 0; /* nothing flows into the input */
        float beta;
        switch (l->type) {
        case L_CONV:
            s = cl16_conv2d_backward_weights(ctx, &l->conv, a, dy, 0.0f, PG(l->w),
                                             l->b >= 0 ? PG(l->b) : NULL);
            if (!s && need_dx) {
                beta = BETA(l->in);
                s = cl16_conv2d_backward_data(ctx, &l->conv, dy, PV(l->w), beta, d[l->in]);
            }
            break;
        case L_BN:
            beta = BETA(l->in);
            s = l->relu ? cl16_batchnorm2d_relu_backward(ctx, a, dy, PV(l->w), PV(l->b), l->aux1,
                                                         l->aux2, beta, d[l->in], PG(l->w),
                                                         PG(l->b))
                        : cl16_batchnorm2d_backward(ctx, a, dy, PV(l->w), l->aux1, l->aux2, beta,
                                                    d[l->in], PG(l->w), PG(l->b));
            break;
        case L_RELU:
            beta = BETA(l->in);
            s = cl16_relu_backward(ctx, y, dy, beta, d[l->in]);
            break;
        case L_MAXPOOL:
            beta = BETA(l->in);
            s = cl16_pool2d_backward(ctx, &l->pool, dy, l->aux1, beta, d[l->in]);
            break;
        case L_GAP:
            beta = BETA(l->in);
            s = cl16_global_avgpool_backward(ctx, dy, beta, d[l->in]);
            break;
        case L_LINEAR:
            /* The fused ReLU's mask first, in place on this layer's own gradient. */
            if (l->relu && (s = cl16_relu_backward(ctx, y, dy, 0.0f, dy)))
                break;
            beta = need_dx ? BETA(l->in) : 0.0f;
            s = cl16_linear_backward(ctx, a, PV(l->w), dy, beta, need_dx ? d[l->in] : NULL,
                                     PG(l->w), PG(l->b));
            break;
        case L_ADD_RELU: {
            /* Both inputs get the masked dy. When the first is written fresh
             * (beta 0) it holds exactly that, so the second adds it from there
             * (axpby: one read of a tensor instead of y and dy again); the
             * same bits, as every value is the masked dy or its sum with the
             * old gradient, rounded once. */
            const float b1 = BETA(l->in);
            s = cl16_relu_backward(ctx, y, dy, b1, d[l->in]);
            if (!s) {
                beta = BETA(l->in2);
                s = b1 == 0.0f ? cl16_axpby(ctx, 1.0f, d[l->in], beta,
                                            beta != 0.0f ? d[l->in2] : NULL, 0, d[l->in2])
                               : cl16_relu_backward(ctx, y, dy, beta, d[l->in2]);
            }
            break;
        }
        }
        if (s)
            return s;
    }
#undef BETA
    return CL16_OK;
}

/* (Re)allocates x, labels and dlogits for n images. */
static cl16_status model_io(cl16_model *m, int64_t n) {
    if (n == m->io_batch)
        return CL16_OK;
    cl16_tensor_free(m->x), cl16_tensor_free(m->labels), cl16_tensor_free(m->dlogits);
    m->x = m->labels = m->dlogits = NULL;
    m->io_batch = 0;
    const int64_t xd[4] = {n, m->opts.channels, m->opts.height, m->opts.width};
    const int64_t ld[2] = {n, m->opts.classes};
    cl16_status s;
    if ((s = cl16_tensor_create(m->ctx, m->opts.dtype, 4, xd, &m->x)) ||
        (s = cl16_tensor_create(m->ctx, CL16_I32, 1, &n, &m->labels)) ||
        (s = cl16_tensor_create(m->ctx, m->opts.dtype, 2, ld, &m->dlogits)))
        return s;
    m->io_batch = n;
    return CL16_OK;
}

cl16_status cl16__model_run(cl16_model *m, const char *fn, const float *images,
                            const int32_t *labels, int64_t n, int training,
                            const cl16_tensor **logits) {
    if (!images || !labels || n < 1)
        return cl16__fail(m->ctx, CL16_ERR_INVALID_ARG, "%s: %s", fn,
                          n < 1 ? "batch size below 1" : "images or labels is NULL");
    cl16_status s;
    if ((s = model_io(m, n)) ||
        (s = cl16_tensor_write_f32(m->x, images, (size_t)cl16_tensor_numel(m->x))) ||
        (s = cl16_tensor_write_raw(m->labels, labels, (size_t)n * sizeof *labels)))
        return s;
    return cl16_model_forward(m, m->x, training, logits);
}

cl16_status cl16_model_evaluate(cl16_model *m, const float *images, const int32_t *labels,
                                int64_t n, double *loss_sum, int64_t *correct) {
    if (!m)
        return CL16_ERR_INVALID_ARG;
    const cl16_tensor *z;
    double loss = 0;
    int64_t hits = 0;
    cl16_status s = cl16__model_run(m, "model_evaluate", images, labels, n, 0, &z);
    if (s)
        return s;
    s = cl16_softmax_xent(m->ctx, z, m->labels, 1.0f, &loss, &hits, NULL);
    if (s && s != CL16_ERR_NUMERIC)
        return s;
    if (loss_sum)
        *loss_sum += loss * (double)n;
    if (correct)
        *correct += hits;
    return s;
}
