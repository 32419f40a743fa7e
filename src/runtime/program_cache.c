/* program_cache.c - the disk half of the program cache: content-addressed
 * entries (SHA-256 of source, options, device, driver, platform and format
 * version) holding a verified binary. Any defect means "absent": the caller
 * rebuilds from source and rewrites the entry. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "runtime/internal.h"

#define MAGIC "CL16PRG\n"
#define HEADER_SIZE CL16_CACHE_HEADER_SIZE /* magic 8, version 4, kind 4, length 8, key 32, checksum 32 */
#define MAX_PAYLOAD ((size_t)1 << 30)

static void put_u32(unsigned char *p, uint32_t v) {
    for (int i = 0; i < 4; i++) p[i] = (unsigned char)(v >> (8 * i));
}
static void put_u64(unsigned char *p, uint64_t v) {
    for (int i = 0; i < 8; i++) p[i] = (unsigned char)(v >> (8 * i));
}
static uint32_t get_u32(const unsigned char *p) {
    uint32_t v = 0;
    for (int i = 3; i >= 0; i--) v = v << 8 | p[i];
    return v;
}
static uint64_t get_u64(const unsigned char *p) {
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--) v = v << 8 | p[i];
    return v;
}

static void hash_field(cl16_sha256 *s, const char *tag, const void *data, size_t n) {
    unsigned char len[8];
    put_u64(len, n);
    cl16_sha256_update(s, tag, strlen(tag));
    cl16_sha256_update(s, len, sizeof len); /* length-prefixed: fields cannot run together */
    cl16_sha256_update(s, data, n);
}

void cl16__cache_key(const cl16_ctx *ctx, const char *source, size_t length, const char *options,
                     uint8_t key[32]) {
    cl16_sha256 s;
    uint32_t ver = CL16_CACHE_FORMAT_VERSION;
    cl16_sha256_init(&s);
    hash_field(&s, "format", &ver, sizeof ver);
    hash_field(&s, "source", source, length);
    hash_field(&s, "options", options, strlen(options));
    cl16__hash_device(ctx, &s);
    cl16_sha256_final(&s, key);
}

void cl16__hash_device(const cl16_ctx *ctx, cl16_sha256 *s) {
    hash_field(s, "device", ctx->dev.name, strlen(ctx->dev.name));
    hash_field(s, "vendor", ctx->dev.vendor, strlen(ctx->dev.vendor));
    hash_field(s, "driver", ctx->dev.driver, strlen(ctx->dev.driver));
    hash_field(s, "devver", ctx->dev.version, strlen(ctx->dev.version));
    hash_field(s, "platform", ctx->dev.platform, strlen(ctx->dev.platform));
    hash_field(s, "platver", ctx->dev.platform_version, strlen(ctx->dev.platform_version));
}

static void entry_path(const cl16_ctx *ctx, const uint8_t key[32], char *path, size_t n) {
    char hex[65];
    for (int i = 0; i < 32; i++) snprintf(hex + 2 * i, 3, "%02x", key[i]);
    snprintf(path, n, "%s/%s.clbin", ctx->cache_dir, hex);
}

/* The header checks, before any payload is read or allocated: magic, format
 * version, kind, a payload length that is nonzero, at most MAX_PAYLOAD and
 * exactly what follows the header in a file of file_size bytes, and the key.
 * 0 and *n = payload length, or -2. */
int cl16__cache_check_header(const unsigned char hdr[CL16_CACHE_HEADER_SIZE], uint64_t file_size,
                             const uint8_t key[32], size_t *n) {
    *n = 0;
    if (file_size < HEADER_SIZE) return -2;
    if (memcmp(hdr, MAGIC, 8) || get_u32(hdr + 8) != CL16_CACHE_FORMAT_VERSION ||
        get_u32(hdr + 12) != 1u)
        return -2;
    uint64_t len = get_u64(hdr + 16);
    if (len == 0 || len > MAX_PAYLOAD || file_size != HEADER_SIZE + len) return -2;
    if (memcmp(hdr + 24, key, 32)) return -2; /* a different entry under this name */
    *n = (size_t)len;
    return 0;
}

/* The payload's SHA-256 against the header's checksum: 0 or -2. */
int cl16__cache_check_payload(const unsigned char hdr[CL16_CACHE_HEADER_SIZE],
                              const unsigned char *payload, size_t n) {
    uint8_t sum[32];
    cl16_sha256 s;
    cl16_sha256_init(&s);
    cl16_sha256_update(&s, payload, n);
    cl16_sha256_final(&s, sum);
    return memcmp(sum, hdr + 56, 32) ? -2 : 0;
}

int cl16__cache_parse(const unsigned char *buf, size_t len, const uint8_t key[32],
                      const unsigned char **payload, size_t *n) {
    *payload = NULL;
    size_t pn = 0;
    if (len < HEADER_SIZE || cl16__cache_check_header(buf, len, key, &pn)) return -2;
    if (cl16__cache_check_payload(buf, buf + HEADER_SIZE, pn)) return -2;
    *payload = buf + HEADER_SIZE;
    *n = pn;
    return 0;
}

