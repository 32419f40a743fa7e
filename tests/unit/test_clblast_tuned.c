/* test_clblast_tuned.c - the file of CLBlast tuner parameters (scripts/tune-clblast.sh):
 * the parser takes a good file and refuses damaged ones with a message naming the
 * file and line; on a device, import refuses another device's file, "not tuned"
 * without a file, and a good file reaches CLBlastOverrideParameters. */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "runtime/internal.h"

static const char *params =
    "param GEMMK 0\nparam KREG 1\nparam KWG 32\nparam KWI 2\nparam MDIMA 8\nparam MDIMC 8\n"
    "param MWG 64\nparam NDIMB 8\nparam NDIMC 8\nparam NWG 64\nparam SA 1\nparam SB 1\n"
    "param STRM 0\nparam STRN 0\nparam VWM 4\nparam VWN 4\n";

/* Parses text; checks the status and, when it fails, that err holds every needle. */
static void expect(const char *text, size_t len, cl16_status want, const char *n1, const char *n2) {
    cl16_clblast_tuned t;
    char err[600];
    cl16_status s = cl16__clblast_tuned_parse(text, len, "t.txt", &t, err, sizeof err);
    CHECK_MSG(s == want, "status %s, want %s (err '%s') for:\n%.200s", cl16_status_str(s),
              cl16_status_str(want), err, text);
    if (want == CL16_OK) return;
    CHECK_MSG(strstr(err, "t.txt") != NULL, "message does not name the file: %s", err);
    if (n1) CHECK_MSG(strstr(err, n1) != NULL, "message lacks '%s': %s", n1, err);
    if (n2) CHECK_MSG(strstr(err, n2) != NULL, "message lacks '%s': %s", n2, err);
}

static void expect_str(const char *text, cl16_status want, const char *n1, const char *n2) {
    expect(text, strlen(text), want, n1, n2);
}

static int write_file(const char *path, const char *head, const char *body) {
    FILE *f = fopen(path, "w");
    if (!f) return -1;
    fputs(head, f);
    fputs(body, f);
    return fclose(f);
}

