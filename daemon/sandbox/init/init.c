/* isolated-init: PID 1 of every sandbox (or a child subreaper when the app shares the
 * host's pid namespace).
 *
 * It reads the launch plan the daemon prepared (fd 3), forks and execs the app in its
 * own process group, and then:
 *   - reaps every process that ends up as its child (orphans included);
 *   - forwards the signals it receives (the daemon's stop signal, SIGHUP, ...) to the
 *     app's process group;
 *   - writes the app's stdout/stderr to the app's log file in the CRI log format
 *     ("<RFC3339Nano> <stream> <F|P> <text>"), rotating it by size -- the init, not the
 *     daemon, owns the app's output, so the app never blocks on a full pipe while the
 *     daemon is down or restarting;
 *   - when the app exits: kills what the app left behind (everything in the sandbox
 *     dies with its app, as with systemd's KillMode=control-group), drains the output,
 *     records the exit status in the run dir (for a daemon that may have been away)
 *     and exits with the app's code.
 * The daemon hears from it on the report pipe (fd 4) exactly once: STARTED or FAILED.
 *
 * Keep it small and boring: no allocation after start-up besides the plan, no stdio,
 * one poll() loop. It is linked statically against musl (see daemon/CMakeLists.txt).
 * The same binary runs `isolated-init --exec` (exec.c); sandbox.c builds the sandbox,
 * util.c holds the failure record and the helpers every part shares.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h> /* renameat */
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "init.h"
#include "init_protocol.h"
#include "sandbox.h"
#include "util.h"

#ifndef CLOSE_RANGE_CLOEXEC
#define CLOSE_RANGE_CLOEXEC (1U << 2)
#endif

#define DEFAULT_PATH "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
#define LINE_MAX_BYTES 16384 /* longer lines are split into P records, as CRI does */

/* ---- small helpers (no stdio) --------------------------------------------------- */

static size_t str_len(const char *s) { return strlen(s); }


/* ---- the plan --------------------------------------------------------------------- */

struct plan P;

int read_plan(void) {
    struct stat st;
    if (fstat(INIT_FD_PLAN, &st) < 0) return -1;
    size_t size = (size_t)st.st_size;
    /* One allocation for the blob (strings are NUL-terminated in place) plus the
     * argv/envp arrays, sized by a first pass. */
    char *blob = malloc(size + 1);
    if (!blob) return -1;
    size_t got = 0;
    while (got < size) {
        ssize_t r = pread(INIT_FD_PLAN, blob + got, size - got, (off_t)got);
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0) return -1;
        got += (size_t)r;
    }
    int nargs = 0, nenv = 0, nmounts = 0, nrlimits = 0, nsecrets = 0;
    for (size_t off = 0; off + 8 <= size;) {
        uint32_t tag, len;
        memcpy(&tag, blob + off, 4);
        memcpy(&len, blob + off + 4, 4);
        if (len > size - off - 8) {
            errno = EINVAL;
            return -1;
        }
        if (tag == PLAN_ARG) nargs++;
        if (tag == PLAN_ENV) nenv++;
        if (tag == PLAN_MOUNT) nmounts++;
        if (tag == PLAN_RLIMIT) nrlimits++;
        if (tag == PLAN_SECRET) nsecrets++;
        off += 8 + len;
    }
    P.argv = calloc((size_t)nargs + 1, sizeof(char *));
    P.envp = calloc((size_t)nenv + 1, sizeof(char *));
    P.mounts = calloc((size_t)nmounts + 1, sizeof(struct mount_rec));
    P.rlimits = calloc((size_t)nrlimits + 1, sizeof(struct rlimit_rec));
    P.secrets = calloc((size_t)nsecrets + 1, sizeof(struct secret_rec));
    if (!P.argv || !P.envp || !P.mounts || !P.rlimits || !P.secrets) return -1;
    P.creds.rlimits = P.rlimits;
    P.creds.userns_fd = -1;
    P.workdir = "/";
    P.log_max_size = 10u << 20;
    P.log_max_files = 5;
    P.app_name = "app";
    P.instance = "";
    for (size_t off = 0; off + 8 <= size;) {
        uint32_t tag, len;
        memcpy(&tag, blob + off, 4);
        memcpy(&len, blob + off + 4, 4);
        char *val = blob + off + 8;
        /* The value is followed by the next record's tag; move the string down over
         * its own length field so it can be NUL-terminated without clobbering. */
        char *s = blob + off + 4;
        memmove(s, val, len);
        s[len] = 0;
        switch (tag) {
            case PLAN_ARG: P.argv[P.argc++] = s; break;
            case PLAN_ENV: P.envp[P.envc++] = s; break;
            case PLAN_WORKDIR: P.workdir = s; break;
            case PLAN_LOG_NAME: P.log_name = s; break;
            case PLAN_JOURNAL: P.journal = s; break;
            case PLAN_CGROUP_PROCS:
                if (P.ncgroup_procs < (int)(sizeof P.cgroup_procs / sizeof P.cgroup_procs[0]))
                    P.cgroup_procs[P.ncgroup_procs++] = s;
                break;
            case PLAN_LOG_MAX_SIZE:
                if (len == 8) memcpy(&P.log_max_size, val - 4, 8);
                break;
            case PLAN_LOG_MAX_FILES:
                if (len == 4) memcpy(&P.log_max_files, val - 4, 4);
                break;
            case PLAN_APP_NAME: P.app_name = s; break;
            case PLAN_INSTANCE: P.instance = s; break;
            case PLAN_FLAGS:
                if (len == 4) memcpy(&P.flags, s, 4);
                break;
            case PLAN_HOSTNAME: P.hostname = s; break;
            case PLAN_ROOT_STAGE: P.stage = s; break;
            case PLAN_MOUNT: {
                if (len < sizeof(struct plan_mount)) break;
                struct mount_rec *m = &P.mounts[P.nmounts++];
                memcpy(&m->m, s, sizeof m->m);
                const char *str = s + sizeof m->m, *end = s + len;
                const char **fields[4] = {&m->source, &m->target, &m->fstype, &m->data};
                for (int i = 0; i < 4; i++) {
                    *fields[i] = str < end ? str : "";
                    str += strlen(*fields[i]) + 1;
                }
                break;
            }
            case PLAN_UID:
                if (len == 4) memcpy(&P.creds.uid, s, 4), P.creds.has_uid = 1;
                break;
            case PLAN_GID:
                if (len == 4) memcpy(&P.creds.gid, s, 4);
                break;
            case PLAN_GROUPS:
                P.creds.groups = (const uint32_t *)(const void *)s;
                P.creds.ngroups = (int)(len / 4);
                break;
            case PLAN_CAPS:
                if (len == 8) memcpy(&P.creds.caps, s, 8), P.creds.has_caps = 1;
                break;
            case PLAN_SECCOMP:
                P.creds.seccomp = s;
                P.creds.seccomp_len = len;
                break;
            case PLAN_RLIMIT:
                if (len == 24) {
                    struct rlimit_rec *r = &P.rlimits[P.nrlimits++];
                    memcpy(&r->resource, s, 4);
                    memcpy(&r->cur, s + 8, 8);
                    memcpy(&r->max, s + 16, 8);
                    P.creds.nrlimits = P.nrlimits;
                }
                break;
            case PLAN_USERNS:
                if (len == 12) {
                    memcpy(&P.userns_uid, s, 4);
                    memcpy(&P.userns_gid, s + 4, 4);
                    memcpy(&P.userns_count, s + 8, 4);
                }
                break;
            case PLAN_SECRET: {
                struct plan_secret ps;
                if (len < sizeof ps) break;
                memcpy(&ps, s, sizeof ps);
                /* name, NUL, content: the name must end where the record says. */
                if (ps.name_len >= len - sizeof ps || s[sizeof ps + ps.name_len] != 0) {
                    errno = EINVAL;
                    return -1;
                }
                struct secret_rec *sr = &P.secrets[P.nsecrets++];
                sr->name = s + sizeof ps;
                sr->content = s + sizeof ps + ps.name_len + 1;
                sr->len = len - sizeof ps - ps.name_len - 1;
                sr->mode = ps.mode;
                sr->uid = ps.uid;
                sr->gid = ps.gid;
                break;
            }
            case PLAN_UMASK:
                if (len == 4) memcpy(&P.creds.umask, s, 4), P.creds.has_umask = 1;
                break;
            default: break; /* unknown tags are for newer inits: ignore */
        }
        off += 8 + len;
    }
    if (P.argc == 0) {
        errno = EINVAL;
        return -1;
    }
    return 0;
}

