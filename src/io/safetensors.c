/* safetensors.c - strict reader of the safetensors format (8-byte
 * little-endian header length, JSON header, packed data section); the writer
 * is safetensors_save.c.
 *
 * The header is read by a small parser that knows the schema (a top-level
 * object of tensor entries plus an optional "__metadata__" string map), so it
 * never recurses and its nesting depth is fixed at three. Everything the
 * format does not allow is refused with CL16_ERR_FORMAT and a message naming
 * the source, the tensor and the field. Host memory only, no OpenCL. */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cl16.h"
#include "io/safetensors_internal.h"

/* A header larger than this is treated as corrupt rather than allocated. */
#define ST_MAX_HEADER ((uint64_t)100 * 1024 * 1024)

struct mkv {
    char *key, *val;
};

struct cl16_safetensors {
    unsigned char *buf; /* the whole file, owned; tensor data points into it */
    size_t len;
    cl16_st_tensor *t; /* sorted by data offset */
    size_t n;
    char **names;     /* owned names, same order as t */
    size_t *byname;   /* indices into t, sorted by name (for find) */
    struct mkv *meta; /* sorted by key */
    size_t nmeta;
};

void cl16__st_err(char *err, size_t err_len, const char *label, const char *fmt, ...) {
    if (!err || !err_len)
        return;
    int w = snprintf(err, err_len, "%s: ", label);
    if (w < 0 || (size_t)w >= err_len)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err + w, err_len - (size_t)w, fmt, ap);
    va_end(ap);
}

/* Indexed by cl16_st_dtype. */
static const struct {
    const char *name;
    size_t size;
} dtypes[] = {{"F32", 4}, {"F16", 2}, {"BF16", 2}, {"I64", 8}};
#define NDTYPES (sizeof dtypes / sizeof dtypes[0])

size_t cl16__st_dtype_size(cl16_st_dtype d) {
    return (unsigned)d < NDTYPES ? dtypes[d].size : 0;
}
const char *cl16__st_dtype_name(cl16_st_dtype d) {
    return (unsigned)d < NDTYPES ? dtypes[d].name : "?";
}

/* Elements in a shape; 0 when the product overflows uint64 x elem (a zero
 * dim makes any shape empty and never overflows). */
int cl16__st_shape_bytes(const int64_t *dims, int ndim, uint64_t elem, uint64_t *out) {
    uint64_t n = elem;
    for (int k = 0; k < ndim; k++)
        if (dims[k] == 0) {
            *out = 0;
            return 1;
        }
    for (int k = 0; k < ndim; k++) {
        if (n > UINT64_MAX / (uint64_t)dims[k])
            return 0;
        n *= (uint64_t)dims[k];
    }
    *out = n;
    return 1;
}

/* Returns the length of the valid UTF-8 sequence at s (at most n bytes), or 0
 * when it is not valid (overlong forms, surrogates and > U+10FFFF refused). */
static size_t utf8_seq(const unsigned char *s, size_t n) {
    unsigned c = s[0];
    if (c < 0x80)
        return 1;
    size_t k;
    uint32_t cp, min;
    if ((c & 0xE0) == 0xC0)
        k = 2, cp = c & 0x1F, min = 0x80;
    else if ((c & 0xF0) == 0xE0)
        k = 3, cp = c & 0x0F, min = 0x800;
    else if ((c & 0xF8) == 0xF0)
        k = 4, cp = c & 0x07, min = 0x10000;
    else
        return 0;
    if (k > n)
        return 0;
    for (size_t i = 1; i < k; i++) {
        if ((s[i] & 0xC0) != 0x80)
            return 0;
        cp = (cp << 6) | (s[i] & 0x3F);
    }
    if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
        return 0;
    return k;
}

int cl16__st_utf8_valid(const unsigned char *s, size_t n, size_t *bad) {
    size_t i = 0;
    while (i < n) {
        size_t k = utf8_seq(s + i, n - i);
        if (!k) {
            *bad = i;
            return 0;
        }
        i += k;
    }
    return 1;
}

/* ---- the header parser ------------------------------------------------------ */

typedef struct {
    const unsigned char *s;
    size_t n, i;
    const char *label;
    char *err;
    size_t err_len;
    int oom; /* an allocation failed: CL16_ERR_OUT_OF_MEMORY, not FORMAT */
} jp;

