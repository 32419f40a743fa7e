/* dataset.c - image classification data sets in host memory: IDX files (MNIST
 * format, raw or gzip), CIFAR-10 binary batches, shuffling and batch assembly. */
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "cl16.h"
#include "io/dataset_internal.h"

/* Where the data came from decides the default normalisation. */
enum ds_kind { DS_IDX = 0, DS_FASHION, DS_MNIST, DS_CIFAR10 };

struct cl16_dataset {
    int64_t count;
    int c, h, w, classes;
    enum ds_kind kind;
    uint8_t *images;       /* count x c x h x w, bytes */
    uint8_t *labels;       /* count */
    float mean[3], std[3]; /* computed from the data (IDX of unknown origin) */
};

/* Limits a file may declare before we believe it: beyond these the header is
 * far more likely corrupt than real. Image count is bounded by the total only. */
#define MAX_SIDE 4096
#define MAX_BYTES ((int64_t)1 << 31)
#define IDX_CHUNK ((int64_t)1 << 20)

static void set_err(char *err, size_t err_len, const char *fmt, ...) {
    if (!err || !err_len)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, err_len, fmt, ap);
    va_end(ap);
}

static uint32_t be32(const uint8_t *p) {
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | (uint32_t)p[3];
}

/* Where read_idx takes its bytes from: a file through zlib's gzFile (raw or
 * gzip, told from the content), or a buffer in memory (the fuzz harness and
 * cl16__dataset_idx_from_memory), raw or gzip as well. Both report a read
 * error the same way: -1 with *zerr a zlib error number and *msg its text. */
typedef struct idx_src {
    gzFile f;                 /* file source; NULL for memory */
    const uint8_t *mem;       /* memory source */
    size_t mem_len, mem_pos;  /* raw: next byte; gzip: next compressed byte */
    int gzip;                 /* memory source holds gzip members */
    int z_live, z_end;        /* an inflate stream is set up / the data is done */
    z_stream z;
} idx_src;

/* Reads up to len bytes; returns the count read, or -1 on a read error (then
 * *zerr holds the zlib error number and *msg its text). */
static int64_t gz_read_all(gzFile f, uint8_t *dst, int64_t len, int *zerr, const char **msg) {
    int64_t got = 0;
    while (got < len) {
        int64_t chunk = len - got;
        if (chunk > (1 << 30))
            chunk = 1 << 30;
        int r = gzread(f, dst + got, (unsigned)chunk);
        if (r < 0) {
            *msg = gzerror(f, zerr);
            return -1;
        }
        if (r == 0)
            break;
        got += r;
    }
    /* A short read with a pending error (e.g. a gzip stream cut short). */
    *msg = gzerror(f, zerr);
    if (*zerr != Z_OK && *zerr != Z_STREAM_END)
        return -1;
    return got;
}

/* Memory source: gzip members are decoded one after another as gzread does
 * (concatenated members form one stream; anything after a member that is not
 * another gzip header is ignored); a buffer not starting with the gzip magic
 * is read as it is. A member cut short is an error, as with gzread. */
