/* continue16.c - continuing a 32-bit model in 16-bit through the C API: open an
 * fp32 model file cast into f16, train a few steps on Fashion-MNIST, evaluate, save.
 *
 * usage: continue16 [MODEL.safetensors [OUT.safetensors [STEPS]]]
 * Without MODEL it starts from a fresh LeNet-5 instead. OUT defaults to
 * continue16-out.safetensors, STEPS to 20 (batches of 64). */
#include <stdio.h>
#include <stdlib.h>

#include "cl16.h"

#define BATCH 64
#define TEST_IMAGES 1000

static int fail(cl16_ctx *ctx, cl16_status s, const char *what, const char *detail) {
    fprintf(stderr, "continue16: %s: %s: %s\n", what, cl16_status_str(s),
            detail && *detail ? detail : (ctx ? cl16_ctx_last_error(ctx) : ""));
    return 1;
}

int main(int argc, char **argv) {
    const char *in = argc > 1 ? argv[1] : NULL;
    const char *out = argc > 2 ? argv[2] : "continue16-out.safetensors";
    int steps = argc > 3 ? atoi(argv[3]) : 20;
    char err[2048] = "";
    int rc = 1;
    cl16_ctx *ctx = NULL;
    cl16_dataset *train = NULL, *test = NULL;
    cl16_model *m = NULL;
    cl16_trainer *t = NULL;
    int64_t *perm = NULL;
    float *images = NULL;
    int32_t labels[BATCH];
    cl16_status s;

    /* The device: options from the environment (CL16_DEVICE, ...). The handle is
     * set even when creation fails, so that the reason can be read. */
    if ((s = cl16_ctx_create(&ctx, NULL))) {
        fail(ctx, s, "cannot open the OpenCL device", NULL);
        goto done;
    }
    /* Fashion-MNIST from /usr/share/datasets/fashion-mnist (dir NULL). */
    if ((s = cl16_dataset_load("fashion-mnist", NULL, 1, &train, err, sizeof err)) ||
        (s = cl16_dataset_load("fashion-mnist", NULL, 0, &test, err, sizeof err))) {
        fail(NULL, s, "cannot load Fashion-MNIST", err);
        goto done;
    }

    /* The model in f16: the architecture comes from the file's metadata (o.arch
     * is used for a file without it, as PyTorch writes them); every value is
     * rounded to nearest even into half, and the report says what that did. */
    cl16_model_opts o;
    cl16_model_opts_init(&o); /* lenet5, 1 x 28 x 28, 10 classes */
    o.dtype = CL16_F16;
    if (in) {
        cl16_cast_report rep;
        if ((s = cl16_model_open(ctx, in, &o, &m, &rep, err, sizeof err))) {
            fail(NULL, s, "cannot open the model file", err); /* overflow: CL16_ERR_NUMERIC */
            goto done;
        }
        printf("cast %s into f16: %lld values, %lld overflowed, %lld flushed to zero, %lld subnormal\n",
               in, (long long)rep.values, (long long)rep.overflowed, (long long)rep.flushed,
               (long long)rep.subnormal);
    } else if ((s = cl16_model_create(ctx, &o, 1, &m))) {
        fail(ctx, s, "cannot create the model", NULL);
        goto done;
    }

    /* SGD with momentum; optimizer state in f16 like the weights. */
    cl16_train_opts to;
    cl16_train_opts_init(&to);
    to.optim.lr = 0.01f;
    to.optim.momentum = 0.9f;
    if ((s = cl16_trainer_create(m, &to, &t))) {
        fail(ctx, s, "cannot create the trainer", NULL);
        goto done;
    }

    int64_t count;
    int c, h, w, classes;
    cl16_dataset_shape(train, &count, &c, &h, &w, &classes);
    perm = malloc((size_t)count * sizeof *perm);
    images = malloc((size_t)BATCH * (size_t)(c * h * w) * sizeof *images);
    if (!perm || !images) {
        fail(NULL, CL16_ERR_OUT_OF_MEMORY, "host allocation", "");
        goto done;
    }
    cl16_shuffle(42, count, perm);
    for (int i = 0; i < steps && (int64_t)(i + 1) * BATCH <= count; i++) {
        double loss;
        int64_t correct;
        /* Normalised with the data set's mean/std (NULL), no augmentation. */
        if ((s = cl16_dataset_batch(train, perm + (int64_t)i * BATCH, BATCH, NULL, NULL, 0, 0,
                                    (uint64_t)i, images, labels))) {
            fail(NULL, s, "cannot assemble a batch", "");
            goto done;
        }
        if ((s = cl16_trainer_step(t, images, labels, BATCH, &loss, &correct))) {
            fail(ctx, s, "training step", NULL); /* CL16_ERR_NUMERIC: the loss was not finite */
            goto done;
        }
        if (i % 5 == 0 || i + 1 == steps)
            printf("step %lld: loss %.4f, %lld of %d correct, lr %.4g\n",
                   (long long)cl16_trainer_steps(t), loss, (long long)correct, BATCH,
                   cl16_trainer_lr(t));
    }

    /* Evaluation on the first TEST_IMAGES test images (no shuffling). */
    double loss_sum = 0;
    int64_t correct = 0, idx[BATCH];
    for (int64_t first = 0; first < TEST_IMAGES; first += BATCH) {
        int64_t n = TEST_IMAGES - first < BATCH ? TEST_IMAGES - first : BATCH;
        for (int64_t j = 0; j < n; j++) idx[j] = first + j;
        if ((s = cl16_dataset_batch(test, idx, n, NULL, NULL, 0, 0, 0, images, labels)) ||
            (s = cl16_model_evaluate(m, images, labels, n, &loss_sum, &correct))) {
            fail(ctx, s, "evaluation", NULL);
            goto done;
        }
    }
    printf("test: accuracy %.2f%%, loss %.4f on %d images\n", 100.0 * (double)correct / TEST_IMAGES,
           loss_sum / TEST_IMAGES, TEST_IMAGES);

    /* A checkpoint in f16 (model + optimizer state), written atomically. */
    if ((s = cl16_trainer_save(t, out, NULL, err, sizeof err))) {
        fail(NULL, s, "cannot save", err);
        goto done;
    }
    uint64_t cur, peak;
    cl16_ctx_memory(ctx, &cur, &peak);
    printf("wrote %s (peak device memory %.1f MB)\n", out, (double)peak / 1e6);
    rc = 0;
done:
    free(images);
    free(perm);
    cl16_trainer_free(t);
    cl16_model_free(m);
    cl16_dataset_free(train);
    cl16_dataset_free(test);
    cl16_ctx_free(ctx);
    return rc;
}