typedef struct {
    char *name;
    cl16_st_dtype dtype;
    int ndim;
    int64_t dims[CL16_ST_MAX_DIMS];
    int64_t begin, end;
    size_t order; /* position in the header, for a deterministic sort */
} entry;

static void ws(jp *p) {
    while (p->i < p->n &&
           (p->s[p->i] == ' ' || p->s[p->i] == '\t' || p->s[p->i] == '\n' || p->s[p->i] == '\r'))
        p->i++;
}

static int peek(jp *p) {
    ws(p);
    return p->i < p->n ? p->s[p->i] : -1;
}

/* `ctx` says where we are ("tensor 'w': shape"), for the message. */
static int expect(jp *p, char c, const char *ctx) {
    int got = peek(p);
    if (got == c) {
        p->i++;
        return 1;
    }
    if (got < 0)
        cl16__st_err(p->err, p->err_len, p->label, "%sexpected '%c' but the header ends (byte %zu)",
                     ctx, c, p->i);
    else
        cl16__st_err(p->err, p->err_len, p->label, "%sexpected '%c' at header byte %zu, found '%c'",
                     ctx, c, p->i, got >= 0x20 && got < 0x7F ? got : '?');
    return 0;
}

static int hex4(const unsigned char *s, uint32_t *out) {
    uint32_t v = 0;
    for (int k = 0; k < 4; k++) {
        unsigned c = s[k];
        v <<= 4;
        if (c >= '0' && c <= '9')
            v |= c - '0';
        else if (c >= 'a' && c <= 'f')
            v |= c - 'a' + 10;
        else if (c >= 'A' && c <= 'F')
            v |= c - 'A' + 10;
        else
            return 0;
    }
    *out = v;
    return 1;
}

/* Writes code point cp (valid, not a surrogate) as UTF-8; returns the length. */
static size_t put_utf8(char *o, uint32_t cp) {
    if (cp < 0x80) {
        o[0] = (char)cp;
        return 1;
    }
    size_t n = cp < 0x800 ? 2 : cp < 0x10000 ? 3 : 4;
    static const unsigned char lead[5] = {0, 0, 0xC0, 0xE0, 0xF0};
    for (size_t k = n - 1; k > 0; k--, cp >>= 6)
        o[k] = (char)(0x80 | (cp & 0x3F));
    o[0] = (char)(lead[n] | cp);
    return n;
}

/* Parses a JSON string into a new NUL-terminated buffer. Raw bytes are
 * already known to be valid UTF-8; escapes (\uXXXX with surrogate pairs
 * included) become UTF-8. A NUL character is refused: C names cannot hold it. */
