/* main.c - the cl16 command line: global options, sub-command dispatch, and
 * the one place where library statuses become exit codes. */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "cli/cli.h"
#include "cli/train.h"

static const char *usage =
    "usage: cl16 [--device D] COMMAND [options]\n"
    "\n"
    "Continue 32-bit pre-trained networks in 16-bit on any OpenCL device.\n"
    "\n"
    "commands:\n"
    "  train --model M --data D --out FILE [options]\n"
    "                                train a fresh model (fp32 or fp16) for --epochs,\n"
    "                                checkpoint every epoch, JSONL log, --resume CKPT\n"
    "  continue --from FILE --data D --out FILE [options]\n"
    "                                the paper's method: cast a (32-bit) model file into\n"
    "                                --precision (default fp16) and keep training it\n"
    "  eval --model-file FILE [--data D] [--precision P] [--json]\n"
    "                                accuracy, loss and count on the test set\n"
    "  convert --in A --out B --dtype f16|bf16|f32\n"
    "                                a model file into f16, bf16 or f32 (cast report; an\n"
    "                                overflow is refused)\n"
    "  devices [--json] [--timing]   list every OpenCL device: platform, name, vendor,\n"
    "                                driver, memory, half path (native/storage), cache\n"
    "                                directory; --timing measures cold and warm start\n"
    "  probe [--quiet]               check one device: select it, run the half probe,\n"
    "                                build every kernel (or load it from the cache)\n"
    "  gemm [--m M] [--n N] [--k K] [--dtype f16|f32|both] [--trans-a] [--trans-b] [--reps R]\n"
    "                                run C = A*B on the device, check it against a\n"
    "                                float64 host reference, report GFLOP/s\n"
    "  tune gemm [--quick] [--dtype f16|f32|both] [--no-save]\n"
    "                                time GEMM kernel parameters and CLBlast per shape\n"
    "                                class, verify each, save the winners for this device\n"
    "                                (and forget the convolution choices timed before)\n"
    "  tune clblast-import FILE      keep CLBlast Xgemm parameters from CLBlast's own tuner\n"
    "                                (scripts/tune-clblast.sh) for bench gemm's CLBlast\n"
    "                                tuned peers\n"
    "  bench gemm [--json FILE] [--quick] [--reps R] [--shapes squares|nets|all] [--peaks FILE]\n"
    "                                GFLOP/s of cl16 f16 and f32, CLBlast SGEMM/HGEMM (and\n"
    "                                tuned for the device, after scripts/tune-clblast.sh) and\n"
    "                                OpenBLAS SGEMM side by side on square and LeNet-5 /\n"
    "                                ResNet-20 training shapes, every result verified;\n"
    "                                table on stdout, progress on stderr, --json FILE\n"
    "  bench conv [--json FILE] [--quick] [--reps R] [--peaks FILE] [--cpu-time]\n"
    "             [--layers P,...]\n"
    "                                ms and GFLOP/s of cl16 f16 and f32 convolution\n"
    "                                (forward, backward-data, backward-weights) next to\n"
    "                                CLBlast on LeNet-5 / ResNet-20 layers at batch 128\n"
    "                                (--quick: batch 8, a subset), every result verified,\n"
    "                                and the algorithm cl16 chose for each; f16 and f32\n"
    "                                timed in the same rounds, their ratio the rounds' median\n"
    "                                --layers: only the layers whose names start with one\n"
    "                                of the prefixes (lenet5, resnet20.layer2.down, ...)\n"
    "  bench train (or bench step) [--models M,...] [--precisions P,...] [--batch B] [--steps S] [--quick] [--json FILE]\n"
    "              [--peaks FILE] [--profile N] [--blocks N] [--peer CMD]\n"
    "                                ms per training step, images/s and peak device\n"
    "                                memory of lenet5 and resnet20 per precision (fp32,\n"
    "                                fp16; also fp16-sr, fp16-kahan, mixed, bf16,\n"
    "                                bf16-sr), and the ratios to fp32 (random data, a\n"
    "                                context each, a model's precisions timed in the same\n"
    "                                rounds: time ratio the median of the rounds');\n"
    "                                --peer: another framework's steps in the same rounds\n"
    "                                (bench/pytorch_peer.py), cl16's speed over it\n"
    "  bench optim [--elements N] [--quick] [--json FILE] [--peaks FILE]\n"
    "                                GB/s of the fused optimizer updates (SGD, Adam) in\n"
    "                                every precision against the device's buffer copy\n"
    "  bench peak [--quick] [--json FILE]\n"
    "                                the device's copy GB/s and multiply-add GFLOP/s\n"
    "                                (f32; f16 where the device computes in half)\n"
    "  bench startup [--quick] [--json FILE]\n"
    "                                cold and warm start of a fresh process to a ready\n"
    "                                device (median, min, max of 5; --quick: 1)\n"
    "  bench all --out DIR [--quick] peak, startup, gemm, conv, optim and train into\n"
    "                                DIR/*.json\n"
    "  (gemm, conv, train, optim: median of timed blocks and its spread, cl16's kernel\n"
    "  time from profiling events, every figure as % of the device's peaks, measured\n"
    "  first or read from --peaks FILE, the output of `bench peak --json`)\n"
    "  bench compare [--markdown] A.json B.json ...\n"
    "                                the same benchmark from several devices or runs side\n"
    "                                by side, with ratios to the first file\n"
    "\n"
    "global options:\n"
    "  --device D     device index or case-insensitive name substring (env CL16_DEVICE)\n"
    "  --help, -h     this text\n"
    "  --version      print the version\n"
    "\n"
    "environment: CL16_DEVICE, CL16_HALF=native|storage|auto, CL16_GEMM=cl16|clblast|auto,\n"
    "  CL16_CONV_ALGO=im2col|im2col-float|direct|implicit|implicit-dot|auto, CL16_CACHE=0,\n"
    "  CL16_CACHE_DIR, XDG_CACHE_HOME, CL16_KERNEL_DIR (development: load kernels from a folder)\n"
    "\n"
    "exit codes: 0 success, 2 usage error, 10+N library status N (see README.md)\n"
    "`cl16 COMMAND --help` describes each command's options.\n";