/* ---- reports to the daemon ------------------------------------------------------- */

static int report_fd = INIT_FD_REPORT;

static void report(uint32_t kind, int step, int err, int pid, const char *detail) {
    if (report_fd < 0) return;
    struct init_report r;
    memset(&r, 0, sizeof r);
    r.kind = kind;
    r.step = step;
    r.err = err;
    r.pid = pid;
    if (detail) copy_str(r.detail, sizeof r.detail, detail);
    /* EPIPE (daemon gone) is fine: SIGPIPE is blocked and the exit record remains. */
    (void)write_all(report_fd, (const char *)&r, sizeof r);
    close(report_fd);
    report_fd = -1;
}

/* ---- the log file ----------------------------------------------------------------
 * A full or failing log dir never stops the app: the init keeps draining its pipes
 * and drops the records it cannot write, counting them. A write cut short keeps the
 * whole records it got out and truncates the partial one, so a record is never glued
 * to the next. When writing works again, one record says how much was lost and why
 * (journald's "Suppressed N messages"); the running total is in the run dir
 * (INIT_LOG_DROPPED_FILE) for the daemon's status and metrics. */

static int log_fd = -1;
static uint64_t log_size;
static uint64_t dropped_lines, dropped_bytes;   /* since the instance started */
static uint64_t unsaid_lines, unsaid_bytes;     /* dropped since the last notice */
static int unsaid_errno;
static int dropped_dirty;                       /* the run-dir record is behind */
static struct timespec dropped_saved_at;

static int log_open(void) {
    if (!P.log_name) return 0;
    log_fd = openat(INIT_FD_LOGDIR, P.log_name, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0640);
    if (log_fd < 0) return -1;
    struct stat st;
    log_size = fstat(log_fd, &st) == 0 ? (uint64_t)st.st_size : 0;
    return 0;
}

static void rotated_name(char *buf, size_t cap, unsigned i) {
    size_t pos = 0;
    put_str(buf, cap - 1, &pos, P.log_name);
    if (i) {
        put_str(buf, cap - 1, &pos, ".");
        put_u64(buf, cap - 1, &pos, i);
    }
    buf[pos] = 0;
}

