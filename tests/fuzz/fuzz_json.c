/* fuzz_json.c - libFuzzer harness for the JSON reader of `cl16 bench compare`
 * (src/cli/json_read.c, compiled in here): any input is accepted or refused
 * with a message, never read past its end; an accepted document's strings
 * are NUL-terminated and every container's counts are consistent. */
#include <stdint.h>
#include <string.h>

#include "cli/json_read.c"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Walks a value: every string terminated, every object key present. */
static size_t walk(const jv *v, int depth) {
    size_t n = 1;
    if (depth > 70)
        __builtin_trap(); /* the reader caps nesting at 64 */
    if (v->type == JV_STR)
        n += strlen(v->str);
    for (size_t i = 0; (v->type == JV_ARR || v->type == JV_OBJ) && i < v->n; i++) {
        if (v->type == JV_OBJ && !v->keys[i])
            __builtin_trap();
        n += walk(&v->items[i], depth + 1);
    }
    return n;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    jv v;
    char err[256] = "";
    if (jv_parse((const char *)data, size, &v, err, sizeof err) == 0) {
        if (walk(&v, 0) == 0)
            __builtin_trap();
        (void)jv_str(&v, "benchmark", NULL);
        (void)jv_num(&v, "batch", 0);
        jv_free(&v);
    } else if (!err[0]) {
        __builtin_trap(); /* a refusal always says why */
    }
    return 0;
}
