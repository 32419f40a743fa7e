/* clblast_tuned.c - CLBlast's GEMM with the parameters CLBlast's own tuner found for
 * the device: the per-device file scripts/tune-clblast.sh makes, its parser, and
 * CLBlastOverrideParameters. The fair CLBlast peer of `cl16 bench gemm`. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* internal.h first: it fixes CL_TARGET_OPENCL_VERSION before any CL header. */
#include "runtime/internal.h"

#include <clblast_c.h>

#define MAGIC "cl16-clblast-tuned 1"
#define MAX_FILE 16384 /* a real file is under 1 KiB */

/* ---- the file --------------------------------------------------------------
 * Text, one item a line, '#' starts a comment line:
 *   cl16-clblast-tuned 1
 *   device <CL_DEVICE_NAME, as the tuner printed it>
 *   kernel Xgemm
 *   precision 32            (16 or 32)
 *   note <free text: where and how it was tuned>
 *   param <NAME> <value>    (one per tuning parameter; CLBlast wants them all)
 * Parsed whole before anything is applied, so a damaged file changes nothing. */

static int is_name(const char *s) {
    size_t n = strlen(s);
    if (n == 0 || n >= CL16_CLBLAST_NAME_MAX || s[0] < 'A' || s[0] > 'Z') return 0;
    for (size_t i = 0; i < n; i++)
        if (!((s[i] >= 'A' && s[i] <= 'Z') || (s[i] >= '0' && s[i] <= '9') || s[i] == '_')) return 0;
    return 1;
}

cl16_status cl16__clblast_tuned_parse(const char *text, size_t len, const char *origin,
                                      cl16_clblast_tuned *out, char *err, size_t err_len) {
    memset(out, 0, sizeof *out);
    err[0] = 0;
    if (len > MAX_FILE) {
        snprintf(err, err_len, "%s: %zu bytes, more than a tuned-parameters file can be (%d)",
                 origin, len, MAX_FILE);
        return CL16_ERR_FORMAT;
    }
    if (memchr(text, 0, len)) {
        snprintf(err, err_len, "%s: contains a NUL byte: not a text file", origin);
        return CL16_ERR_FORMAT;
    }
    int lineno = 0, have_magic = 0, have_device = 0, have_kernel = 0, have_prec = 0;
    size_t pos = 0;
    while (pos < len) {
        const char *start = text + pos;
        const char *nl = memchr(start, '\n', len - pos);
        size_t l = nl ? (size_t)(nl - start) : len - pos;
        pos += l + (nl ? 1 : 0);
        lineno++;
        char line[512];
        if (l >= sizeof line) {
            snprintf(err, err_len, "%s line %d: longer than %zu characters", origin, lineno,
                     sizeof line - 1);
            return CL16_ERR_FORMAT;
        }
        memcpy(line, start, l);
        line[l] = 0;
        if (l && line[l - 1] == '\r') line[--l] = 0;
        if (!have_magic) {
            if (strcmp(line, MAGIC)) {
                snprintf(err, err_len, "%s line 1: expected '%s', found '%.60s': not a file "
                         "written by scripts/tune-clblast.sh", origin, MAGIC, line);
                return CL16_ERR_FORMAT;
            }
            have_magic = 1;
            continue;
        }
        if (!l || line[0] == '#') continue;
        char *sp = strchr(line, ' ');
        const char *key = line, *val = sp ? sp + 1 : "";
        if (sp) *sp = 0;
        if (!strcmp(key, "device")) {
            if (have_device++ || !*val || strlen(val) >= sizeof out->device) {
                snprintf(err, err_len, "%s line %d: %s device name", origin, lineno,
                         have_device > 1 ? "a second" : !*val ? "an empty" : "a too long");
                return CL16_ERR_FORMAT;
            }
            snprintf(out->device, sizeof out->device, "%s", val);
        } else if (!strcmp(key, "kernel")) {
            if (have_kernel++ || strcmp(val, "Xgemm")) {
                snprintf(err, err_len, "%s line %d: kernel '%.40s': only one 'kernel Xgemm' line "
                         "is understood", origin, lineno, val);
                return CL16_ERR_FORMAT;
            }
            snprintf(out->kernel, sizeof out->kernel, "%s", val);
        } else if (!strcmp(key, "precision")) {
            if (have_prec++ || (strcmp(val, "32") && strcmp(val, "16"))) {
                snprintf(err, err_len, "%s line %d: precision '%.40s': expected one line with "
                         "16 or 32", origin, lineno, val);
                return CL16_ERR_FORMAT;
            }
            out->precision = atoi(val);
        } else if (!strcmp(key, "note")) {
            snprintf(out->note, sizeof out->note, "%s", val);
        } else if (!strcmp(key, "param")) {
            char name[64], extra[8];
            long long v;
            int got = sscanf(val, "%63s %lld %7s", name, &v, extra);
            if (got != 2 || !is_name(name) || v < 0 || v > 65536) {
                snprintf(err, err_len, "%s line %d: 'param %.60s': expected 'param NAME VALUE' "
                         "with an upper-case NAME and an integer VALUE in 0..65536", origin,
                         lineno, val);
                return CL16_ERR_FORMAT;
            }
            for (size_t i = 0; i < out->n; i++)
                if (!strcmp(out->names[i], name)) {
                    snprintf(err, err_len, "%s line %d: parameter %s given twice", origin, lineno,
                             name);
                    return CL16_ERR_FORMAT;
                }
            if (out->n == CL16_CLBLAST_MAX_PARAMS) {
                snprintf(err, err_len, "%s line %d: more than %d parameters", origin, lineno,
                         CL16_CLBLAST_MAX_PARAMS);
                return CL16_ERR_FORMAT;
            }
            memcpy(out->names[out->n], name, strlen(name) + 1); /* is_name: shorter than a slot */
            out->values[out->n++] = (size_t)v;
        } else {
            snprintf(err, err_len, "%s line %d: unknown item '%.40s' (expected device, kernel, "
                     "precision, note or param)", origin, lineno, key);
            return CL16_ERR_FORMAT;
        }
    }
    const char *missing = !have_magic ? "the first line" : !have_device ? "the device line"
                          : !have_kernel ? "the kernel line" : !have_prec ? "the precision line"
                          : !out->n ? "every param line" : NULL;
    if (missing) {
        snprintf(err, err_len, "%s: %s is missing", origin, missing);
        return CL16_ERR_FORMAT;
    }
    return CL16_OK;
}