static int64_t mem_read_all(idx_src *s, uint8_t *dst, int64_t len, int *zerr, const char **msg) {
    *zerr = Z_OK;
    *msg = "";
    if (!s->gzip) {
        size_t left = s->mem_len - s->mem_pos;
        size_t n = (uint64_t)len < left ? (size_t)len : left;
        if (n)
            memcpy(dst, s->mem + s->mem_pos, n);
        s->mem_pos += n;
        return (int64_t)n;
    }
    int64_t got = 0;
    while (got < len && !s->z_end) {
        if (!s->z_live) {
            if (s->mem_len - s->mem_pos < 2 || s->mem[s->mem_pos] != 0x1f ||
                s->mem[s->mem_pos + 1] != 0x8b) {
                s->z_end = 1; /* no further member: trailing bytes are ignored */
                break;
            }
            memset(&s->z, 0, sizeof s->z);
            int r = inflateInit2(&s->z, 16 + MAX_WBITS);
            if (r != Z_OK) {
                *zerr = r;
                *msg = r == Z_MEM_ERROR ? "out of memory" : "inflateInit2 failed";
                return -1;
            }
            s->z_live = 1;
        }
        size_t in_left = s->mem_len - s->mem_pos;
        int64_t want = len - got;
        s->z.next_in = (Bytef *)(uintptr_t)(s->mem + s->mem_pos);
        s->z.avail_in = in_left > (1u << 30) ? (1u << 30) : (uInt)in_left;
        s->z.next_out = dst + got;
        s->z.avail_out = want > (1 << 30) ? (1u << 30) : (uInt)want;
        uInt in0 = s->z.avail_in, out0 = s->z.avail_out;
        int r = inflate(&s->z, Z_NO_FLUSH);
        s->mem_pos += in0 - s->z.avail_in;
        got += out0 - s->z.avail_out;
        if (r == Z_STREAM_END) {
            inflateEnd(&s->z);
            s->z_live = 0;
            continue;
        }
        if (r == Z_OK)
            continue;
        if (r == Z_BUF_ERROR && s->mem_pos == s->mem_len) {
            *zerr = Z_BUF_ERROR;
            *msg = "unexpected end of file";
            return -1;
        }
        if (r == Z_BUF_ERROR && (s->z.avail_in != in0 || s->z.avail_out != out0))
            continue;
        *zerr = r == Z_MEM_ERROR ? Z_MEM_ERROR : Z_DATA_ERROR;
        *msg = s->z.msg ? s->z.msg : "invalid compressed data";
        return -1;
    }
    return got;
}

static int64_t src_read(idx_src *s, uint8_t *dst, int64_t len, int *zerr, const char **msg) {
    return s->f ? gz_read_all(s->f, dst, len, zerr, msg) : mem_read_all(s, dst, len, zerr, msg);
}

static void src_close(idx_src *s) {
    if (s->f)
        gzclose(s->f);
    if (s->z_live)
        inflateEnd(&s->z);
    s->f = NULL;
    s->z_live = 0;
}

/* One IDX file: magic 0x000008NN (u8 data, NN dims), big-endian dims, data.
 * Reads it whole from f (closed on return) into *data; dims[0..ndim) receive
 * the dimensions. path names the source in messages. */
