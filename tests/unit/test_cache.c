/* test_cache.c - the disk program cache: a miss then a hit (proven by the
 * context's counters), truncated, bit-flipped and driver-rejected entries are
 * detected and rebuilt, CL16_CACHE=0 writes nothing, an unusable directory
 * warns once and runs without cache, and two processes racing to fill an empty
 * cache both succeed. */
#include <dirent.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include "check.h"
#include "runtime/internal.h"

static char root[256];
extern char **environ;

static int rm_entry(const char *p, const struct stat *sb, int flag, struct FTW *ftw) {
    (void)sb, (void)flag, (void)ftw;
    return remove(p);
}

static int is_binary(const char *path) {
    char head[88 + 12] = "";
    FILE *f = fopen(path, "rb");
    if (!f) return 0;
    size_t r = fread(head, 1, sizeof head, f);
    fclose(f);
    return r == sizeof head && memcmp(head + 88, "kernel file ", 12) != 0;
}

/* Lists cache entries (*.clbin) of dir; returns count, first names in out. */
static int entries(const char *dir, char out[][600], int max) {
    DIR *d = opendir(dir);
    if (!d) return 0;
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        size_t l = strlen(e->d_name);
        if (l > 6 && !strcmp(e->d_name + l - 6, ".clbin")) {
            char path[600];
            snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
            /* Only program binaries, not the remembered "native probe does not build" entry. */
            if (n < max && is_binary(path)) snprintf(out[n++], 600, "%s", path);
        } else if (e->d_name[0] != '.') {
            fprintf(stderr, "unexpected file in cache: %s\n", e->d_name);
            n += 1000; /* temporaries left behind are a failure */
        }
    }
    closedir(d);
    return n;
}

static cl16_ctx *open_cached(const char *dir, cl16_ctx_stats *st) {
    cl16_ctx *ctx = test_ctx(dir);
    cl16_status s = cl16_ctx_prebuild(ctx);
    CHECK_OK(ctx, s);
    cl16_ctx_stats_get(ctx, st);
    return ctx;
}

static int warnings;
static void count_warning(void *user, const char *msg) {
    (void)user;
    warnings++;
    printf("warning seen: %s\n", msg);
}

/* Rewrites the payload of an entry with garbage, keeping a valid checksum. */
static void replace_payload(const char *path) {
    FILE *f = fopen(path, "r+b");
    if (!f) { CHECK(0); return; }
    unsigned char hdr[88];
    CHECK(fread(hdr, 1, 88, f) == 88);
    uint64_t n = 0;
    for (int i = 7; i >= 0; i--) n = n << 8 | hdr[16 + i];
    unsigned char *junk = malloc(n);
    for (uint64_t i = 0; i < n; i++) junk[i] = (unsigned char)(i * 131 + 7);
    cl16_sha256 s;
    cl16_sha256_init(&s);
    cl16_sha256_update(&s, junk, n);
    cl16_sha256_final(&s, hdr + 56);
    fseek(f, 0, SEEK_SET);
    fwrite(hdr, 1, 88, f);
    fwrite(junk, 1, n, f);
    fclose(f);
    free(junk);
}

