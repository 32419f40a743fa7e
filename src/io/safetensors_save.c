/* safetensors_save.c - atomic writer of the safetensors format: header and
 * data to a temporary file in the same directory, fsync, rename. */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cl16.h"
#include "io/safetensors_internal.h"
#include "runtime/internal.h"

typedef struct {
    char *s;
    size_t n, cap;
    int oom;
} sbuf;

static void sb_put(sbuf *b, const char *s, size_t n) {
    if (b->oom)
        return;
    if (!cl16__st_grow((void **)&b->s, &b->cap, b->n + n + 1, 1)) {
        b->oom = 1;
        return;
    }
    memcpy(b->s + b->n, s, n);
    b->n += n;
    b->s[b->n] = '\0';
}

static void sb_str(sbuf *b, const char *s) {
    sb_put(b, s, strlen(s));
}

/* A JSON string: quotes, backslashes and control characters escaped; other
 * bytes (already checked to be UTF-8) as they are. */
static void sb_json(sbuf *b, const char *s) {
    sb_put(b, "\"", 1);
    for (const unsigned char *c = (const unsigned char *)s; *c; c++) {
        char tmp[8];
        if (*c == '"' || *c == '\\') {
            tmp[0] = '\\';
            tmp[1] = (char)*c;
            sb_put(b, tmp, 2);
        } else if (*c < 0x20) {
            snprintf(tmp, sizeof tmp, "\\u%04x", *c);
            sb_put(b, tmp, 6);
        } else {
            sb_put(b, (const char *)c, 1);
        }
    }
    sb_put(b, "\"", 1);
}

static int valid_str(const char *s) {
    size_t bad;
    return s && cl16__st_utf8_valid((const unsigned char *)s, strlen(s), &bad);
}