static cl16_status read_idx_src(idx_src *f, const char *path, int ndim, int64_t dims[3],
                                uint8_t **data, char *err, size_t err_len) {
    cl16_status st = CL16_OK;
    uint8_t *buf = NULL;
    *data = NULL;
    int zerr = Z_OK;
    const char *zmsg = "";
    uint8_t hdr[16];
    int64_t hlen = 4 + 4 * (int64_t)ndim;
    int64_t got = src_read(f, hdr, hlen, &zerr, &zmsg);
    if (got < 0)
        goto read_error;
    if (got < hlen) {
        set_err(err, err_len, "%s: truncated IDX header (%lld of %lld bytes)", path, (long long)got,
                (long long)hlen);
        st = CL16_ERR_FORMAT;
        goto cleanup;
    }
    uint32_t magic = be32(hdr), want = 0x800u | (uint32_t)ndim;
    if (magic != want) {
        set_err(err, err_len, "%s: bad IDX magic 0x%08x, expected 0x%08x (u8 data, %d dims)", path,
                magic, want, ndim);
        st = CL16_ERR_FORMAT;
        goto cleanup;
    }
    int64_t total = 1;
    for (int i = 0; i < ndim; i++) {
        dims[i] = be32(hdr + 4 + 4 * i);
        int64_t lim = i == 0 ? MAX_BYTES : MAX_SIDE;
        if (dims[i] <= 0 || dims[i] > lim) {
            set_err(err, err_len, "%s: IDX dimension %d is %lld (must be 1..%lld)", path, i,
                    (long long)dims[i], (long long)lim);
            st = CL16_ERR_FORMAT;
            goto cleanup;
        }
        total *= dims[i];
        if (total > MAX_BYTES) {
            set_err(err, err_len, "%s: IDX data too large (more than %lld bytes)", path,
                    (long long)MAX_BYTES);
            st = CL16_ERR_FORMAT;
            goto cleanup;
        }
    }
    /* The buffer grows with the data actually read (doubling from 1 MiB), so a
     * short file whose header promises 2 GiB costs what it holds, not 2 GiB
     * (found by fuzz_idx: tiny inputs spent their time in huge mallocs). */
    int64_t cap = total < IDX_CHUNK ? total : IDX_CHUNK;
    got = 0;
    buf = malloc((size_t)cap);
    for (;;) {
        if (!buf) {
            set_err(err, err_len, "%s: out of host memory (%lld bytes)", path, (long long)cap);
            st = CL16_ERR_OUT_OF_MEMORY;
            goto cleanup;
        }
        int64_t r = src_read(f, buf + got, cap - got, &zerr, &zmsg);
        if (r < 0)
            goto read_error;
        got += r;
        if (got < cap || got == total)
            break; /* end of data, or all of it */
        cap = cap > total / 2 ? total : 2 * cap;
        uint8_t *nb = realloc(buf, (size_t)cap);
        if (!nb) {
            set_err(err, err_len, "%s: out of host memory (%lld bytes)", path, (long long)cap);
            st = CL16_ERR_OUT_OF_MEMORY;
            goto cleanup;
        }
        buf = nb;
    }
    if (got < total) {
        set_err(err, err_len, "%s: truncated: %lld data bytes, header promises %lld", path,
                (long long)got, (long long)total);
        st = CL16_ERR_FORMAT;
        goto cleanup;
    }
    uint8_t extra;
    got = src_read(f, &extra, 1, &zerr, &zmsg);
    if (got < 0)
        goto read_error;
    if (got > 0) {
        set_err(err, err_len, "%s: extra data after the %lld bytes the header promises", path,
                (long long)total);
        st = CL16_ERR_FORMAT;
        goto cleanup;
    }
    *data = buf;
    buf = NULL;
    goto cleanup;
read_error:
    if (zerr == Z_ERRNO) {
        set_err(err, err_len, "%s: read error: %s", path, strerror(errno));
        st = CL16_ERR_IO;
    } else if (zerr == Z_MEM_ERROR) {
        set_err(err, err_len, "%s: out of host memory while decompressing", path);
        st = CL16_ERR_OUT_OF_MEMORY;
    } else {
        set_err(err, err_len, "%s: corrupt or truncated gzip data (%s)", path,
                zmsg ? zmsg : "zlib error");
        st = CL16_ERR_FORMAT;
    }
cleanup:
    free(buf);
    src_close(f);
    return st;
}

static cl16_status read_idx(const char *path, int ndim, int64_t dims[3], uint8_t **data, char *err,
                            size_t err_len) {
    *data = NULL;
    errno = 0;
    idx_src s;
    memset(&s, 0, sizeof s);
    s.f = gzopen(path, "rb");
    if (!s.f) {
        set_err(err, err_len, "%s: cannot open: %s", path,
                errno ? strerror(errno) : "out of memory");
        return errno ? CL16_ERR_IO : CL16_ERR_OUT_OF_MEMORY;
    }
    return read_idx_src(&s, path, ndim, dims, data, err, err_len);
}

static cl16_status read_idx_mem(const void *buf, size_t len, const char *name, int ndim,
                                int64_t dims[3], uint8_t **data, char *err, size_t err_len) {
    idx_src s;
    memset(&s, 0, sizeof s);
    s.mem = buf;
    s.mem_len = buf ? len : 0;
    s.gzip = s.mem_len >= 2 && s.mem[0] == 0x1f && s.mem[1] == 0x8b;
    return read_idx_src(&s, name, ndim, dims, data, err, err_len);
}

