/* Helpers every part of isolated-init shares (util.h). */
#define _GNU_SOURCE
#include "util.h"

#include <errno.h>
#include <string.h>
#include <unistd.h>

void (*failure_sink)(const struct init_failure *f);

void failure_set(struct init_failure *f, int step, int err, const char *detail) {
    memset(f, 0, sizeof *f);
    f->step = step;
    f->err = err;
    copy_str(f->detail, sizeof f->detail, detail ? detail : "");
}

int exit_code_for(const struct init_failure *f) {
    if (f->step == STEP_RESOLVE || (f->step == STEP_EXEC && f->err == ENOENT)) return INIT_EXIT_NOT_FOUND;
    if (f->step == STEP_EXEC) return INIT_EXIT_NOT_EXECUTABLE;
    return INIT_EXIT_SETUP_FAILED;
}

_Noreturn void die(const struct init_failure *f) {
    if (failure_sink) failure_sink(f);
    _exit(exit_code_for(f));
}

_Noreturn void die_step(int step, const char *detail) {
    struct init_failure f;
    failure_set(&f, step, errno, detail);
    die(&f);
}

int safe_close(int fd) {
    if (fd >= 0) {
        int saved = errno;
        close(fd);
        errno = saved;
    }
    return -1;
}

int write_all(int fd, const char *p, size_t n) {
    while (n) {
        ssize_t w = write(fd, p, n);
        if (w < 0) {
            if (errno == EINTR) continue;
            return -1;
        }
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

void put_pad(char *buf, size_t cap, size_t *pos, uint64_t v, int width) {
    char tmp[24];
    int n = 0;
    do {
        tmp[n++] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    while (n < width && n < (int)sizeof tmp) tmp[n++] = '0';
    while (n && *pos < cap) buf[(*pos)++] = tmp[--n];
}

void put_u64(char *buf, size_t cap, size_t *pos, uint64_t v) { put_pad(buf, cap, pos, v, 0); }

void put_str(char *buf, size_t cap, size_t *pos, const char *s) {
    while (*s && *pos < cap) buf[(*pos)++] = *s++;
}

void copy_str(char *dst, size_t cap, const char *src) {
    size_t n = strlen(src);
    if (n >= cap) n = cap - 1;
    memcpy(dst, src, n);
    dst[n] = 0;
}
