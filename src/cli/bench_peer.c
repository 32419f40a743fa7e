/* bench_peer.c - a peer framework's training step in cl16's benchmark rounds
 * (see bench_peer.h for the protocol). POSIX: pipes, fork, sh. */
#define _POSIX_C_SOURCE 200809L
#include "cli/bench_peer.h"
#include "cli/cli.h"
#include "cli/json_read.h"

#include <errno.h>
#include <math.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* How long a peer may take to greet (a framework's import and model build)
 * and to answer one step before it is given up on. */
#define PEER_GREET_S 600
#define PEER_STEP_S 600

static int fail(bench_peer *p, cl16_status s, const char *fmt, ...) {
    int n = snprintf(p->err, sizeof p->err, "peer '%s': ", p->cmd);
    va_list ap;
    va_start(ap, fmt);
    if (n > 0 && (size_t)n < sizeof p->err)
        vsnprintf(p->err + n, sizeof p->err - (size_t)n, fmt, ap);
    va_end(ap);
    return cli_exit_code(s);
}

/* How the peer ended, once it has (waits up to wait_s): "exited with status
 * N", "was killed by signal N", or "closed its output". */
static void ended(bench_peer *p, int wait_s, char *out, size_t n) {
    snprintf(out, n, "closed its output");
    if (!p->pid)
        return;
    for (int i = 0; i <= wait_s * 20; i++) {
        int stt;
        const pid_t w = waitpid(p->pid, &stt, WNOHANG);
        if (w == p->pid) {
            p->pid = 0;
            if (WIFEXITED(stt))
                snprintf(out, n, "exited with status %d", WEXITSTATUS(stt));
            else if (WIFSIGNALED(stt))
                snprintf(out, n, "was killed by signal %d", WTERMSIG(stt));
            return;
        }
        if (w < 0)
            return;
        const struct timespec ts = {0, 50000000};
        nanosleep(&ts, NULL);
    }
}

/* The failure of an exchange because the peer's end of the pipe closed:
 * how it ended (waited for up to 2 s). */
static int gone(bench_peer *p, const char *what) {
    char how[64];
    ended(p, 2, how, sizeof how);
    return fail(p, CL16_ERR_IO, "%s: the peer %s", what, how);
}

/* One line from the peer (without its newline) into line, within timeout_s;
 * 0, or the exit code with p->err set. */
static int read_line(bench_peer *p, int timeout_s, const char *what, char *line, size_t n) {
    for (;;) {
        char *nl = memchr(p->buf, '\n', p->nbuf);
        if (nl) {
            const size_t len = (size_t)(nl - p->buf);
            if (len >= n)
                return fail(p, CL16_ERR_FORMAT, "%s: a line of %zu bytes (at most %zu)", what,
                            len, n - 1);
            memcpy(line, p->buf, len);
            line[len] = 0;
            if (len && line[len - 1] == '\r')
                line[len - 1] = 0;
            p->nbuf -= len + 1;
            memmove(p->buf, nl + 1, p->nbuf);
            return 0;
        }
        if (p->nbuf == sizeof p->buf)
            return fail(p, CL16_ERR_FORMAT, "%s: a line longer than %zu bytes", what,
                        sizeof p->buf);
        struct pollfd pf = {p->from, POLLIN, 0};
        const int r = poll(&pf, 1, timeout_s * 1000);
        if (r == 0)
            return fail(p, CL16_ERR_IO, "%s: no answer within %d s", what, timeout_s);
        if (r < 0) {
            if (errno == EINTR)
                continue;
            return fail(p, CL16_ERR_IO, "%s: poll: %s", what, strerror(errno));
        }
        const ssize_t got = read(p->from, p->buf + p->nbuf, sizeof p->buf - p->nbuf);
        if (got < 0 && errno == EINTR)
            continue;
        if (got <= 0)
            return gone(p, what);
        p->nbuf += (size_t)got;
    }
}

static int write_all(bench_peer *p, const char *s, const char *what) {
    size_t left = strlen(s);
    while (left) {
        const ssize_t w = write(p->to, s, left);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return gone(p, what);
        s += w, left -= (size_t)w;
    }
    return 0;
}

static void copy_str(char *dst, size_t n, const jv *o, const char *key, const char *fb) {
    snprintf(dst, n, "%s", jv_str(o, key, fb));
}

