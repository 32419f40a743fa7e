/* train.c (CLI) - `cl16 train` and `cl16 continue`: the epoch loop around
 * cl16_trainer_step with background batch assembly, per-epoch test evaluation,
 * progress, a JSONL log, a checkpoint per epoch and bit-exact --resume. */
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli/prefetch.h"
#include "cli/train.h"

static const char *train_help =
    "usage: cl16 train --model M --data D --out FILE.safetensors [options]\n"
    "       cl16 continue --from FILE.safetensors --data D --out FILE.safetensors [options]\n"
    "       cl16 train|continue --resume CKPT.safetensors [--epochs N] [--out FILE] [--log FILE]\n"
    "\n"
    "train: trains a fresh model (PyTorch's initialisation, drawn from --seed).\n"
    "continue: the paper's method: loads a model file (any precision; a file without\n"
    "  metadata, as PyTorch writes it, needs --model), casts it into --precision\n"
    "  (default fp16) printing the cast report (a value that overflows is an error),\n"
    "  and trains it with fresh optimizer state and the schedule from step 0.\n"
    "\n"
    "model and data:\n"
    "  --model M            mlp | lenet5 | resnet20 | resnet32 | resnet56 (train: required)\n"
    "  --from FILE          continue: the model file to start from\n"
    "  --hidden A,B         mlp hidden sizes (default 256,128)\n"
    "  --data D             fashion-mnist | mnist | cifar10 (required)\n"
    "  --data-dir DIR       where the files are (default /usr/share/datasets/D; cifar10: required)\n"
    "  --limit N            train on the first N images of the training set (default all)\n"
    "  --test-limit N       evaluate on the first N test images (default all)\n"
    "  --mean A[,B,C] --std A[,B,C]   normalisation (default: the data set's published values)\n"
    "  --crop PAD           random crops after zero-padding by PAD (cifar10 default 4)\n"
    "  --flip / --no-flip   random horizontal flips (cifar10 default on)\n"
    "  --no-augment         neither (the default for fashion-mnist and mnist)\n"
    "\n"
    "training:\n"
    "  --precision P        fp32 | fp16 | fp16-sr | fp16-kahan | mixed | bf16 | bf16-sr\n"
    "                       (train default fp32, continue default fp16; see\n"
    "                       docs/numerics.md): fp16 pure half, rounded to nearest (the\n"
    "                       paper's method); fp16-sr stochastic rounding of the\n"
    "                       update; fp16-kahan a half compensation buffer per weight;\n"
    "                       mixed f32 master weights and optimizer state, half\n"
    "                       forward/backward; bf16 pure bfloat16 (float's exponent\n"
    "                       range, 8 significant bits), bf16-sr with stochastic\n"
    "                       rounding of the update\n"
    "  --loss-scale L       none | static:S | dynamic[:S] (fp16 precisions default\n"
    "                       dynamic from 65536: an overflowing step is skipped and S\n"
    "                       halved, S doubles after 2000 clean steps; fp32, bf16 and\n"
    "                       bf16-sr default none)\n"
    "  --no-stall-stats     do not count updates lost to 16-bit rounding (counted by\n"
    "                       default: \"stalled_fraction\" in the log)\n"
    "  --epochs N           default 1\n"
    "  --batch B            default 128; the last partial training batch of each\n"
    "                       epoch is dropped (every step sees B images)\n"
    "  --optimizer O        sgd | adam | adamw (default sgd)\n"
    "  --lr X               base learning rate (default 0.01)\n"
    "  --momentum X         sgd momentum (default 0)\n"
    "  --nesterov           sgd Nesterov momentum (needs --momentum > 0)\n"
    "  --weight-decay X     default 0 (adamw: decoupled)\n"
    "  --beta1 X --beta2 X --eps X    adam/adamw (default 0.9, 0.999, and eps 1e-8, or\n"
    "                       1e-4 in fp16/fp16-sr/fp16-kahan, where v is stored in half)\n"
    "  --schedule S         constant | step | cosine (default constant); cosine reaches 0\n"
    "                       at the last step of --epochs\n"
    "  --warmup STEPS       linear warm-up from 0 over STEPS optimizer steps (default 0)\n"
    "  --step-size EPOCHS --gamma G   step schedule: x G every EPOCHS epochs (default 1, 0.1)\n"
    "  --seed S             initialisation, shuffling and augmentation (default 1); every\n"
    "                       draw derives from (seed, epoch, batch), so --resume is bit-exact\n"
    "  --device D           device index or name substring (as the global --device)\n"
    "\n"
    "output:\n"
    "  --out FILE           checkpoint written atomically after every epoch (model,\n"
    "                       optimizer state, everything --resume needs)\n"
    "  --log FILE           one JSON line per epoch: epoch, loss, train_acc, test_loss,\n"
    "                       test_acc, seconds, images_per_s, peak_device_bytes, precision,\n"
    "                       lr, steps, skipped_steps, loss_scale, updates, stalled,\n"
    "                       stalled_fraction\n"
    "  --resume CKPT        continue an interrupted run after its last finished epoch;\n"
    "                       the run's options come from CKPT (only --epochs, --out, --log,\n"
    "                       --data-dir, --device, --stop-after and --model, checked\n"
    "                       against it, may be given); --out defaults to CKPT\n"
    "  --stop-after N       stop this process after N epochs, as an interruption would\n"
    "                       (the checkpoint is the same; --resume goes on from it)\n"
    "\n"
    "A progress bar with images/s and ETA is drawn when stderr is a terminal; one line\n"
    "per epoch goes to stdout. A non-finite loss stops training (exit 20) naming the\n"
    "epoch and step; the checkpoint of the last finished epoch stays as it was.\n";