int main(void) {
    char good[2048];
    snprintf(good, sizeof good, "cl16-clblast-tuned 1\n# a comment\ndevice My Device (tm)\n"
             "kernel Xgemm\nprecision 32\nnote tuned at 512x512x512\n\n%s", params);

    /* 1. A good file, with CRLF line ends too. */
    cl16_clblast_tuned t;
    char err[600];
    CHECK(cl16__clblast_tuned_parse(good, strlen(good), "t.txt", &t, err, sizeof err) == CL16_OK);
    CHECK(!strcmp(t.device, "My Device (tm)") && t.precision == 32 && t.n == 16);
    CHECK(!strcmp(t.names[0], "GEMMK") && t.values[0] == 0 && !strcmp(t.names[15], "VWN") &&
          t.values[15] == 4);
    CHECK(!strcmp(t.note, "tuned at 512x512x512"));
    expect_str("cl16-clblast-tuned 1\r\ndevice D\r\nkernel Xgemm\r\nprecision 16\r\nparam MWG 64\r\n",
               CL16_OK, NULL, NULL);

    /* 2. Damaged files: each refused with what is wrong and where. */
    expect_str("", CL16_ERR_FORMAT, "first line", "missing");
    expect_str("{\"kernel_family\": \"xgemm_1\"}\n", CL16_ERR_FORMAT, "line 1", "tune-clblast.sh");
    expect_str("cl16-clblast-tuned 2\ndevice D\n", CL16_ERR_FORMAT, "line 1", NULL);
    expect_str("cl16-clblast-tuned 1\nkernel Xgemm\nprecision 32\nparam MWG 64\n", CL16_ERR_FORMAT,
               "device line", "missing");
    expect_str("cl16-clblast-tuned 1\ndevice D\nprecision 32\nparam MWG 64\n", CL16_ERR_FORMAT,
               "kernel line", NULL);
    expect_str("cl16-clblast-tuned 1\ndevice D\nkernel Xgemm\nparam MWG 64\n", CL16_ERR_FORMAT,
               "precision line", NULL);
    expect_str("cl16-clblast-tuned 1\ndevice D\nkernel Xgemm\nprecision 32\n", CL16_ERR_FORMAT,
               "param line", "missing");
    expect_str("cl16-clblast-tuned 1\ndevice D\nkernel Xgemm\nprecision 64\nparam MWG 64\n",
               CL16_ERR_FORMAT, "line 4", "precision '64'");
    expect_str("cl16-clblast-tuned 1\ndevice D\nkernel Xgemv\nprecision 32\nparam MWG 64\n",
               CL16_ERR_FORMAT, "line 3", "Xgemv");
    expect_str("cl16-clblast-tuned 1\ndevice D\ndevice E\n", CL16_ERR_FORMAT, "line 3", "second");
    expect_str("cl16-clblast-tuned 1\ndevice \n", CL16_ERR_FORMAT, "line 2", "empty");
    expect_str("cl16-clblast-tuned 1\ndevice D\nkernel Xgemm\nprecision 32\nparam MWG sixty-four\n",
               CL16_ERR_FORMAT, "line 5", "MWG sixty-four");
    expect_str("cl16-clblast-tuned 1\ndevice D\nkernel Xgemm\nprecision 32\nparam MWG -1\n",
               CL16_ERR_FORMAT, "line 5", "0..65536");
    expect_str("cl16-clblast-tuned 1\ndevice D\nkernel Xgemm\nprecision 32\nparam MWG 64 extra\n",
               CL16_ERR_FORMAT, "line 5", NULL);
    expect_str("cl16-clblast-tuned 1\ndevice D\nkernel Xgemm\nprecision 32\nparam mwg 64\n",
               CL16_ERR_FORMAT, "line 5", "upper-case");
    expect_str("cl16-clblast-tuned 1\ndevice D\nkernel Xgemm\nprecision 32\nparam MWG 64\n"
               "param MWG 32\n", CL16_ERR_FORMAT, "line 6", "MWG given twice");
    expect_str("cl16-clblast-tuned 1\ndevice D\nkernel Xgemm\nprecision 32\nMWG=64\n",
               CL16_ERR_FORMAT, "line 5", "unknown item");
    static const char nul[] = "cl16-clblast-tuned 1\ndevice D\0\n";
    expect(nul, sizeof nul - 1, CL16_ERR_FORMAT, "NUL", NULL);
    char longline[700];
    memset(longline, 'x', sizeof longline);
    memcpy(longline, "cl16-clblast-tuned 1\nnote ", 26);
    expect(longline, sizeof longline, CL16_ERR_FORMAT, "line 2", "longer");
    char many[4096] = "cl16-clblast-tuned 1\ndevice D\nkernel Xgemm\nprecision 32\n";
    for (int i = 0; i <= CL16_CLBLAST_MAX_PARAMS; i++) {
        size_t l = strlen(many);
        snprintf(many + l, sizeof many - l, "param P%d 1\n", i);
    }
    expect_str(many, CL16_ERR_FORMAT, "more than", NULL);

    /* 3. On a device: the path, "not tuned", import and apply. */
    char dir[] = "/tmp/cl16-test-clblast-tuned-XXXXXX";
    if (!mkdtemp(dir)) SKIP("cannot create a temporary directory");
    cl16_ctx *ctx = test_ctx(dir);
    char path[4200], info[600], src[4200];
    CHECK_OK(ctx, cl16_clblast_tuned_path(ctx, CL16_F32, path, sizeof path));
    CHECK(strncmp(path, dir, strlen(dir)) == 0 && strstr(path, "clblast-xgemm-32-"));
    cl16_status s = cl16_clblast_tuned_apply(ctx, CL16_F32, info, sizeof info);
    CHECK_MSG(s == CL16_ERR_UNSUPPORTED && !strncmp(cl16_ctx_last_error(ctx), "not tuned", 9) &&
                  strstr(cl16_ctx_last_error(ctx), "tune-clblast.sh"),
              "%s: %s", cl16_status_str(s), cl16_ctx_last_error(ctx));

    snprintf(src, sizeof src, "%s/in.txt", dir);
    CHECK(write_file(src, "cl16-clblast-tuned 1\ndevice Some Other Device\nkernel Xgemm\nprecision 32\n",
                     params) == 0);
    s = cl16_clblast_tuned_import(ctx, src, NULL, 0);
    CHECK_MSG(s == CL16_ERR_INVALID_ARG && strstr(cl16_ctx_last_error(ctx), "Some Other Device") &&
                  strstr(cl16_ctx_last_error(ctx), cl16_ctx_device(ctx)->name),
              "%s: %s", cl16_status_str(s), cl16_ctx_last_error(ctx));
    CHECK(access(path, F_OK) != 0);

    CHECK(write_file(src, "cl16-clblast-tuned 1\nkernel Xgemm\n", "") == 0);
    s = cl16_clblast_tuned_import(ctx, src, NULL, 0);
    CHECK_MSG(s == CL16_ERR_FORMAT && strstr(cl16_ctx_last_error(ctx), src), "%s: %s",
              cl16_status_str(s), cl16_ctx_last_error(ctx));

    char head[600];
    snprintf(head, sizeof head, "cl16-clblast-tuned 1\ndevice %s\nkernel Xgemm\nprecision 32\n",
             cl16_ctx_device(ctx)->name);
    CHECK(write_file(src, head, params) == 0);
    char dest[4200] = "";
    CHECK_OK(ctx, cl16_clblast_tuned_import(ctx, src, dest, sizeof dest));
    CHECK_MSG(!strcmp(dest, path), "imported to %s, expected %s", dest, path);
    CHECK_OK(ctx, cl16_clblast_tuned_apply(ctx, CL16_F32, info, sizeof info));
    CHECK_MSG(strstr(info, "MWG=64") && strstr(info, path), "info: %s", info);

    /* A file CLBlast refuses (a parameter missing) fails with a message, not silently. */
    CHECK(write_file(path, head, "param MWG 64\n") == 0);
    s = cl16_clblast_tuned_apply(ctx, CL16_F32, NULL, 0);
    CHECK_MSG(s != CL16_OK && strstr(cl16_ctx_last_error(ctx), "CLBlastOverrideParameters"),
              "%s: %s", cl16_status_str(s), cl16_ctx_last_error(ctx));

    cl16_ctx_free(ctx);
    unlink(src), unlink(path), rmdir(dir);
    return check_done("test_clblast_tuned");
}