void cl16__cache_header(unsigned char hdr[CL16_CACHE_HEADER_SIZE], const uint8_t key[32],
                        const unsigned char *payload, size_t len) {
    memcpy(hdr, MAGIC, 8);
    put_u32(hdr + 8, CL16_CACHE_FORMAT_VERSION);
    put_u32(hdr + 12, 1u);
    put_u64(hdr + 16, len);
    memcpy(hdr + 24, key, 32);
    cl16_sha256 s;
    cl16_sha256_init(&s);
    cl16_sha256_update(&s, payload, len);
    cl16_sha256_final(&s, hdr + 56);
}

int cl16__cache_load(cl16_ctx *ctx, const uint8_t key[32], unsigned char **payload, size_t *len) {
    char path[CL16_PATH_MAX + 80];
    entry_path(ctx, key, path, sizeof path);
    *payload = NULL;
    *len = 0;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return -1;
    struct stat st;
    unsigned char hdr[HEADER_SIZE];
    int rc = -2;
    unsigned char *buf = NULL;
    size_t n = 0;
    if (fstat(fd, &st) || st.st_size < (off_t)HEADER_SIZE) goto done;
    if (read(fd, hdr, HEADER_SIZE) != (ssize_t)HEADER_SIZE) goto done;
    if (cl16__cache_check_header(hdr, (uint64_t)st.st_size, key, &n)) goto done;
    buf = malloc(n);
    if (!buf) goto done;
    size_t got = 0;
    while (got < n) {
        ssize_t r = read(fd, buf + got, n - got);
        if (r <= 0) goto done;
        got += (size_t)r;
    }
    if (cl16__cache_check_payload(hdr, buf, n)) goto done;
    *payload = buf;
    *len = n;
    buf = NULL;
    rc = 0;
done:
    free(buf);
    close(fd);
    return rc;
}

int cl16__mkdir_p(const char *dir) {
    char tmp[CL16_PATH_MAX];
    size_t l = strlen(dir);
    if (l == 0 || l >= sizeof tmp) return -1;
    memcpy(tmp, dir, l + 1);
    for (char *p = tmp + 1; *p; p++) {
        if (*p != '/') continue;
        *p = '\0';
        if (mkdir(tmp, 0755) && errno != EEXIST) return -1;
        *p = '/';
    }
    if (mkdir(tmp, 0755) && errno != EEXIST) return -1;
    return 0;
}

FILE *cl16__text_open(const char *path, char *tmp, size_t tmp_len) {
    const int w = snprintf(tmp, tmp_len, "%s.%ld.tmp", path, (long)getpid());
    if (w < 0 || (size_t)w >= tmp_len) {
        errno = ENAMETOOLONG;
        return NULL;
    }
    return fopen(tmp, "w");
}

int cl16__text_commit(FILE *f, const char *tmp, const char *path) {
    int bad = ferror(f);
    bad |= fflush(f) != 0;
    bad |= fsync(fileno(f)) != 0;
    bad |= fclose(f) != 0;
    if (!bad && !rename(tmp, path)) return 0;
    const int e = errno ? errno : EIO;
    unlink(tmp);
    return e;
}

static int write_all(int fd, const unsigned char *p, size_t n) {
    while (n) {
        ssize_t w = write(fd, p, n);
        if (w < 0) {
            if (errno == EINTR) continue;
            return -1;
        }
        p += w, n -= (size_t)w;
    }
    return 0;
}

void cl16__cache_store(cl16_ctx *ctx, const uint8_t key[32], const unsigned char *payload,
                       size_t len) {
    if (!ctx->cache_on || !len || len > MAX_PAYLOAD) return;
    char path[CL16_PATH_MAX + 80], tmp[CL16_PATH_MAX + 120];
    entry_path(ctx, key, path, sizeof path);
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    /* Unique per process and call: racing processes never share a temporary. */
    snprintf(tmp, sizeof tmp, "%s.%ld.%ld.tmp", path, (long)getpid(), (long)ts.tv_nsec);

    unsigned char hdr[HEADER_SIZE];
    cl16__cache_header(hdr, key, payload, len);

    const char *why = NULL;
    int err = 0;
    int fd = -1;
    if (cl16__mkdir_p(ctx->cache_dir)) why = "cannot create the directory", err = errno;
    else if ((fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644)) < 0)
        why = "cannot create a file", err = errno;
    else if (write_all(fd, hdr, sizeof hdr) || write_all(fd, payload, len))
        why = "cannot write", err = errno;
    else if (fsync(fd))
        why = "cannot sync", err = errno;
    if (fd >= 0 && close(fd) && !why) why = "cannot close", err = errno;
    if (!why && rename(tmp, path)) why = "cannot rename into place", err = errno;
    if (why) {
        if (fd >= 0) unlink(tmp);
        if (!ctx->cache_warned)
            cl16__warn(ctx, "program cache directory %s is not usable (%s: %s); "
                            "continuing without the disk cache",
                       ctx->cache_dir, why, strerror(err));
        ctx->cache_warned = 1;
        ctx->cache_on = 0;
        return;
    }
    ctx->stats.cache_writes++;
}