/* Per-channel mean and (population) standard deviation of byte/255. */
static void compute_norm(cl16_dataset *d) {
    size_t plane = (size_t)d->h * (size_t)d->w;
    for (int ch = 0; ch < d->c; ch++) {
        uint64_t hist[256] = {0};
        for (int64_t i = 0; i < d->count; i++) {
            const uint8_t *p = d->images + ((size_t)i * (size_t)d->c + (size_t)ch) * plane;
            for (size_t k = 0; k < plane; k++)
                hist[p[k]]++;
        }
        double n = (double)d->count * (double)plane, s = 0, s2 = 0;
        for (int v = 0; v < 256; v++)
            s += (double)hist[v] * (v / 255.0);
        double mean = s / n;
        for (int v = 0; v < 256; v++)
            s2 += (double)hist[v] * (v / 255.0 - mean) * (v / 255.0 - mean);
        double sd = sqrt(s2 / n);
        d->mean[ch] = (float)mean;
        d->std[ch] = sd > 0 ? (float)sd : 1.0f;
    }
    for (int ch = d->c; ch < 3; ch++)
        d->mean[ch] = d->mean[0], d->std[ch] = d->std[0];
}

/* The data set from a decoded image file (idims: N x H x W) and label file
 * (ldims: N): the counts must agree. Takes ownership of images and labels. */
static cl16_status idx_assemble(uint8_t *images, const int64_t idims[3], uint8_t *labels,
                                const int64_t ldims[3], const char *images_name,
                                const char *labels_name, cl16_dataset **out, char *err,
                                size_t err_len) {
    if (idims[0] != ldims[0]) {
        set_err(err, err_len, "%s has %lld images but %s has %lld labels", images_name,
                (long long)idims[0], labels_name, (long long)ldims[0]);
        free(images);
        free(labels);
        return CL16_ERR_FORMAT;
    }
    cl16_dataset *d = calloc(1, sizeof *d);
    if (!d) {
        set_err(err, err_len, "out of host memory");
        free(images);
        free(labels);
        return CL16_ERR_OUT_OF_MEMORY;
    }
    d->count = idims[0];
    d->c = 1;
    d->h = (int)idims[1];
    d->w = (int)idims[2];
    d->kind = DS_IDX;
    d->images = images;
    d->labels = labels;
    int maxl = 0;
    for (int64_t i = 0; i < d->count; i++)
        if (labels[i] > maxl)
            maxl = labels[i];
    /* MNIST-format sets have ten classes even when a small file lacks some. */
    d->classes = maxl + 1 > 10 ? maxl + 1 : 10;
    compute_norm(d);
    *out = d;
    return CL16_OK;
}

cl16_status cl16_dataset_load_idx(const char *images_path, const char *labels_path,
                                  cl16_dataset **out, char *err, size_t err_len) {
    if (out)
        *out = NULL;
    if (!images_path || !labels_path || !out) {
        set_err(err, err_len, "cl16_dataset_load_idx: paths and out must not be NULL");
        return CL16_ERR_INVALID_ARG;
    }
    int64_t idims[3], ldims[3];
    uint8_t *images = NULL, *labels = NULL;
    cl16_status st = read_idx(images_path, 3, idims, &images, err, err_len);
    if (st)
        return st;
    st = read_idx(labels_path, 1, ldims, &labels, err, err_len);
    if (st) {
        free(images);
        return st;
    }
    return idx_assemble(images, idims, labels, ldims, images_path, labels_path, out, err, err_len);
}

cl16_status cl16__dataset_idx_from_memory(const void *images_buf, size_t images_len,
                                          const void *labels_buf, size_t labels_len,
                                          cl16_dataset **out, char *err, size_t err_len) {
    if (out)
        *out = NULL;
    if ((!images_buf && images_len) || (!labels_buf && labels_len) || !out) {
        set_err(err, err_len, "cl16__dataset_idx_from_memory: NULL buffer or out");
        return CL16_ERR_INVALID_ARG;
    }
    int64_t idims[3], ldims[3];
    uint8_t *images = NULL, *labels = NULL;
    cl16_status st = read_idx_mem(images_buf, images_len, "<images>", 3, idims, &images, err,
                                  err_len);
    if (st)
        return st;
    st = read_idx_mem(labels_buf, labels_len, "<labels>", 1, ldims, &labels, err, err_len);
    if (st) {
        free(images);
        return st;
    }
    return idx_assemble(images, idims, labels, ldims, "<images>", "<labels>", out, err, err_len);
}