int bench_peer_start(bench_peer *p, const char *cmd, const char *model, int batch) {
    memset(p, 0, sizeof *p);
    p->cmd = cmd, p->to = p->from = -1, p->loss = NAN;
    char full[8192];
    if (snprintf(full, sizeof full, "%s --serve %s --batch %d", cmd, model, batch) >=
        (int)sizeof full)
        return fail(p, CL16_ERR_INVALID_ARG, "the command is too long");
    /* A peer that dies makes our writes fail (EPIPE) instead of killing cl16. */
    signal(SIGPIPE, SIG_IGN);
    int in[2], out[2];
    if (pipe(in))
        return fail(p, CL16_ERR_IO, "pipe: %s", strerror(errno));
    if (pipe(out)) {
        close(in[0]), close(in[1]);
        return fail(p, CL16_ERR_IO, "pipe: %s", strerror(errno));
    }
    fflush(stdout), fflush(stderr);
    const pid_t pid = fork();
    if (pid < 0) {
        close(in[0]), close(in[1]), close(out[0]), close(out[1]);
        return fail(p, CL16_ERR_IO, "fork: %s", strerror(errno));
    }
    if (pid == 0) {
        dup2(in[0], 0), dup2(out[1], 1);
        close(in[0]), close(in[1]), close(out[0]), close(out[1]);
        signal(SIGPIPE, SIG_DFL);
        execl("/bin/sh", "sh", "-c", full, (char *)NULL);
        _exit(127);
    }
    close(in[0]), close(out[1]);
    p->pid = pid, p->to = in[1], p->from = out[0];
    char line[4096], why[256];
    int rc = read_line(p, PEER_GREET_S, "its greeting", line, sizeof line);
    if (rc)
        return rc;
    jv d;
    if (jv_parse(line, strlen(line), &d, why, sizeof why))
        return fail(p, CL16_ERR_FORMAT, "its greeting is not JSON (%s): '%.200s'", why, line);
    if (d.type != JV_OBJ || !jv_get(&d, "peer") || jv_get(&d, "peer")->type != JV_STR ||
        !jv_get(&d, "precision") || jv_get(&d, "precision")->type != JV_STR) {
        jv_free(&d);
        return fail(p, CL16_ERR_FORMAT, "its greeting names no \"peer\" and \"precision\": '%.200s'",
                    line);
    }
    copy_str(p->id.name, sizeof p->id.name, &d, "peer", "");
    copy_str(p->id.precision, sizeof p->id.precision, &d, "precision", "");
    copy_str(p->id.version, sizeof p->id.version, &d, "version", "");
    copy_str(p->id.device, sizeof p->id.device, &d, "device", "");
    const double th = jv_num(&d, "threads", 0);
    p->id.threads = th >= 1 && th < 1e6 ? (int)th : 0;
    jv_free(&d);
    return 0;
}

int bench_peer_step(void *u) {
    bench_peer *p = u;
    char line[1024];
    int rc = write_all(p, "step\n", "a step");
    if (!rc)
        rc = read_line(p, PEER_STEP_S, "a step", line, sizeof line);
    if (rc)
        return rc;
    if (!strncmp(line, "error", 5))
        return fail(p, CL16_ERR_IO, "a step failed: %s", line[5] ? line + 6 : "(no detail)");
    if (strncmp(line, "ok", 2) || (line[2] && line[2] != ' '))
        return fail(p, CL16_ERR_FORMAT, "a step was answered '%.200s', not \"ok\"", line);
    char *end;
    const double l = line[2] ? strtod(line + 3, &end) : NAN;
    p->loss = line[2] && end != line + 3 ? l : NAN;
    return 0;
}

int bench_peer_finish(void *u) {
    (void)u;
    return 0;
}

void bench_peer_stop(bench_peer *p) {
    if (p->to >= 0)
        close(p->to);
    p->to = -1;
    if (p->pid) {
        char how[64];
        ended(p, 10, how, sizeof how);
        if (p->pid) {
            kill(p->pid, SIGKILL);
            waitpid(p->pid, NULL, 0);
            p->pid = 0;
        }
    }
    if (p->from >= 0)
        close(p->from);
    p->from = -1;
}
