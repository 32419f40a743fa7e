/* train.h - what the model commands (train, continue, eval, convert) share:
 * option parsing helpers, data-set and model-file helpers, evaluation over a
 * data set, and the metadata keys cl16 writes into its checkpoints. */
#ifndef CL16_CLI_TRAIN_H
#define CL16_CLI_TRAIN_H
#include <stdint.h>
#include <stdio.h>

#include "cli/cli.h"

/* ---- option values: each prints "cl16 CMD: OPTION ..." and returns 0 on a bad value. */
/* argv[*i] is an option that needs a value: advances *i, stores it. */
int opt_value(int argc, char **argv, int *i, const char *cmd, const char **val);
int opt_i64(const char *cmd, const char *name, const char *s, int64_t lo, int64_t hi, int64_t *out);
int opt_f64(const char *cmd, const char *name, const char *s, double lo, double hi, double *out);
int opt_u64(const char *cmd, const char *name, const char *s, uint64_t *out);
/* "a" or "a,b,c" (3 channels; one value repeats), each > 0 unless allow_any. */
int opt_f3(const char *cmd, const char *name, const char *s, int positive, float out[3]);
/* "fp32" / "fp16" (also "f32" / "f16"); 0 when unknown. */
int opt_precision(const char *cmd, const char *s, cl16_dtype *out);
/* The name is one of cl16_model_archs(); else prints the list and returns 0. */
int opt_arch(const char *cmd, const char *s);
const char *precision_name(cl16_dtype d); /* "fp32" / "fp16" */

/* ---- data sets */
/* Loads the train or test split of `name` (dir may be NULL); prints the
 * library's message on failure and returns the exit code (0 on success). */
int cli_load_data(const char *cmd, const char *name, const char *dir, int train, cl16_dataset **out);

/* ---- model files */
/* Reads a safetensors file, printing "cl16 CMD: cannot read FILE: ..." on failure. */
int cli_read_file(const char *cmd, const char *path, cl16_safetensors **out);
/* Builds the model that file f (read from path) holds, in dtype, for images of
 * the data set d: the architecture from the metadata "arch" (--model `arch`
 * must agree with it) or, for a file without it (PyTorch's), `arch`; the mlp
 * hidden sizes from fc1/fc2's shapes; channels, size and classes from d. Then
 * loads the values, printing the cast report to `report` (NULL: not printed).
 * Returns the exit code (0 on success). */
int cli_model_from_file(const char *cmd, cl16_ctx *ctx, const char *path,
                        const cl16_safetensors *f, const char *arch, const cl16_dataset *d,
                        cl16_dtype dtype, FILE *report, cl16_model **out);
/* 0 when --model `arch` (may be NULL) agrees with the file's "arch" metadata (or it
 * has none); else prints "... holds a X model, not --model Y" and returns the exit code. */
int cli_check_arch(const char *cmd, const char *path, const cl16_safetensors *f, const char *arch);
/* Prints "cast FILE into f16: N values, O overflowed, F flushed to zero, S subnormal". */
void cli_print_cast(FILE *to, const char *path, const char *dtype, const cl16_cast_report *r);

/* ---- evaluation: the first n images of d in batches of bs (the last batch
 * may be short), assembled on the background thread. */
cl16_status cli_evaluate(cl16_model *m, const cl16_dataset *d, int64_t n, int64_t bs,
                         const float mean[3], const float std[3], double *loss,
                         double *accuracy, char *err, size_t err_len);

/* ---- checkpoint metadata written by train/continue (besides the library's
 * "arch", "step", "optimizer", "precision"): see README "Checkpoints". */
#define META_PREFIX "cl16."

/* Normalisation stored in a file's metadata, else the data set's defaults;
 * --mean/--std (have_* set) override both. */
void cli_norm_for(const cl16_safetensors *f, const cl16_dataset *d, const float *mean_opt,
                  const float *std_opt, float mean[3], float std[3]);

/* Exit code for a library status, printing "cl16 CMD: what: status: detail". */
int cli_failc(const char *cmd, cl16_status s, const char *what, const char *detail);

int cmd_train(int argc, char **argv, const char *device);
int cmd_continue(int argc, char **argv, const char *device);
int cmd_eval(int argc, char **argv, const char *device);
int cmd_convert(int argc, char **argv, const char *device);
#endif
