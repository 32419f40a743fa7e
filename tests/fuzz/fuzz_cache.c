/* fuzz_cache.c - libFuzzer harness for the program-cache entry validation
 * (cl16__cache_load's checks, run over a buffer): only a well-formed entry
 * with the expected key and a matching checksum may be accepted. */
#include <stdint.h>
#include <string.h>

#include "runtime/internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* The key make_seeds.c writes its entries under. Inputs carry no key of
 * their own: a loader looks up one fixed name, as cl16__cache_load does. */
static const uint8_t fuzz_key[32] = "cl16-fuzz-cache-key-0123456789a";

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    const unsigned char *payload = NULL;
    size_t n = 0;
    int rc = cl16__cache_parse(data, size, fuzz_key, &payload, &n);
    if (rc == 0) {
        /* Accepted: the payload is exactly the rest of the buffer and the
         * header re-made from it is the one read. */
        if (size != CL16_CACHE_HEADER_SIZE + n || payload != data + CL16_CACHE_HEADER_SIZE || !n)
            __builtin_trap();
        unsigned char hdr[CL16_CACHE_HEADER_SIZE];
        cl16__cache_header(hdr, fuzz_key, payload, n);
        if (memcmp(hdr, data, sizeof hdr))
            __builtin_trap();
    } else if (rc != -2 || payload) {
        __builtin_trap();
    }
    return 0;
}