/* ---- where it lives -------------------------------------------------------- */

static int prec_of(cl16_dtype dt) { return dt == CL16_F16 ? 16 : 32; }

cl16_status cl16_clblast_tuned_path(const cl16_ctx *ctx, cl16_dtype dt, char *out, size_t n) {
    if (!ctx || !out || n == 0 || (dt != CL16_F16 && dt != CL16_F32)) return CL16_ERR_INVALID_ARG;
    out[0] = 0;
    if (!ctx->cache_on || !ctx->cache_dir[0]) return CL16_ERR_IO;
    /* Keyed by the device, its driver and platform only: CLBlast's parameters do not
     * depend on cl16's version or half path. */
    cl16_sha256 s;
    uint8_t key[32];
    cl16_sha256_init(&s);
    cl16_sha256_update(&s, "clblast-xgemm", 13);
    cl16__hash_device(ctx, &s);
    cl16_sha256_final(&s, key);
    char hex[17];
    for (int i = 0; i < 8; i++) snprintf(hex + 2 * i, 3, "%02x", key[i]);
    int w = snprintf(out, n, "%s/clblast-xgemm-%d-%s.txt", ctx->cache_dir, prec_of(dt), hex);
    return w < 0 || (size_t)w >= n ? CL16_ERR_INVALID_ARG : CL16_OK;
}

/* Reads a whole (small) file; 0, or errno. */
static int slurp(const char *path, char **buf, size_t *len) {
    *buf = NULL, *len = 0;
    FILE *f = fopen(path, "rb");
    if (!f) return errno ? errno : EIO;
    char *b = malloc(MAX_FILE + 2);
    if (!b) {
        fclose(f);
        return ENOMEM;
    }
    size_t n = fread(b, 1, MAX_FILE + 1, f);
    int e = ferror(f) ? EIO : 0;
    fclose(f);
    if (e) {
        free(b);
        return e;
    }
    b[n] = 0;
    *buf = b, *len = n;
    return 0;
}

static cl16_status load(cl16_ctx *ctx, const char *path, cl16_clblast_tuned *t) {
    char *buf;
    size_t len;
    int e = slurp(path, &buf, &len);
    if (e) return cl16__fail(ctx, CL16_ERR_IO, "CLBlast tuned parameters: cannot read %s: %s", path,
                             strerror(e));
    char err[600];
    cl16_status s = cl16__clblast_tuned_parse(buf, len, path, t, err, sizeof err);
    free(buf);
    if (s) return cl16__fail(ctx, s, "CLBlast tuned parameters: %s", err);
    return CL16_OK;
}