/* app.log -> app.log.1 -> ... -> app.log.(max_files-1); the oldest is replaced. */
static void log_rotate(void) {
    char from[288], to[288];
    close(log_fd);
    log_fd = -1;
    if (P.log_max_files <= 1) {
        (void)unlinkat(INIT_FD_LOGDIR, P.log_name, 0);
    } else {
        for (unsigned i = P.log_max_files - 1; i >= 1; i--) {
            rotated_name(from, sizeof from, i - 1);
            rotated_name(to, sizeof to, i);
            (void)renameat(INIT_FD_LOGDIR, from, INIT_FD_LOGDIR, to);
        }
    }
    (void)log_open();
}

static long ms_since(const struct timespec *t) {
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return (now.tv_sec - t->tv_sec) * 1000 + (now.tv_nsec - t->tv_nsec) / 1000000;
}

/* The run-dir record of the drops ("lines=N\nbytes=M\n"), tmp + rename like the exit
 * record; at most once a second unless `force` (the poll loops come back within a
 * second while it is behind: dropped_wait_ms). */
static void dropped_save(int force) {
    if (!dropped_dirty) return;
    if (!force && dropped_saved_at.tv_sec && ms_since(&dropped_saved_at) < 1000) return;
    char buf[96];
    size_t pos = 0;
    put_str(buf, sizeof buf, &pos, "lines=");
    put_u64(buf, sizeof buf, &pos, dropped_lines);
    put_str(buf, sizeof buf, &pos, "\nbytes=");
    put_u64(buf, sizeof buf, &pos, dropped_bytes);
    put_str(buf, sizeof buf, &pos, "\n");
    clock_gettime(CLOCK_MONOTONIC, &dropped_saved_at);
    int fd = openat(INIT_FD_RUNDIR, INIT_LOG_DROPPED_FILE ".tmp",
                    O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0644);
    if (fd < 0) return;
    int ok = write_all(fd, buf, pos) == 0;
    close(fd);
    if (ok && renameat(INIT_FD_RUNDIR, INIT_LOG_DROPPED_FILE ".tmp", INIT_FD_RUNDIR, INIT_LOG_DROPPED_FILE) == 0)
        dropped_dirty = 0;
}

/* How long a poll loop may sleep before the drop record must be saved; -1: no need. */
static int dropped_wait_ms(void) {
    if (!dropped_dirty) return -1;
    long left = 1000 - ms_since(&dropped_saved_at);
    return left < 0 ? 0 : (int)left;
}

static void count_dropped(const char *data, size_t n, int err) {
    uint64_t lines = 0;
    for (size_t i = 0; i < n; i++) lines += data[i] == '\n';
    dropped_lines += lines;
    dropped_bytes += n;
    unsaid_lines += lines;
    unsaid_bytes += n;
    unsaid_errno = err;
    dropped_dirty = 1;
    dropped_save(0);
}

/* Writes whole records: on a short write the records that got out stay, the partial
 * one is cut off again. Returns how many bytes are in the file (errno set when < n). */
static size_t write_records(const char *data, size_t n) {
    size_t done = 0;
    while (done < n) {
        ssize_t w = write(log_fd, data + done, n - done);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) {
            if (w == 0) errno = ENOSPC;
            break;
        }
        done += (size_t)w;
    }
    if (done == n) {
        log_size += n;
        return n;
    }
    int err = errno;
    size_t keep = done;
    while (keep > 0 && data[keep - 1] != '\n') keep--;
    /* From the file's own size, not log_size: someone may have truncated the file
     * (logrotate's copytruncate), and cutting to a size it no longer has would pad it
     * with zeros. */
    struct stat st;
    if (keep < done && fstat(log_fd, &st) == 0 && (uint64_t)st.st_size >= done - keep &&
        ftruncate(log_fd, st.st_size - (off_t)(done - keep)) == 0) {
        log_size = (uint64_t)st.st_size - (done - keep);
    } else if (keep < done) {
        /* Cannot happen on a regular file; reopen, so the size is the file's again. */
        close(log_fd);
        (void)log_open();
    } else {
        log_size += keep;
    }
    errno = err;
    return keep;
}

static void timestamp(char *ts, size_t cap);

/* The record that says what was lost, on stderr as the init's own words. Returns 0
 * once it is in the file. */
static int log_notice(void) {
    char ts[40], buf[512];
    timestamp(ts, sizeof ts);
    size_t pos = 0, cap = sizeof buf - 1;
    put_str(buf, cap, &pos, ts);
    put_str(buf, cap, &pos, " stderr F isolated-init: dropped ");
    put_u64(buf, cap, &pos, unsaid_lines);
    put_str(buf, cap, &pos, " log lines (");
    put_u64(buf, cap, &pos, unsaid_bytes);
    put_str(buf, cap, &pos, " bytes) of this app's output: the log could not be written (");
    put_str(buf, cap, &pos, strerror(unsaid_errno));
    put_str(buf, cap, &pos, ")");
    buf[pos++] = '\n';
    if (write_records(buf, pos) != pos) return -1;
    unsaid_lines = unsaid_bytes = 0;
    return 0;
}