int cli_exit_code(cl16_status s) { return s == CL16_OK ? 0 : 10 + (int)s; }

int cli_fail(cl16_status s, const char *what, const char *detail) {
    fprintf(stderr, "cl16: %s: %s%s%s\n", what, cl16_status_str(s), detail && *detail ? ": " : "",
            detail ? detail : "");
    return cli_exit_code(s);
}

/* An OpenCL compiler may print its diagnostics to stderr as well as into the
 * build log; the half probe's native kernel is expected to fail on storage-path
 * devices, so its "N errors generated." summary is noise. While the context is
 * created the CLI (which owns the process, unlike the library) holds stderr in
 * a temporary file, then replays it without those summary lines; on failure
 * everything is replayed. */
static int is_compiler_summary(const char *line) {
    return strstr(line, " generated.") && (strstr(line, "error") || strstr(line, "warning")) &&
           line[0] >= '0' && line[0] <= '9';
}

cl16_status cli_ctx_opts(cl16_ctx **ctx, const cl16_ctx_opts *o) {
    fflush(stderr);
    FILE *hold = tmpfile();
    int saved = hold ? dup(2) : -1;
    if (saved < 0 || dup2(fileno(hold), 2) < 0) {
        if (saved >= 0) close(saved);
        if (hold) fclose(hold);
        return cl16_ctx_create(ctx, o);
    }
    cl16_status s = cl16_ctx_create(ctx, o);
    fflush(stderr);
    dup2(saved, 2);
    close(saved);
    rewind(hold);
    char line[4096];
    while (fgets(line, sizeof line, hold))
        if (s || !is_compiler_summary(line)) fputs(line, stderr);
    fclose(hold);
    return s;
}

int cli_ctx(cl16_ctx **ctx, const char *device, int prebuild, int profiling) {
    cl16_ctx_opts o;
    cl16_ctx_opts_init(&o);
    o.device = device;
    o.prebuild = prebuild;
    o.profiling = profiling;
    cl16_status s = cli_ctx_opts(ctx, &o);
    if (s) {
        int rc = cli_fail(s, "cannot open the OpenCL device", cl16_ctx_last_error(*ctx));
        cl16_ctx_free(*ctx);
        *ctx = NULL;
        return rc;
    }
    return 0;
}

int main(int argc, char **argv) {
    const char *device = NULL;
    int i = 1;
    for (; i < argc; i++) {
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            fputs(usage, stdout);
            return 0;
        } else if (!strcmp(argv[i], "--version")) {
            printf("cl16 %s\n", cl16_version());
            return 0;
        } else if (!strcmp(argv[i], "--device")) {
            if (i + 1 >= argc) {
                fprintf(stderr, "cl16: --device needs a value (index or name)\n");
                return CL16_EXIT_USAGE;
            }
            device = argv[++i];
        } else if (argv[i][0] == '-') {
            fprintf(stderr, "cl16: unknown option '%s' (see cl16 --help)\n", argv[i]);
            return CL16_EXIT_USAGE;
        } else
            break;
    }
    if (i >= argc) {
        fputs(usage, stderr);
        return CL16_EXIT_USAGE;
    }
    const char *cmd = argv[i];
    int sub_argc = argc - i;
    char **sub_argv = argv + i;
    if (!strcmp(cmd, "devices")) return cmd_devices(sub_argc, sub_argv, device);
    if (!strcmp(cmd, "probe")) return cmd_probe(sub_argc, sub_argv, device);
    if (!strcmp(cmd, "gemm")) return cmd_gemm(sub_argc, sub_argv, device);
    if (!strcmp(cmd, "tune")) return cmd_tune(sub_argc, sub_argv, device);
    if (!strcmp(cmd, "bench")) return cmd_bench(sub_argc, sub_argv, device);
    if (!strcmp(cmd, "train")) return cmd_train(sub_argc, sub_argv, device);
    if (!strcmp(cmd, "continue")) return cmd_continue(sub_argc, sub_argv, device);
    if (!strcmp(cmd, "eval")) return cmd_eval(sub_argc, sub_argv, device);
    if (!strcmp(cmd, "convert")) return cmd_convert(sub_argc, sub_argv, device);
    if (!strcmp(cmd, "help")) {
        fputs(usage, stdout);
        return 0;
    }
    fprintf(stderr, "cl16: unknown command '%s' (see cl16 --help)\n", cmd);
    return CL16_EXIT_USAGE;
}
