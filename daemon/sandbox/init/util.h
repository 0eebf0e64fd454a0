/* What every part of isolated-init shares: its one failure record and the way out
 * with it, an errno-keeping close, and string helpers that need no stdio. All of it
 * is async-signal-safe: it also runs in forked children on their way to exec. */
#ifndef ISOLATED_INIT_UTIL_H
#define ISOLATED_INIT_UTIL_H

#include <stddef.h>
#include <stdint.h>

#include "init_protocol.h"

/* Where a step failed: an init_step, the errno, and a detail for the message. One
 * shape for the whole init: sandbox.c fills it, the app's child sends it to the init
 * over a pipe as it is, and the init reports it to the daemon (launch) or prints it
 * (exec mode). */
struct init_failure {
    int32_t step;
    int32_t err;
    char detail[200];
};

/* Where die() sends a failure before the process exits. Set by each process for its
 * role -- the launch init reports to the daemon, exec mode prints to stderr, the app's
 * child hands it to the init -- and inherited across fork, as the roles are. */
extern void (*failure_sink)(const struct init_failure *f);

/* Fills *f (the detail truncated to fit). */
void failure_set(struct init_failure *f, int step, int err, const char *detail);
/* Sends F to failure_sink and exits with exit_code_for(F). */
_Noreturn void die(const struct init_failure *f);
/* die() for the step that just failed, errno being its error: the one line every
 * failing step of the init ends in. */
_Noreturn void die_step(int step, const char *detail);
/* Docker's convention: 127 when the command was not found, 126 when it could not be
 * executed, 125 when the sandbox could not be built. */
int exit_code_for(const struct init_failure *f);

/* close() for cleanup on an error path: errno stays that of the failure being
 * reported (systemd's safe_close). A negative fd is ignored; returns -1, so that
 * `fd = safe_close(fd);` also forgets it. */
int safe_close(int fd);

/* write() until done (EINTR retried); -1 on error. */
int write_all(int fd, const char *p, size_t n);
/* Appends a decimal / a string at buf[*pos], never past cap (no NUL). */
void put_u64(char *buf, size_t cap, size_t *pos, uint64_t v);
/* Appends the decimal form of v to buf at *pos, zero-padded to `width` digits. */
void put_pad(char *buf, size_t cap, size_t *pos, uint64_t v, int width);
void put_str(char *buf, size_t cap, size_t *pos, const char *s);
/* strlcpy: at most cap-1 bytes, always NUL-terminated. */
void copy_str(char *dst, size_t cap, const char *src);

#endif