int main(int argc, char **argv) {
    if (argc == 3 && !strcmp(argv[1], "--racer")) { /* one side of the race in step 6 */
        cl16_ctx_stats cst;
        cl16_ctx *c = open_cached(argv[2], &cst);
        cl16_ctx_free(c);
        return check_failures ? 1 : 0;
    }
    snprintf(root, sizeof root, "/tmp/cl16-test-cache-XXXXXX");
    if (!mkdtemp(root)) SKIP("cannot create a temporary directory");
    char dir[300], names[64][600];
    snprintf(dir, sizeof dir, "%s/c1", root);
    cl16_ctx_stats st;

    /* 1. miss: everything built from source and written. */
    cl16_ctx *ctx = open_cached(dir, &st);
    CHECK_MSG(st.programs_built >= 4 && st.cache_hits == 0 && st.cache_writes >= 4,
              "cold: built %u hits %u writes %u", st.programs_built, st.cache_hits, st.cache_writes);
    unsigned cold_built = st.programs_built;
    cl16_ctx_free(ctx);
    int nent = entries(dir, names, 64);
    CHECK(nent >= 4 && nent < 1000);

    /* 2. hit: a new context builds nothing from source. */
    ctx = open_cached(dir, &st);
    CHECK_MSG(st.programs_built == 0 && st.cache_hits == cold_built && st.cache_rejected == 0,
              "warm: built %u hits %u", st.programs_built, st.cache_hits);
    cl16_ctx_free(ctx);

    /* 3. a truncated, a bit-flipped and a driver-rejected entry. */
    CHECK(truncate(names[0], 100) == 0);
    int fd = open(names[1], O_RDWR);
    unsigned char byte;
    CHECK(pread(fd, &byte, 1, 200) == 1);
    byte ^= 0x10;
    CHECK(pwrite(fd, &byte, 1, 200) == 1);
    close(fd);
    replace_payload(names[2]);
    ctx = open_cached(dir, &st);
    CHECK_MSG(st.cache_rejected == 3 && st.programs_built == 3 && st.cache_writes == 3,
              "damaged: rejected %u built %u writes %u", st.cache_rejected, st.programs_built,
              st.cache_writes);
    /* The rebuilt programs work. */
    int64_t dims = 3;
    cl16_tensor *a, *b;
    float x[3] = {1.5f, -2.0f, 0.1f}, y[3];
    CHECK_OK(ctx, cl16_tensor_create(ctx, CL16_F32, 1, &dims, &a));
    CHECK_OK(ctx, cl16_tensor_create(ctx, CL16_F16, 1, &dims, &b));
    CHECK_OK(ctx, cl16_tensor_write_f32(a, x, 3));
    CHECK_OK(ctx, cl16_tensor_copy(b, a));
    CHECK_OK(ctx, cl16_tensor_read_f32(b, y, 3));
    CHECK(y[0] == 1.5f && y[1] == -2.0f && y[2] == cl16_half_to_float(cl16_float_to_half(0.1f)));
    cl16_tensor_free(a), cl16_tensor_free(b);
    cl16_ctx_free(ctx);
    ctx = open_cached(dir, &st); /* and were rewritten */
    CHECK(st.cache_rejected == 0 && st.programs_built == 0);
    cl16_ctx_free(ctx);

    /* 4. CL16_CACHE=0 writes nothing. */
    snprintf(dir, sizeof dir, "%s/off", root);
    setenv("CL16_CACHE_DIR", dir, 1);
    setenv("CL16_CACHE", "0", 1);
    cl16_ctx_opts o;
    cl16_ctx_opts_init(&o);
    o.prebuild = 1;
    CHECK_OK(ctx, cl16_ctx_create(&ctx, &o));
    CHECK(cl16_ctx_cache_dir(ctx) == NULL);
    cl16_ctx_free(ctx);
    struct stat sb;
    CHECK_MSG(stat(dir, &sb) != 0, "CL16_CACHE=0 created %s", dir);
    unsetenv("CL16_CACHE");
    unsetenv("CL16_CACHE_DIR");

    /* 5. an unusable directory (a file stands where it should be): one warning, work goes on. */
    snprintf(dir, sizeof dir, "%s/blocked", root);
    FILE *f = fopen(dir, "w");
    fclose(f);
    char sub[320];
    snprintf(sub, sizeof sub, "%s/cache", dir);
    cl16_ctx_opts_init(&o);
    o.cache_dir = sub;
    o.log = count_warning;
    warnings = 0;
    CHECK_OK(ctx, cl16_ctx_create(&ctx, &o));
    CHECK_OK(ctx, cl16_ctx_prebuild(ctx));
    CHECK_MSG(warnings == 1, "%d warnings", warnings);
    CHECK(cl16_ctx_cache_dir(ctx) == NULL);
    cl16_ctx_free(ctx);

    /* 6. two processes race to fill an empty cache; both succeed, entries are whole. */
    snprintf(dir, sizeof dir, "%s/race", root);
    /* Fresh processes (not fork): an OpenCL runtime does not survive fork(). */
    char self[4096];
    ssize_t sl = readlink("/proc/self/exe", self, sizeof self - 1);
    CHECK(sl > 0);
    self[sl > 0 ? sl : 0] = '\0';
    for (int round = 0; round < 3; round++) {
        char rdir[340];
        snprintf(rdir, sizeof rdir, "%s/%d", dir, round);
        pid_t kids[2];
        char *rargv[] = {self, "--racer", rdir, NULL};
        for (int k = 0; k < 2; k++) CHECK(posix_spawn(&kids[k], self, NULL, NULL, rargv, environ) == 0);
        for (int k = 0; k < 2; k++) {
            int status = 0;
            waitpid(kids[k], &status, 0);
            CHECK_MSG(WIFEXITED(status) && WEXITSTATUS(status) == 0, "racer %d failed", k);
        }
        ctx = open_cached(rdir, &st);
        CHECK_MSG(st.programs_built == 0 && st.cache_rejected == 0, "after race %d: built %u rejected %u",
                  round, st.programs_built, st.cache_rejected);
        cl16_ctx_free(ctx);
        nent = entries(rdir, names, 64);
        CHECK_MSG(nent >= 4 && nent < 1000, "%d entries after the race", nent);
    }

    nftw(root, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
    return check_done("test_cache");
}
