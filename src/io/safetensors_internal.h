/* safetensors_internal.h - helpers shared by the safetensors reader
 * (safetensors.c, which defines them) and writer (safetensors_save.c). */
#ifndef CL16_IO_SAFETENSORS_INTERNAL_H
#define CL16_IO_SAFETENSORS_INTERNAL_H
#include <stddef.h>
#include <stdint.h>

#include "cl16.h"

#if defined(__GNUC__)
#define CL16__ST_PRINTF __attribute__((format(printf, 4, 5)))
#else
#define CL16__ST_PRINTF
#endif
/* "label: message" into err (may be NULL). */
void cl16__st_err(char *err, size_t err_len, const char *label, const char *fmt,
                  ...) CL16__ST_PRINTF;
/* Element size in bytes, 0 for an unknown dtype; name "?" for one. */
size_t cl16__st_dtype_size(cl16_st_dtype d);
const char *cl16__st_dtype_name(cl16_st_dtype d);
/* Bytes of a shape (dims >= 0) of `elem`-byte elements; 0 on overflow. */
int cl16__st_shape_bytes(const int64_t *dims, int ndim, uint64_t elem, uint64_t *out);
/* 1 when s[0..n) is valid UTF-8; else 0 and *bad is the offending offset. */
int cl16__st_utf8_valid(const unsigned char *s, size_t n, size_t *bad);
/* Grows *arr to hold `need` elements of `elem` bytes (doubling); 0 on OOM. */
int cl16__st_grow(void **arr, size_t *cap, size_t need, size_t elem);
/* qsort comparator for an array of C strings. */
int cl16__st_cmp_str(const void *a, const void *b);

/* Metadata key of the SHA-256 (lowercase hex) of the data section that
 * cl16_safetensors_save writes and the reader verifies when present. */
#define CL16_ST_CHECKSUM_KEY "cl16.data_sha256"
/* The SHA-256 of n bytes as 64 lowercase hex digits and a NUL. */
void cl16__st_sha256_hex(const void *data, size_t n, char hex[65]);

#endif