static void log_write(const char *data, size_t n) {
    if (!P.log_name || n == 0) return;
    /* The file may have gone with a failed rotation or open: try again each time. */
    if (log_fd < 0 && log_open() < 0) {
        count_dropped(data, n, errno);
        return;
    }
    if (log_size > 0 && log_size + n > P.log_max_size) log_rotate();
    if (log_fd < 0) {
        count_dropped(data, n, errno);
        return;
    }
    if ((unsaid_lines || unsaid_bytes) && log_notice() < 0) {
        count_dropped(data, n, errno);
        return;
    }
    size_t kept = write_records(data, n);
    if (kept < n) count_dropped(data + kept, n - kept, errno);
}

/* ---- the journal ------------------------------------------------------------------
 * With journald, each line goes to its native socket as one datagram (systemd's
 * sd_journal_sendv() format, MESSAGE in the length-prefixed form so any byte is fine):
 * MESSAGE, PRIORITY (6 stdout, 3 stderr), SYSLOG_IDENTIFIER and ISOLATED_APP = the
 * app, ISOLATED_STREAM. The socket is connected before the root is replaced and is
 * non-blocking: when journald falls behind, lines are dropped rather than the app
 * blocked (journald's own stream clients block instead). */

static int journal_fd = -1;

static int journal_open(void) {
    if (!P.journal) return 0;
    struct sockaddr_un sa;
    memset(&sa, 0, sizeof sa);
    sa.sun_family = AF_UNIX;
    if (str_len(P.journal) >= sizeof sa.sun_path) {
        errno = ENAMETOOLONG;
        return -1;
    }
    memcpy(sa.sun_path, P.journal, str_len(P.journal) + 1);
    journal_fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (journal_fd < 0) return -1;
    if (connect(journal_fd, (struct sockaddr *)&sa, sizeof sa) < 0) {
        journal_fd = safe_close(journal_fd);
        return -1;
    }
    return 0;
}

static void journal_line(const char *stream, const char *text, size_t n) {
    static char buf[LINE_MAX_BYTES + 512];
    size_t pos = 0, cap = sizeof buf;
    int is_err = stream[3] == 'e'; /* "stderr" */
    put_str(buf, cap, &pos, is_err ? "PRIORITY=3\n" : "PRIORITY=6\n");
    put_str(buf, cap, &pos, "SYSLOG_IDENTIFIER=");
    put_str(buf, cap, &pos, P.app_name);
    put_str(buf, cap, &pos, "\nISOLATED_APP=");
    put_str(buf, cap, &pos, P.app_name);
    put_str(buf, cap, &pos, "\nISOLATED_STREAM=");
    put_str(buf, cap, &pos, stream);
    put_str(buf, cap, &pos, "\nMESSAGE\n");
    if (pos + 8 + n + 1 > cap) return;
    uint64_t le = (uint64_t)n; /* little-endian on every arch we build for */
    memcpy(buf + pos, &le, 8);
    pos += 8;
    memcpy(buf + pos, text, n);
    pos += n;
    buf[pos++] = '\n';
    (void)send(journal_fd, buf, pos, MSG_DONTWAIT | MSG_NOSIGNAL);
}

/* ---- output streams ---------------------------------------------------------------- */

struct stream {
    int fd;
    const char *name;
    size_t len;
    char buf[LINE_MAX_BYTES];
};

static struct stream out_stream = {-1, "stdout", 0, {0}};
static struct stream err_stream = {-1, "stderr", 0, {0}};
static char outbuf[65536];
static size_t outlen;

static void out_flush(void) {
    log_write(outbuf, outlen);
    outlen = 0;
}

static void timestamp(char *ts, size_t cap) {
    struct timespec now;
    clock_gettime(CLOCK_REALTIME, &now);
    struct tm tm;
    gmtime_r(&now.tv_sec, &tm);
    size_t pos = 0;
    put_pad(ts, cap - 1, &pos, (uint64_t)tm.tm_year + 1900, 4);
    put_str(ts, cap - 1, &pos, "-");
    put_pad(ts, cap - 1, &pos, (uint64_t)tm.tm_mon + 1, 2);
    put_str(ts, cap - 1, &pos, "-");
    put_pad(ts, cap - 1, &pos, (uint64_t)tm.tm_mday, 2);
    put_str(ts, cap - 1, &pos, "T");
    put_pad(ts, cap - 1, &pos, (uint64_t)tm.tm_hour, 2);
    put_str(ts, cap - 1, &pos, ":");
    put_pad(ts, cap - 1, &pos, (uint64_t)tm.tm_min, 2);
    put_str(ts, cap - 1, &pos, ":");
    put_pad(ts, cap - 1, &pos, (uint64_t)tm.tm_sec, 2);
    put_str(ts, cap - 1, &pos, ".");
    put_pad(ts, cap - 1, &pos, (uint64_t)now.tv_nsec, 9);
    put_str(ts, cap - 1, &pos, "Z");
    ts[pos] = 0;
}

