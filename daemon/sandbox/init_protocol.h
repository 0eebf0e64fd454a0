/* The contract between the daemon and isolated-init (the PID 1 of every sandbox).
 * Plain C so both the C++ daemon and the static C init include it.
 *
 * The daemon clone()s (CLONE_VM|CLONE_VFORK|CLONE_PIDFD) a child that execs the init
 * with these descriptors:
 *   0,1,2  /dev/null
 *   3      the launch plan (a sealed memfd holding TLV records, below)
 *   4      the report pipe (write end): the init writes struct init_report messages
 *   5      the log directory (O_DIRECTORY): the init writes <log_name>, rotates it
 *   6      the app's run directory (O_DIRECTORY): the init writes "exit" there
 *   7      optional "go" pipe (read end), when the plan has SB_WAIT_GO: the init
 *          waits for one byte before building the sandbox (with SB_GO_LATE: after
 *          building it, before the app starts), so the daemon can first attach
 *          cgroups or plumb the network; EOF = give up
 * and nothing else (close_range). argv = {"isolated-init", APP}, empty environment.
 * The daemon executes the init from a sealed memfd copy of the binary
 * (CVE-2019-5736: /proc/1/exe inside the sandbox cannot be written through).
 *
 * The init reports exactly one of REPORT_STARTED (the app was exec'd) or
 * REPORT_FAILED (setup or exec failed: step, errno, detail), then, when the app exits,
 * writes the exit record and exits with the app's code (128+signal when signalled).
 */
#ifndef ISOLATED_INIT_PROTOCOL_H
#define ISOLATED_INIT_PROTOCOL_H

#include <stdint.h>

#define INIT_FD_PLAN 3
#define INIT_FD_REPORT 4
#define INIT_FD_LOGDIR 5
#define INIT_FD_RUNDIR 6
#define INIT_FD_GO 7
#define INIT_FD_FIRST_FREE 8

/* ---- the plan: a sequence of records { uint32 tag; uint32 len; byte value[len] } ---- */
enum plan_tag {
    PLAN_ARG = 1,        /* one argv element (repeated, in order)            */
    PLAN_ENV = 2,        /* one "NAME=value" (repeated)                      */
    PLAN_WORKDIR = 3,    /* absolute path inside the sandbox                 */
    PLAN_LOG_NAME = 4,   /* file name in the log dir, e.g. "web.log"         */
    PLAN_LOG_MAX_SIZE = 5,  /* uint64: rotate when the file would exceed it  */
    PLAN_LOG_MAX_FILES = 6, /* uint32: files kept including the current one  */
    PLAN_APP_NAME = 7,   /* the app's name (for messages)                    */
    PLAN_INSTANCE = 8,   /* the daemon's id of this launch, echoed in the exit record */
    PLAN_FLAGS = 9,      /* uint32: SB_* below                               */
    PLAN_HOSTNAME = 10,  /* sethostname() (private uts namespace)            */
    PLAN_ROOT_STAGE = 11,/* host path of an empty dir the new root is mounted on */
    PLAN_MOUNT = 12,     /* struct plan_mount + 4 NUL-terminated strings, in order */
    PLAN_UID = 13,       /* uint32                                           */
    PLAN_GID = 14,       /* uint32                                           */
    PLAN_GROUPS = 15,    /* uint32[]: supplementary groups                   */
    PLAN_CAPS = 16,      /* uint64: capability mask kept (bounding, and permitted/effective/inheritable for uid 0) */
    PLAN_SECCOMP = 17,   /* struct sock_filter[]: the filter, loaded last    */
    PLAN_RLIMIT = 18,    /* uint32 resource, uint32 pad, uint64 cur, uint64 max */
    PLAN_UMASK = 19,     /* uint32                                           */
    PLAN_JOURNAL = 20,   /* journald's native socket: output goes there, one datagram a
                            line with ISOLATED_APP=, instead of to the log file  */
    PLAN_CGROUP_PROCS = 21, /* exec mode: a host cgroup.procs file the init writes itself
                            into (one per v1 hierarchy) before entering the sandbox */
    PLAN_USERNS = 22,    /* uint32 uid, gid, count: the app runs in a user namespace of its
                            own mapping 0..count-1 inside to uid.. / gid.. outside; mounts
                            flagged MF_IDMAP are idmapped to it. The init itself stays in the
                            host's user namespace (it writes the run and log dirs as root). */
    PLAN_SECRET = 23,    /* struct plan_secret + name + NUL + content: one file the MOP_SECRETS
                            step writes (repeated). The init wipes the contents from its memory
                            once they are written. */
};