cl16_status cl16_safetensors_save(const char *path, const cl16_st_tensor *tensors, size_t count,
                                  const char *const *meta, char *err, size_t err_len) {
    if (err && err_len)
        err[0] = '\0';
    const char *fn = "cl16_safetensors_save";
    if (!path || !path[0] || (count && !tensors)) {
        cl16__st_err(err, err_len, fn,
                     "path must be non-empty and tensors non-NULL when count > 0");
        return CL16_ERR_INVALID_ARG;
    }
    /* Validate everything before touching the file system. */
    for (size_t i = 0; i < count; i++) {
        const cl16_st_tensor *t = &tensors[i];
        if (!t->name || !t->name[0] || !strcmp(t->name, "__metadata__") || !valid_str(t->name)) {
            cl16__st_err(err, err_len, fn,
                         "tensor %zu: name must be non-empty UTF-8, not __metadata__", i);
            return CL16_ERR_INVALID_ARG;
        }
        size_t es = cl16__st_dtype_size(t->dtype);
        if (!es) {
            cl16__st_err(err, err_len, fn, "tensor '%.100s': unknown dtype %d", t->name,
                         (int)t->dtype);
            return CL16_ERR_INVALID_ARG;
        }
        if (t->ndim < 0 || t->ndim > CL16_ST_MAX_DIMS) {
            cl16__st_err(err, err_len, fn, "tensor '%.100s': ndim %d outside 0..%d", t->name,
                         t->ndim, CL16_ST_MAX_DIMS);
            return CL16_ERR_INVALID_ARG;
        }
        for (int k = 0; k < t->ndim; k++)
            if (t->dims[k] < 0) {
                cl16__st_err(err, err_len, fn, "tensor '%.100s': negative dim %lld", t->name,
                             (long long)t->dims[k]);
                return CL16_ERR_INVALID_ARG;
            }
        uint64_t nb;
        if (!cl16__st_shape_bytes(t->dims, t->ndim, es, &nb) || nb != (uint64_t)t->bytes) {
            cl16__st_err(err, err_len, fn,
                         "tensor '%.100s': bytes %zu do not match shape and dtype %s", t->name,
                         t->bytes, cl16__st_dtype_name(t->dtype));
            return CL16_ERR_SHAPE;
        }
        if (t->bytes && !t->data) {
            cl16__st_err(err, err_len, fn, "tensor '%.100s': data is NULL", t->name);
            return CL16_ERR_INVALID_ARG;
        }
    }
    size_t nmeta = 0;
    for (; meta && meta[2 * nmeta]; nmeta++)
        if (!valid_str(meta[2 * nmeta]) || !valid_str(meta[2 * nmeta + 1])) {
            cl16__st_err(err, err_len, fn,
                         "metadata entry %zu: key and value must be UTF-8 strings", nmeta);
            return CL16_ERR_INVALID_ARG;
        }
    /* Keys and names unique (a reader would refuse the file); metadata is a
     * handful of entries, so quadratic is fine there. */
    for (size_t i = 0; i < nmeta; i++)
        for (size_t j = 0; j < i; j++)
            if (!strcmp(meta[2 * i], meta[2 * j])) {
                cl16__st_err(err, err_len, fn, "duplicate metadata key '%.100s'", meta[2 * i]);
                return CL16_ERR_INVALID_ARG;
            }
    if (count > 1) {
        const char **names = malloc(count * sizeof *names);
        if (!names) {
            cl16__st_err(err, err_len, fn, "out of host memory");
            return CL16_ERR_OUT_OF_MEMORY;
        }
        for (size_t i = 0; i < count; i++)
            names[i] = tensors[i].name;
        qsort(names, count, sizeof *names, cl16__st_cmp_str);
        for (size_t i = 1; i < count; i++)
            if (!strcmp(names[i - 1], names[i])) {
                cl16__st_err(err, err_len, fn, "duplicate tensor name '%.100s'", names[i]);
                free(names);
                return CL16_ERR_INVALID_ARG;
            }
        free(names);
    }

    /* The checksum of the data section, appended to the metadata (a caller's
     * own entry under that key is refused: it would not match). */
    for (size_t i = 0; i < nmeta; i++)
        if (!strcmp(meta[2 * i], CL16_ST_CHECKSUM_KEY)) {
            cl16__st_err(err, err_len, fn, "metadata key '%s' is written by cl16 itself",
                         CL16_ST_CHECKSUM_KEY);
            return CL16_ERR_INVALID_ARG;
        }
    char sum[65];
    {
        cl16_sha256 sh;
        uint8_t dig[32];
        cl16_sha256_init(&sh);
        for (size_t i = 0; i < count; i++)
            cl16_sha256_update(&sh, tensors[i].data, tensors[i].bytes);
        cl16_sha256_final(&sh, dig);
        for (int k = 0; k < 32; k++)
            snprintf(sum + 2 * k, 3, "%02x", dig[k]);
    }
    const char **all = malloc((2 * nmeta + 3) * sizeof *all);
    if (!all) {
        cl16__st_err(err, err_len, fn, "out of host memory");
        return CL16_ERR_OUT_OF_MEMORY;
    }
    for (size_t i = 0; i < 2 * nmeta; i++)
        all[i] = meta[i];
    all[2 * nmeta] = CL16_ST_CHECKSUM_KEY, all[2 * nmeta + 1] = sum, all[2 * nmeta + 2] = NULL;
    meta = all;
    nmeta++;

    /* Header: __metadata__ first (as the safetensors library does), then the tensors
     * in the given order with contiguous offsets; padded with spaces so the
     * data section starts at a multiple of 8. */
    sbuf h = {0};
    sb_str(&h, "{");
    if (nmeta) {
        sb_str(&h, "\"__metadata__\":{");
        for (size_t i = 0; i < nmeta; i++) {
            if (i)
                sb_str(&h, ",");
            sb_json(&h, meta[2 * i]);
            sb_str(&h, ":");
            sb_json(&h, meta[2 * i + 1]);
        }
        sb_str(&h, "}");
    }
    uint64_t off = 0;
    for (size_t i = 0; i < count; i++) {
        const cl16_st_tensor *t = &tensors[i];
        char num[64];
        if (i || nmeta)
            sb_str(&h, ",");
        sb_json(&h, t->name);
        sb_str(&h, ":{\"dtype\":\"");
        sb_str(&h, cl16__st_dtype_name(t->dtype));
        sb_str(&h, "\",\"shape\":[");
        for (int k = 0; k < t->ndim; k++) {
            snprintf(num, sizeof num, "%s%lld", k ? "," : "", (long long)t->dims[k]);
            sb_str(&h, num);
        }
        snprintf(num, sizeof num, "],\"data_offsets\":[%llu,%llu]}", (unsigned long long)off,
                 (unsigned long long)(off + t->bytes));
        sb_str(&h, num);
        off += t->bytes;
    }
    sb_str(&h, "}");
    while (!h.oom && h.n % 8)
        sb_str(&h, " ");
    if (h.oom) {
        free(h.s), free((void *)all);
        cl16__st_err(err, err_len, fn, "out of host memory");
        return CL16_ERR_OUT_OF_MEMORY;
    }
    unsigned char lenbuf[8];
    for (int k = 0; k < 8; k++)
        lenbuf[k] = (unsigned char)((uint64_t)h.n >> (8 * k));

    size_t plen = strlen(path);
    char *tmp = malloc(plen + 32);
    if (!tmp) {
        free(h.s), free((void *)all);
        cl16__st_err(err, err_len, fn, "out of host memory");
        return CL16_ERR_OUT_OF_MEMORY;
    }
    snprintf(tmp, plen + 32, "%s.tmp.%ld", path, (long)getpid());

    cl16_status st = CL16_ERR_IO;
    const char *what = "creating";
    int created = 0, e;
    errno = 0;
    FILE *fp = NULL;
    int fd = cl16__fault("write") ? (errno = ENOSPC, -1) : open(tmp, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd < 0)
        goto fail;
    created = 1;
    fp = fdopen(fd, "wb");
    if (!fp) {
        close(fd);
        goto fail;
    }
    what = "writing";
    /* FAULT(): the test build's injected failure of one step (disk full). */
#define FAULT() (cl16__fault("write") && (errno = ENOSPC, 1))
    if (FAULT() || fwrite(lenbuf, 1, 8, fp) != 8 || FAULT() || fwrite(h.s, 1, h.n, fp) != h.n)
        goto fail;
    for (size_t i = 0; i < count; i++)
        if (tensors[i].bytes &&
            (FAULT() || fwrite(tensors[i].data, 1, tensors[i].bytes, fp) != tensors[i].bytes))
            goto fail;
    what = "flushing";
    if (FAULT() || fflush(fp) != 0)
        goto fail;
    what = "syncing";
    if (FAULT() || fsync(fileno(fp)) != 0)
        goto fail;
    what = "closing";
    {
        int rc = fclose(fp);
        fp = NULL;
        if (rc != 0)
            goto fail;
    }
    what = "renaming";
    if (FAULT() || rename(tmp, path) != 0)
        goto fail;
#undef FAULT
    created = 0;
    /* Make the rename itself durable; a failure here leaves a complete file. */
    {
        char *dir = malloc(plen + 2);
        if (dir) {
            memcpy(dir, path, plen + 1);
            char *slash = strrchr(dir, '/');
            if (!slash)
                strcpy(dir, ".");
            else if (slash == dir)
                dir[1] = '\0';
            else
                *slash = '\0';
            int dfd = open(dir, O_RDONLY);
            if (dfd >= 0) {
                (void)fsync(dfd);
                close(dfd);
            }
            free(dir);
        }
    }
    st = CL16_OK;
    goto done;
fail:
    e = errno ? errno : EIO; /* a short fwrite need not set errno */
    if (fp)
        fclose(fp);
    if (created)
        remove(tmp);
    cl16__st_err(err, err_len, path, "cannot save: %s temporary file '%s' failed: %s", what, tmp,
                 strerror(e));
done:
    free(tmp);
    free(h.s), free((void *)all);
    return st;
}

void cl16__st_sha256_hex(const void *data, size_t n, char hex[65]) {
    cl16_sha256 sh;
    uint8_t dig[32];
    cl16_sha256_init(&sh);
    cl16_sha256_update(&sh, data, n);
    cl16_sha256_final(&sh, dig);
    for (int k = 0; k < 32; k++)
        snprintf(hex + 2 * k, 3, "%02x", dig[k]);
}