/* One CRI record: "<ts> <stream> <F|P> <text>\n" (or one journal entry). */
static void emit(const char *ts, const struct stream *s, const char *text, size_t n, int full) {
    if (journal_fd >= 0) {
        journal_line(s->name, text, n);
        return;
    }
    size_t need = str_len(ts) + 1 + str_len(s->name) + 3 + n + 1;
    if (outlen + need > sizeof outbuf) out_flush();
    if (need > sizeof outbuf) return; /* cannot happen: n <= LINE_MAX_BYTES */
    size_t pos = outlen;
    put_str(outbuf, sizeof outbuf, &pos, ts);
    put_str(outbuf, sizeof outbuf, &pos, " ");
    put_str(outbuf, sizeof outbuf, &pos, s->name);
    put_str(outbuf, sizeof outbuf, &pos, full ? " F " : " P ");
    memcpy(outbuf + pos, text, n);
    pos += n;
    outbuf[pos++] = '\n';
    outlen = pos;
}

/* Reads what is available; returns 0 on EOF or error (stream closed), 1 otherwise. */
static int stream_read(struct stream *s) {
    ssize_t r;
    do r = read(s->fd, s->buf + s->len, sizeof s->buf - s->len);
    while (r < 0 && errno == EINTR);
    if (r < 0 && errno == EAGAIN) return 1;
    char ts[40];
    timestamp(ts, sizeof ts);
    if (r <= 0) {
        if (s->len) emit(ts, s, s->buf, s->len, 1);
        s->len = 0;
        out_flush();
        close(s->fd);
        s->fd = -1;
        return 0;
    }
    s->len += (size_t)r;
    size_t start = 0;
    for (size_t i = 0; i < s->len; i++) {
        if (s->buf[i] == '\n') {
            emit(ts, s, s->buf + start, i - start, 1);
            start = i + 1;
        }
    }
    if (start == 0 && s->len == sizeof s->buf) { /* a line longer than the buffer */
        emit(ts, s, s->buf, s->len, 0);
        start = s->len;
    }
    memmove(s->buf, s->buf + start, s->len - start);
    s->len -= start;
    out_flush();
    return 1;
}

/* ---- signals ----------------------------------------------------------------------- */

static void noop_handler(int sig) { (void)sig; }

/* Signals the init never forwards: synchronous faults and job control that make no
 * sense for a daemon without a terminal. */
static int is_forwardable(int sig) {
    switch (sig) {
        case SIGCHLD: case SIGKILL: case SIGSTOP: case SIGSEGV: case SIGBUS: case SIGILL:
        case SIGFPE: case SIGABRT: case SIGTRAP: case SIGSYS: case SIGTTIN: case SIGTTOU:
        case SIGTSTP:
            return 0;
        default:
            return 1;
    }
}

/* Blocks every signal and reads them from a signalfd. A real (no-op) handler is
 * installed for the forwardable ones because the kernel drops signals with the
 * default disposition that are sent to the init of a pid namespace, even from its
 * parent namespace (pid_namespaces(7)); a blocked signal with a handler stays pending
 * and is delivered through the signalfd. */
static int setup_signals(sigset_t *old) {
    sigset_t all;
    sigfillset(&all);
    if (sigprocmask(SIG_SETMASK, &all, old) < 0) return -1;
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = noop_handler;
    sigfillset(&sa.sa_mask);
    for (int sig = 1; sig < _NSIG; sig++) {
        if (sig == SIGKILL || sig == SIGSTOP) continue;
        if (sig >= 32 && sig < SIGRTMIN) continue; /* libc-internal */
        if (is_forwardable(sig) || sig == SIGCHLD) (void)sigaction(sig, &sa, NULL);
    }
    return signalfd(-1, &all, SFD_CLOEXEC | SFD_NONBLOCK);
}

void reset_signals(void) {
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = SIG_DFL;
    for (int sig = 1; sig < _NSIG; sig++) {
        if (sig == SIGKILL || sig == SIGSTOP) continue;
        (void)sigaction(sig, &sa, NULL);
    }
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL);
}

/* ---- the app ------------------------------------------------------------------------- */

static const char *env_path(void) {
    for (int i = 0; i < P.envc; i++)
        if (strncmp(P.envp[i], "PATH=", 5) == 0) return P.envp[i] + 5;
    return DEFAULT_PATH;
}

/* execve, searching PATH from the app's environment (not ours) when argv[0] has no
 * slash, like execvpe(3) would with envp's PATH. */
static _Noreturn void exec_app(void) {
    const char *cmd = P.argv[0];
    if (strchr(cmd, '/')) {
        execve(cmd, P.argv, P.envp);
        die_step(STEP_EXEC, cmd);
    }
    const char *path = env_path();
    int saw_eacces = 0;
    char full[4096];
    while (*path) {
        const char *colon = strchr(path, ':');
        size_t dlen = colon ? (size_t)(colon - path) : strlen(path);
        if (dlen + 1 + strlen(cmd) + 1 <= sizeof full) {
            size_t pos = 0;
            if (dlen == 0) {
                full[pos++] = '.';
            } else {
                memcpy(full, path, dlen);
                pos = dlen;
            }
            full[pos++] = '/';
            strcpy(full + pos, cmd);
            execve(full, P.argv, P.envp);
            if (errno == EACCES) saw_eacces = 1;
            else if (errno != ENOENT && errno != ENOTDIR) die_step(STEP_EXEC, full);
        }
        if (!colon) break;
        path = colon + 1;
    }
    errno = saw_eacces ? EACCES : ENOENT;
    die_step(saw_eacces ? STEP_EXEC : STEP_RESOLVE, cmd);
}