#define CIFAR_REC 3073

/* A CIFAR-10 batch of `size` bytes appended to d: checks the size (a positive
 * multiple of 3073) and the total, and grows d's arrays to hold it. 0 and *n =
 * its record count, or a status. */
static cl16_status cifar_reserve(cl16_dataset *d, int64_t size, const char *path, int64_t *n,
                                 char *err, size_t err_len) {
    if (size <= 0 || size % CIFAR_REC != 0) {
        set_err(err, err_len,
                "%s: size %lld bytes is not a positive multiple of %d (1 label + 3072 pixels)",
                path, (long long)size, CIFAR_REC);
        return CL16_ERR_FORMAT;
    }
    int64_t total = d->count + size / CIFAR_REC;
    if (total * 3072 > MAX_BYTES) {
        set_err(err, err_len, "%s: data set too large", path);
        return CL16_ERR_FORMAT;
    }
    uint8_t *im = realloc(d->images, (size_t)total * 3072);
    if (im)
        d->images = im;
    uint8_t *lb = realloc(d->labels, (size_t)total);
    if (lb)
        d->labels = lb;
    if (!im || !lb) {
        set_err(err, err_len, "out of host memory (%lld bytes)", (long long)total * 3073);
        return CL16_ERR_OUT_OF_MEMORY;
    }
    *n = size / CIFAR_REC;
    return CL16_OK;
}

/* Record i of the batch being appended: label 0..9, then 3072 pixel bytes. */
static cl16_status cifar_take(cl16_dataset *d, int64_t i, const uint8_t *rec, const char *path,
                              char *err, size_t err_len) {
    if (rec[0] >= 10) {
        set_err(err, err_len, "%s: record %lld has label %d (must be 0..9)", path, (long long)i,
                rec[0]);
        return CL16_ERR_FORMAT;
    }
    d->labels[d->count + i] = rec[0];
    memcpy(d->images + (size_t)(d->count + i) * 3072, rec + 1, 3072);
    return CL16_OK;
}

/* Appends the records of one CIFAR-10 batch file to d (grown with realloc). */
static cl16_status read_cifar_file(const char *path, cl16_dataset *d, char *err, size_t err_len) {
    cl16_status st = CL16_OK;
    uint8_t *rec = NULL;
    FILE *f = fopen(path, "rb");
    if (!f) {
        set_err(err, err_len, "%s: cannot open: %s", path, strerror(errno));
        return CL16_ERR_IO;
    }
    long size = -1;
    if (fseek(f, 0, SEEK_END) == 0)
        size = ftell(f);
    if (size < 0 || fseek(f, 0, SEEK_SET) != 0) {
        set_err(err, err_len, "%s: cannot determine the file size: %s", path, strerror(errno));
        st = CL16_ERR_IO;
        goto cleanup;
    }
    int64_t n = 0;
    st = cifar_reserve(d, size, path, &n, err, err_len);
    if (st)
        goto cleanup;
    rec = malloc(CIFAR_REC);
    if (!rec) {
        set_err(err, err_len, "out of host memory (%d bytes)", CIFAR_REC);
        st = CL16_ERR_OUT_OF_MEMORY;
        goto cleanup;
    }
    for (int64_t i = 0; i < n; i++) {
        if (fread(rec, 1, CIFAR_REC, f) != CIFAR_REC) {
            set_err(err, err_len, "%s: read error at record %lld", path, (long long)i);
            st = CL16_ERR_IO;
            goto cleanup;
        }
        st = cifar_take(d, i, rec, path, err, err_len);
        if (st)
            goto cleanup;
    }
    d->count += n;
cleanup:
    free(rec);
    fclose(f);
    return st;
}

static cl16_dataset *cifar_new(void) {
    cl16_dataset *d = calloc(1, sizeof *d);
    if (!d)
        return NULL;
    d->c = 3;
    d->h = d->w = 32;
    d->classes = 10;
    d->kind = DS_CIFAR10;
    const float m[3] = {0.4914f, 0.4822f, 0.4465f}, s[3] = {0.2470f, 0.2435f, 0.2616f};
    memcpy(d->mean, m, sizeof m);
    memcpy(d->std, s, sizeof s);
    return d;
}

