/* bench_compare.c - `cl16 bench compare A.json B.json ...`: the same benchmark
 * (gemm, conv or train) measured on several devices or in several runs, side
 * by side, each figure also as a ratio to the first file. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "cli/bench_util.h"
#include "cli/json_read.h"

enum { MAXF = 8 };

typedef struct row_ref {
    char key[160];
    double val[MAXF]; /* 0: absent */
} row_ref;

static const char *usage_text =
    "usage: cl16 bench compare [--markdown] A.json B.json [C.json ...]\n"
    "  Side by side, from files written by `cl16 bench gemm|conv|train --json` (all of\n"
    "  one kind, up to 8; train also takes the JSON of bench/pytorch_peer.py and\n"
    "  bench/tinygrad_peer.py): the device, driver and half path of each (a peer: its\n"
    "  name, version, device and threads), then per row\n"
    "  gemm: cl16 f16 GFLOP/s; conv: cl16 f16 ms per call; train: images/s per model and\n"
    "  precision; with the ratio of each file to the first (higher is better: for conv,\n"
    "  the first file's time over the other's). --markdown prints a markdown table.\n"
    "  Files since the median method hold the median block's figures (train: images/s\n"
    "  from the median, images_per_s_median); older ones their fastest block, which\n"
    "  each file's line says, with its device peaks where it has them.\n";

static row_ref *find_row(row_ref **rows, size_t *n, size_t *cap, const char *key) {
    for (size_t i = 0; i < *n; i++)
        if (!strcmp((*rows)[i].key, key))
            return &(*rows)[i];
    if (*n == *cap) {
        *cap = *cap ? 2 * *cap : 32;
        row_ref *r = realloc(*rows, *cap * sizeof *r);
        if (!r)
            return NULL;
        *rows = r;
    }
    row_ref *r = &(*rows)[(*n)++];
    memset(r, 0, sizeof *r);
    snprintf(r->key, sizeof r->key, "%s", key);
    return r;
}

/* The rows of one file into the table, column f. */
static int collect(const jv *d, const char *kind, int f, row_ref **rows, size_t *n, size_t *cap) {
    char key[160];
    if (!strcmp(kind, "train")) {
        const jv *runs = jv_get(d, "runs");
        for (size_t i = 0; runs && runs->type == JV_ARR && i < runs->n; i++) {
            const jv *r = &runs->items[i];
            snprintf(key, sizeof key, "%s %s", jv_str(r, "model", "?"), jv_str(r, "precision", "?"));
            row_ref *rr = find_row(rows, n, cap, key);
            if (!rr)
                return -1;
            /* the median block where the file has it (newer files), else the fastest */
            rr->val[f] = jv_num(r, "images_per_s_median", jv_num(r, "images_per_s", 0));
        }
    } else if (!strcmp(kind, "gemm") || !strcmp(kind, "conv")) {
        const jv *list = jv_get(d, kind[0] == 'g' ? "shapes" : "rows");
        for (size_t i = 0; list && list->type == JV_ARR && i < list->n; i++) {
            const jv *r = &list->items[i];
            if (kind[0] == 'g')
                snprintf(key, sizeof key, "%s", jv_str(r, "name", "?"));
            else
                snprintf(key, sizeof key, "%s %s", jv_str(r, "shape", "?"), jv_str(r, "pass", "?"));
            const jv *peer = jv_get(jv_get(r, "peers"), "cl16_f16");
            if (!peer || strcmp(jv_str(peer, "status", ""), "ok"))
                continue;
            row_ref *rr = find_row(rows, n, cap, key);
            if (!rr)
                return -1;
            rr->val[f] = kind[0] == 'g' ? jv_num(peer, "gflops", 0) : jv_num(peer, "ms_per_call", 0);
        }
    }
    return 0;
}

/* Which statistic a file's figures are: files with the median method carry
 * images_per_s_median (train) or ms_min next to each peer (gemm, conv). */
static const char *file_stat(const jv *d, const char *kind) {
    const jv *list = jv_get(d, !strcmp(kind, "train") ? "runs" : kind[0] == 'g' ? "shapes" : "rows");
    if (!list || list->type != JV_ARR || !list->n)
        return "no rows";
    const jv *r = &list->items[0];
    const int median = !strcmp(kind, "train") ? jv_get(r, "images_per_s_median") != NULL
                                              : jv_get(jv_get(jv_get(r, "peers"), "cl16_f16"),
                                                       "ms_min") != NULL;
    return median ? "median of blocks"
           : jv_get(d, "peer") ? "fastest block (the peer's file has no median)"
                               : "fastest block (file predates medians)";
}