_Noreturn void become_app(void) {
    struct init_failure e;
    memset(&e, 0, sizeof e);
    if (sb_apply_creds(&P.creds, &e) < 0) die(&e);
    /* As the app's user, inside the new root; after pivot_root no path leads out. */
    if (chdir(P.workdir) < 0) die_step(STEP_CHDIR, P.workdir);
    /* Nothing of ours may reach the app (CVE-2024-21626): every fd above 2 closes on
     * exec; the failure pipe is already CLOEXEC. */
    syscall(SYS_close_range, 3U, ~0U, CLOSE_RANGE_CLOEXEC);
    if (sb_apply_seccomp_last(&P.creds, &e) < 0) die(&e);
    exec_app();
}

static pid_t app_pid;

/* The app's child hands its failure to the init over this pipe, record and all: the
 * init reports it as its own (start_app). */
static int child_failure_fd = -1;

static void send_to_init(const struct init_failure *f) {
    (void)write_all(child_failure_fd, (const char *)f, sizeof *f);
}

/* Forks the app and returns its pid once it has exec'd. Any failure before that, the
 * child's included, ends the init (die). */
static pid_t start_app(int out_w, int err_w) {
    int ep[2];
    if (pipe2(ep, O_CLOEXEC) < 0) die_step(STEP_PIPES, "pipe");
    pid_t pid = fork();
    if (pid < 0) die_step(STEP_FORK, "");
    if (pid == 0) {
        close(ep[0]);
        child_failure_fd = ep[1];
        failure_sink = send_to_init;
        setpgid(0, 0);
        reset_signals();
        if (dup2(out_w, 1) < 0 || dup2(err_w, 2) < 0) die_step(STEP_PIPES, "dup2");
        become_app();
    }
    /* Both sides set the group so a signal forwarded right after fork finds it. */
    setpgid(pid, pid);
    close(ep[1]);
    struct init_failure f;
    memset(&f, 0, sizeof f);
    ssize_t r;
    do r = read(ep[0], &f, sizeof f);
    while (r < 0 && errno == EINTR);
    close(ep[0]);
    if (r > 0) { /* exec failed and the child is exiting: reap it, then report */
        f.detail[sizeof f.detail - 1] = 0;
        while (waitpid(pid, NULL, __WALL) < 0 && errno == EINTR) {
        }
        die(&f);
    }
    return pid;
}

/* ---- exit ------------------------------------------------------------------------------ */

static void write_exit_record(int code, int sig, const char *message) {
    char buf[512];
    size_t pos = 0;
    struct timespec now;
    clock_gettime(CLOCK_REALTIME, &now);
    put_str(buf, sizeof buf, &pos, "instance=");
    put_str(buf, sizeof buf, &pos, P.instance ? P.instance : "");
    put_str(buf, sizeof buf, &pos, "\ncode=");
    put_u64(buf, sizeof buf, &pos, (uint64_t)code);
    put_str(buf, sizeof buf, &pos, "\nsignal=");
    put_u64(buf, sizeof buf, &pos, (uint64_t)sig);
    put_str(buf, sizeof buf, &pos, "\nat=");
    put_u64(buf, sizeof buf, &pos, (uint64_t)now.tv_sec);
    put_str(buf, sizeof buf, &pos, ".");
    put_pad(buf, sizeof buf, &pos, (uint64_t)now.tv_nsec, 9);
    put_str(buf, sizeof buf, &pos, "\nmessage=");
    for (const char *m = message ? message : ""; *m && pos < sizeof buf - 2; m++)
        buf[pos++] = (*m == '\n') ? ' ' : *m;
    buf[pos++] = '\n';
    int fd = openat(INIT_FD_RUNDIR, INIT_EXIT_FILE ".tmp", O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW,
                    0644);
    if (fd < 0) return;
    int ok = write_all(fd, buf, pos) == 0;
    close(fd);
    if (ok) (void)renameat(INIT_FD_RUNDIR, INIT_EXIT_FILE ".tmp", INIT_FD_RUNDIR, INIT_EXIT_FILE);
}

/* Reaps every child that has exited; records the app's status when it is among them. */
static int app_status_known;
static int app_wait_status;

static void reap(void) {
    for (;;) {
        int st;
        pid_t p = waitpid(-1, &st, WNOHANG | __WALL);
        if (p <= 0) return;
        if (p == app_pid && !app_status_known) {
            app_status_known = 1;
            app_wait_status = st;
        }
    }
}

/* Kills everything the app left behind and reaps it. As the init of a pid namespace,
 * kill(-1) reaches exactly the other processes of the namespace. As a subreaper in the
 * host's namespace it must never do that: there it walks its own children (orphans
 * are re-parented to it) until none remain. */