cl16_status cl16__dataset_cifar_from_memory(const void *buf, size_t len, cl16_dataset **out,
                                            char *err, size_t err_len) {
    if (out)
        *out = NULL;
    if ((!buf && len) || !out) {
        set_err(err, err_len, "cl16__dataset_cifar_from_memory: NULL buffer or out");
        return CL16_ERR_INVALID_ARG;
    }
    if ((uint64_t)len > (uint64_t)INT64_MAX / 2) {
        set_err(err, err_len, "<cifar>: data set too large");
        return CL16_ERR_FORMAT;
    }
    cl16_dataset *d = cifar_new();
    if (!d) {
        set_err(err, err_len, "out of host memory");
        return CL16_ERR_OUT_OF_MEMORY;
    }
    int64_t n = 0;
    cl16_status st = cifar_reserve(d, (int64_t)len, "<cifar>", &n, err, err_len);
    for (int64_t i = 0; !st && i < n; i++)
        st = cifar_take(d, i, (const uint8_t *)buf + (size_t)i * CIFAR_REC, "<cifar>", err,
                        err_len);
    if (st) {
        cl16_dataset_free(d);
        return st;
    }
    d->count = n;
    *out = d;
    return CL16_OK;
}

cl16_status cl16_dataset_load_cifar10(const char *dir, int train, cl16_dataset **out, char *err,
                                      size_t err_len) {
    if (out)
        *out = NULL;
    if (!dir || !out) {
        set_err(err, err_len, "cl16_dataset_load_cifar10: dir and out must not be NULL");
        return CL16_ERR_INVALID_ARG;
    }
    cl16_dataset *d = cifar_new();
    if (!d) {
        set_err(err, err_len, "out of host memory");
        return CL16_ERR_OUT_OF_MEMORY;
    }
    int files = train ? 5 : 1;
    for (int i = 0; i < files; i++) {
        char path[4096];
        int len = train ? snprintf(path, sizeof path, "%s/data_batch_%d.bin", dir, i + 1)
                        : snprintf(path, sizeof path, "%s/test_batch.bin", dir);
        if (len < 0 || (size_t)len >= sizeof path) {
            set_err(err, err_len, "cl16_dataset_load_cifar10: directory name too long");
            cl16_dataset_free(d);
            return CL16_ERR_INVALID_ARG;
        }
        cl16_status st = read_cifar_file(path, d, err, err_len);
        if (st) {
            cl16_dataset_free(d);
            return st;
        }
    }
    *out = d;
    return CL16_OK;
}

/* dir/base.gz, else dir/base when only the uncompressed file exists. */
static int pick_file(char *path, size_t size, const char *dir, const char *base) {
    int len = snprintf(path, size, "%s/%s.gz", dir, base);
    if (len < 0 || (size_t)len >= size)
        return -1;
    FILE *f = fopen(path, "rb");
    if (f) {
        fclose(f);
        return 0;
    }
    char raw[4096];
    len = snprintf(raw, sizeof raw, "%s/%s", dir, base);
    if (len < 0 || (size_t)len >= sizeof raw)
        return -1;
    f = fopen(raw, "rb");
    if (f) {
        fclose(f);
        memcpy(path, raw, (size_t)len + 1);
        return 0;
    }
    return 1; /* neither exists: path names the .gz */
}