enum sandbox_flags {
    SB_MOUNT_NS = 1u << 0,       /* build the root filesystem and pivot_root into it */
    SB_LOOPBACK = 1u << 1,       /* bring lo up (private network namespace)       */
    SB_NO_NEW_PRIVS = 1u << 2,   /* PR_SET_NO_NEW_PRIVS before exec               */
    SB_WAIT_GO = 1u << 3,        /* wait for a byte on INIT_FD_GO first           */
    SB_NO_INIT = 1u << 4,        /* "init": false -- exec the app as PID 1        */
    SB_READONLY_ROOT = 1u << 5,  /* make / read-only once it is populated         */
    SB_HAS_CAPS = 1u << 6,       /* apply PLAN_CAPS (else keep all)               */
    SB_TTY = 1u << 7,            /* exec mode: run the command on a new pty       */
    SB_CGROUP_NS = 1u << 8,      /* unshare the cgroup namespace once placed in the app's cgroup */
    SB_UNPRIV_PORTS = 1u << 9,   /* net.ipv4.ip_unprivileged_port_start=0 in the app's netns (a
                                    user-namespaced root holds no CAP_NET_BIND_SERVICE there) */
    SB_USER_NS = 1u << 10,       /* exec mode: also enter the app's user namespace */
    SB_GO_LATE = 1u << 11,       /* with SB_WAIT_GO: build the sandbox first and wait for the
                                    byte right before the app starts -- what the daemon does
                                    from outside (the veth) needs nothing from the build, and
                                    runs alongside it. Only when the init is in its cgroup
                                    already (an older init ignores it and waits first) */
};

/* One step of building the root filesystem. Targets are paths inside the new root,
 * resolved with openat2(RESOLVE_IN_ROOT) so no symlink leads outside it
 * (CVE-2021-30465); sources are host paths chosen by the daemon. */
enum mount_op {
    MOP_ROOT = 1,      /* the new root: fstype "tmpfs" (data = options), "overlay" (data), or a bind of source;
                          "overlay" with a source: the source is the lower layer, cloned (idmapped with
                          MF_IDMAP) and attached on the stage first; data holds upperdir= and workdir=
                          (or, with MF_TMPFS_UPPER, extra options only) */
    MOP_BIND = 2,      /* source -> target                                        */
    MOP_FS = 3,        /* a new fstype instance (data = options) on target        */
    MOP_MKDIR = 4,     /* target, mode                                            */
    MOP_SYMLINK = 5,   /* target -> source (the link's text)                      */
    MOP_MKNOD = 6,     /* character device target (mode, major, minor); a bind of /dev/<same> where mknod is not allowed */
    MOP_MASK = 7,      /* /dev/null over a file, an empty read-only tmpfs over a dir; absent targets are skipped */
    MOP_READONLY = 8,  /* bind target onto itself read-only; absent targets are skipped */
    MOP_SECRETS = 9,   /* a new tmpfs (data = options, attr), filled with the PLAN_SECRET files
                          while it is detached, made read-only, then attached on target: the app
                          never sees it writable or half-filled */
};

enum mount_flags {
    MF_READONLY = 1u << 0,
    MF_RECURSIVE = 1u << 1,
    MF_MKDIR = 1u << 2,     /* create a missing target directory (and parents)    */
    MF_MKFILE = 1u << 3,    /* create a missing target file (parents as dirs)     */
    MF_OPTIONAL = 1u << 4,  /* skip when the source or target is missing           */
    MF_IDMAP = 1u << 5,     /* bind / tmpfs / root: idmapped to the app's user namespace, so
                               host uid N shows inside as N - PLAN_USERNS uid (a read-only
                               mount whose filesystem cannot be idmapped stays as it is) */
    MF_TMPFS_UPPER = 1u << 6, /* root "overlay" with a source: the upper and work dirs are on a
                               small tmpfs the init makes, so mount points missing from the
                               source can be created in the sandbox's view only; with
                               MF_READONLY the root is made read-only once it is built. Where
                               overlayfs refuses the source, a read-only bind of it instead */
};

struct plan_mount {
    uint32_t op;
    uint32_t flags;      /* MF_*                                                */
    uint64_t attr;       /* MOUNT_ATTR_* for MOP_FS / MOP_ROOT                  */
    uint32_t mode;
    uint32_t major, minor;
    uint32_t pad;
    /* followed by: source \0 target \0 fstype \0 data \0 */
};

/* PLAN_SECRET: the file's mode and owner (host ids: the init stays in the host's user
 * namespace), then name_len bytes of name, a NUL, and the content (the rest). */
struct plan_secret {
    uint32_t mode;
    uint32_t uid, gid;
    uint32_t name_len;
};