static int jstring(jp *p, char **out, const char *ctx) {
    *out = NULL;
    if (peek(p) != '"') {
        if (peek(p) < 0)
            cl16__st_err(p->err, p->err_len, p->label, "%sexpected a string but the header ends",
                         ctx);
        else
            cl16__st_err(p->err, p->err_len, p->label, "%sexpected a string at header byte %zu",
                         ctx, p->i);
        return 0;
    }
    size_t start = ++p->i;
    /* The decoded form is never longer than the raw one. */
    size_t j = start;
    while (j < p->n && p->s[j] != '"')
        j += (p->s[j] == '\\' && j + 1 < p->n) ? 2 : 1;
    if (j >= p->n) {
        cl16__st_err(p->err, p->err_len, p->label,
                     "%sunterminated string starting at header byte %zu", ctx, start - 1);
        return 0;
    }
    char *o = malloc(j - start + 1);
    if (!o) {
        cl16__st_err(p->err, p->err_len, p->label, "out of host memory");
        p->oom = 1;
        return 0;
    }
    size_t k = 0, i = start;
    while (i < j) {
        unsigned c = p->s[i];
        if (c < 0x20) {
            cl16__st_err(p->err, p->err_len, p->label,
                         "%sunescaped control character 0x%02x in a string at header byte %zu", ctx,
                         c, i);
            goto bad;
        }
        if (c != '\\') {
            o[k++] = (char)c;
            i++;
            continue;
        }
        unsigned e = p->s[i + 1];
        i += 2;
        static const char simple[] = "\"\"\\\\//b\bf\fn\nr\rt\t";
        const char *hit = e != 'u' ? memchr(simple, (int)e, sizeof simple - 1) : NULL;
        if (hit && (hit - simple) % 2 == 0) {
            o[k++] = hit[1];
            continue;
        }
        if (e != 'u') {
            cl16__st_err(p->err, p->err_len, p->label, "%sbad escape '\\%c' at header byte %zu",
                         ctx, e >= 0x20 && e < 0x7F ? (int)e : '?', i - 2);
            goto bad;
        }
        uint32_t cp, lo;
        if (i + 4 > j || !hex4(p->s + i, &cp)) {
            cl16__st_err(p->err, p->err_len, p->label, "%sbad \\u escape at header byte %zu", ctx,
                         i - 2);
            goto bad;
        }
        i += 4;
        if (cp >= 0xDC00 && cp <= 0xDFFF) {
            cl16__st_err(p->err, p->err_len, p->label,
                         "%slone low surrogate in \\u escape at header byte %zu", ctx, i - 6);
            goto bad;
        }
        if (cp >= 0xD800 && cp <= 0xDBFF) {
            if (i + 6 > j || p->s[i] != '\\' || p->s[i + 1] != 'u' || !hex4(p->s + i + 2, &lo) ||
                lo < 0xDC00 || lo > 0xDFFF) {
                cl16__st_err(p->err, p->err_len, p->label,
                             "%shigh surrogate without a low one at header byte %zu", ctx, i - 6);
                goto bad;
            }
            i += 6;
            cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
        }
        if (cp == 0) {
            cl16__st_err(p->err, p->err_len, p->label,
                         "%s\\u0000 in a string is not supported (header byte %zu)", ctx, i - 6);
            goto bad;
        }
        /* 6 raw bytes per escape, at most 3 out (4 out for 12 raw). */
        k += put_utf8(o + k, cp);
    }
    o[k] = '\0';
    p->i = j + 1;
    *out = o;
    return 1;
bad:
    free(o);
    return 0;
}

/* A JSON integer (no fraction, no exponent) that fits in int64. */
static int jint(jp *p, int64_t *out, const char *ctx) {
    int c = peek(p);
    size_t at = p->i;
    int neg = 0;
    if (c == '-')
        neg = 1, p->i++;
    if (p->i >= p->n || p->s[p->i] < '0' || p->s[p->i] > '9') {
        cl16__st_err(p->err, p->err_len, p->label, "%sexpected an integer at header byte %zu", ctx,
                     at);
        return 0;
    }
    if (p->s[p->i] == '0' && p->i + 1 < p->n && p->s[p->i + 1] >= '0' && p->s[p->i + 1] <= '9') {
        cl16__st_err(p->err, p->err_len, p->label,
                     "%sleading zero in an integer at header byte %zu", ctx, at);
        return 0;
    }
    uint64_t v = 0, lim = neg ? (uint64_t)INT64_MAX + 1 : (uint64_t)INT64_MAX;
    while (p->i < p->n && p->s[p->i] >= '0' && p->s[p->i] <= '9') {
        unsigned d = p->s[p->i] - '0';
        if (v > (lim - d) / 10) {
            cl16__st_err(p->err, p->err_len, p->label, "%sinteger out of range at header byte %zu",
                         ctx, at);
            return 0;
        }
        v = v * 10 + d;
        p->i++;
    }
    if (p->i < p->n && (p->s[p->i] == '.' || p->s[p->i] == 'e' || p->s[p->i] == 'E')) {
        cl16__st_err(p->err, p->err_len, p->label,
                     "%sexpected an integer, found a fraction or exponent at header byte %zu", ctx,
                     at);
        return 0;
    }
    *out = neg ? (v == (uint64_t)INT64_MAX + 1 ? INT64_MIN : -(int64_t)v) : (int64_t)v;
    return 1;
}

/* [int, int, ...] with at most `max` elements. */
static int jints(jp *p, int64_t *vals, int max, int *count, const char *ctx) {
    if (!expect(p, '[', ctx))
        return 0;
    int k = 0;
    if (peek(p) == ']') {
        p->i++;
        *count = 0;
        return 1;
    }
    for (;;) {
        if (k == max) {
            cl16__st_err(p->err, p->err_len, p->label, "%smore than %d values", ctx, max);
            return 0;
        }
        if (!jint(p, &vals[k], ctx))
            return 0;
        k++;
        int c = peek(p);
        if (c == ',') {
            p->i++;
            continue;
        }
        if (c == ']') {
            p->i++;
            break;
        }
        cl16__st_err(p->err, p->err_len, p->label, "%sexpected ',' or ']' at header byte %zu", ctx,
                     p->i);
        return 0;
    }
    *count = k;
    return 1;
}