typedef struct run {
    const char *cmd; /* "train" or "continue" */
    const char *device;
    const char *model, *data, *data_dir, *out, *log, *resume, *from;
    cl16_dtype dtype;    /* the model's: cl16_precision_dtype(prec) */
    cl16_precision prec;
    cl16_loss_scaling scaling;
    double loss_scale;   /* static: S; dynamic: the initial S */
    int stall_stats, have_eps;
    int64_t epochs, batch, limit, test_limit, warmup, step_size, crop, hidden1, hidden2;
    double lr, momentum, weight_decay, beta1, beta2, eps, gamma;
    int nesterov, flip;
    int64_t stop_after; /* epochs this process trains before it stops (0: all) */
    cl16_optim_kind opt;
    cl16_lr_schedule sched;
    uint64_t seed;
    float mean[3], std[3];
    int have_mean, have_std;
    const char *run_opt; /* the first run-defining option given (refused with --resume) */
} run;

static const char *opt_names[] = {"sgd", "adam", "adamw"};
static const char *sched_names[] = {"constant", "step", "cosine"};

static int pick(const char *cmd, const char *name, const char *s, const char **names, int n) {
    for (int i = 0; i < n; i++)
        if (!strcmp(s, names[i])) return i;
    fprintf(stderr, "cl16 %s: %s must be one of", cmd, name);
    for (int i = 0; i < n; i++) fprintf(stderr, "%s %s", i ? "," : "", names[i]);
    fprintf(stderr, "; got '%s'\n", s);
    return -1;
}

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* fp32 | fp16 | fp16-sr | fp16-kahan | mixed | bf16 | bf16-sr, and the model dtype it trains. */
static int opt_train_precision(const char *cmd, const char *s, cl16_precision *p, cl16_dtype *dt) {
    if (!strcmp(s, "f32")) s = "fp32";
    if (!strcmp(s, "f16")) s = "fp16";
    if (cl16_precision_parse(s, p) || *p == CL16_PREC_AUTO) {
        fprintf(stderr, "cl16 %s: --precision must be fp32, fp16, fp16-sr, fp16-kahan, mixed, bf16 or bf16-sr, got "
                        "'%s'\n", cmd, s);
        return 0;
    }
    *dt = cl16_precision_dtype(*p);
    return 1;
}

static const char *const scaling_names[] = {"auto", "none", "static", "dynamic"};

/* none | static:S | dynamic[:S] */
static int opt_loss_scale(const char *cmd, const char *s, cl16_loss_scaling *m, double *scale) {
    const char *colon = strchr(s, ':');
    const size_t len = colon ? (size_t)(colon - s) : strlen(s);
    for (int i = 1; i < 4; i++)
        if (strlen(scaling_names[i]) == len && !strncmp(s, scaling_names[i], len)) {
            *m = (cl16_loss_scaling)i;
            if (i == CL16_SCALE_NONE && !colon) return 1;
            if (!colon) return i == CL16_SCALE_DYNAMIC;
            return opt_f64(cmd, "--loss-scale", colon + 1, 1, 1e30, scale);
        }
    fprintf(stderr, "cl16 %s: --loss-scale must be none, static:S or dynamic[:S], got '%s'\n", cmd,
            s);
    return 0;
}

/* Parses argv into r; returns -1 to go on, else the exit code. */
static int parse(int argc, char **argv, run *r) {
    const char *cmd = r->cmd;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = NULL;
        int run_defining = 1;
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            fputs(train_help, stdout);
            return 0;
        }
#define VAL() \
    if (!opt_value(argc, argv, &i, cmd, &v)) return CL16_EXIT_USAGE
