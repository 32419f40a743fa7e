/* model_internal.h - the layer list behind cl16_model, shared by model.c
 * (building, forward, backward), model_io.c (safetensors) and trainer.c.
 * Not installed. */
#ifndef CL16_MODEL_INTERNAL_H
#define CL16_MODEL_INTERNAL_H

#include "runtime/internal.h"

/* A model is a list of layers over numbered activations. Activation 0 is the
 * input batch (the caller's tensor); every layer reads `in` (and ADD_RELU also
 * `in2`) and writes its own `out`. Backward walks the list in reverse; an
 * activation read by two layers (a residual block's input) receives the sum
 * of both gradients through the beta = 1 form of the backward calls. */
typedef enum layer_type {
    L_CONV,     /* conv2d, optional bias */
    L_BN,       /* batchnorm2d, optional fused ReLU */
    L_RELU,
    L_MAXPOOL,  /* 2x2 stride 2 */
    L_GAP,      /* global average pool to [N, C] */
    L_LINEAR,   /* flattening Linear, optional fused ReLU */
    L_ADD_RELU  /* relu(in + in2) */
} layer_type;

typedef struct layer {
    layer_type type;
    int in, in2, out;
    int relu;                  /* L_LINEAR, L_BN: ReLU fused after */
    cl16_conv2d_params conv;   /* L_CONV */
    cl16_pool2d_params pool;   /* L_MAXPOOL */
    int w, b;                  /* parameter indices (-1: none): conv/linear weight, bias; BN gamma, beta */
    int rmean, rvar, nbt;      /* L_BN */
    cl16_tensor *aux1, *aux2;  /* per batch: BN save_mean/save_invstd, max-pool indices */
} layer;

enum { MODEL_MAX_LAYERS = 512, MODEL_MAX_PARAMS = 1024 };

typedef struct act_shape {
    int ndim;
    int64_t dims[4]; /* dims[0] is the batch, filled in per batch */
} act_shape;

struct cl16_model {
    cl16_ctx *ctx;
    cl16_model_opts opts;
    char arch[16];
    layer layers[MODEL_MAX_LAYERS];
    int nlayers;
    act_shape shapes[MODEL_MAX_LAYERS + 1];
    int nacts;
    cl16_model_param params[MODEL_MAX_PARAMS];
    char *names[MODEL_MAX_PARAMS];
    size_t nparams;
    unsigned char keep_f32[MODEL_MAX_PARAMS]; /* BatchNorm tensors: always F32 in files */
    /* Per batch size: activations (act[0] is the caller's input) and, once a
     * training forward ran, their gradients. */
    int64_t batch;
    cl16_tensor *act[MODEL_MAX_LAYERS + 1];
    cl16_tensor *dact[MODEL_MAX_LAYERS + 1];
    int has_grads;
    int trained_forward; /* the last forward was training mode */
    const cl16_tensor *input;
    /* Host-batch scratch for cl16_trainer_step / cl16_model_evaluate. */
    cl16_tensor *x, *labels, *dlogits;
    int64_t io_batch;
};

/* Uploads a host batch (images float [n, C, H, W], labels [n]) into the
 * model's x / labels (reallocated with dlogits when n changes) and runs the
 * forward pass; fn names the caller in messages. */
cl16_status cl16__model_run(cl16_model *m, const char *fn, const float *images,
                            const int32_t *labels, int64_t n, int training,
                            const cl16_tensor **logits);

/* Writes the state_dict (and `extra` tensors after it) to path atomically;
 * meta is merged after the model's own keys. */
cl16_status cl16__model_save_ex(cl16_model *m, const char *path, cl16_dtype file_dtype,
                                const cl16_tensor *const *extra, const char *const *extra_names,
                                size_t n_extra, const char *const *meta, char *err,
                                size_t err_len);

/* own (key, value pairs, nown strings) followed by meta (NULL-terminated,
 * may be NULL), a key of meta replacing the same key of own; NULL-terminated,
 * malloc'd (the strings are not copied), NULL when out of memory. */
const char **cl16__meta_merge(const char *const *own, size_t nown, const char *const *meta);

/* Reads a file tensor (F32, F16, BF16) into floats; dst holds numel values. */
void cl16__st_to_floats(const cl16_st_tensor *t, float *dst);
/* Number of elements of a file tensor. */
int64_t cl16__st_numel(const cl16_st_tensor *t);

#endif