static int parse_dtype(const char *s, cl16_st_dtype *d) {
    for (size_t i = 0; i < NDTYPES; i++)
        if (!strcmp(s, dtypes[i].name)) {
            *d = (cl16_st_dtype)i;
            return 1;
        }
    return 0;
}

/* One tensor entry: {"dtype": ..., "shape": [...], "data_offsets": [b, e]}. */
static int parse_entry(jp *p, entry *e) {
    char ctx[160];
    snprintf(ctx, sizeof ctx, "tensor '%.100s': ", e->name);
    if (!expect(p, '{', ctx))
        return 0;
    int have_dtype = 0, have_shape = 0, have_off = 0;
    if (peek(p) != '}') {
        for (;;) {
            char *key;
            if (!jstring(p, &key, ctx))
                return 0;
            char fctx[200];
            snprintf(fctx, sizeof fctx, "%s%.20s: ", ctx, key);
            int ok = expect(p, ':', fctx);
            if (ok && !strcmp(key, "dtype")) {
                char *d = NULL;
                if (have_dtype) {
                    cl16__st_err(p->err, p->err_len, p->label, "%sduplicate field", fctx);
                    ok = 0;
                } else if ((ok = jstring(p, &d, fctx)) && !parse_dtype(d, &e->dtype)) {
                    cl16__st_err(p->err, p->err_len, p->label,
                                 "%sunsupported dtype '%.20s' (F32, F16, BF16 and I64 are)", fctx,
                                 d);
                    ok = 0;
                }
                free(d);
                have_dtype = 1;
            } else if (ok && !strcmp(key, "shape")) {
                if (have_shape) {
                    cl16__st_err(p->err, p->err_len, p->label, "%sduplicate field", fctx);
                    ok = 0;
                } else {
                    ok = jints(p, e->dims, CL16_ST_MAX_DIMS, &e->ndim, fctx);
                    for (int k = 0; ok && k < e->ndim; k++)
                        if (e->dims[k] < 0) {
                            cl16__st_err(p->err, p->err_len, p->label, "%snegative dim %lld", fctx,
                                         (long long)e->dims[k]);
                            ok = 0;
                        }
                }
                have_shape = 1;
            } else if (ok && !strcmp(key, "data_offsets")) {
                int64_t off[2];
                int cnt = 0;
                if (have_off) {
                    cl16__st_err(p->err, p->err_len, p->label, "%sduplicate field", fctx);
                    ok = 0;
                } else if ((ok = jints(p, off, 2, &cnt, fctx)) && cnt != 2) {
                    cl16__st_err(p->err, p->err_len, p->label, "%sneeds exactly 2 values, has %d",
                                 fctx, cnt);
                    ok = 0;
                } else if (ok && (off[0] < 0 || off[1] < off[0])) {
                    cl16__st_err(p->err, p->err_len, p->label, "%sbad range [%lld, %lld]", fctx,
                                 (long long)off[0], (long long)off[1]);
                    ok = 0;
                }
                if (ok)
                    e->begin = off[0], e->end = off[1];
                have_off = 1;
            } else if (ok) {
                cl16__st_err(p->err, p->err_len, p->label, "%sunknown field '%.40s'", ctx, key);
                ok = 0;
            }
            free(key);
            if (!ok)
                return 0;
            int c = peek(p);
            if (c == ',') {
                p->i++;
                continue;
            }
            if (c == '}')
                break;
            cl16__st_err(p->err, p->err_len, p->label, "%sexpected ',' or '}' at header byte %zu",
                         ctx, p->i);
            return 0;
        }
    }
    p->i++; /* '}' */
    const char *missing = !have_dtype   ? "dtype"
                          : !have_shape ? "shape"
                          : !have_off   ? "data_offsets"
                                        : NULL;
    if (missing) {
        cl16__st_err(p->err, p->err_len, p->label, "%smissing field '%s'", ctx, missing);
        return 0;
    }
    return 1;
}

