/* json_read.c - see json_read.h. Recursive descent over a buffer. */
#include "cli/json_read.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct parser {
    const char *s;
    size_t len, pos;
    int depth;
    char *err;
    size_t err_len;
} parser;

static int fail(parser *p, const char *what) {
    if (p->err && p->err_len)
        snprintf(p->err, p->err_len, "JSON: %s at byte %zu", what, p->pos);
    return -1;
}

static void ws(parser *p) {
    while (p->pos < p->len && (p->s[p->pos] == ' ' || p->s[p->pos] == '\t' ||
                               p->s[p->pos] == '\n' || p->s[p->pos] == '\r'))
        p->pos++;
}

static int lit(parser *p, const char *word) {
    const size_t n = strlen(word);
    if (p->len - p->pos < n || memcmp(p->s + p->pos, word, n))
        return 0;
    p->pos += n;
    return 1;
}

/* Appends code point c as UTF-8. */
static void put_utf8(char *out, size_t *o, uint32_t c) {
    if (c < 0x80) {
        out[(*o)++] = (char)c;
    } else if (c < 0x800) {
        out[(*o)++] = (char)(0xC0 | (c >> 6));
        out[(*o)++] = (char)(0x80 | (c & 0x3F));
    } else if (c < 0x10000) {
        out[(*o)++] = (char)(0xE0 | (c >> 12));
        out[(*o)++] = (char)(0x80 | ((c >> 6) & 0x3F));
        out[(*o)++] = (char)(0x80 | (c & 0x3F));
    } else {
        out[(*o)++] = (char)(0xF0 | (c >> 18));
        out[(*o)++] = (char)(0x80 | ((c >> 12) & 0x3F));
        out[(*o)++] = (char)(0x80 | ((c >> 6) & 0x3F));
        out[(*o)++] = (char)(0x80 | (c & 0x3F));
    }
}

static int hex4(parser *p, uint32_t *out) {
    if (p->len - p->pos < 4)
        return fail(p, "truncated \\u escape");
    uint32_t v = 0;
    for (int i = 0; i < 4; i++) {
        const char c = p->s[p->pos++];
        v <<= 4;
        if (c >= '0' && c <= '9')
            v |= (uint32_t)(c - '0');
        else if (c >= 'a' && c <= 'f')
            v |= (uint32_t)(c - 'a' + 10);
        else if (c >= 'A' && c <= 'F')
            v |= (uint32_t)(c - 'A' + 10);
        else
            return fail(p, "bad hex digit in \\u escape");
    }
    *out = v;
    return 0;
}

static int string(parser *p, char **out) {
    p->pos++; /* the opening quote */
    /* The decoded text is never longer than the source. */
    size_t end = p->pos;
    while (end < p->len && p->s[end] != '"')
        end += p->s[end] == '\\' ? 2 : 1;
    if (end >= p->len)
        return fail(p, "unterminated string");
    char *buf = malloc(end - p->pos + 1);
    if (!buf)
        return fail(p, "out of memory");
    size_t o = 0;
    while (p->s[p->pos] != '"') {
        unsigned char c = (unsigned char)p->s[p->pos++];
        if (c < 0x20) {
            free(buf);
            return fail(p, "control character in a string");
        }
        if (c != '\\') {
            buf[o++] = (char)c;
            continue;
        }
        c = (unsigned char)p->s[p->pos++];
        const char *esc = "\"\\/bfnrt", *val = "\"\\/\b\f\n\r\t";
        const char *hit = c ? strchr(esc, c) : NULL;
        if (hit) {
            buf[o++] = val[hit - esc];
        } else if (c == 'u') {
            uint32_t cp, lo;
            if (hex4(p, &cp)) {
                free(buf);
                return -1;
            }
            if (cp >= 0xD800 && cp < 0xDC00) { /* a surrogate pair */
                if (!lit(p, "\\u") || hex4(p, &lo) || lo < 0xDC00 || lo > 0xDFFF) {
                    free(buf);
                    return fail(p, "unpaired surrogate in \\u escape");
                }
                cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
            } else if (cp >= 0xDC00 && cp <= 0xDFFF) {
                free(buf);
                return fail(p, "unpaired surrogate in \\u escape");
            }
            put_utf8(buf, &o, cp); /* at most 4 bytes for 6 or 12 of source */
        } else {
            free(buf);
            return fail(p, "bad escape in a string");
        }
    }
    p->pos++; /* the closing quote */
    buf[o] = '\0';
    *out = buf;
    return 0;
}

static int value(parser *p, jv *v);