#define BAD(expr) \
    if (!(expr)) return CL16_EXIT_USAGE
        if (!strcmp(a, "--model")) {
            VAL();
            BAD(opt_arch(cmd, v));
            r->model = v;
            run_defining = 0; /* with a file: checked against its architecture */
        } else if (!strcmp(a, "--from") && !strcmp(cmd, "continue")) {
            VAL();
            r->from = v;
        } else if (!strcmp(a, "--data")) {
            VAL();
            r->data = v;
        } else if (!strcmp(a, "--data-dir")) {
            VAL();
            r->data_dir = v;
            run_defining = 0;
        } else if (!strcmp(a, "--precision")) {
            VAL();
            BAD(opt_train_precision(cmd, v, &r->prec, &r->dtype));
        } else if (!strcmp(a, "--loss-scale")) {
            VAL();
            BAD(opt_loss_scale(cmd, v, &r->scaling, &r->loss_scale));
        } else if (!strcmp(a, "--no-stall-stats")) {
            r->stall_stats = 0;
            run_defining = 0;
        } else if (!strcmp(a, "--epochs")) {
            VAL();
            BAD(opt_i64(cmd, a, v, 1, 1000000, &r->epochs));
            run_defining = 0;
        } else if (!strcmp(a, "--batch")) {
            VAL();
            BAD(opt_i64(cmd, a, v, 1, 65536, &r->batch));
        } else if (!strcmp(a, "--lr")) {
            VAL();
            BAD(opt_f64(cmd, a, v, 0, 1e30, &r->lr));
        } else if (!strcmp(a, "--optimizer")) {
            VAL();
            int k = pick(cmd, a, v, opt_names, 3);
            BAD(k >= 0);
            r->opt = (cl16_optim_kind)k;
        } else if (!strcmp(a, "--momentum")) {
            VAL();
            BAD(opt_f64(cmd, a, v, 0, 1, &r->momentum));
        } else if (!strcmp(a, "--nesterov")) {
            r->nesterov = 1;
        } else if (!strcmp(a, "--weight-decay")) {
            VAL();
            BAD(opt_f64(cmd, a, v, 0, 1e6, &r->weight_decay));
        } else if (!strcmp(a, "--beta1") || !strcmp(a, "--beta2")) {
            VAL();
            BAD(opt_f64(cmd, a, v, 0, 0.999999999, a[6] == '1' ? &r->beta1 : &r->beta2));
        } else if (!strcmp(a, "--eps")) {
            VAL();
            BAD(opt_f64(cmd, a, v, 1e-30, 1, &r->eps));
            r->have_eps = 1;
        } else if (!strcmp(a, "--schedule")) {
            VAL();
            int k = pick(cmd, a, v, sched_names, 3);
            BAD(k >= 0);
            r->sched = (cl16_lr_schedule)k;
        } else if (!strcmp(a, "--warmup")) {
            VAL();
            BAD(opt_i64(cmd, a, v, 0, INT64_MAX / 2, &r->warmup));
        } else if (!strcmp(a, "--step-size")) {
            VAL();
            BAD(opt_i64(cmd, a, v, 1, 1000000, &r->step_size));
        } else if (!strcmp(a, "--gamma")) {
            VAL();
            BAD(opt_f64(cmd, a, v, 0, 1e6, &r->gamma));
        } else if (!strcmp(a, "--seed")) {
            VAL();
            BAD(opt_u64(cmd, a, v, &r->seed));
        } else if (!strcmp(a, "--device")) {
            VAL();
            r->device = v;
            run_defining = 0;
        } else if (!strcmp(a, "--out")) {
            VAL();
            r->out = v;
            run_defining = 0;
        } else if (!strcmp(a, "--stop-after")) {
            VAL();
            BAD(opt_i64(cmd, a, v, 1, 1000000, &r->stop_after));
            run_defining = 0;
        } else if (!strcmp(a, "--log")) {
            VAL();
            r->log = v;
            run_defining = 0;
        } else if (!strcmp(a, "--resume")) {
            VAL();
            r->resume = v;
            run_defining = 0;
        } else if (!strcmp(a, "--limit") || !strcmp(a, "--test-limit")) {
            VAL();
            BAD(opt_i64(cmd, a, v, 1, INT64_MAX / 2, a[2] == 'l' ? &r->limit : &r->test_limit));
        } else if (!strcmp(a, "--hidden")) {
            VAL();
            char *end;
            long h1 = strtol(v, &end, 10), h2 = *end == ',' ? strtol(end + 1, &end, 10) : 0;
            if (*end || h1 < 1 || h2 < 1 || h1 > 1 << 20 || h2 > 1 << 20) {
                fprintf(stderr, "cl16 %s: --hidden needs two positive sizes A,B, got '%s'\n", cmd, v);
                return CL16_EXIT_USAGE;
            }
            r->hidden1 = h1, r->hidden2 = h2;
        } else if (!strcmp(a, "--mean")) {
            VAL();
            BAD(opt_f3(cmd, a, v, 0, r->mean));
            r->have_mean = 1;
        } else if (!strcmp(a, "--std")) {
            VAL();
            BAD(opt_f3(cmd, a, v, 1, r->std));
            r->have_std = 1;
        } else if (!strcmp(a, "--crop")) {
            VAL();
            BAD(opt_i64(cmd, a, v, 0, 64, &r->crop));
        } else if (!strcmp(a, "--flip") || !strcmp(a, "--no-flip")) {
            r->flip = a[2] == 'f';
        } else if (!strcmp(a, "--no-augment")) {
            r->crop = 0, r->flip = 0;
        } else {
            fprintf(stderr, "cl16 %s: unknown option '%s' (see cl16 %s --help)\n", cmd, a, cmd);
            return CL16_EXIT_USAGE;
        }
#undef VAL
#undef BAD
        if (run_defining && !r->run_opt) r->run_opt = a;
    }
    return -1;
}

/* ---- checkpoint metadata ------------------------------------------------------ */

enum { META_MAX = 40 };
typedef struct meta_buf {
    char val[META_MAX][512];
    const char *kv[2 * META_MAX + 1];
    int n;
} meta_buf;

