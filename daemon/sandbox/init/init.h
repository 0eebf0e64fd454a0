/* What the init's two modes share: the launch init (init.c, PID 1 of a sandbox) and
 * exec mode (exec.c, `isolated-init --exec`, a command entering a running sandbox)
 * read the same plan and turn a process into the app's command the same way. */
#ifndef ISOLATED_INIT_INIT_H
#define ISOLATED_INIT_INIT_H

#include <stdint.h>

#include "sandbox.h"

/* The launch plan (fd 3), as read_plan() found it; strings point into its blob. */
struct plan {
    char **argv;
    int argc;
    char **envp;
    int envc;
    const char *workdir;
    const char *log_name;
    const char *journal;
    const char *cgroup_procs[16];
    int ncgroup_procs;
    uint64_t log_max_size;
    uint32_t log_max_files;
    const char *app_name;
    const char *instance;
    uint32_t flags;
    const char *hostname;
    const char *stage;
    struct mount_rec *mounts;
    int nmounts;
    struct rlimit_rec *rlimits;
    int nrlimits;
    struct secret_rec *secrets;
    int nsecrets;
    struct sb_creds creds;
    uint32_t userns_uid, userns_gid, userns_count; /* PLAN_USERNS; count 0 = none */
};

/* The one plan of this process: there is one per process and every part reads it. */
extern struct plan P;

/* Reads the plan from INIT_FD_PLAN into P (the only allocations the init makes);
 * -1 with errno on a plan that cannot be read or parsed. */
int read_plan(void);
/* In a child that will exec: default dispositions and an empty mask, as a fresh process. */
void reset_signals(void);
/* In the process that becomes the app's command, stdout/stderr in place: credentials,
 * workdir, fd hygiene, the seccomp filter, exec. A failure goes to die(). */
_Noreturn void become_app(void);

/* `isolated-init --exec` (exec.c): returns the command's exit status. */
int exec_main(void);

#endif
