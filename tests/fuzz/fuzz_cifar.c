/* fuzz_cifar.c - libFuzzer harness for the CIFAR-10 binary batch reader:
 * record size, labels 0..9, then a batch through the augmentation path. */
#include <stdint.h>

#include "cl16.h"
#include "io/dataset_internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    char err[512];
    cl16_dataset *d = NULL;
    cl16_status st = cl16__dataset_cifar_from_memory(data, size, &d, err, sizeof err);
    if (st != CL16_OK) {
        if (d)
            __builtin_trap();
        return 0;
    }
    int64_t count;
    int c, h, w, classes;
    cl16_dataset_shape(d, &count, &c, &h, &w, &classes);
    if (count < 1 || (uint64_t)count * 3073 != size || c != 3 || h != 32 || w != 32 || classes != 10)
        __builtin_trap();
    int64_t idx[2] = {0, count - 1};
    static float img[2 * 3 * 32 * 32];
    int32_t lab[2];
    if (cl16_dataset_batch(d, idx, 2, NULL, NULL, 4, 1, 11, img, lab) != CL16_OK)
        __builtin_trap();
    if (lab[0] < 0 || lab[0] > 9 || lab[1] < 0 || lab[1] > 9)
        __builtin_trap();
    cl16_dataset_free(d);
    return 0;
}