static void meta_put(meta_buf *m, const char *key, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void meta_put(meta_buf *m, const char *key, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(m->val[m->n], sizeof m->val[m->n], fmt, ap);
    va_end(ap);
    m->kv[2 * m->n] = key;
    m->kv[2 * m->n + 1] = m->val[m->n];
    m->kv[2 * (m->n + 1)] = NULL;
    m->n++;
}

/* Everything a --resume needs to rebuild the run (never paths of outputs or
 * timings: an interrupted run and an uninterrupted one write identical files). */
static void meta_fill(meta_buf *m, const run *r, int64_t epoch) {
    m->n = 0;
    m->kv[0] = NULL;
    meta_put(m, META_PREFIX "command", "%s", r->cmd);
    meta_put(m, META_PREFIX "epoch", "%lld", (long long)epoch);
    meta_put(m, META_PREFIX "epochs", "%lld", (long long)r->epochs);
    meta_put(m, META_PREFIX "data", "%s", r->data);
    meta_put(m, META_PREFIX "train_precision", "%s", cl16_precision_name(r->prec));
    meta_put(m, META_PREFIX "loss_scaling", "%s", scaling_names[r->scaling]);
    meta_put(m, META_PREFIX "loss_scale", "%.17g", r->loss_scale);
    meta_put(m, META_PREFIX "seed", "%llu", (unsigned long long)r->seed);
    meta_put(m, META_PREFIX "batch", "%lld", (long long)r->batch);
    meta_put(m, META_PREFIX "limit", "%lld", (long long)r->limit);
    meta_put(m, META_PREFIX "test_limit", "%lld", (long long)r->test_limit);
    meta_put(m, META_PREFIX "optimizer", "%s", opt_names[r->opt]);
    meta_put(m, META_PREFIX "lr", "%.17g", r->lr);
    meta_put(m, META_PREFIX "momentum", "%.17g", r->momentum);
    meta_put(m, META_PREFIX "nesterov", "%d", r->nesterov);
    meta_put(m, META_PREFIX "weight_decay", "%.17g", r->weight_decay);
    meta_put(m, META_PREFIX "beta1", "%.17g", r->beta1);
    meta_put(m, META_PREFIX "beta2", "%.17g", r->beta2);
    meta_put(m, META_PREFIX "eps", "%.17g", r->eps);
    meta_put(m, META_PREFIX "schedule", "%s", sched_names[r->sched]);
    meta_put(m, META_PREFIX "warmup", "%lld", (long long)r->warmup);
    meta_put(m, META_PREFIX "step_size", "%lld", (long long)r->step_size);
    meta_put(m, META_PREFIX "gamma", "%.17g", r->gamma);
    meta_put(m, META_PREFIX "mean", "%.9g,%.9g,%.9g", r->mean[0], r->mean[1], r->mean[2]);
    meta_put(m, META_PREFIX "std", "%.9g,%.9g,%.9g", r->std[0], r->std[1], r->std[2]);
    meta_put(m, META_PREFIX "crop", "%lld", (long long)r->crop);
    meta_put(m, META_PREFIX "flip", "%d", r->flip);
    meta_put(m, META_PREFIX "hidden", "%lld,%lld", (long long)r->hidden1, (long long)r->hidden2);
    if (r->data_dir && strlen(r->data_dir) < sizeof m->val[0])
        meta_put(m, META_PREFIX "data_dir", "%s", r->data_dir);
}

/* Reads key from f into the string *s; 0 (with a message) when absent. */
static int meta_get(const char *cmd, const char *path, const cl16_safetensors *f, const char *key,
                    const char **s) {
    *s = cl16_safetensors_meta(f, key);
    if (!*s) {
        fprintf(stderr,
                "cl16 %s: %s is not a checkpoint of cl16 train/continue: it lacks the "
                "metadata \"%s\" (to start from a model file use cl16 continue --from)\n",
                cmd, path, key);
        return 0;
    }
    return 1;
}

/* Fills r's run-defining options from checkpoint f; *epoch_done gets the
 * epochs it has finished. Returns -1 to go on, else the exit code. */
static int from_checkpoint(run *r, const cl16_safetensors *f, int64_t *epoch_done) {
    const char *cmd = r->cmd, *p = r->resume, *s;
    int64_t epochs_opt = r->epochs;
    char what[1200];
    snprintf(what, sizeof what, "checkpoint %s: metadata", p);
#define GET(key) \
    if (!meta_get(cmd, p, f, META_PREFIX key, &s)) return cli_exit_code(CL16_ERR_FORMAT)
#define CHK(expr) \
    if (!(expr)) return cli_exit_code(CL16_ERR_FORMAT)
    GET("command");
    r->cmd = !strcmp(s, "continue") ? "continue" : "train";
    GET("epoch");
    CHK(opt_i64(what, "epoch", s, 0, 1000000, epoch_done));
    GET("epochs");
    CHK(opt_i64(what, "epochs", s, 1, 1000000, &r->epochs));
    GET("data");
    r->data = s;
    GET("train_precision");
    CHK(opt_train_precision(what, s, &r->prec, &r->dtype));
    GET("loss_scaling");
    const int ls = pick(what, "loss_scaling", s, (const char **)scaling_names, 4);
    CHK(ls >= 0);
    r->scaling = (cl16_loss_scaling)ls;
    GET("loss_scale");
    CHK(opt_f64(what, "loss_scale", s, 0, 1e30, &r->loss_scale)); /* 0: the default */
    GET("seed");
    CHK(opt_u64(what, "seed", s, &r->seed));
    GET("batch");
    CHK(opt_i64(what, "batch", s, 1, 65536, &r->batch));
    GET("limit");
    CHK(opt_i64(what, "limit", s, 0, INT64_MAX / 2, &r->limit));
    GET("test_limit");
    CHK(opt_i64(what, "test_limit", s, 0, INT64_MAX / 2, &r->test_limit));
    GET("optimizer");
    int k = pick(what, "optimizer", s, opt_names, 3);
    CHK(k >= 0);
    r->opt = (cl16_optim_kind)k;
    GET("lr");
    CHK(opt_f64(what, "lr", s, 0, 1e30, &r->lr));
    GET("momentum");
    CHK(opt_f64(what, "momentum", s, 0, 1, &r->momentum));
    GET("nesterov");
    r->nesterov = !strcmp(s, "1");
    GET("weight_decay");
    CHK(opt_f64(what, "weight_decay", s, 0, 1e6, &r->weight_decay));
    GET("beta1");
    CHK(opt_f64(what, "beta1", s, 0, 1, &r->beta1));
    GET("beta2");
    CHK(opt_f64(what, "beta2", s, 0, 1, &r->beta2));
    GET("eps");
    CHK(opt_f64(what, "eps", s, 1e-30, 1, &r->eps));
    GET("schedule");
    k = pick(what, "schedule", s, sched_names, 3);
    CHK(k >= 0);
    r->sched = (cl16_lr_schedule)k;
    GET("warmup");
    CHK(opt_i64(what, "warmup", s, 0, INT64_MAX / 2, &r->warmup));
    GET("step_size");
    CHK(opt_i64(what, "step_size", s, 1, 1000000, &r->step_size));
    GET("gamma");
    CHK(opt_f64(what, "gamma", s, 0, 1e6, &r->gamma));
    GET("mean");
    CHK(opt_f3(what, "mean", s, 0, r->mean));
    r->have_mean = 1;
    GET("std");
    CHK(opt_f3(what, "std", s, 1, r->std));
    r->have_std = 1;
    GET("crop");
    CHK(opt_i64(what, "crop", s, 0, 64, &r->crop));
    GET("flip");
    r->flip = !strcmp(s, "1");
    GET("hidden");
    if (sscanf(s, "%lld,%lld", (long long *)&r->hidden1, (long long *)&r->hidden2) != 2)
        r->hidden1 = r->hidden2 = 0;
#undef GET
#undef CHK
    if (epochs_opt) r->epochs = epochs_opt; /* --epochs may extend the run */
    if (!r->data_dir) r->data_dir = cl16_safetensors_meta(f, META_PREFIX "data_dir");
    return -1;
}

/* ---- progress ---------------------------------------------------------------- */

static void fmt_time(char *buf, size_t len, double s) {
    long t = s > 0 && s < 1e7 ? (long)(s + 0.5) : 0;
    if (t >= 3600)
        snprintf(buf, len, "%ld:%02ld:%02ld", t / 3600, t / 60 % 60, t % 60);
    else
        snprintf(buf, len, "%ld:%02ld", t / 60, t % 60);
}

static void draw_bar(int64_t epoch, int64_t epochs, int64_t done, int64_t total, double elapsed,
                     int64_t images, double loss, double acc) {
    char bar[31], eta[32];
    int fill = total ? (int)(30 * done / total) : 30;
    for (int i = 0; i < 30; i++) bar[i] = i < fill ? '#' : '.';
    bar[30] = 0;
    double ips = elapsed > 0 ? (double)images / elapsed : 0;
    fmt_time(eta, sizeof eta, done ? elapsed / (double)done * (double)(total - done) : 0);
    fprintf(stderr, "\repoch %lld/%lld [%s] %lld/%lld loss %.4f acc %5.1f%% %.0f img/s ETA %s  ",
            (long long)epoch, (long long)epochs, bar, (long long)done, (long long)total, loss,
            100 * acc, ips, eta);
    fflush(stderr);
}

/* ---- the run ----------------------------------------------------------------- */

/* The directory of `path` must take a new file (the checkpoint is written as a
 * temporary file there, then renamed): checked before any epoch is spent. */
static int check_out(const char *cmd, const char *path) {
    char dir[4096];
    snprintf(dir, sizeof dir, "%s", path);
    char *slash = strrchr(dir, '/');
    if (!slash)
        snprintf(dir, sizeof dir, ".");
    else if (slash == dir)
        dir[1] = 0;
    else
        *slash = 0;
    if (access(dir, W_OK) != 0) {
        char detail[4400];
        snprintf(detail, sizeof detail, "directory %s: %s", dir, strerror(errno));
        char what[4200];
        snprintf(what, sizeof what, "cannot write --out %s", path);
        return cli_failc(cmd, CL16_ERR_IO, what, detail);
    }
    return 0;
}

static int run_training(run *r) {
    const char *cmd = r->cmd;
    int rc = 0;
    cl16_safetensors *f = NULL;
    cl16_dataset *dtrain = NULL, *dtest = NULL;
    cl16_ctx *ctx = NULL;
    cl16_model *m = NULL;
    cl16_trainer *t = NULL;
    FILE *log = NULL;
    int64_t *perm = NULL;
    int64_t epoch_done = 0;
    char err[4096] = "";
    cl16_status s;

    if (r->resume) {
        if (r->run_opt) {
            fprintf(stderr,
                    "cl16 %s: %s cannot be given with --resume: the run's options come from "
                    "the checkpoint (only --epochs, --out, --log, --data-dir, --device, --stop-after,\n"
                    "--model may)\n",
                    cmd, r->run_opt);
            return CL16_EXIT_USAGE;
        }
        if ((rc = cli_read_file(cmd, r->resume, &f))) return rc;
        if ((rc = from_checkpoint(r, f, &epoch_done)) >= 0) goto done;
        if ((rc = cli_check_arch(cmd, r->resume, f, r->model))) goto done;
        if (!r->out) r->out = r->resume;
        if (epoch_done >= r->epochs) {
            fprintf(stderr, "cl16 %s: %s has finished %lld of %lld epochs: nothing to do (raise --epochs to train more)\n",
                    cmd, r->resume, (long long)epoch_done, (long long)r->epochs);
            goto done;
        }
    } else {
        if (!strcmp(cmd, "train") && !r->model) {
            fprintf(stderr, "cl16 train: --model is required (see cl16 train --help)\n");
            return CL16_EXIT_USAGE;
        }
        if (!strcmp(cmd, "continue") && !r->from) {
            fprintf(stderr, "cl16 continue: --from FILE.safetensors is required (see cl16 continue --help)\n");
            return CL16_EXIT_USAGE;
        }
        if (!r->data) {
            fprintf(stderr, "cl16 %s: --data is required (fashion-mnist, mnist or cifar10)\n", cmd);
            return CL16_EXIT_USAGE;
        }
        if (!r->out) {
            fprintf(stderr, "cl16 %s: --out FILE.safetensors is required\n", cmd);
            return CL16_EXIT_USAGE;
        }
        if (r->nesterov && r->momentum <= 0) {
            fprintf(stderr, "cl16 %s: --nesterov needs --momentum > 0\n", cmd);
            return CL16_EXIT_USAGE;
        }
        if (r->from && (rc = cli_read_file(cmd, r->from, &f))) return rc;
    }
    if ((rc = check_out(cmd, r->out))) goto done;

    if ((rc = cli_load_data(cmd, r->data, r->data_dir, 1, &dtrain)) ||
        (rc = cli_load_data(cmd, r->data, r->data_dir, 0, &dtest)))
        goto done;
    int64_t ntrain, ntest;
    int ch, h, w, classes;
    cl16_dataset_shape(dtest, &ntest, &ch, &h, &w, &classes);
    cl16_dataset_shape(dtrain, &ntrain, &ch, &h, &w, &classes);
    if (r->limit && r->limit < ntrain) ntrain = r->limit;
    if (r->test_limit && r->test_limit < ntest) ntest = r->test_limit;
    int64_t spe = ntrain / r->batch; /* steps per epoch: the partial batch is dropped */
    if (spe < 1) {
        fprintf(stderr, "cl16 %s: %lld training images make no full batch of %lld (lower --batch or raise --limit)\n",
                cmd, (long long)ntrain, (long long)r->batch);
        rc = CL16_EXIT_USAGE;
        goto done;
    }
    int cifar = !strcmp(r->data, "cifar10");
    if (r->crop < 0) r->crop = cifar ? 4 : 0;
    if (r->flip < 0) r->flip = cifar;
    if (!r->resume) /* continue keeps the normalisation its model was trained with */
        cli_norm_for(f, dtrain, r->have_mean ? r->mean : NULL, r->have_std ? r->std : NULL,
                     r->mean, r->std);

    if ((rc = cli_ctx(&ctx, r->device, 0, 0))) goto done;
    if (f) {
        /* continue --from, or --resume: the model in the file, cast into the training precision. */
        const char *path = r->resume ? r->resume : r->from;
        if ((rc = cli_model_from_file(cmd, ctx, path, f, r->model, dtrain, r->dtype,
                                      r->resume ? NULL : stdout, &m)))
            goto done;
    } else {
        cl16_model_opts o;
        cl16_model_opts_init(&o);
        o.arch = r->model;
        o.channels = ch, o.height = h, o.width = w, o.classes = classes;
        if (r->hidden1) o.hidden1 = (int)r->hidden1, o.hidden2 = (int)r->hidden2;
        o.dtype = r->dtype;
        if ((s = cl16_model_create(ctx, &o, r->seed, &m))) {
            rc = cli_failc(cmd, s, "cannot create the model", cl16_ctx_last_error(ctx));
            goto done;
        }
    }
    {
        const cl16_model_opts *mo = cl16_model_get_opts(m);
        r->hidden1 = mo->hidden1, r->hidden2 = mo->hidden2;
    }
    cl16_train_opts to;
    cl16_train_opts_init(&to);
    to.optim.kind = r->opt;
    to.optim.lr = (float)r->lr;
    to.optim.weight_decay = (float)r->weight_decay;
    to.optim.momentum = (float)r->momentum;
    to.optim.nesterov = r->nesterov;
    to.optim.beta1 = (float)r->beta1;
    to.optim.beta2 = (float)r->beta2;
    to.optim.eps = (float)r->eps;
    to.schedule = r->sched;
    to.total_steps = r->epochs * spe;
    to.warmup_steps = r->warmup;
    to.step_size = r->step_size * spe;
    to.gamma = r->gamma;
    to.precision = r->prec;
    to.seed = cli_seed(r->seed, 3);
    to.scaling = r->scaling;
    if (r->loss_scale > 0) to.loss_scale = (float)r->loss_scale;
    to.stall_stats = r->stall_stats;
    if ((s = cl16_trainer_create(m, &to, &t))) {
        rc = cli_failc(cmd, s, "cannot create the trainer", cl16_ctx_last_error(ctx));
        goto done;
    }
    if (r->resume) {
        if ((s = cl16_trainer_restore(t, f, err, sizeof err))) {
            char what[4200];
            snprintf(what, sizeof what, "cannot restore the optimizer state of %s", r->resume);
            rc = cli_failc(cmd, s, what, err);
            goto done;
        }
        cl16_train_stats ts;
        cl16_trainer_get_stats(t, &ts);
        if (ts.steps + ts.skipped != epoch_done * spe) {
            char detail[512];
            snprintf(detail, sizeof detail,
                     "it has taken %lld steps (%lld more skipped), but %lld epochs of %lld steps "
                     "make %lld (were the data set or --limit different?)",
                     (long long)ts.steps, (long long)ts.skipped, (long long)epoch_done,
                     (long long)spe, (long long)(epoch_done * spe));
            rc = cli_failc(cmd, CL16_ERR_FORMAT, "checkpoint does not fit this run", detail);
            goto done;
        }
    }
    if (r->log && !(log = fopen(r->log, r->resume ? "a" : "w"))) {
        char what[4200];
        snprintf(what, sizeof what, "cannot open --log %s", r->log);
        rc = cli_failc(cmd, CL16_ERR_IO, what, strerror(errno));
        goto done;
    }
    if (!(perm = malloc((size_t)ntrain * sizeof *perm))) {
        rc = cli_failc(cmd, CL16_ERR_OUT_OF_MEMORY, "cannot allocate the permutation", "");
        goto done;
    }

    int tty = isatty(STDERR_FILENO);
    printf("%s %s on %s: %lld training images (%lld steps of %lld per epoch), %lld test images, "
           "%s, epochs %lld-%lld of %lld\n",
           cmd, cl16_model_get_opts(m)->arch, r->data, (long long)ntrain, (long long)spe,
           (long long)r->batch, (long long)ntest, cl16_precision_name(r->prec),
           (long long)epoch_done + 1, (long long)r->epochs, (long long)r->epochs);
    fflush(stdout);
    int saved_any = 0;
    int64_t last = r->epochs;
    if (r->stop_after && epoch_done + r->stop_after < last) last = epoch_done + r->stop_after;
    for (int64_t e = epoch_done + 1; e <= last; e++) {
        cl16_shuffle(cli_seed(cli_seed(r->seed, 1), (uint64_t)e), ntrain, perm);
        prefetch_job job = {dtrain, perm, ntrain, r->batch, 1, r->mean, r->std,
                            (int)r->crop, r->flip, cli_seed(cli_seed(r->seed, 2), (uint64_t)e)};
        prefetch p;
        double t0 = now_s(), last_draw = 0, loss_sum = 0, lr = 0;
        int64_t correct = 0, images = 0, b = 0;
        cl16_trainer_reset_stall(t);
        cl16_train_stats before;
        cl16_trainer_get_stats(t, &before);
        s = prefetch_start(&p, &job, err, sizeof err);
        for (; !s && b < spe; b++) {
            const float *x;
            const int32_t *y;
            int64_t n, c = 0;
            double loss = 0;
            if ((s = prefetch_next(&p, &x, &y, &n, err, sizeof err))) break;
            lr = cl16_trainer_lr(t);
            s = cl16_trainer_step(t, x, y, n, &loss, &c);
            prefetch_release(&p);
            if (s) {
                snprintf(err, sizeof err, "%s", cl16_ctx_last_error(ctx));
                break;
            }
            loss_sum += loss;
            correct += c;
            images += n;
            double el = now_s() - t0;
            if (tty && (el - last_draw > 0.2 || b + 1 == spe)) {
                draw_bar(e, r->epochs, b + 1, spe, el, images, loss_sum / (double)(b + 1),
                         (double)correct / (double)images);
                last_draw = el;
            }
        }
        prefetch_stop(&p);
        if (tty) fputc('\n', stderr);
        if (s == CL16_ERR_NUMERIC) {
            char detail[4600];
            if (saved_any || epoch_done)
                snprintf(detail, sizeof detail,
                         "training stopped; the checkpoint %s of epoch %lld is untouched (%s)",
                         r->out, (long long)e - 1, err);
            else
                snprintf(detail, sizeof detail, "training stopped; no checkpoint was written (%s)", err);
            char what[256];
            snprintf(what, sizeof what, "non-finite loss at epoch %lld, step %lld (batch %lld of %lld)",
                     (long long)e, (long long)cl16_trainer_steps(t) + 1, (long long)b + 1,
                     (long long)spe);
            rc = cli_failc(cmd, s, what, detail);
            goto done;
        }
        if (s) {
            char what[256];
            snprintf(what, sizeof what, "training failed at epoch %lld, batch %lld", (long long)e,
                     (long long)b + 1);
            rc = cli_failc(cmd, s, what, err);
            goto done;
        }
        double train_s = now_s() - t0, test_loss = 0, test_acc = 0;
        double t1 = now_s();
        if ((s = cli_evaluate(m, dtest, ntest, r->batch, r->mean, r->std, &test_loss, &test_acc,
                              err, sizeof err))) {
            char what[128];
            snprintf(what, sizeof what, "test evaluation after epoch %lld failed", (long long)e);
            rc = cli_failc(cmd, s, what, err);
            goto done;
        }
        double eval_s = now_s() - t1;
        uint64_t cur, peak;
        cl16_ctx_memory(ctx, &cur, &peak);
        double loss = loss_sum / (double)spe, acc = (double)correct / (double)images;
        double ips = train_s > 0 ? (double)images / train_s : 0;
        cl16_train_stats ts;
        cl16_trainer_get_stats(t, &ts);
        const double stalled = ts.changed ? (double)ts.stalled / (double)ts.changed : 0.0;
        const long long skipped = (long long)(ts.skipped - before.skipped);
        printf("epoch %lld/%lld: loss %.4f train_acc %.2f%% test_loss %.4f test_acc %.2f%% "
               "%.1f s %.0f img/s peak %.1f MB lr %.4g",
               (long long)e, (long long)r->epochs, loss, 100 * acc, test_loss, 100 * test_acc,
               train_s, ips, (double)peak / 1e6, lr);
        if (r->dtype != CL16_F32)
            printf(" stalled %.2f%% skipped %lld scale %g", 100 * stalled, skipped, ts.loss_scale);
        printf("\n");
        fflush(stdout);
        if (log) {
            fprintf(log,
                    "{\"epoch\":%lld,\"loss\":%.6f,\"train_acc\":%.6f,\"test_loss\":%.6f,"
                    "\"test_acc\":%.6f,\"seconds\":%.3f,\"eval_seconds\":%.3f,"
                    "\"images_per_s\":%.1f,\"peak_device_bytes\":%llu,\"precision\":\"%s\","
                    "\"lr\":%.6g,\"steps\":%lld,\"images\":%lld,\"skipped_steps\":%lld,"
                    "\"loss_scale\":%.17g,\"updates\":%lld,\"stalled\":%lld,"
                    "\"stalled_fraction\":%.6f}\n",
                    (long long)e, loss, acc, test_loss, test_acc, train_s, eval_s, ips,
                    (unsigned long long)peak, cl16_precision_name(r->prec), lr,
                    (long long)cl16_trainer_steps(t), (long long)images, skipped, ts.loss_scale,
                    (long long)ts.changed, (long long)ts.stalled, stalled);
            fflush(log);
        }
        meta_buf mb;
        meta_fill(&mb, r, e);
        if ((s = cl16_trainer_save(t, r->out, mb.kv, err, sizeof err))) {
            char what[4200];
            snprintf(what, sizeof what, "cannot write the checkpoint of epoch %lld to %s%s",
                     (long long)e, r->out,
                     saved_any || epoch_done ? " (the previous one is intact)" : "");
            rc = cli_failc(cmd, s, what, err);
            goto done;
        }
        saved_any = 1;
    }
    if (last < r->epochs)
        printf("stopped after epoch %lld of %lld (--stop-after); go on with --resume %s\n",
               (long long)last, (long long)r->epochs, r->out);
    printf("wrote %s\n", r->out);

done:
    if (log && fclose(log) && !rc) rc = cli_failc(cmd, CL16_ERR_IO, "cannot write --log", r->log);
    free(perm);
    cl16_trainer_free(t);
    cl16_model_free(m);
    cl16_ctx_free(ctx);
    cl16_dataset_free(dtrain);
    cl16_dataset_free(dtest);
    cl16_safetensors_free(f);
    return rc;
}

static void run_defaults(run *r, const char *cmd, const char *device, cl16_dtype dtype) {
    memset(r, 0, sizeof *r);
    r->cmd = cmd;
    r->device = device;
    r->dtype = dtype;
    r->prec = dtype == CL16_F16 ? CL16_PREC_FP16 : CL16_PREC_FP32;
    r->stall_stats = 1;
    r->batch = 128;
    r->lr = 0.01;
    r->beta1 = 0.9, r->beta2 = 0.999, r->eps = 1e-8;
    r->step_size = 1;
    r->gamma = 0.1;
    r->seed = 1;
    r->crop = -1, r->flip = -1;
}

/* Defaults that depend on other options (a --resume takes all from the file). */
static void finish_defaults(run *r) {
    if (r->resume) return;
    if (!r->epochs) r->epochs = 1;
    /* Adam's v lives in half in the pure 16-bit precisions: below about 6e-8 it
     * flushes to 0, and sqrt(v) has no resolution under 2.4e-4, so eps 1e-8
     * would turn a forgotten second moment into a step of lr * m / 1e-8. */
    if (!r->have_eps && r->dtype == CL16_F16 && r->prec != CL16_PREC_MIXED) r->eps = 1e-4;
}

int cmd_train(int argc, char **argv, const char *device) {
    run r;
    run_defaults(&r, "train", device, CL16_F32);
    int rc = parse(argc, argv, &r);
    if (rc >= 0) return rc;
    finish_defaults(&r);
    return run_training(&r);
}

int cmd_continue(int argc, char **argv, const char *device) {
    run r;
    run_defaults(&r, "continue", device, CL16_F16);
    int rc = parse(argc, argv, &r);
    if (rc >= 0) return rc;
    finish_defaults(&r);
    return run_training(&r);
}
