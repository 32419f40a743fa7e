/* cli.h - what the cl16 sub-commands share: option helpers and the mapping of
 * library statuses to process exit codes. */
#ifndef CL16_CLI_H
#define CL16_CLI_H
#include "cl16.h"

/* Exit codes: 0 success, 2 command-line usage, 10 + cl16_status for a library failure. */
#define CL16_EXIT_USAGE 2
int cli_exit_code(cl16_status s);
/* Prints "cl16: <what>: <status>: <detail>" to stderr and returns the exit code. */
int cli_fail(cl16_status s, const char *what, const char *detail);
/* Creates a context on `device` (NULL = default), printing the error on failure. */
int cli_ctx(cl16_ctx **ctx, const char *device, int prebuild, int profiling);

/* cl16_ctx_create with the compiler's expected stderr noise filtered (see main.c). */
cl16_status cli_ctx_opts(cl16_ctx **ctx, const cl16_ctx_opts *o);

int cmd_devices(int argc, char **argv, const char *device);
int cmd_probe(int argc, char **argv, const char *device);
int cmd_gemm(int argc, char **argv, const char *device);
int cmd_tune(int argc, char **argv, const char *device);
int cmd_bench(int argc, char **argv, const char *device);
/* `cl16 bench conv` (bench_conv.c), dispatched by cmd_bench. */
int bench_conv(int argc, char **argv, const char *device);
/* `cl16 bench train` (bench_train.c): whole training steps, fp16 against fp32. */
int bench_train(int argc, char **argv, const char *device);
/* `cl16 bench compare` (bench_compare.c): benchmark JSON files side by side. */
int bench_compare(int argc, char **argv);
/* `cl16 bench optim` (bench_optim.c): update kernels against the copy bandwidth. */
int bench_optim(int argc, char **argv, const char *device);
/* `cl16 bench peak` and `cl16 bench all` (bench_all.c). */
int bench_peak(int argc, char **argv, const char *device);
int bench_startup(int argc, char **argv, const char *device);
/* Median cold / warm start (devices.c): see cli_start_timing there. */
int cli_start_timing(int index, int runs, double *cold, double *warm, double spread[4]);
int bench_all(int argc, char **argv, const char *device);
#endif
