/* isolated-init --exec: a command entering a running sandbox (`isoctl exec`, exec
 * probes; the protocol is at INIT_EXEC_FD_PIDFD in init_protocol.h).
 *
 * It reads a plan like the launch init's (argv, env, workdir, credentials,
 * capabilities, seccomp; no mounts), joins the app's cgroup and every namespace of
 * the app's init, forks the command into them with the app's credentials and
 * hardening -- on a new pty from the sandbox's own devpts when SB_TTY, relayed to
 * our stdin/stdout -- and exits with its status. Nobody reads a report here: a
 * failure is one line on stderr ("isolated-init: <detail>: <strerror>") and Docker's
 * exit code (125, 126, 127), which is what `isoctl exec` and exec probes show.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

#include "init.h"
#include "init_protocol.h"
#include "util.h"

#ifndef SYS_pidfd_getfd
#define SYS_pidfd_getfd 438
#endif

/* Exec mode's failure sink: the caller (isoctl, or the daemon's exec probe) shows our
 * stderr as it is. */
static void print_failure(const struct init_failure *f) {
    char msg[400];
    size_t pos = 0;
    put_str(msg, sizeof msg - 2, &pos, "isolated-init: ");
    put_str(msg, sizeof msg - 2, &pos, f->detail[0] ? f->detail : "exec");
    put_str(msg, sizeof msg - 2, &pos, ": ");
    put_str(msg, sizeof msg - 2, &pos, strerror(f->err));
    msg[pos++] = '\n';
    (void)write_all(2, msg, pos);
}

int exec_main(void) {
    failure_sink = print_failure;
    if (read_plan() < 0) die_step(STEP_READ_PLAN, "read plan");
    close(INIT_FD_PLAN);
    P.creds.no_new_privs = (P.flags & SB_NO_NEW_PRIVS) != 0;
    prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
    /* Into the app's cgroup first (host paths, so before the mount namespace changes):
     * the command and everything it starts count against the app's limits. Writing 0
     * moves the writer (kernel/cgroup/cgroup.c: pid 0 means current). */
    for (int i = 0; i < P.ncgroup_procs; i++) {
        int fd = open(P.cgroup_procs[i], O_WRONLY | O_CLOEXEC);
        if (fd < 0 || write(fd, "0", 1) != 1) die_step(STEP_CGROUP, P.cgroup_procs[i]);
        close(fd);
    }
    /* The app's user namespace is entered last, by the command (sb_apply_creds): the
     * init holds it open (it is not in it itself); with "init": false the pidfd's
     * process is the app, whose namespace it is. */
    if (P.flags & SB_USER_NS) {
        int u = (int)syscall(SYS_pidfd_getfd, INIT_EXEC_FD_PIDFD, INIT_FD_USERNS, 0);
        if (u < 0 && errno == EBADF) u = fcntl(INIT_EXEC_FD_PIDFD, F_DUPFD_CLOEXEC, INIT_FD_FIRST_FREE);
        if (u < 0) die_step(STEP_USERNS, "get the app's user namespace");
        P.creds.userns_fd = u;
    }
    /* Every namespace of the app's init; joining one we already share is a no-op. The
     * mount namespace's switch also moves root and cwd into the sandbox's root. */
    if (setns(INIT_EXEC_FD_PIDFD, CLONE_NEWNS | CLONE_NEWPID | CLONE_NEWNET | CLONE_NEWIPC | CLONE_NEWUTS |
                                      CLONE_NEWCGROUP) < 0)
        die_step(STEP_JOIN, "enter the app's namespaces");
    close(INIT_EXEC_FD_PIDFD);
    int master = -1, slave_fd = -1;
    char slave[64] = "";
    if (P.flags & SB_TTY) {
        master = open("/dev/ptmx", O_RDWR | O_NOCTTY | O_CLOEXEC);
        int n = 0, unlock = 0;
        if (master < 0 || ioctl(master, TIOCSPTLCK, &unlock) < 0 || ioctl(master, TIOCGPTN, &n) < 0)
            die_step(STEP_PTY, "open a pty in the sandbox");
        size_t pos = 0;
        put_str(slave, sizeof slave - 1, &pos, "/dev/pts/");
        put_u64(slave, sizeof slave - 1, &pos, (uint64_t)n);
        slave[pos] = 0;
        struct winsize ws;
        if (ioctl(0, TIOCGWINSZ, &ws) == 0) ioctl(master, TIOCSWINSZ, &ws);
        /* Opened here, as root of the host's user namespace: in the app's, the slave's
         * owner (our uid) is unmapped and the command could not open it. */
        slave_fd = open(slave, O_RDWR | O_NOCTTY | O_CLOEXEC);
        if (slave_fd < 0) die_step(STEP_PTY, slave);
    }
    sigset_t all, old;
    sigfillset(&all);
    sigprocmask(SIG_SETMASK, &all, &old);
    int sfd = signalfd(-1, &all, SFD_CLOEXEC | SFD_NONBLOCK);
    pid_t pid = fork();
    if (pid < 0) die_step(STEP_FORK, "fork");
    if (pid == 0) {
        reset_signals();
        if (master >= 0) {
            setsid();
            int s = slave_fd;
            if (ioctl(s, TIOCSCTTY, 0) < 0 || dup2(s, 0) < 0 || dup2(s, 1) < 0 || dup2(s, 2) < 0)
                die_step(STEP_PTY, slave);
        }
        become_app();
    }
    if (slave_fd >= 0) close(slave_fd);
    /* Relay the pty, forward signals, wait. */
    int status = 0, done = 0;
    char buf[8192];
    while (!done) {
        struct pollfd fds[3] = {{sfd, POLLIN, 0}, {master >= 0 ? 0 : -1, POLLIN, 0}, {master, POLLIN, 0}};
        if (poll(fds, 3, -1) < 0 && errno != EINTR) break;
        if (fds[0].revents & POLLIN) {
            struct signalfd_siginfo si;
            while (read(sfd, &si, sizeof si) == (ssize_t)sizeof si) {
                if (si.ssi_signo == SIGCHLD) {
                    if (waitpid(pid, &status, WNOHANG) == pid) done = 1;
                } else if (si.ssi_signo == SIGWINCH && master >= 0) {
                    struct winsize ws;
                    if (ioctl(0, TIOCGWINSZ, &ws) == 0) ioctl(master, TIOCSWINSZ, &ws);
                } else {
                    kill(pid, (int)si.ssi_signo);
                }
            }
        }
        if (fds[1].revents & (POLLIN | POLLHUP)) {
            ssize_t n = read(0, buf, sizeof buf);
            if (n > 0) (void)write_all(master, buf, (size_t)n);
            else fds[1].fd = -1, close(0), open("/dev/null", O_RDONLY);
        }
        if (fds[2].revents & (POLLIN | POLLHUP | POLLERR)) {
            ssize_t n = read(master, buf, sizeof buf);
            if (n > 0) (void)write_all(1, buf, (size_t)n);
        }
    }
    if (master >= 0) { /* what is left in the pty */
        fcntl(master, F_SETFL, O_NONBLOCK);
        ssize_t n;
        while ((n = read(master, buf, sizeof buf)) > 0) (void)write_all(1, buf, (size_t)n);
    }
    if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
    return WEXITSTATUS(status);
}
