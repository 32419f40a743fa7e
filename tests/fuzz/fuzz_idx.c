/* fuzz_idx.c - libFuzzer harness for the IDX (MNIST format) reader, raw and
 * gzip: the input is split into an image file and a label file. */
#include <stdint.h>
#include <string.h>

#include "cl16.h"
#include "io/dataset_internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Input framing (tests/fuzz/make_seeds.c writes it): 4 bytes little-endian
 * length L of the image file, then L image bytes, then the label file (the
 * rest). L beyond the input takes everything for the images. */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 4)
        return 0;
    size_t l = (size_t)data[0] | (size_t)data[1] << 8 | (size_t)data[2] << 16 |
               (size_t)data[3] << 24;
    data += 4, size -= 4;
    if (l > size)
        l = size;
    char err[512];
    cl16_dataset *d = NULL;
    cl16_status st =
        cl16__dataset_idx_from_memory(data, l, data + l, size - l, &d, err, sizeof err);
    if (st != CL16_OK) {
        if (d)
            __builtin_trap();
        return 0;
    }
    int64_t count;
    int c, h, w, classes;
    cl16_dataset_shape(d, &count, &c, &h, &w, &classes);
    if (count < 1 || c != 1 || h < 1 || w < 1 || classes < 10 || classes > 256)
        __builtin_trap();
    /* One batch of the first and last image through augmentation: reads the
     * pixels the header promised. */
    int64_t idx[2] = {0, count - 1};
    static float img[2 * 4096 * 4096 / 64]; /* enough for the small inputs fuzzing makes */
    if ((size_t)h * (size_t)w * 2 <= sizeof img / sizeof img[0]) {
        int32_t lab[2];
        if (cl16_dataset_batch(d, idx, 2, NULL, NULL, 2, 1, 7, img, lab) != CL16_OK)
            __builtin_trap();
    }
    cl16_dataset_free(d);
    return 0;
}
