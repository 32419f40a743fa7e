/* fuzz_clblast.c - libFuzzer harness for the reader of CLBlast tuned-parameter
 * files (cl16__clblast_tuned_parse, src/ops/clblast_tuned.c), which
 * `cl16 tune clblast-import` and `cl16 bench gemm` read from user-supplied
 * files and the cache directory. Any input is accepted or refused with a
 * message naming the origin; an accepted one has a device, kernel and 16 or
 * 32 as precision, at most CL16_CLBLAST_MAX_PARAMS parameters, each a
 * NUL-terminated upper-case name. */
#include <stdint.h>
#include <string.h>

#include "runtime/internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    cl16_clblast_tuned t;
    char err[512];
    cl16_status s = cl16__clblast_tuned_parse((const char *)data, size, "fuzz.txt", &t, err, sizeof err);
    if (s == CL16_OK) {
        if (t.precision != 16 && t.precision != 32)
            __builtin_trap();
        if (t.n > CL16_CLBLAST_MAX_PARAMS || !memchr(t.device, 0, sizeof t.device) ||
            !memchr(t.kernel, 0, sizeof t.kernel) || !memchr(t.note, 0, sizeof t.note))
            __builtin_trap();
        for (size_t i = 0; i < t.n; i++)
            if (!memchr(t.names[i], 0, sizeof t.names[i]) || t.names[i][0] < 'A' ||
                t.names[i][0] > 'Z')
                __builtin_trap();
    } else if (strncmp(err, "fuzz.txt", 8)) {
        __builtin_trap(); /* a refusal always names the file */
    }
    return 0;
}
