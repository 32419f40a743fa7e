/* bench_rand.h - the bench programs' random tensor contents: uniform values
 * in [-a, a) from a fixed seed (a 64-bit LCG), the same for every dtype, so
 * that data-dependent paths (pooling's comparisons, ReLU masks) see what
 * training gives them, not a constant. */
#ifndef CL16_BENCH_RAND_H
#define CL16_BENCH_RAND_H
#include "cl16.h"
#include <stdint.h>
#include <stdlib.h>

/* Writes cnt such values into t; CL16_ERR_OUT_OF_MEMORY when the host buffer
 * cannot be had. */
static inline cl16_status bench_fill_uniform(cl16_tensor *t, size_t cnt, float a, uint64_t seed) {
    float *v = malloc(cnt * sizeof *v);
    if (!v)
        return CL16_ERR_OUT_OF_MEMORY;
    for (size_t i = 0; i < cnt; i++) {
        seed = seed * 6364136223846793005ULL + 1442695040888963407ULL;
        v[i] = a * ((float)(seed >> 40) / 8388608.0f - 1.0f);
    }
    const cl16_status s = cl16_tensor_write_f32(t, v, cnt);
    free(v);
    return s;
}
#endif