int cl16__st_grow(void **arr, size_t *cap, size_t need, size_t elem) {
    if (need <= *cap)
        return 1;
    size_t nc = *cap ? *cap * 2 : 16;
    while (nc < need)
        nc *= 2;
    void *q = realloc(*arr, nc * elem);
    if (!q)
        return 0;
    *arr = q;
    *cap = nc;
    return 1;
}

/* "__metadata__": {"key": "value", ...}, appended to *meta as key, value. */
static int parse_meta(jp *p, struct mkv **meta, size_t *nmeta, size_t *cap) {
    const char *ctx = "__metadata__: ";
    if (!expect(p, '{', ctx))
        return 0;
    if (peek(p) == '}') {
        p->i++;
        return 1;
    }
    for (;;) {
        char *k, *v;
        if (!jstring(p, &k, ctx))
            return 0;
        char fctx[160];
        snprintf(fctx, sizeof fctx, "__metadata__: value of '%.100s': ", k);
        if (!expect(p, ':', fctx)) {
            free(k);
            return 0;
        }
        if (peek(p) != '"') {
            cl16__st_err(p->err, p->err_len, p->label,
                         "%snot a string (metadata maps strings to strings)", fctx);
            free(k);
            return 0;
        }
        if (!jstring(p, &v, fctx)) {
            free(k);
            return 0;
        }
        if (!cl16__st_grow((void **)meta, cap, *nmeta + 1, sizeof **meta)) {
            cl16__st_err(p->err, p->err_len, p->label, "out of host memory");
            p->oom = 1;
            free(k);
            free(v);
            return 0;
        }
        (*meta)[*nmeta].key = k;
        (*meta)[*nmeta].val = v;
        (*nmeta)++;
        int c = peek(p);
        if (c == ',') {
            p->i++;
            continue;
        }
        if (c == '}') {
            p->i++;
            return 1;
        }
        cl16__st_err(p->err, p->err_len, p->label, "%sexpected ',' or '}' at header byte %zu", ctx,
                     p->i);
        return 0;
    }
}

static int cmp_offset(const void *a, const void *b) {
    const entry *x = a, *y = b;
    if (x->begin != y->begin)
        return x->begin < y->begin ? -1 : 1;
    if (x->end != y->end)
        return x->end < y->end ? -1 : 1;
    return x->order < y->order ? -1 : x->order > y->order;
}

int cl16__st_cmp_str(const void *a, const void *b) {
    return strcmp(*(char *const *)a, *(char *const *)b);
}

typedef struct {
    const char *name;
    size_t idx;
} name_idx;

static int cmp_name_idx(const void *a, const void *b) {
    return strcmp(((const name_idx *)a)->name, ((const name_idx *)b)->name);
}

static int cmp_kv(const void *a, const void *b) {
    return strcmp(((const struct mkv *)a)->key, ((const struct mkv *)b)->key);
}

void cl16_safetensors_free(cl16_safetensors *f) {
    if (!f)
        return;
    if (f->names)
        for (size_t i = 0; i < f->n; i++)
            free(f->names[i]);
    for (size_t i = 0; f->meta && i < f->nmeta; i++)
        free(f->meta[i].key), free(f->meta[i].val);
    free(f->names);
    free(f->byname);
    free(f->meta);
    free(f->t);
    free(f->buf);
    free(f);
}