static void kill_leftovers(void) {
    if (getpid() == 1) {
        kill(-1, SIGKILL);
        while (waitpid(-1, NULL, __WALL) > 0 || errno == EINTR) {
        }
        return;
    }
    char path[64];
    size_t pos = 0;
    put_str(path, sizeof path - 1, &pos, "/proc/self/task/");
    put_u64(path, sizeof path - 1, &pos, (uint64_t)getpid());
    put_str(path, sizeof path - 1, &pos, "/children");
    path[pos] = 0;
    for (int round = 0; round < 1000; round++) {
        int fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd < 0) break;
        char buf[4096];
        ssize_t n = read(fd, buf, sizeof buf - 1);
        close(fd);
        if (n <= 0) break;
        buf[n] = 0;
        int any = 0;
        for (char *p = buf; *p;) {
            while (*p == ' ') p++;
            if (!*p) break;
            long v = 0;
            while (*p >= '0' && *p <= '9') v = v * 10 + (*p++ - '0');
            if (v > 0) {
                kill((pid_t)v, SIGKILL);
                any = 1;
            }
            while (*p && *p != ' ') p++;
        }
        if (!any) break;
        /* Reap what we killed; their orphans are re-parented to us for the next round. */
        while (waitpid(-1, NULL, __WALL | WNOHANG) > 0) {
        }
        struct timespec ts = {0, 1000000};
        nanosleep(&ts, NULL);
        while (waitpid(-1, NULL, __WALL | WNOHANG) > 0) {
        }
    }
}

static int go_pending; /* SB_GO_LATE: the daemon is still working from outside */

/* The launch init's failure sink: setup failed before the app ran. Tell the daemon
 * (step, errno, detail) and leave a record for a daemon that was away; the daemon
 * words the message. */
static void report_failure(const struct init_failure *f) {
    /* A build that failed while the daemon still makes the veth waits for it to finish
     * (or give up), so that the daemon reports this failure, not its own on a network
     * namespace that vanished under it. */
    if (go_pending) {
        char c;
        while (read(INIT_FD_GO, &c, 1) < 0 && errno == EINTR) {
        }
        go_pending = 0;
    }
    report(REPORT_FAILED, f->step, f->err, 0, f->detail);
    write_exit_record(exit_code_for(f), 0, f->detail);
}

/* "init": false. The app itself becomes PID 1 (this process execs it); a forked
 * child keeps writing its output to the log file. Nobody is left to record the exit:
 * the daemon reads it from the pidfd, and a daemon that was away when the app exited
 * learns only that it ended. When PID 1 exits the kernel kills the rest of the pid
 * namespace, the log writer included, so the last buffered lines can be lost -- the
 * price of running without an init (docs/DECISIONS.md). */
static _Noreturn void run_as_pid1(int outp[2], int errp[2]) {
    pid_t logger = fork();
    if (logger < 0) die_step(STEP_FORK, "log writer");
    if (logger == 0) {
        close(report_fd);
        report_fd = -1;
        close(outp[1]);
        close(errp[1]);
        out_stream.fd = outp[0];
        err_stream.fd = errp[0];
        while (out_stream.fd >= 0 || err_stream.fd >= 0) {
            struct pollfd fds[2] = {{out_stream.fd, POLLIN, 0}, {err_stream.fd, POLLIN, 0}};
            if (poll(fds, 2, dropped_wait_ms()) < 0 && errno != EINTR) break;
            dropped_save(0);
            if (fds[0].revents & (POLLIN | POLLHUP | POLLERR)) stream_read(&out_stream);
            if (fds[1].revents & (POLLIN | POLLHUP | POLLERR)) stream_read(&err_stream);
        }
        out_flush();
        dropped_save(1);
        _exit(0);
    }
    close(outp[0]);
    close(errp[0]);
    if (dup2(outp[1], 1) < 0 || dup2(errp[1], 2) < 0) die_step(STEP_PIPES, "dup2");
    close(outp[1]);
    close(errp[1]);
    reset_signals();
    /* On success the report pipe closes with the exec (CLOEXEC): the daemon reads that
     * as "started", with the app's pid being this one. */
    become_app();
}

/* One byte on the go pipe; EOF: the daemon gave up on this launch. */
static void wait_go(void) {
    go_pending = 0;
    char go;
    ssize_t r;
    do r = read(INIT_FD_GO, &go, 1);
    while (r < 0 && errno == EINTR);
    if (r != 1) {
        if (r >= 0) errno = ECANCELED; /* EOF: the daemon gave up */
        die_step(STEP_GO, "");
    }
    close(INIT_FD_GO);
}