int bench_compare(int argc, char **argv) {
    int md = 0, nf = 0, rc = 0;
    const char *paths[MAXF];
    for (int i = 2; i < argc; i++) {
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            fputs(usage_text, stdout);
            return 0;
        } else if (!strcmp(argv[i], "--markdown")) {
            md = 1;
        } else if (argv[i][0] == '-' && argv[i][1]) {
            fprintf(stderr, "cl16 bench compare: unknown option '%s'\n%s", argv[i], usage_text);
            return CL16_EXIT_USAGE;
        } else if (nf == MAXF) {
            fprintf(stderr, "cl16 bench compare: at most %d files\n", MAXF);
            return CL16_EXIT_USAGE;
        } else {
            paths[nf++] = argv[i];
        }
    }
    if (nf < 2) {
        fprintf(stderr, "cl16 bench compare: needs two or more files\n%s", usage_text);
        return CL16_EXIT_USAGE;
    }
    jv docs[MAXF];
    memset(docs, 0, sizeof docs);
    int loaded = 0;
    for (; loaded < nf; loaded++)
        if ((rc = bench_read_json(paths[loaded], "bench compare", &docs[loaded])))
            goto out;
    const char *kind = jv_str(&docs[0], "benchmark", "");
    if (strcmp(kind, "gemm") && strcmp(kind, "conv") && strcmp(kind, "train")) {
        rc = cli_fail(CL16_ERR_FORMAT, "bench compare: only gemm, conv and train files compare; got",
                      kind);
        goto out;
    }
    for (int f = 1; f < nf; f++)
        if (strcmp(jv_str(&docs[f], "benchmark", ""), kind)) {
            char what[4200];
            snprintf(what, sizeof what, "bench compare: %s is a %s benchmark, %s a %s one", paths[f],
                     jv_str(&docs[f], "benchmark", "?"), paths[0], kind);
            rc = cli_fail(CL16_ERR_FORMAT, what, "compare files of one kind");
            goto out;
        }
    row_ref *rows = NULL;
    size_t n = 0, cap = 0;
    for (int f = 0; f < nf && !rc; f++)
        if (collect(&docs[f], kind, f, &rows, &n, &cap))
            rc = cli_fail(CL16_ERR_OUT_OF_MEMORY, "bench compare", "");
    if (rc) {
        free(rows);
        goto out;
    }
    const char *unit = !strcmp(kind, "gemm") ? "cl16 f16 GFLOP/s"
                       : !strcmp(kind, "conv") ? "cl16 f16 ms per call"
                                               : "images/s";
    const char *sep = md ? " | " : "  ";
    printf("%s benchmark, %s; ratio = file / file 1%s\n", kind, unit,
           !strcmp(kind, "conv") ? " speed (time 1 / time)" : "");
    for (int f = 0; f < nf; f++) {
        /* A peer's file (bench/pytorch_peer.py, tinygrad_peer.py): the peer,
         * its version (<peer>_version; PyTorch's torch_version), its device
         * (tinygrad's opencl_device) and threads where the file has them. */
        const char *peer = jv_str(&docs[f], "peer", NULL);
        if (peer) {
            char ver[48], thr[32] = "";
            snprintf(ver, sizeof ver, "%s_version", peer);
            if (jv_num(&docs[f], "threads", 0) > 0)
                snprintf(thr, sizeof thr, ", %g threads", jv_num(&docs[f], "threads", 0));
            printf("%sfile %d: %s: %s %s on %s%s, %s; figures: %s", md ? "- " : "", f + 1,
                   paths[f], peer, jv_str(&docs[f], ver, jv_str(&docs[f], "torch_version", "?")),
                   jv_str(&docs[f], "device", jv_str(&docs[f], "opencl_device", "?")), thr,
                   jv_str(&docs[f], "date", "?"), file_stat(&docs[f], kind));
        } else
            printf("%sfile %d: %s: %s (%s, driver %s), half path %s, cl16 %s, %s; figures: %s",
                   md ? "- " : "", f + 1, paths[f], jv_str(&docs[f], "device", "?"),
                   jv_str(&docs[f], "platform", "?"), jv_str(&docs[f], "driver", "?"),
                   jv_str(&docs[f], "half_path", "?"), jv_str(&docs[f], "cl16_version", "?"),
                   jv_str(&docs[f], "date", "?"), file_stat(&docs[f], kind));
        const jv *pk = jv_get(&docs[f], "peaks");
        if (pk && jv_num(pk, "f32_gflops", 0) > 0)
            printf("; peaks: f32 %.4g GFLOP/s, copy %.4g GB/s", jv_num(pk, "f32_gflops", 0),
                   jv_num(pk, "copy_gb_per_s", 0));
        printf("\n");
    }
    printf("\n%s%-32s", md ? "| " : "", "row");
    for (int f = 0; f < nf; f++) {
        char h[32];
        snprintf(h, sizeof h, "file %d%s", f + 1, f ? " (ratio)" : "");
        printf("%s%16s", sep, h);
    }
    printf("%s\n", md ? " |" : "");
    if (md) {
        printf("|---");
        for (int f = 0; f < nf; f++)
            printf("|---");
        printf("|\n");
    }
    for (size_t i = 0; i < n; i++) {
        printf("%s%-32s", md ? "| " : "", rows[i].key);
        for (int f = 0; f < nf; f++) {
            const double v = rows[i].val[f], b = rows[i].val[0];
            if (v <= 0) {
                printf("%s%16s", sep, "-");
                continue;
            }
            char cell[64];
            if (f && b > 0)
                snprintf(cell, sizeof cell, "%.4g (%.2fx)", v,
                         !strcmp(kind, "conv") ? b / v : v / b);
            else
                snprintf(cell, sizeof cell, "%.4g", v);
            printf("%s%16s", sep, cell);
        }
        printf("%s\n", md ? " |" : "");
    }
    free(rows);
out:
    for (int f = 0; f < loaded && f < nf; f++)
        jv_free(&docs[f]);
    return rc;
}
