/* test_train_mlp.c - the training building blocks working together: a
 * two-layer MLP (784-128-10, ReLU) trained with SGD + momentum on a
 * Fashion-MNIST subset through the public API only (data set, Linear, ReLU,
 * softmax cross-entropy, optimizer), once in f32 and once in pure f16
 * (weights, activations, gradients and momentum all half). Both must learn:
 * the training loss falls and test accuracy clears a threshold; the f16 run
 * must stay within a few points of the f32 one. Skipped (with the reason)
 * when Debian's dataset-fashion-mnist is not installed. */
#include <math.h>
#include <stdint.h>

#include "check.h"

enum { IN = 784, HID = 128, CLS = 10, BATCH = 64, STEPS = 300, TEST_N = 2000 };

static uint64_t rng = 0x9e3779b97f4a7c15ull;
static float urand(float bound) { /* splitmix64 -> [-bound, bound) */
    uint64_t z = (rng += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull, z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    z ^= z >> 31;
    return (float)(((double)(z >> 11) / 9007199254740992.0 * 2.0 - 1.0) * bound);
}

static cl16_tensor *make(cl16_ctx *ctx, cl16_dtype dt, int nd, int64_t a, int64_t b,
                         const float *vals) {
    int64_t dims[2] = {a, b};
    cl16_tensor *t = NULL;
    CHECK_OK(ctx, cl16_tensor_create(ctx, dt, nd, dims, &t));
    if (t && vals)
        CHECK_OK(ctx, cl16_tensor_write_f32(t, vals, (size_t)cl16_tensor_numel(t)));
    if (t && !vals)
        CHECK_OK(ctx, cl16_tensor_fill(t, 0.0f));
    return t;
}

typedef struct result {
    double first_loss, last_loss, test_acc;
} result;

static result train(cl16_ctx *ctx, cl16_dtype dt, const cl16_dataset *tr, const cl16_dataset *te) {
    result r = {0, 0, 0};
    rng = 0x9e3779b97f4a7c15ull; /* the same initial weights for both dtypes */
    static float w1v[HID * IN], b1v[HID], w2v[CLS * HID], b2v[CLS];
    const float k1 = 1.0f / sqrtf((float)IN), k2 = 1.0f / sqrtf((float)HID);
    for (int i = 0; i < HID * IN; i++)
        w1v[i] = urand(k1);
    for (int i = 0; i < HID; i++)
        b1v[i] = urand(k1);
    for (int i = 0; i < CLS * HID; i++)
        w2v[i] = urand(k2);
    for (int i = 0; i < CLS; i++)
        b2v[i] = urand(k2);
    cl16_tensor *w1 = make(ctx, dt, 2, HID, IN, w1v), *b1 = make(ctx, dt, 1, HID, 1, b1v);
    cl16_tensor *w2 = make(ctx, dt, 2, CLS, HID, w2v), *b2 = make(ctx, dt, 1, CLS, 1, b2v);
    cl16_tensor *p[4] = {w1, b1, w2, b2}, *g[4], *m[4];
    for (int i = 0; i < 4; i++) {
        g[i] = make(ctx, dt, cl16_tensor_ndim(p[i]), cl16_tensor_dim(p[i], 0),
                    cl16_tensor_ndim(p[i]) > 1 ? cl16_tensor_dim(p[i], 1) : 1, NULL);
        m[i] = make(ctx, dt, cl16_tensor_ndim(p[i]), cl16_tensor_dim(p[i], 0),
                    cl16_tensor_ndim(p[i]) > 1 ? cl16_tensor_dim(p[i], 1) : 1, NULL);
    }
    cl16_tensor *x = make(ctx, dt, 2, BATCH, IN, NULL), *h = make(ctx, dt, 2, BATCH, HID, NULL);
    cl16_tensor *dh = make(ctx, dt, 2, BATCH, HID, NULL), *dh2 = make(ctx, dt, 2, BATCH, HID, NULL);
    cl16_tensor *z = make(ctx, dt, 2, BATCH, CLS, NULL), *dz = make(ctx, dt, 2, BATCH, CLS, NULL);
    int64_t nb = BATCH;
    cl16_tensor *lab = NULL;
    CHECK_OK(ctx, cl16_tensor_create(ctx, CL16_I32, 1, &nb, &lab));

    int64_t count;
    int c, hh, ww, classes;
    cl16_dataset_shape(tr, &count, &c, &hh, &ww, &classes);
    int64_t *perm = malloc((size_t)count * sizeof *perm), idx[BATCH];
    static float img[BATCH * IN];
    int32_t labels[BATCH];
    cl16_shuffle(7, count, perm);
    cl16_optim_params op;
    cl16_optim_params_init(&op);
    op.kind = CL16_OPT_SGD, op.lr = 0.05f, op.momentum = 0.9f;
    double loss_sum = 0;
    for (int step = 0; step < STEPS && perm; step++) {
        for (int i = 0; i < BATCH; i++)
            idx[i] = perm[(step * BATCH + i) % count];
        CHECK_OK(ctx, cl16_dataset_batch(tr, idx, BATCH, NULL, NULL, 0, 0, 0, img, labels));
        CHECK_OK(ctx, cl16_tensor_write_f32(x, img, BATCH * IN));
        CHECK_OK(ctx, cl16_tensor_write_raw(lab, labels, sizeof labels));
        double loss = 0;
        int64_t correct = 0;
        CHECK_OK(ctx, cl16_linear_forward(ctx, x, w1, b1, 1, h));
        CHECK_OK(ctx, cl16_linear_forward(ctx, h, w2, b2, 0, z));
        CHECK_OK(ctx, cl16_softmax_xent(ctx, z, lab, 1.0f, &loss, &correct, dz));
        CHECK_OK(ctx, cl16_linear_backward(ctx, h, w2, dz, 0.0f, dh, g[2], g[3]));
        CHECK_OK(ctx, cl16_relu_backward(ctx, h, dh, 0.0f, dh2));
        CHECK_OK(ctx, cl16_linear_backward(ctx, x, w1, dh2, 0.0f, NULL, g[0], g[1]));
        for (int i = 0; i < 4; i++)
            CHECK_OK(ctx, cl16_optim_step(ctx, &op, step + 1, p[i], g[i], m[i], NULL));
        loss_sum += loss;
        if (step == 19)
            r.first_loss = loss_sum / 20, loss_sum = 0;
        if (step >= STEPS - 20)
            r.last_loss += loss / 20;
    }
    /* Test accuracy on the first TEST_N test images. */
    int64_t hits = 0;
    for (int64_t b0 = 0; b0 + BATCH <= TEST_N; b0 += BATCH) {
        for (int i = 0; i < BATCH; i++)
            idx[i] = b0 + i;
        CHECK_OK(ctx, cl16_dataset_batch(te, idx, BATCH, NULL, NULL, 0, 0, 0, img, labels));
        CHECK_OK(ctx, cl16_tensor_write_f32(x, img, BATCH * IN));
        CHECK_OK(ctx, cl16_tensor_write_raw(lab, labels, sizeof labels));
        int64_t correct = 0;
        CHECK_OK(ctx, cl16_linear_forward(ctx, x, w1, b1, 1, h));
        CHECK_OK(ctx, cl16_linear_forward(ctx, h, w2, b2, 0, z));
        CHECK_OK(ctx, cl16_softmax_xent(ctx, z, lab, 1.0f, NULL, &correct, NULL));
        hits += correct;
    }
    r.test_acc = (double)hits / (double)(TEST_N / BATCH * BATCH);
    free(perm);
    for (int i = 0; i < 4; i++)
        cl16_tensor_free(p[i]), cl16_tensor_free(g[i]), cl16_tensor_free(m[i]);
    cl16_tensor_free(x), cl16_tensor_free(h), cl16_tensor_free(dh), cl16_tensor_free(dh2);
    cl16_tensor_free(z), cl16_tensor_free(dz), cl16_tensor_free(lab);
    return r;
}

int main(void) {
    char err[512];
    cl16_dataset *tr = NULL, *te = NULL;
    if (cl16_dataset_load("fashion-mnist", NULL, 1, &tr, err, sizeof err) ||
        cl16_dataset_load("fashion-mnist", NULL, 0, &te, err, sizeof err)) {
        cl16_dataset_free(tr);
        SKIP("Fashion-MNIST not available: %s", err);
    }
    cl16_ctx *ctx = test_ctx(getenv("CL16_CACHE_DIR"));
    result f32 = train(ctx, CL16_F32, tr, te);
    result f16 = train(ctx, CL16_F16, tr, te);
    printf("f32: loss %.3f -> %.3f, test accuracy %.3f\n", f32.first_loss, f32.last_loss,
           f32.test_acc);
    printf("f16: loss %.3f -> %.3f, test accuracy %.3f\n", f16.first_loss, f16.last_loss,
           f16.test_acc);
    /* 300 steps of 64 images (a third of an epoch): an MLP of this size reaches
     * about 80 % on Fashion-MNIST there; 0.70 leaves room for the seed. */
    CHECK_MSG(f32.last_loss < 0.7 * f32.first_loss, "f32 loss did not fall enough");
    CHECK_MSG(f16.last_loss < 0.7 * f16.first_loss, "f16 loss did not fall enough");
    CHECK_MSG(f32.test_acc > 0.70, "f32 test accuracy %.3f", f32.test_acc);
    CHECK_MSG(f16.test_acc > 0.70, "f16 test accuracy %.3f", f16.test_acc);
    CHECK_MSG(fabs(f16.test_acc - f32.test_acc) < 0.05, "f16 %.3f vs f32 %.3f", f16.test_acc,
              f32.test_acc);
    cl16_dataset_free(tr), cl16_dataset_free(te);
    cl16_ctx_free(ctx);
    return check_done("train_mlp");
}
