/* json_read.h - a small JSON reader for the benchmark files `cl16 bench
 * compare` reads (RFC 8259: objects, arrays, strings with escapes, numbers,
 * true/false/null). Strict: trailing garbage, bad escapes, control characters
 * in strings and nesting deeper than 64 are errors. */
#ifndef CL16_JSON_READ_H
#define CL16_JSON_READ_H
#include <stddef.h>

typedef enum jv_type { JV_NULL, JV_BOOL, JV_NUM, JV_STR, JV_ARR, JV_OBJ } jv_type;

typedef struct jv {
    jv_type type;
    double num;        /* JV_NUM; JV_BOOL: 0 or 1 */
    char *str;         /* JV_STR (UTF-8, NUL-terminated) */
    size_t n;          /* JV_ARR, JV_OBJ: element count */
    struct jv *items;  /* JV_ARR: elements; JV_OBJ: values */
    char **keys;       /* JV_OBJ: keys, in file order */
} jv;

/* Parses text[0..len) into *out; 0 on success, else -1 with a message naming
 * the byte offset in err. */
int jv_parse(const char *text, size_t len, jv *out, char *err, size_t err_len);
void jv_free(jv *v);
/* Member `key` of an object (the first), or NULL. */
const jv *jv_get(const jv *obj, const char *key);
/* The string / number of member `key`, or fallback when absent or another type. */
const char *jv_str(const jv *obj, const char *key, const char *fallback);
double jv_num(const jv *obj, const char *key, double fallback);
#endif
