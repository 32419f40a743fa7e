/* fault.c - fault injection for the reliability tests, compiled in only with
 * the CMake option CL16_FAULT_INJECTION (never in a release build).
 *
 * CL16_FAULT=SITE:N makes the N-th event at SITE fail (counting from 1, per
 * process): "alloc" (device buffer allocations), "write" (the steps of an
 * atomic file save: open, each write, flush, fsync, close, rename) or "launch"
 * (kernel launches of the element-wise, layer and GEMM calls). Each failing
 * site reports the failure exactly as the real one would, with "(injected
 * fault)" in the message, so a sweep over N can check that every failure
 * ends cleanly. The counter is the one piece of process-wide mutable state in
 * cl16, and exists only in this test build. */
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "runtime/internal.h"

#ifdef CL16_FAULT_INJECTION
static atomic_long counts[3];

int cl16__fault(const char *site) {
    static const char *const sites[3] = {"alloc", "write", "launch"};
    const char *spec = getenv("CL16_FAULT"); /* test builds only; see config.c */
    if (!spec)
        return 0;
    for (int i = 0; i < 3; i++) {
        const size_t n = strlen(sites[i]);
        if (strcmp(site, sites[i]))
            continue;
        const long k = atomic_fetch_add(&counts[i], 1) + 1;
        return !strncmp(spec, site, n) && spec[n] == ':' && atol(spec + n + 1) == k;
    }
    return 0;
}
#else
int cl16__fault(const char *site) {
    (void)site;
    return 0;
}
#endif
