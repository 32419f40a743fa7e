/* dataset_internal.h - the data set parsers over buffers in memory, for the
 * fuzz harnesses (tests/fuzz/); the public path loaders share their checks. */
#ifndef CL16_IO_DATASET_INTERNAL_H
#define CL16_IO_DATASET_INTERNAL_H
#include <stddef.h>

#include "cl16.h"

/* cl16_dataset_load_idx over two buffers (each raw or gzip, told from the
 * content as gzread tells it: concatenated gzip members are one stream, bytes
 * after the last member that are not a gzip header are ignored). Messages name
 * the buffers "<images>" and "<labels>". The buffers are not kept. */
cl16_status cl16__dataset_idx_from_memory(const void *images, size_t images_len,
                                          const void *labels, size_t labels_len,
                                          cl16_dataset **out, char *err, size_t err_len);
/* One CIFAR-10 batch (records of label 0..9 + 3072 pixel bytes) as a data set,
 * with cl16_dataset_load_cifar10's checks and normalisation; named "<cifar>". */
cl16_status cl16__dataset_cifar_from_memory(const void *buf, size_t len, cl16_dataset **out,
                                            char *err, size_t err_len);
#endif