static int number(parser *p, jv *v) {
    const size_t start = p->pos;
    if (p->s[p->pos] == '-')
        p->pos++;
    if (p->pos >= p->len || p->s[p->pos] < '0' || p->s[p->pos] > '9')
        return fail(p, "bad number");
    if (p->s[p->pos] == '0')
        p->pos++;
    else
        while (p->pos < p->len && p->s[p->pos] >= '0' && p->s[p->pos] <= '9')
            p->pos++;
    if (p->pos < p->len && p->s[p->pos] == '.') {
        p->pos++;
        if (p->pos >= p->len || p->s[p->pos] < '0' || p->s[p->pos] > '9')
            return fail(p, "bad fraction");
        while (p->pos < p->len && p->s[p->pos] >= '0' && p->s[p->pos] <= '9')
            p->pos++;
    }
    if (p->pos < p->len && (p->s[p->pos] == 'e' || p->s[p->pos] == 'E')) {
        p->pos++;
        if (p->pos < p->len && (p->s[p->pos] == '+' || p->s[p->pos] == '-'))
            p->pos++;
        if (p->pos >= p->len || p->s[p->pos] < '0' || p->s[p->pos] > '9')
            return fail(p, "bad exponent");
        while (p->pos < p->len && p->s[p->pos] >= '0' && p->s[p->pos] <= '9')
            p->pos++;
    }
    char tmp[64];
    const size_t n = p->pos - start;
    if (n >= sizeof tmp)
        return fail(p, "number too long");
    memcpy(tmp, p->s + start, n);
    tmp[n] = '\0';
    v->type = JV_NUM;
    v->num = strtod(tmp, NULL);
    return 0;
}

/* Elements of an array or object, until `close`. */
static int members(parser *p, jv *v, char close, int object) {
    size_t cap = 0;
    p->pos++;
    ws(p);
    if (p->pos < p->len && p->s[p->pos] == close) {
        p->pos++;
        return 0;
    }
    for (;;) {
        if (v->n == cap) {
            cap = cap ? 2 * cap : 8;
            jv *items = realloc(v->items, cap * sizeof *items);
            if (!items)
                return fail(p, "out of memory");
            v->items = items;
            if (object) {
                char **keys = realloc(v->keys, cap * sizeof *keys);
                if (!keys)
                    return fail(p, "out of memory");
                v->keys = keys;
            }
        }
        ws(p);
        if (object) {
            if (p->pos >= p->len || p->s[p->pos] != '"')
                return fail(p, "expected a key");
            if (string(p, &v->keys[v->n]))
                return -1;
            ws(p);
            if (p->pos >= p->len || p->s[p->pos] != ':') {
                free(v->keys[v->n]);
                return fail(p, "expected ':'");
            }
            p->pos++;
        }
        memset(&v->items[v->n], 0, sizeof v->items[0]);
        if (value(p, &v->items[v->n])) {
            if (object)
                free(v->keys[v->n]);
            jv_free(&v->items[v->n]);
            return -1;
        }
        v->n++;
        ws(p);
        if (p->pos < p->len && p->s[p->pos] == ',') {
            p->pos++;
            continue;
        }
        if (p->pos < p->len && p->s[p->pos] == close) {
            p->pos++;
            return 0;
        }
        return fail(p, object ? "expected ',' or '}'" : "expected ',' or ']'");
    }
}

static int value(parser *p, jv *v) {
    ws(p);
    if (p->pos >= p->len)
        return fail(p, "unexpected end");
    const char c = p->s[p->pos];
    if (c == '{' || c == '[') {
        if (++p->depth > 64)
            return fail(p, "nesting deeper than 64");
        v->type = c == '{' ? JV_OBJ : JV_ARR;
        const int r = members(p, v, c == '{' ? '}' : ']', c == '{');
        p->depth--;
        return r;
    }
    if (c == '"') {
        v->type = JV_STR;
        return string(p, &v->str);
    }
    if (lit(p, "true")) {
        v->type = JV_BOOL, v->num = 1;
        return 0;
    }
    if (lit(p, "false")) {
        v->type = JV_BOOL, v->num = 0;
        return 0;
    }
    if (lit(p, "null")) {
        v->type = JV_NULL;
        return 0;
    }
    return number(p, v);
}

int jv_parse(const char *text, size_t len, jv *out, char *err, size_t err_len) {
    parser p = {text, len, 0, 0, err, err_len};
    memset(out, 0, sizeof *out);
    if (value(&p, out)) {
        jv_free(out);
        return -1;
    }
    ws(&p);
    if (p.pos != len) {
        jv_free(out);
        return fail(&p, "trailing characters");
    }
    return 0;
}

void jv_free(jv *v) {
    if (!v)
        return;
    for (size_t i = 0; i < v->n; i++) {
        jv_free(&v->items[i]);
        if (v->type == JV_OBJ)
            free(v->keys[i]);
    }
    free(v->items), free(v->keys), free(v->str);
    memset(v, 0, sizeof *v);
}

const jv *jv_get(const jv *obj, const char *key) {
    for (size_t i = 0; obj && obj->type == JV_OBJ && i < obj->n; i++)
        if (!strcmp(obj->keys[i], key))
            return &obj->items[i];
    return NULL;
}

const char *jv_str(const jv *obj, const char *key, const char *fallback) {
    const jv *v = jv_get(obj, key);
    return v && v->type == JV_STR ? v->str : fallback;
}

double jv_num(const jv *obj, const char *key, double fallback) {
    const jv *v = jv_get(obj, key);
    return v && v->type == JV_NUM ? v->num : fallback;
}