cl16_status cl16_clblast_tuned_import(cl16_ctx *ctx, const char *file, char *dest, size_t dest_len) {
    if (!ctx || !file) return cl16__fail(ctx, CL16_ERR_INVALID_ARG, "CLBlast tuned import: NULL argument");
    cl16_clblast_tuned t;
    cl16_status s = load(ctx, file, &t);
    if (s) return s;
    if (strcmp(t.device, ctx->dev.name))
        return cl16__fail(ctx, CL16_ERR_INVALID_ARG, "CLBlast tuned import: %s was tuned on device "
                          "'%s', not on this context's device '%s' (pick the device with --device)",
                          file, t.device, ctx->dev.name);
    char path[CL16_PATH_MAX];
    const cl16_dtype dt = t.precision == 16 ? CL16_F16 : CL16_F32;
    if (cl16_clblast_tuned_path(ctx, dt, path, sizeof path))
        return cl16__fail(ctx, CL16_ERR_IO, "CLBlast tuned import: the disk cache is off "
                          "(CL16_CACHE=0), nowhere to keep %s", file);
    if (cl16__mkdir_p(ctx->cache_dir))
        return cl16__fail(ctx, CL16_ERR_IO, "CLBlast tuned import: cannot create %s: %s",
                          ctx->cache_dir, strerror(errno));
    /* Written back from what was parsed: the cache holds only what cl16 accepts. */
    char tmp[CL16_PATH_MAX + 32];
    FILE *f = cl16__text_open(path, tmp, sizeof tmp);
    if (!f) return cl16__fail(ctx, CL16_ERR_IO, "CLBlast tuned import: cannot write %s: %s", tmp,
                              strerror(errno));
    fprintf(f, "%s\ndevice %s\nkernel %s\nprecision %d\n", MAGIC, t.device, t.kernel, t.precision);
    if (t.note[0]) fprintf(f, "note %s\n", t.note);
    for (size_t i = 0; i < t.n; i++) fprintf(f, "param %s %zu\n", t.names[i], t.values[i]);
    const int e = cl16__text_commit(f, tmp, path);
    if (e) return cl16__fail(ctx, CL16_ERR_IO, "CLBlast tuned import: cannot write %s: %s", path,
                             strerror(e));
    if (dest && dest_len) snprintf(dest, dest_len, "%s", path);
    return CL16_OK;
}

cl16_status cl16_clblast_tuned_apply(cl16_ctx *ctx, cl16_dtype dt, char *info, size_t info_len) {
    if (!ctx || (dt != CL16_F16 && dt != CL16_F32))
        return cl16__fail(ctx, CL16_ERR_INVALID_ARG, "CLBlast tuned: needs a context and f16 or f32");
    char path[CL16_PATH_MAX];
    if (cl16_clblast_tuned_path(ctx, dt, path, sizeof path))
        return cl16__fail(ctx, CL16_ERR_UNSUPPORTED, "not tuned: the disk cache is off (CL16_CACHE=0), "
                          "so there is no tuned-parameters file");
    if (access(path, F_OK))
        return cl16__fail(ctx, CL16_ERR_UNSUPPORTED, "not tuned: run scripts/tune-clblast.sh "
                          "(no %s for %s)", path, cl16_dtype_name(dt));
    cl16_clblast_tuned t;
    cl16_status s = load(ctx, path, &t);
    if (s) return s;
    if (t.precision != prec_of(dt) || strcmp(t.device, ctx->dev.name))
        return cl16__fail(ctx, CL16_ERR_FORMAT, "CLBlast tuned parameters: %s holds precision %d "
                          "for device '%s', not %d for '%s'", path, t.precision, t.device,
                          prec_of(dt), ctx->dev.name);
    const char *names[CL16_CLBLAST_MAX_PARAMS];
    for (size_t i = 0; i < t.n; i++) names[i] = t.names[i];
    /* CLBlast 1.5 has no call that restores its own parameters afterwards: the
     * override holds for this process (bench gemm measures the tuned peer last). */
    CLBlastStatusCode rc = CLBlastOverrideParameters(
        ctx->device, "Xgemm", dt == CL16_F16 ? CLBlastPrecisionHalf : CLBlastPrecisionSingle, t.n,
        names, t.values);
    if (rc != CLBlastSuccess)
        return cl16__fail(ctx, rc == CLBlastMissingOverrideParameter ? CL16_ERR_FORMAT : CL16_ERR_OPENCL,
                          "CLBlastOverrideParameters(Xgemm, %d) with %s failed: code %d%s", t.precision,
                          path, (int)rc, rc == CLBlastMissingOverrideParameter
                              ? " (kMissingOverrideParameter: the file lacks a parameter CLBlast's "
                                "Xgemm needs; re-run scripts/tune-clblast.sh)" : "");
    ctx->clblast_used = 1;
    if (info && info_len) {
        int w = snprintf(info, info_len, "%s:", path);
        for (size_t i = 0; i < t.n && w > 0 && (size_t)w < info_len; i++)
            w += snprintf(info + w, info_len - (size_t)w, " %s=%zu", t.names[i], t.values[i]);
        if (t.note[0] && w > 0 && (size_t)w < info_len)
            snprintf(info + w, info_len - (size_t)w, " (%s)", t.note);
    }
    return CL16_OK;
}