/* Takes ownership of buf (freed on failure as well). */
static cl16_status parse_owned(unsigned char *buf, size_t len, const char *label,
                               cl16_safetensors **out, char *err, size_t err_len) {
    cl16_status st = CL16_ERR_FORMAT;
    entry *ents = NULL;
    size_t nents = 0, cap = 0, mcap = 0;
    struct mkv *meta = NULL;
    size_t nmeta = 0;
    int have_meta = 0;
    cl16_safetensors *f = NULL;
    name_idx *ni = NULL;
    jp p = {0};

    if (len < 8) {
        cl16__st_err(err, err_len, label, "too short (%zu bytes) to hold the 8-byte header length",
                     len);
        goto cleanup;
    }
    uint64_t hlen = 0;
    for (int k = 7; k >= 0; k--)
        hlen = (hlen << 8) | buf[k];
    if (hlen > ST_MAX_HEADER) {
        cl16__st_err(err, err_len, label, "header length %llu is absurd (limit %llu bytes)",
                     (unsigned long long)hlen, (unsigned long long)ST_MAX_HEADER);
        goto cleanup;
    }
    if (hlen > len - 8) {
        cl16__st_err(err, err_len, label,
                     "header length %llu exceeds the file (%zu bytes after it)",
                     (unsigned long long)hlen, len - 8);
        goto cleanup;
    }
    size_t bad;
    if (!cl16__st_utf8_valid(buf + 8, (size_t)hlen, &bad)) {
        cl16__st_err(err, err_len, label, "header is not valid UTF-8 (header byte %zu)", bad);
        goto cleanup;
    }
    const unsigned char *data = buf + 8 + hlen;
    uint64_t dlen = len - 8 - hlen;
    p = (jp){buf + 8, (size_t)hlen, 0, label, err, err_len, 0};

    if (!expect(&p, '{', "header: "))
        goto cleanup;
    if (peek(&p) == '}') {
        p.i++;
    } else {
        for (;;) {
            char *key;
            if (!jstring(&p, &key, "header: tensor name: "))
                goto cleanup;
            if (!strcmp(key, "__metadata__")) {
                free(key);
                if (have_meta) {
                    cl16__st_err(err, err_len, label, "duplicate \"__metadata__\"");
                    goto cleanup;
                }
                have_meta = 1;
                if (!expect(&p, ':', "__metadata__: ") || !parse_meta(&p, &meta, &nmeta, &mcap))
                    goto cleanup;
            } else {
                if (!cl16__st_grow((void **)&ents, &cap, nents + 1, sizeof *ents)) {
                    free(key);
                    cl16__st_err(err, err_len, label, "out of host memory");
                    st = CL16_ERR_OUT_OF_MEMORY;
                    goto cleanup;
                }
                entry *e = &ents[nents++];
                memset(e, 0, sizeof *e);
                e->name = key;
                e->order = nents - 1;
                if (!key[0]) {
                    cl16__st_err(err, err_len, label, "empty tensor name");
                    goto cleanup;
                }
                char ctx[160];
                snprintf(ctx, sizeof ctx, "tensor '%.100s': ", key);
                if (!expect(&p, ':', ctx) || !parse_entry(&p, e))
                    goto cleanup;
            }
            int c = peek(&p);
            if (c == ',') {
                p.i++;
                continue;
            }
            if (c == '}') {
                p.i++;
                break;
            }
            if (c < 0)
                cl16__st_err(err, err_len, label, "header ends inside the top-level object");
            else
                cl16__st_err(err, err_len, label, "expected ',' or '}' at header byte %zu", p.i);
            goto cleanup;
        }
    }
    ws(&p);
    if (p.i != p.n) {
        cl16__st_err(err, err_len, label,
                     "trailing garbage after the header object at header byte %zu", p.i);
        goto cleanup;
    }

    /* Names unique. */
    if (nents) {
        ni = malloc(nents * sizeof *ni);
        if (!ni) {
            cl16__st_err(err, err_len, label, "out of host memory");
            st = CL16_ERR_OUT_OF_MEMORY;
            goto cleanup;
        }
        for (size_t i = 0; i < nents; i++)
            ni[i] = (name_idx){ents[i].name, i};
        qsort(ni, nents, sizeof *ni, cmp_name_idx);
        for (size_t i = 1; i < nents; i++)
            if (!strcmp(ni[i - 1].name, ni[i].name)) {
                cl16__st_err(err, err_len, label, "duplicate tensor name '%.100s'", ni[i].name);
                goto cleanup;
            }
    }
    if (nmeta > 1) {
        qsort(meta, nmeta, sizeof *meta, cmp_kv);
        for (size_t i = 1; i < nmeta; i++)
            if (!strcmp(meta[i - 1].key, meta[i].key)) {
                cl16__st_err(err, err_len, label, "__metadata__: duplicate key '%.100s'",
                             meta[i].key);
                goto cleanup;
            }
    }

    /* Sizes: product of dims x element size, checked for overflow. */
    for (size_t i = 0; i < nents; i++) {
        entry *e = &ents[i];
        uint64_t nbytes;
        if (!cl16__st_shape_bytes(e->dims, e->ndim, cl16__st_dtype_size(e->dtype), &nbytes)) {
            cl16__st_err(err, err_len, label, "tensor '%.100s': shape: byte size overflows",
                         e->name);
            goto cleanup;
        }
        uint64_t span = (uint64_t)(e->end - e->begin);
        if (nbytes != span) {
            cl16__st_err(
                err, err_len, label,
                "tensor '%.100s': data_offsets: [%lld, %lld] holds %llu bytes but shape and "
                "dtype %s need %llu",
                e->name, (long long)e->begin, (long long)e->end, (unsigned long long)span,
                cl16__st_dtype_name(e->dtype), (unsigned long long)nbytes);
            goto cleanup;
        }
        if ((uint64_t)e->end > dlen) {
            cl16__st_err(
                err, err_len, label,
                "tensor '%.100s': data_offsets: end %lld is past the end of the data section "
                "(%llu bytes)",
                e->name, (long long)e->end, (unsigned long long)dlen);
            goto cleanup;
        }
    }

    /* Layout: sorted by begin, each starting where the previous ended. */
    if (nents)
        qsort(ents, nents, sizeof *ents, cmp_offset);
    int64_t pos = 0;
    for (size_t i = 0; i < nents; i++) {
        entry *e = &ents[i];
        if (e->begin < pos) {
            cl16__st_err(err, err_len, label,
                         "tensor '%.100s': data_offsets: [%lld, %lld] overlaps the previous tensor "
                         "(ends at %lld)",
                         e->name, (long long)e->begin, (long long)e->end, (long long)pos);
            goto cleanup;
        }
        if (e->begin > pos) {
            cl16__st_err(
                err, err_len, label,
                "tensor '%.100s': data_offsets: gap of %lld unindexed bytes before it (the "
                "data section must be fully indexed)",
                e->name, (long long)(e->begin - pos));
            goto cleanup;
        }
        pos = e->end;
    }
    if ((uint64_t)pos != dlen) {
        cl16__st_err(err, err_len, label,
                     "data section has %llu bytes but the tensors index %lld (trailing unindexed "
                     "bytes)",
                     (unsigned long long)dlen, (long long)pos);
        goto cleanup;
    }

    /* A checksum written by cl16_safetensors_save: the data section must match it. */
    for (size_t i = 0; i < nmeta; i++)
        if (!strcmp(meta[i].key, CL16_ST_CHECKSUM_KEY)) {
            char hex[65];
            cl16__st_sha256_hex(data, (size_t)dlen, hex);
            if (strcmp(hex, meta[i].val)) {
                cl16__st_err(err, err_len, label,
                             "the data section does not match its checksum (%s %.16s..., computed "
                             "%.16s...): the file is damaged",
                             CL16_ST_CHECKSUM_KEY, meta[i].val, hex);
                goto cleanup;
            }
        }

    /* Build the handle. */
    st = CL16_ERR_OUT_OF_MEMORY;
    f = calloc(1, sizeof *f);
    if (!f)
        goto oom;
    f->buf = buf;
    f->len = len;
    buf = NULL;
    if (nents) {
        f->t = calloc(nents, sizeof *f->t);
        f->names = calloc(nents, sizeof *f->names);
        f->byname = calloc(nents, sizeof *f->byname);
        if (!f->t || !f->names || !f->byname)
            goto oom;
    }
    f->n = nents;
    for (size_t i = 0; i < nents; i++) {
        entry *e = &ents[i];
        cl16_st_tensor *t = &f->t[i];
        f->names[i] = e->name;
        e->name = NULL;
        t->name = f->names[i];
        t->dtype = e->dtype;
        t->ndim = e->ndim;
        memcpy(t->dims, e->dims, sizeof t->dims);
        t->data = data + e->begin;
        t->bytes = (size_t)(e->end - e->begin);
        f->byname[i] = i;
    }
    /* byname: indices sorted by name (names are unique). */
    for (size_t i = 0; i < nents; i++)
        ni[i] = (name_idx){f->names[i], i};
    if (nents)
        qsort(ni, nents, sizeof *ni, cmp_name_idx);
    for (size_t i = 0; i < nents; i++)
        f->byname[i] = ni[i].idx;
    f->meta = meta;
    f->nmeta = nmeta;
    meta = NULL;
    nmeta = 0;
    *out = f;
    f = NULL;
    st = CL16_OK;
    goto cleanup;
oom:
    cl16__st_err(err, err_len, label, "out of host memory");
cleanup:
    if (p.oom)
        st = CL16_ERR_OUT_OF_MEMORY;
    for (size_t i = 0; i < nents; i++)
        free(ents[i].name);
    free(ents);
    for (size_t i = 0; i < nmeta; i++)
        free(meta[i].key), free(meta[i].val);
    free(meta);
    free(ni);
    free(buf);
    cl16_safetensors_free(f);
    return st;
}

