/* kernels_registry.h - the embedded kernel sources, generated at build time by
 * cmake/cl16_embed.cmake from the files in kernels/ (one entry per file). */
#ifndef CL16_KERNELS_REGISTRY_H
#define CL16_KERNELS_REGISTRY_H
#include <stddef.h>

typedef struct cl16_kernel_source {
    const char *file;    /* "gemm.cl" */
    const char *kernels; /* space-separated kernel names defined in the file */
    const char *source;  /* NUL-terminated text, common.cl already inlined */
    size_t length;       /* bytes, without the terminating NUL */
} cl16_kernel_source;

extern const cl16_kernel_source cl16_kernel_sources[];
extern const size_t cl16_kernel_source_count;

#endif
