/* fuzz_replay.c - a main() for the fuzz harnesses where libFuzzer is absent
 * (GCC, the default build): runs LLVMFuzzerTestOneInput once per file named
 * on the command line, or per file in each directory named. The regression
 * ctests replay tests/fuzz/regress/ and the seed corpora through it. */
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int run_file(const char *path) {
    FILE *f = fopen(path, "rb");
    if (!f) {
        fprintf(stderr, "%s: cannot open\n", path);
        return 1;
    }
    size_t cap = 4096, len = 0;
    uint8_t *buf = malloc(cap);
    size_t r;
    while (buf && (r = fread(buf + len, 1, cap - len, f)) > 0) {
        len += r;
        if (len == cap) {
            uint8_t *nb = realloc(buf, cap *= 2);
            if (!nb)
                free(buf);
            buf = nb;
        }
    }
    int bad = ferror(f) || !buf;
    fclose(f);
    if (bad) {
        fprintf(stderr, "%s: cannot read\n", path);
        free(buf);
        return 1;
    }
    /* An exact-size copy, so that ASan sees a read past the input's end. */
    uint8_t *exact = malloc(len ? len : 1);
    if (!exact) {
        free(buf);
        return 1;
    }
    memcpy(exact, buf, len);
    free(buf);
    LLVMFuzzerTestOneInput(exact, len);
    free(exact);
    return 0;
}

int main(int argc, char **argv) {
    int fails = 0, runs = 0;
    for (int i = 1; i < argc; i++) {
        struct stat st;
        if (stat(argv[i], &st)) {
            fprintf(stderr, "%s: no such file or directory\n", argv[i]);
            fails++;
            continue;
        }
        if (!S_ISDIR(st.st_mode)) {
            fails += run_file(argv[i]), runs++;
            continue;
        }
        DIR *d = opendir(argv[i]);
        if (!d) {
            fails++;
            continue;
        }
        struct dirent *e;
        while ((e = readdir(d))) {
            if (e->d_name[0] == '.')
                continue;
            char path[4096];
            snprintf(path, sizeof path, "%s/%s", argv[i], e->d_name);
            if (!stat(path, &st) && S_ISREG(st.st_mode))
                fails += run_file(path), runs++;
        }
        closedir(d);
    }
    printf("%d input(s) replayed, %d unreadable\n", runs, fails);
    return fails ? 1 : 0;
}