cl16_status cl16_safetensors_parse(const void *buf, size_t len, cl16_safetensors **out, char *err,
                                   size_t err_len) {
    if (err && err_len)
        err[0] = '\0';
    if (!out || (!buf && len)) {
        cl16__st_err(err, err_len, "cl16_safetensors_parse",
                     "out must not be NULL, buf only if len 0");
        return CL16_ERR_INVALID_ARG;
    }
    *out = NULL;
    unsigned char *copy = malloc(len ? len : 1);
    if (!copy) {
        cl16__st_err(err, err_len, "buffer", "out of host memory (%zu bytes)", len);
        return CL16_ERR_OUT_OF_MEMORY;
    }
    if (len)
        memcpy(copy, buf, len);
    return parse_owned(copy, len, "buffer", out, err, err_len);
}

cl16_status cl16_safetensors_load(const char *path, cl16_safetensors **out, char *err,
                                  size_t err_len) {
    if (err && err_len)
        err[0] = '\0';
    if (!path || !out) {
        cl16__st_err(err, err_len, "cl16_safetensors_load", "path and out must not be NULL");
        return CL16_ERR_INVALID_ARG;
    }
    *out = NULL;
    int fd = open(path, O_RDONLY);
    if (fd < 0) {
        cl16__st_err(err, err_len, path, "cannot open: %s", strerror(errno));
        return CL16_ERR_IO;
    }
    struct stat sb;
    if (fstat(fd, &sb) != 0) {
        cl16__st_err(err, err_len, path, "cannot stat: %s", strerror(errno));
        close(fd);
        return CL16_ERR_IO;
    }
    if (S_ISDIR(sb.st_mode)) {
        cl16__st_err(err, err_len, path, "cannot read: %s", strerror(EISDIR));
        close(fd);
        return CL16_ERR_IO;
    }
    if (sb.st_size < 0 || (uint64_t)sb.st_size > SIZE_MAX - 1) {
        cl16__st_err(err, err_len, path, "file too large for this machine");
        close(fd);
        return CL16_ERR_IO;
    }
    size_t len = (size_t)sb.st_size;
    unsigned char *buf = malloc(len ? len : 1);
    if (!buf) {
        cl16__st_err(err, err_len, path, "out of host memory (%zu bytes)", len);
        close(fd);
        return CL16_ERR_OUT_OF_MEMORY;
    }
    size_t got = 0;
    while (got < len) {
        ssize_t r = read(fd, buf + got, len - got);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0) {
            cl16__st_err(err, err_len, path, "cannot read: %s", strerror(errno));
            free(buf);
            close(fd);
            return CL16_ERR_IO;
        }
        if (r == 0)
            break; /* shrank while reading: parse what is there */
        got += (size_t)r;
    }
    close(fd);
    return parse_owned(buf, got, path, out, err, err_len);
}

size_t cl16_safetensors_count(const cl16_safetensors *f) {
    return f ? f->n : 0;
}

const cl16_st_tensor *cl16_safetensors_at(const cl16_safetensors *f, size_t i) {
    return f && i < f->n ? &f->t[i] : NULL;
}

const cl16_st_tensor *cl16_safetensors_find(const cl16_safetensors *f, const char *name) {
    if (!f || !name)
        return NULL;
    size_t lo = 0, hi = f->n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = strcmp(name, f->names[f->byname[mid]]);
        if (!c)
            return &f->t[f->byname[mid]];
        if (c < 0)
            hi = mid;
        else
            lo = mid + 1;
    }
    return NULL;
}

const char *cl16_safetensors_meta(const cl16_safetensors *f, const char *key) {
    if (!f || !key || !f->nmeta)
        return NULL;
    struct mkv probe = {(char *)key, NULL};
    const struct mkv *hit = bsearch(&probe, f->meta, f->nmeta, sizeof probe, cmp_kv);
    return hit ? hit->val : NULL;
}