int main(int argc, char **argv) {
    if (argc > 1 && strcmp(argv[1], "--exec") == 0) return exec_main();
    failure_sink = report_failure;
    sigset_t old;
    int sfd = setup_signals(&old);
    if (sfd < 0) die_step(STEP_SIGNALS, "signalfd");
    if (read_plan() < 0) die_step(STEP_READ_PLAN, "read plan");
    close(INIT_FD_PLAN);
    P.creds.no_new_privs = (P.flags & SB_NO_NEW_PRIVS) != 0;

    /* The daemon finishes what must happen from outside (cgroup, veth): before the
     * build when it moves us into our cgroup, else (SB_GO_LATE) alongside it. */
    if ((P.flags & SB_WAIT_GO) && !(P.flags & SB_GO_LATE)) wait_go();
    go_pending = (P.flags & SB_WAIT_GO) && (P.flags & SB_GO_LATE);

    /* Only now, inside the app's cgroup (placed there after the clone on cgroup v1 and
     * by systemd), so that the namespace's root is the app's own cgroup. */
    if ((P.flags & SB_CGROUP_NS) && unshare(CLONE_NEWCGROUP) < 0)
        die_step(STEP_CGROUP_NS, "unshare the cgroup namespace");

    /* While the host's /run is still in view. */
    if (journal_open() < 0) die_step(STEP_JOURNAL, P.journal);

    /* Modes below are exact (device nodes 0666, /tmp 1777); the app gets its own umask. */
    umask(0);
    struct init_failure e;
    memset(&e, 0, sizeof e);
    /* The app's user namespace, while the host's /proc is in view; the init stays
     * outside it, the app enters it last (sb_apply_creds). */
    if (P.userns_count) {
        int fd = sb_make_userns(P.userns_uid, P.userns_gid, P.userns_count, &e);
        if (fd < 0) die(&e);
        if (dup3(fd, INIT_FD_USERNS, O_CLOEXEC) < 0) die_step(STEP_USERNS, "dup");
        close(fd);
        sb_userns_fd = INIT_FD_USERNS;
        P.creds.userns_fd = INIT_FD_USERNS;
    }
    if ((P.flags & SB_UNPRIV_PORTS) && sb_unprivileged_ports(&e) < 0) die(&e);
    if ((P.flags & SB_MOUNT_NS) &&
        sb_build_root(P.stage, P.mounts, P.nmounts, P.secrets, P.nsecrets, P.flags & SB_READONLY_ROOT, &e) < 0)
        die(&e);
    /* The secrets are on the sandbox's tmpfs now; the init, which lives as long as the
     * app, keeps no copy (the app's fork would inherit it until its exec). */
    for (int i = 0; i < P.nsecrets; i++) explicit_bzero(P.secrets[i].content, P.secrets[i].len);
    if (P.hostname && sb_set_hostname(P.hostname, &e) < 0) die(&e);
    if ((P.flags & SB_LOOPBACK) && sb_loopback_up(&e) < 0) die(&e);

    /* The init is nobody's to inspect: no core dumps, no ptrace/proc access from the
     * app's uid without CAP_SYS_PTRACE (also keeps /proc/1/exe out of reach). */
    prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
    /* Executed from a memfd, it would show up as "memfd:isolated-init". */
    prctl(PR_SET_NAME, "isolated-init", 0, 0, 0);
    /* Its own session: no terminal signals; survives the daemon (no PDEATHSIG). */
    setsid();
    if (getpid() != 1) prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0);

    /* Nothing of the app's runs before the daemon's work from outside is done. */
    if ((P.flags & SB_WAIT_GO) && (P.flags & SB_GO_LATE)) wait_go();

    if (log_open() < 0) die_step(STEP_OPEN_LOG, P.log_name);

    int outp[2], errp[2];
    if (pipe2(outp, O_CLOEXEC) < 0 || pipe2(errp, O_CLOEXEC) < 0) die_step(STEP_PIPES, "pipe");

    if (P.flags & SB_NO_INIT) run_as_pid1(outp, errp);

    pid_t pid = start_app(outp[1], errp[1]);
    close(outp[1]);
    close(errp[1]);
    app_pid = pid;
    report(REPORT_STARTED, STEP_NONE, 0, pid, NULL);

    out_stream.fd = outp[0];
    err_stream.fd = errp[0];
    fcntl(outp[0], F_SETFL, O_NONBLOCK);
    fcntl(errp[0], F_SETFL, O_NONBLOCK);

    int leftovers_killed = 0;
    int drain_ms = -1;
    struct timespec drain_start = {0, 0};
    for (;;) {
        if (app_status_known && !leftovers_killed) {
            kill_leftovers();
            leftovers_killed = 1;
            clock_gettime(CLOCK_MONOTONIC, &drain_start);
            drain_ms = 2000; /* writers are dead; read what is buffered, but bounded */
        }
        if (leftovers_killed && out_stream.fd < 0 && err_stream.fd < 0) break;
        if (leftovers_killed) {
            struct timespec now;
            clock_gettime(CLOCK_MONOTONIC, &now);
            long el = (now.tv_sec - drain_start.tv_sec) * 1000 + (now.tv_nsec - drain_start.tv_nsec) / 1000000;
            if (el >= 2000) break;
            drain_ms = (int)(2000 - el);
        }
        struct pollfd fds[3] = {
            {sfd, POLLIN, 0},
            {out_stream.fd, POLLIN, 0},
            {err_stream.fd, POLLIN, 0},
        };
        int wait_ms = dropped_wait_ms();
        if (wait_ms < 0 || (drain_ms >= 0 && drain_ms < wait_ms)) wait_ms = drain_ms;
        int r = poll(fds, 3, wait_ms);
        if (r < 0 && errno != EINTR) break;
        dropped_save(0);
        if (r <= 0) continue;
        if (fds[0].revents & POLLIN) {
            struct signalfd_siginfo si;
            while (read(sfd, &si, sizeof si) == (ssize_t)sizeof si) {
                int sig = (int)si.ssi_signo;
                if (sig == SIGCHLD) {
                    reap();
                } else if (is_forwardable(sig) && !app_status_known) {
                    kill(-app_pid, sig);
                }
            }
        }
        if (fds[1].revents & (POLLIN | POLLHUP | POLLERR)) stream_read(&out_stream);
        if (fds[2].revents & (POLLIN | POLLHUP | POLLERR)) stream_read(&err_stream);
    }
    out_flush();
    dropped_save(1);

    int st = app_wait_status;
    int code, sig = 0;
    if (WIFSIGNALED(st)) {
        sig = WTERMSIG(st);
        code = 128 + sig;
    } else {
        code = WEXITSTATUS(st);
    }
    write_exit_record(code, sig, "");
    return code;
}
