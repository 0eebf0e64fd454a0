/* The sandbox half of isolated-init: building the root filesystem from the plan's
 * mount steps, pivot_root, hostname, loopback, and the app's credentials,
 * capabilities and seccomp filter. Called by init.c (and exec.c for the credentials);
 * no state of its own. */
#ifndef ISOLATED_INIT_SANDBOX_H
#define ISOLATED_INIT_SANDBOX_H

#include <stddef.h>
#include <stdint.h>

#include "init_protocol.h"
#include "util.h"

struct mount_rec {
    struct plan_mount m;
    const char *source, *target, *fstype, *data;
};

/* One PLAN_SECRET: written into the MOP_SECRETS tmpfs. */
struct secret_rec {
    const char *name;
    char *content; /* wiped once written */
    size_t len;
    uint32_t mode, uid, gid;
};

struct rlimit_rec {
    uint32_t resource;
    uint64_t cur, max;
};

/* Each sb_* function below returns -1 with *e filled when a step fails; its caller
 * ends with die(e). */

/* Builds the root described by the mount steps on `stage` and pivots into it; a
 * MOP_SECRETS step writes `secrets`. */
int sb_build_root(const char *stage, const struct mount_rec *mounts, int n, const struct secret_rec *secrets,
                  int nsecrets, int readonly_root, struct init_failure *e);
int sb_set_hostname(const char *name, struct init_failure *e);
/* The app's user namespace (PLAN_USERNS): returns an fd of it, or -1. Call while the
 * host's /proc is still mounted (before sb_build_root). */
int sb_make_userns(uint32_t uid, uint32_t gid, uint32_t count, struct init_failure *e);
/* Mounts flagged MF_IDMAP are idmapped to this user namespace (-1: none). */
extern int sb_userns_fd;
/* net.ipv4.ip_unprivileged_port_start=0 in the current network namespace. */
int sb_unprivileged_ports(struct init_failure *e);
int sb_loopback_up(struct init_failure *e);

struct sb_creds {
    int has_uid;
    uint32_t uid, gid;
    const uint32_t *groups; /* unaligned: read with memcpy */
    int ngroups;
    int has_caps;
    uint64_t caps;
    int no_new_privs;
    const void *seccomp; /* struct sock_filter[], unaligned */
    size_t seccomp_len;  /* bytes */
    const struct rlimit_rec *rlimits;
    int nrlimits;
    int has_umask;
    uint32_t umask;
    int userns_fd; /* the app's user namespace to enter, or -1 */
};

/* In the app's process, right before exec: rlimits, umask, bounding set,
 * credentials, capabilities, no_new_privs, seccomp -- in the order that keeps each
 * step permitted. */
int sb_apply_creds(const struct sb_creds *c, struct init_failure *e);
/* The seccomp filter, when no_new_privs allows loading it as the very last step. */
int sb_apply_seccomp_last(const struct sb_creds *c, struct init_failure *e);

#endif