cl16_status cl16_dataset_load(const char *name, const char *dir, int train, cl16_dataset **out,
                              char *err, size_t err_len) {
    if (out)
        *out = NULL;
    if (!name || !out) {
        set_err(err, err_len, "cl16_dataset_load: name and out must not be NULL");
        return CL16_ERR_INVALID_ARG;
    }
    enum ds_kind kind;
    if (!strcmp(name, "fashion-mnist"))
        kind = DS_FASHION;
    else if (!strcmp(name, "mnist"))
        kind = DS_MNIST;
    else if (!strcmp(name, "cifar10"))
        kind = DS_CIFAR10;
    else {
        set_err(err, err_len, "unknown data set \"%s\" (known: fashion-mnist, mnist, cifar10)",
                name);
        return CL16_ERR_INVALID_ARG;
    }
    if (kind == DS_CIFAR10) {
        if (!dir) {
            set_err(err, err_len,
                    "data set cifar10 needs a directory holding data_batch_1..5.bin and "
                    "test_batch.bin (the CIFAR-10 binary version)");
            return CL16_ERR_INVALID_ARG;
        }
        return cl16_dataset_load_cifar10(dir, train, out, err, err_len);
    }
    char defdir[256];
    if (!dir) {
        snprintf(defdir, sizeof defdir, "/usr/share/datasets/%s", name);
        dir = defdir;
    }
    const char *prefix = train ? "train" : "t10k";
    char base[64], ipath[4096], lpath[4096];
    snprintf(base, sizeof base, "%s-images-idx3-ubyte", prefix);
    int ri = pick_file(ipath, sizeof ipath, dir, base);
    snprintf(base, sizeof base, "%s-labels-idx1-ubyte", prefix);
    int rl = pick_file(lpath, sizeof lpath, dir, base);
    if (ri < 0 || rl < 0) {
        set_err(err, err_len, "cl16_dataset_load: directory name too long");
        return CL16_ERR_INVALID_ARG;
    }
    if (ri || rl) {
        set_err(err, err_len, "%s: no such file (nor without .gz)%s", ri ? ipath : lpath,
                kind == DS_FASHION
                    ? "; Fashion-MNIST is provided by the Debian/Ubuntu package "
                      "dataset-fashion-mnist (apt install dataset-fashion-mnist), or pass the "
                      "directory holding the IDX files"
                    : "; pass the directory holding the MNIST IDX files "
                      "(train-*/t10k-*-idx?-ubyte[.gz]); Fashion-MNIST is provided by the "
                      "Debian/Ubuntu package dataset-fashion-mnist");
        return CL16_ERR_IO;
    }
    cl16_status st = cl16_dataset_load_idx(ipath, lpath, out, err, err_len);
    if (st)
        return st;
    (*out)->kind = kind;
    return CL16_OK;
}

void cl16_dataset_free(cl16_dataset *d) {
    if (!d)
        return;
    free(d->images);
    free(d->labels);
    free(d);
}

void cl16_dataset_shape(const cl16_dataset *d, int64_t *count, int *c, int *h, int *w,
                        int *classes) {
    if (count)
        *count = d ? d->count : 0;
    if (c)
        *c = d ? d->c : 0;
    if (h)
        *h = d ? d->h : 0;
    if (w)
        *w = d ? d->w : 0;
    if (classes)
        *classes = d ? d->classes : 0;
}

void cl16_dataset_default_norm(const cl16_dataset *d, float mean[3], float std[3]) {
    float m[3] = {0, 0, 0}, s[3] = {1, 1, 1};
    if (d) {
        switch (d->kind) {
        case DS_FASHION:
            m[0] = m[1] = m[2] = 0.2860f;
            s[0] = s[1] = s[2] = 0.3530f;
            break;
        case DS_MNIST:
            m[0] = m[1] = m[2] = 0.1307f;
            s[0] = s[1] = s[2] = 0.3081f;
            break;
        case DS_CIFAR10:
        case DS_IDX:
            memcpy(m, d->mean, sizeof m);
            memcpy(s, d->std, sizeof s);
            break;
        }
    }
    if (mean)
        memcpy(mean, m, sizeof m);
    if (std)
        memcpy(std, s, sizeof s);
}

/* splitmix64 (Steele, Lea, Flood 2014): the output function of the state
 * sequence x_k = seed + k * 0x9E3779B97F4A7C15. Integer-only, so identical on
 * every platform. */
