/* fuzz_safetensors.c - libFuzzer harness for the safetensors reader: any bytes
 * through cl16_safetensors_parse, then every accessor on what it accepts. */
#include <stdint.h>
#include <string.h>

#include "cl16.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    char err[512];
    cl16_safetensors *f = NULL;
    cl16_status st = cl16_safetensors_parse(data, size, &f, err, sizeof err);
    if (st != CL16_OK) {
        if (f)
            __builtin_trap(); /* *out must be NULL on failure */
        return 0;
    }
    /* Touch everything an accepted file promises: names, shapes, each data
     * byte (ASan checks it lies inside the copy), and the lookups. */
    volatile unsigned sum = 0;
    size_t n = cl16_safetensors_count(f);
    for (size_t i = 0; i < n; i++) {
        const cl16_st_tensor *t = cl16_safetensors_at(f, i);
        if (!t || !t->name)
            __builtin_trap();
        sum += (unsigned)strlen(t->name) + (unsigned)t->ndim;
        const unsigned char *p = t->data;
        for (size_t k = 0; k < t->bytes; k++)
            sum += p[k];
        if (cl16_safetensors_find(f, t->name) != t)
            __builtin_trap(); /* names are unique: find gives back the same entry */
    }
    cl16_safetensors_find(f, "");
    cl16_safetensors_at(f, n);
    const char *v = cl16_safetensors_meta(f, "arch");
    if (v)
        sum += (unsigned)strlen(v);
    (void)sum;
    cl16_safetensors_free(f);
    return 0;
}