/* ---- reports: fixed-size, written in one write() (< PIPE_BUF, so atomic) ---- */
enum report_kind {
    REPORT_STARTED = 1,  /* pid = the app's pid as the init sees it          */
    REPORT_FAILED = 2,   /* step, err, detail                                */
};

/* Where a launch failed; the daemon turns these into messages. */
enum init_step {
    STEP_NONE = 0,
    STEP_EXEC_INIT = 1,  /* the daemon's child could not exec the init       */
    STEP_READ_PLAN = 2,
    STEP_SIGNALS = 3,
    STEP_OPEN_LOG = 4,
    STEP_PIPES = 5,
    STEP_FORK = 6,
    STEP_CHDIR = 7,
    STEP_EXEC = 8,       /* execve of the app's command                      */
    STEP_RESOLVE = 9,    /* the command was not found on PATH                */
    STEP_GO = 10,        /* the daemon gave up before the sandbox was built  */
    STEP_MOUNT = 11,     /* detail: what was mounted where                   */
    STEP_PIVOT = 12,
    STEP_HOSTNAME = 13,
    STEP_LOOPBACK = 14,
    STEP_CREDENTIALS = 15, /* setgroups/setresgid/setresuid                  */
    STEP_CAPS = 16,
    STEP_SECCOMP = 17,
    STEP_NO_NEW_PRIVS = 18,
    STEP_RLIMIT = 19,
    STEP_JOIN = 20,      /* setns into another app's namespaces (daemon's child) */
    STEP_USERNS = 21,    /* creating or entering the app's user namespace    */
    STEP_SECRETS = 22,   /* the /run/secrets tmpfs: detail says which part (a secret by name) */
    /* Steps that shared a neighbour's code before they had their own (an init that
     * predates them still reports that neighbour's: codes are never renumbered). */
    STEP_CGROUP_NS = 23, /* unshare the cgroup namespace (was STEP_MOUNT)      */
    STEP_SYSCTL = 24,    /* a sysctl in the app's namespaces; detail: name=value (was STEP_USERNS) */
    STEP_PTY = 25,       /* exec mode: the command's pty (was STEP_PIPES)      */
    STEP_CGROUP = 26,    /* writing cgroup.procs to enter the app's cgroup; detail: which
                            (was STEP_EXEC_INIT in the daemon's child, STEP_JOIN in exec mode) */
    STEP_JOURNAL = 27,   /* connecting to journald's socket; detail: its path (was STEP_OPEN_LOG) */
};

#define INIT_REPORT_DETAIL 240

struct init_report {
    uint32_t kind;
    int32_t step;
    int32_t err;
    int32_t pid;
    char detail[INIT_REPORT_DETAIL]; /* NUL-terminated */
};

/* Exit codes for launches that never ran the app (Docker's convention). */
#define INIT_EXIT_SETUP_FAILED 125 /* the sandbox could not be built        */
#define INIT_EXIT_NOT_EXECUTABLE 126
#define INIT_EXIT_NOT_FOUND 127

/* The exit record, <run>/apps/<app>/exit, written atomically (tmp + rename):
 *   instance=<PLAN_INSTANCE of the launch>
 *   code=<exit code, or 128+signal>
 *   signal=<0, or the signal that killed the app>
 *   at=<seconds>.<nanoseconds> (CLOCK_REALTIME)
 *   message=<text, may be empty>
 * The daemon removes it before each launch and checks `instance`, so a record is never
 * mistaken for another run's -- also by a daemon that adopted the app later. */
#define INIT_EXIT_FILE "exit"

/* The log lines the init could not write (a full or failing log dir) since the
 * instance started, <run>/apps/<app>/log-dropped, rewritten atomically at most once a
 * second while it grows:
 *   lines=<records dropped>
 *   bytes=<their bytes, as CRI records>
 * The daemon removes it before each launch, reads it for status and metrics. */
#define INIT_LOG_DROPPED_FILE "log-dropped"

/* Exec mode (`isoctl exec`): argv = {"isolated-init", "--exec"}, fd 3 the plan (argv,
 * env, workdir, credentials, capabilities, seccomp; no mounts), fd 4 a pidfd of the
 * app's init. The process enters every namespace of that init, forks the command into
 * them with the app's credentials and hardening -- on a new pty from the sandbox's own
 * devpts when SB_TTY, relaying it to its stdin/stdout -- and exits with its status. */
#define INIT_EXEC_FD_PIDFD 4

/* The init keeps the app's user namespace open on this fd (PLAN_USERNS), so that exec
 * mode can enter it (pidfd_getfd): the init itself is not in it. */
#define INIT_FD_USERNS 100

#endif