static uint64_t mix64(uint64_t z) {
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

static uint64_t splitmix64_next(uint64_t *state) {
    *state += 0x9E3779B97F4A7C15ull;
    return mix64(*state);
}

/* Uniform in [0, bound) without modulo bias: reject the lowest (2^64 mod bound)
 * values, then reduce. */
static uint64_t bounded(uint64_t *state, uint64_t bound) {
    uint64_t threshold = (0 - bound) % bound;
    for (;;) {
        uint64_t r = splitmix64_next(state);
        if (r >= threshold)
            return r % bound;
    }
}

/* Fisher-Yates: for i = n-1 down to 1 swap perm[i] with perm[j], j uniform in
 * [0, i], drawn from splitmix64 seeded with seed. */
void cl16_shuffle(uint64_t seed, int64_t n, int64_t *perm) {
    if (!perm || n <= 0)
        return;
    for (int64_t i = 0; i < n; i++)
        perm[i] = i;
    uint64_t state = seed;
    for (int64_t i = n - 1; i > 0; i--) {
        int64_t j = (int64_t)bounded(&state, (uint64_t)i + 1);
        int64_t t = perm[i];
        perm[i] = perm[j];
        perm[j] = t;
    }
}

/* Counter-based draw k for batch position i: a pure function of (seed, i, k),
 * so a batch is the same whichever thread or order assembles it. */
static uint64_t draw(uint64_t seed, int64_t i, unsigned k) {
    return mix64(seed ^ mix64(((uint64_t)i << 2 | k) + 0x9E3779B97F4A7C15ull));
}

cl16_status cl16_dataset_batch(const cl16_dataset *d, const int64_t *idx, int64_t n,
                               const float mean[3], const float std[3], int crop_pad, int flip,
                               uint64_t seed, float *images, int32_t *labels) {
    if (!d || n < 0 || (n > 0 && (!idx || !images)) || crop_pad < 0 || crop_pad > MAX_SIDE)
        return CL16_ERR_INVALID_ARG;
    float dm[3], ds[3];
    cl16_dataset_default_norm(d, dm, ds);
    if (!mean)
        mean = dm;
    if (!std)
        std = ds;
    for (int ch = 0; ch < d->c; ch++)
        if (!(std[ch] > 0) || mean[ch] != mean[ch])
            return CL16_ERR_INVALID_ARG;
    for (int64_t i = 0; i < n; i++)
        if (idx[i] < 0 || idx[i] >= d->count)
            return CL16_ERR_INVALID_ARG;
    /* Each channel maps 256 byte values to floats, computed in double. */
    float lut[3][256];
    for (int ch = 0; ch < d->c; ch++)
        for (int v = 0; v < 256; v++)
            lut[ch][v] = (float)((v / 255.0 - (double)mean[ch]) / (double)std[ch]);
    const int c = d->c, h = d->h, w = d->w;
    const size_t plane = (size_t)h * (size_t)w;
    for (int64_t i = 0; i < n; i++) {
        const uint8_t *src = d->images + (size_t)idx[i] * (size_t)c * plane;
        float *dst = images + (size_t)i * (size_t)c * plane;
        int oy = 0, ox = 0, fl = 0;
        if (crop_pad > 0) {
            /* Offset of the crop inside the padded image, minus the pad. */
            uint64_t span = 2 * (uint64_t)crop_pad + 1;
            oy = (int)(draw(seed, i, 0) % span) - crop_pad;
            ox = (int)(draw(seed, i, 1) % span) - crop_pad;
        }
        if (flip)
            fl = (int)(draw(seed, i, 2) >> 63);
        for (int ch = 0; ch < c; ch++) {
            const uint8_t *sp = src + (size_t)ch * plane;
            float *dp = dst + (size_t)ch * plane;
            for (int y = 0; y < h; y++) {
                int sy = y + oy;
                for (int x = 0; x < w; x++) {
                    int sx = (fl ? w - 1 - x : x) + ox;
                    uint8_t v = (sy >= 0 && sy < h && sx >= 0 && sx < w)
                                    ? sp[(size_t)sy * (size_t)w + (size_t)sx]
                                    : 0;
                    dp[(size_t)y * (size_t)w + (size_t)x] = lut[ch][v];
                }
            }
        }
        if (labels)
            labels[i] = d->labels[idx[i]];
    }
    return CL16_OK;
}
