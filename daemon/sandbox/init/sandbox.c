/* Building the sandbox inside the new namespaces, from the daemon's plan.
 *
 * Mounts use the new mount API (open_tree, fsopen/fsmount, move_mount,
 * mount_setattr): every mount is made detached, given its attributes (read-only,
 * nosuid, ...) atomically and recursively, and attached onto a target that was opened
 * with openat2(RESOLVE_IN_ROOT) relative to the new root -- so a symlink planted in a
 * rootfs directory can never lead a mount outside it (CVE-2021-30465), and a mount is
 * never visible half-configured. Everything happens in the init's private mount
 * namespace: if a step fails the init exits and the kernel drops every mount with it,
 * so nothing stays mounted on the host.
 */
#define _GNU_SOURCE
#include "sandbox.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <net/if.h>
#include <sched.h>
#include <string.h>
#include <sys/fsuid.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <unistd.h>

/* musl ships no kernel uapi headers: the few constants needed, from linux/mount.h,
 * linux/openat2.h, linux/capability.h and linux/seccomp.h. */
#ifndef SYS_mount_setattr
#define SYS_mount_setattr 442
#endif
#define OPEN_TREE_CLONE 1
#define SB_AT_RECURSIVE 0x8000
#define MOVE_MOUNT_F_EMPTY_PATH 0x4
#define MOVE_MOUNT_T_EMPTY_PATH 0x40
#define FSOPEN_CLOEXEC 1
#define FSCONFIG_SET_FLAG 0
#define FSCONFIG_SET_STRING 1
#define FSCONFIG_CMD_CREATE 6
#define FSMOUNT_CLOEXEC 1
#define MOUNT_ATTR_RDONLY 0x1
#define MOUNT_ATTR_IDMAP 0x00100000
#define RESOLVE_NO_MAGICLINKS 0x02
#define RESOLVE_NO_SYMLINKS 0x04
#define RESOLVE_BENEATH 0x08
#define RESOLVE_IN_ROOT 0x10
#define LINUX_CAPABILITY_VERSION_3 0x20080522
#define SECCOMP_SET_MODE_FILTER 1

struct sb_mount_attr {
    uint64_t attr_set, attr_clr, propagation, userns_fd;
};
struct sb_open_how {
    uint64_t flags, mode, resolve;
};

static int sys_open_tree(int dfd, const char *path, unsigned flags) {
    return (int)syscall(SYS_open_tree, dfd, path, flags);
}
static int sys_move_mount(int from_dfd, const char *from, int to_dfd, const char *to, unsigned flags) {
    return (int)syscall(SYS_move_mount, from_dfd, from, to_dfd, to, flags);
}
static int sys_fsopen(const char *fs) { return (int)syscall(SYS_fsopen, fs, FSOPEN_CLOEXEC); }
static int sys_fsconfig(int fd, unsigned cmd, const char *key, const char *value) {
    return (int)syscall(SYS_fsconfig, fd, cmd, key, value, 0);
}
static int sys_fsmount(int fd, unsigned attrs) { return (int)syscall(SYS_fsmount, fd, FSMOUNT_CLOEXEC, attrs); }
static int sys_mount_setattr(int dfd, const char *path, unsigned flags, uint64_t set) {
    struct sb_mount_attr a;
    memset(&a, 0, sizeof a);
    a.attr_set = set;
    return (int)syscall(SYS_mount_setattr, dfd, path, flags, &a, sizeof a);
}

int sb_userns_fd = -1;
static uint32_t userns_root_uid, userns_root_gid;

/* MNT (detached) idmapped to the app's user namespace when the step asks for it. A
 * read-only mount whose filesystem does not support idmapping is left as it is: its
 * files only show as nobody inside; a writable one is an error. Closes MNT on failure. */
static int idmap(int mnt, const struct mount_rec *r, int recursive) {
    if (mnt < 0 || !(r->m.flags & MF_IDMAP) || sb_userns_fd < 0) return mnt;
    struct sb_mount_attr a;
    memset(&a, 0, sizeof a);
    a.attr_set = MOUNT_ATTR_IDMAP;
    a.userns_fd = (uint64_t)sb_userns_fd;
    if (syscall(SYS_mount_setattr, mnt, "", AT_EMPTY_PATH | (recursive ? SB_AT_RECURSIVE : 0), &a, sizeof a) == 0)
        return mnt;
    if ((r->m.flags & MF_READONLY) && (errno == EINVAL || errno == EOPNOTSUPP)) return mnt;
    safe_close(mnt);
    return -1;
}

static void set_error(struct init_failure *e, int step, int err, const char *a, const char *b, const char *c) {
    e->step = step;
    e->err = err;
    size_t pos = 0;
    const char *parts[3] = {a, b, c};
    for (int i = 0; i < 3; i++)
        for (const char *p = parts[i]; p && *p && pos + 1 < sizeof e->detail; p++) e->detail[pos++] = *p;
    e->detail[pos] = 0;
}

static int root_fd = -1;

/* Opens PATH (absolute, inside the new root) without leaving the root. */
static int in_root(const char *path, int oflags) {
    struct sb_open_how how;
    memset(&how, 0, sizeof how);
    how.flags = (uint64_t)(oflags | O_CLOEXEC);
    how.resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS;
    return (int)syscall(SYS_openat2, root_fd, path, &how, sizeof how);
}

/* Splits "/a/b/c" into dir "/a/b" and base "c" (buffers of PATH_MAX). */
static void split(const char *path, char *dir, char *base) {
    const char *slash = strrchr(path, '/');
    if (!slash) {
        strcpy(dir, "/");
        strcpy(base, path);
        return;
    }
    size_t n = (size_t)(slash - path);
    if (n == 0) {
        strcpy(dir, "/");
    } else {
        memcpy(dir, path, n);
        dir[n] = 0;
    }
    strcpy(base, slash + 1);
}

/* split() for the lookups below: 0 unless BASE is one plain name (not empty, ".", "..")
 * and both parts fit. */
static int split_plain(const char *path, char *dir, size_t dcap, char *base, size_t bcap) {
    const char *slash = strrchr(path, '/');
    if (!slash || path[0] != '/') return 0;
    size_t dl = (size_t)(slash - path), bl = strlen(slash + 1);
    if (dl >= dcap || bl >= bcap || bl == 0 || !strcmp(slash + 1, ".") || !strcmp(slash + 1, "..")) return 0;
    split(path, dir, base);
    return 1;
}

/* The directories of the new root looked up so far, by the path the plan names them
 * with, so that a step whose parent is known opens one name relative to it instead of
 * walking from the root again (the plan creates /var/cache, /var/lib, ... and /dev/null,
 * /dev/zero, ... one after the other). A path is what openat2(RESOLVE_IN_ROOT) made of
 * it, and stays so only while nothing is mounted: every attach empties the cache, so an
 * entry never stands for a directory a later mount covers. A name below a cached parent
 * is opened with RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS: a symlink (or a "..") there
 * falls back to the full walk from the root, whose meaning it keeps -- an app's rootfs
 * is hostile, and no lookup leaves the root either way. Fresh entries are directories
 * this build created (or an empty root it mounted): nothing can be below them yet but
 * what the build itself puts there, so a child is created without looking first. */
#define DIR_CACHE 48
static struct {
    const char *path; /* in dcache_names */
    int fd, fresh;
} dcache[DIR_CACHE];
static int ndcache;
static char dcache_names[16384];
static size_t dcache_used;

static void cache_clear(void) {
    for (int i = 0; i < ndcache; i++)
        if (dcache[i].fd >= 0) close(dcache[i].fd);
    ndcache = 0;
    dcache_used = 0;
}

static int cache_find(const char *path) {
    for (int i = ndcache - 1; i >= 0; i--)
        if (!strcmp(dcache[i].path, path)) return i;
    return -1;
}

/* Keeps FD (>= 0) for PATH (shorter than PATH_MAX) and returns it, borrowed from then
 * on; a full cache starts over first (its entries are cheap to make again). */
static int cache_put(const char *path, int fd, int fresh) {
    if (fd < 0) return -1;
    size_t len = strlen(path) + 1;
    if (ndcache == DIR_CACHE || dcache_used + len > sizeof dcache_names) cache_clear();
    if (len > sizeof dcache_names) { /* cannot happen: paths are below PATH_MAX */
        close(fd);
        errno = ENAMETOOLONG;
        return -1;
    }
    memcpy(dcache_names + dcache_used, path, len);
    dcache[ndcache].path = dcache_names + dcache_used;
    dcache_used += len;
    dcache[ndcache].fd = fd;
    dcache[ndcache].fresh = fresh;
    return dcache[ndcache++].fd;
}

/* Opens NAME (one component) right below DIR: no symlink, no "..". */
static int beneath(int dir, const char *name, int oflags) {
    struct sb_open_how how;
    memset(&how, 0, sizeof how);
    how.flags = (uint64_t)(oflags | O_CLOEXEC);
    how.resolve = RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS;
    return (int)syscall(SYS_openat2, dir, name, &how, sizeof how);
}

/* in_root(PATH, OFLAGS), relative to PATH's parent when the cache has it. */
static int lookup(const char *path, int oflags) {
    char dir[4096], base[256];
    int i;
    if (!split_plain(path, dir, sizeof dir, base, sizeof base)) return in_root(path, oflags);
    int parent = !strcmp(dir, "/") ? root_fd : ((i = cache_find(dir)) >= 0 ? dcache[i].fd : -1);
    if (parent < 0) return in_root(path, oflags);
    int fd = beneath(parent, base, oflags);
    /* ENOENT under a known parent is the answer; ELOOP (a symlink), EXDEV, ...: the
     * full walk decides. */
    if (fd >= 0 || errno == ENOENT) return fd;
    return in_root(path, oflags);
}

static int is_root_path(const char *path) { return path[0] == '/' && path[1] == 0; }

/* An O_PATH fd of directory PATH inside the root, kept in the cache (borrowed: never
 * closed by the caller, valid until the next attach). */
static int dir_at(const char *path) {
    if (is_root_path(path)) return root_fd;
    int i = cache_find(path);
    if (i < 0) return cache_put(path, lookup(path, O_PATH | O_DIRECTORY), 0);
    if (dcache[i].fd < 0) { /* made by mkdir_p, opened when first needed */
        int fd = lookup(path, O_PATH | O_DIRECTORY);
        if (fd < 0) return -1;
        dcache[i].fd = fd;
    }
    return dcache[i].fd;
}

static int root_fresh; /* the root is an empty filesystem this build mounted */

static int is_fresh(const char *path) {
    if (is_root_path(path)) return root_fresh;
    int i = cache_find(path);
    return i >= 0 && dcache[i].fresh;
}

/* mkdir -p inside the root: 0 once PATH is a directory (in the cache, for dir_at),
 * -1 with errno. Each component resolves inside the root. CHECK = 0: the caller has
 * just found PATH missing. Fresh parents (is_fresh) are not searched first: a wrong
 * guess only costs the EEXIST of the mkdir, which then looks. */
static int mkdir_p(const char *path, mode_t last_mode, int check) {
    if (is_root_path(path)) return 0;
    if (cache_find(path) >= 0) return 0;
    char dir[4096], base[256];
    if (!split_plain(path, dir, sizeof dir, base, sizeof base)) {
        /* Odd paths ("/a/", "/a/.."): the full walk, component by component. */
        int fd = in_root(path, O_PATH | O_DIRECTORY);
        if (fd >= 0 || errno != ENOENT) return cache_put(path, fd, 0) < 0 ? -1 : 0;
        char d[4096], b[256];
        if (strlen(path) >= sizeof d) {
            errno = ENAMETOOLONG;
            return -1;
        }
        split(path, d, b);
        if (mkdir_p(d, 0755, 1) < 0) return -1;
        int parent = dir_at(d);
        if (parent < 0 || (mkdirat(parent, b, last_mode) < 0 && errno != EEXIST)) return -1;
        return cache_put(path, in_root(path, O_PATH | O_DIRECTORY), 0) < 0 ? -1 : 0;
    }
    if (check && !is_fresh(dir)) {
        if (dir_at(path) >= 0) return 0;
        if (errno != ENOENT) return -1;
    }
    if (mkdir_p(dir, 0755, 1) < 0) return -1;
    int parent = dir_at(dir);
    if (parent < 0) return -1;
    if (mkdirat(parent, base, last_mode) == 0) {
        /* A directory of ours: no need to open it unless something goes below it. */
        if (ndcache == DIR_CACHE || dcache_used + strlen(path) + 1 > sizeof dcache_names) return 0;
        memcpy(dcache_names + dcache_used, path, strlen(path) + 1);
        dcache[ndcache].path = dcache_names + dcache_used;
        dcache_used += strlen(path) + 1;
        dcache[ndcache].fd = -1;
        dcache[ndcache++].fresh = 1;
        return 0;
    }
    if (errno != EEXIST) return -1;
    int fd = beneath(parent, base, O_PATH | O_DIRECTORY);
    if (fd < 0 && errno != ENOENT) fd = in_root(path, O_PATH | O_DIRECTORY);
    return cache_put(path, fd, 0) < 0 ? -1 : 0;
}

/* Creates an empty file at PATH inside the root (parents as directories). A dangling
 * symlink in the way (an /etc/resolv.conf pointing into /run) is followed inside the
 * root, never on the host: O_NOFOLLOW on the create, then the link text re-resolved. */
static int create_in_root(const char *path, int depth) {
    if (depth > 8) {
        errno = ELOOP;
        return -1;
    }
    char dir[4096], base[256];
    if (strlen(path) >= sizeof dir) {
        errno = ENAMETOOLONG;
        return -1;
    }
    split(path, dir, base);
    int parent = mkdir_p(dir, 0755, 1) < 0 ? -1 : dir_at(dir);
    if (parent < 0) return -1;
    int fd = openat(parent, base, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);
    if (fd >= 0) {
        close(fd);
        return 0;
    }
    if (errno != EEXIST) return -1;
    char link[4096];
    ssize_t n = readlinkat(parent, base, link, sizeof link - 1);
    if (n < 0) return errno == EINVAL ? 0 : -1; /* exists and is no symlink */
    link[n] = 0;
    if (link[0] == '/') return create_in_root(link, depth + 1);
    char joined[8192];
    size_t dl = strlen(dir);
    if (dl + 1 + (size_t)n + 1 > sizeof joined) {
        errno = ENAMETOOLONG;
        return -1;
    }
    memcpy(joined, dir, dl);
    joined[dl] = '/';
    memcpy(joined + dl + 1, link, (size_t)n + 1);
    return create_in_root(joined, depth + 1);
}

/* Takes PATH's fd out of the cache (the caller owns it), or opens it. */
static int take_dir(const char *path) {
    int i = cache_find(path);
    if (i < 0 || dcache[i].fd < 0)
        return is_root_path(path) ? fcntl(root_fd, F_DUPFD_CLOEXEC, 0) : lookup(path, O_PATH | O_DIRECTORY);
    int fd = dcache[i].fd;
    dcache[i].fd = -1; /* the entry stays (its name is known to exist), unopened */
    return fd;
}

/* The target of a step, created when the step asks for it. -2 = absent and optional. */
static int open_target(const struct mount_rec *r) {
    int fd = -1;
    /* Under a directory this build just made, there is nothing to find yet. */
    char dir[4096], base[256];
    int fresh = split_plain(r->target, dir, sizeof dir, base, sizeof base) && is_fresh(dir);
    if (!fresh || !(r->m.flags & (MF_MKDIR | MF_MKFILE))) {
        fd = lookup(r->target, O_PATH);
        if (fd >= 0 || errno != ENOENT) return fd;
    }
    if (r->m.flags & MF_MKDIR) {
        fd = mkdir_p(r->target, 0755, 0) < 0 ? -1 : take_dir(r->target);
        return fd < 0 && (r->m.flags & MF_OPTIONAL) ? -2 : fd;
    }
    if (r->m.flags & MF_MKFILE) {
        if (create_in_root(r->target, 0) < 0) return (r->m.flags & MF_OPTIONAL) ? -2 : -1;
        return lookup(r->target, O_PATH);
    }
    if (r->m.flags & MF_OPTIONAL) return -2;
    errno = ENOENT;
    return -1;
}

/* Attaches MNT (consumed) on TARGET_FD. Whatever was looked up before may now be
 * covered: the cache starts over. */
static int attach(int mnt, int target_fd) {
    cache_clear();
    int rc = sys_move_mount(mnt, "", target_fd, "", MOVE_MOUNT_F_EMPTY_PATH | MOVE_MOUNT_T_EMPTY_PATH);
    safe_close(mnt);
    return rc;
}

/* Attaches MNT onto T and closes both (either may be -1 from a failed call: then
 * nothing is attached and errno is kept). */
static int attach_at(int mnt, int t) {
    if (mnt < 0 || t < 0) {
        safe_close(mnt);
        safe_close(t);
        return -1;
    }
    int rc = attach(mnt, t);
    safe_close(t);
    return rc;
}

/* MNT (consumed) onto the step's target, created as the step asks; an absent
 * optional target is skipped. An empty filesystem the build mounted (a tmpfs) is
 * kept in the cache as its target: the steps that fill it (/dev's nodes, /var's
 * skeleton) start from it. */
static int mount_on_target(int mnt, const struct mount_rec *r, int empty_fs) {
    if (mnt < 0) return -1;
    int t = open_target(r);
    if (t == -2) {
        close(mnt);
        return 0;
    }
    if (t < 0) {
        safe_close(mnt);
        return -1;
    }
    cache_clear();
    int rc = sys_move_mount(mnt, "", t, "", MOVE_MOUNT_F_EMPTY_PATH | MOVE_MOUNT_T_EMPTY_PATH);
    safe_close(t);
    /* The detached mount's fd is its root, where the target now leads. */
    if (rc == 0 && empty_fs && cache_put(r->target, mnt, 1) >= 0) return 0;
    safe_close(mnt);
    return rc;
}

/* A new instance of FSTYPE, detached; DATA is "key=value,flag,..." (no escaping: the
 * daemon never puts commas in values). */
static int new_fs(const char *fstype, const char *data, uint64_t attr) {
    int fs = sys_fsopen(fstype);
    if (fs < 0) return -1;
    char buf[4096];
    if (strlen(data) >= sizeof buf) {
        close(fs);
        errno = ENAMETOOLONG;
        return -1;
    }
    strcpy(buf, data);
    for (char *opt = buf; opt && *opt;) {
        char *comma = strchr(opt, ',');
        if (comma) *comma = 0;
        char *eq = strchr(opt, '=');
        int rc;
        if (eq) {
            *eq = 0;
            rc = sys_fsconfig(fs, FSCONFIG_SET_STRING, opt, eq + 1);
        } else {
            rc = sys_fsconfig(fs, FSCONFIG_SET_FLAG, opt, NULL);
        }
        if (rc < 0) {
            safe_close(fs);
            return -1;
        }
        opt = comma ? comma + 1 : NULL;
    }
    if (sys_fsconfig(fs, FSCONFIG_CMD_CREATE, NULL, NULL) < 0) {
        safe_close(fs);
        return -1;
    }
    int mnt = sys_fsmount(fs, (unsigned)attr);
    safe_close(fs);
    return mnt;
}

/* A detached copy of SOURCE (a host path), made read-only if asked. */
static int clone_tree(int dfd, const char *source, unsigned extra_flags, int recursive, int readonly) {
    int mnt = sys_open_tree(dfd, source, OPEN_TREE_CLONE | O_CLOEXEC | extra_flags | (recursive ? SB_AT_RECURSIVE : 0));
    if (mnt < 0) return -1;
    if (readonly && sys_mount_setattr(mnt, "", AT_EMPTY_PATH | (recursive ? SB_AT_RECURSIVE : 0), MOUNT_ATTR_RDONLY) < 0) {
        safe_close(mnt);
        return -1;
    }
    return mnt;
}

/* The host's /dev/null, checked to be the real device before anything is masked with
 * it (CVE-2025-31133: a swapped /dev/null turns masks into holes). */
static int dev_null_ok = -1;
static int check_dev_null(void) {
    if (dev_null_ok < 0) {
        struct stat st;
        dev_null_ok = stat("/dev/null", &st) == 0 && S_ISCHR(st.st_mode) && major(st.st_rdev) == 1 &&
                      minor(st.st_rdev) == 3;
    }
    return dev_null_ok;
}

/* The secrets of the plan, for its MOP_SECRETS step (sb_build_root). */
static const struct secret_rec *plan_secrets;
static int nplan_secrets;

/* How far a MOP_SECRETS step got, for its failure report. */
static enum { SECRETS_TMPFS, SECRETS_WRITE, SECRETS_READONLY, SECRETS_ATTACH } secrets_phase;
static const char *secrets_failed_name;

/* Writes the plan's secrets into MNT, a detached tmpfs no one else can reach yet, then
 * makes it read-only; returns MNT, or -1 (MNT closed, errno kept). Each file is created
 * exclusively (the names are the daemon's checked file names), given its mode while we
 * own it, then its owner. */
static int fill_secrets(int mnt) {
    secrets_phase = SECRETS_TMPFS;
    if (mnt < 0) return -1;
    secrets_phase = SECRETS_WRITE;
    for (int i = 0; i < nplan_secrets; i++) {
        const struct secret_rec *sr = &plan_secrets[i];
        secrets_failed_name = sr->name;
        int fd = -1, ok = 0;
        if (!*sr->name || strchr(sr->name, '/') || !strcmp(sr->name, ".") || !strcmp(sr->name, ".."))
            errno = EINVAL;
        else
            fd = openat(mnt, sr->name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
        if (fd >= 0) {
            ok = 1;
            for (size_t done = 0; ok && done < sr->len;) {
                ssize_t w = write(fd, sr->content + done, sr->len - done);
                if (w < 0 && errno == EINTR) continue;
                if (w <= 0) {
                    if (w == 0) errno = EIO;
                    ok = 0;
                } else {
                    done += (size_t)w;
                }
            }
            ok = ok && fchmod(fd, (mode_t)(sr->mode & 0777)) == 0 && fchown(fd, sr->uid, sr->gid) == 0;
        }
        safe_close(fd);
        if (!ok) {
            safe_close(mnt);
            return -1;
        }
    }
    secrets_phase = SECRETS_READONLY;
    if (sys_mount_setattr(mnt, "", AT_EMPTY_PATH, MOUNT_ATTR_RDONLY) < 0) {
        safe_close(mnt);
        return -1;
    }
    secrets_phase = SECRETS_ATTACH;
    return mnt;
}

static int do_step(const struct mount_rec *r) {
    int ro = (r->m.flags & MF_READONLY) != 0;
    int rec = (r->m.flags & MF_RECURSIVE) != 0;
    switch (r->m.op) {
        case MOP_BIND: {
            int mnt = clone_tree(AT_FDCWD, r->source, 0, rec, ro);
            if (mnt < 0) return (errno == ENOENT && (r->m.flags & MF_OPTIONAL)) ? 0 : -1;
            if ((mnt = idmap(mnt, r, rec)) < 0) return -1;
            if (r->m.attr && sys_mount_setattr(mnt, "", AT_EMPTY_PATH | (rec ? SB_AT_RECURSIVE : 0), r->m.attr) < 0) {
                close(mnt);
                return -1;
            }
            return mount_on_target(mnt, r, 0);
        }
        case MOP_FS:
            return mount_on_target(idmap(new_fs(r->fstype, r->data, r->m.attr | (ro ? MOUNT_ATTR_RDONLY : 0)), r, 0), r,
                                   !ro && !strcmp(r->fstype, "tmpfs"));
        case MOP_MKDIR:
            return mkdir_p(r->target, r->m.mode, 1);
        case MOP_SYMLINK: {
            char dir[4096], base[256];
            split(r->target, dir, base);
            int parent = mkdir_p(dir, 0755, 1) < 0 ? -1 : dir_at(dir);
            if (parent < 0) return -1;
            int rc = symlinkat(r->source, parent, base);
            return rc < 0 && errno == EEXIST ? 0 : rc;
        }
        case MOP_MKNOD: {
            char dir[4096], base[256];
            split(r->target, dir, base);
            int parent = mkdir_p(dir, 0755, 1) < 0 ? -1 : dir_at(dir);
            if (parent < 0) return -1;
            int rc = mknodat(parent, base, S_IFCHR | r->m.mode, makedev(r->m.major, r->m.minor));
            if (rc == 0 || errno == EEXIST) return 0;
            if (errno != EPERM) return -1;
            /* No mknod here (a user namespace): bind the host's node instead. */
            char host[300] = "/dev/";
            strncat(host, base, sizeof host - 6);
            struct mount_rec b = *r;
            b.m.op = MOP_BIND;
            b.m.flags = MF_MKFILE;
            b.source = host;
            return do_step(&b);
        }
        case MOP_MASK: {
            int t = lookup(r->target, O_PATH);
            if (t < 0) return errno == ENOENT ? 0 : -1;
            struct stat st;
            if (fstat(t, &st) < 0) return attach_at(-1, t);
            if (S_ISDIR(st.st_mode)) return attach_at(new_fs("tmpfs", "size=4k,mode=0555", MOUNT_ATTR_RDONLY), t);
            if (!check_dev_null()) {
                errno = ENODEV;
                return attach_at(-1, t);
            }
            return attach_at(clone_tree(AT_FDCWD, "/dev/null", 0, 0, 0), t);
        }
        case MOP_READONLY: {
            int t = lookup(r->target, O_PATH);
            if (t < 0) return errno == ENOENT ? 0 : -1;
            return attach_at(clone_tree(t, "", AT_EMPTY_PATH, 1, 1), t);
        }
        case MOP_SECRETS:
            return mount_on_target(fill_secrets(new_fs(r->fstype, r->data, r->m.attr)), r, 0);
        default:
            errno = EINVAL;
            return -1;
    }
}

static const char *op_name(uint32_t op) {
    switch (op) {
        case MOP_ROOT: return "root";
        case MOP_BIND: return "bind";
        case MOP_FS: return "mount";
        case MOP_MKDIR: return "mkdir";
        case MOP_SYMLINK: return "symlink";
        case MOP_MKNOD: return "mknod";
        case MOP_MASK: return "mask";
        case MOP_READONLY: return "read-only";
        case MOP_SECRETS: return "secrets";
        default: return "step";
    }
}

static void secrets_error(struct init_failure *e, const struct mount_rec *r, int err) {
    size_t pos = 0;
    char *d = e->detail;
    size_t cap = sizeof e->detail - 1;
    switch (secrets_phase) {
        case SECRETS_TMPFS: put_str(d, cap, &pos, "mount the secrets' tmpfs for "); break;
        case SECRETS_WRITE:
            put_str(d, cap, &pos, "write secret \"");
            put_str(d, cap, &pos, secrets_failed_name ? secrets_failed_name : "");
            put_str(d, cap, &pos, "\" in ");
            break;
        case SECRETS_READONLY: put_str(d, cap, &pos, "make read-only the secrets' tmpfs for "); break;
        case SECRETS_ATTACH: put_str(d, cap, &pos, "mount the secrets on "); break;
    }
    put_str(d, cap, &pos, r->target);
    d[pos] = 0;
    e->step = STEP_SECRETS;
    e->err = err;
}

static void step_error(struct init_failure *e, const struct mount_rec *r) {
    int err = errno;
    if (r->m.op == MOP_SECRETS) {
        secrets_error(e, r, err);
        return;
    }
    char what[200];
    size_t pos = 0;
    const char *parts[6];
    int n = 0;
    parts[n++] = op_name(r->m.op);
    parts[n++] = " ";
    if (r->m.op == MOP_BIND || r->m.op == MOP_ROOT) {
        parts[n++] = *r->source ? r->source : r->fstype;
        parts[n++] = " on ";
    } else if (r->m.op == MOP_FS) {
        parts[n++] = r->fstype;
        parts[n++] = " on ";
    }
    parts[n++] = r->target;
    for (int i = 0; i < n; i++)
        for (const char *p = parts[i]; *p && pos + 1 < sizeof what; p++) what[pos++] = *p;
    what[pos] = 0;
    set_error(e, STEP_MOUNT, err, what, NULL, NULL);
}

/* A read-only directory rootfs that overlayfs refused (MF_TMPFS_UPPER): its host path
 * and overlayfs's errno, for the message when a mount point it lacks cannot be made. */
static const char *bare_rootfs;
static int bare_rootfs_err;

/* The root of an MF_TMPFS_UPPER step: the source (idmapped when asked) as the lower
 * layer of an overlay whose upper and work dirs are on a small tmpfs, all of it on the
 * stage -- the tmpfs first, the lower on <stage>/lower in it, the overlay (returned,
 * detached) is then attached on top. The tmpfs only ever holds the mount points the
 * build adds and the directories above them: nothing reaches the host's tree. The
 * upper's root takes the owner and mode of the source's, which the merged root shows.
 * -1 with *lower_failed set: the source itself could not be cloned; -1 otherwise:
 * overlayfs could not be used, and nothing stays on the stage. */
static int tmpfs_upper_overlay(const char *stage, const struct mount_rec *r, int *lower_failed) {
    *lower_failed = 0;
    char data[4096];
    size_t pos = 0;
    const char *parts[8] = {"lowerdir=", stage, "/lower,upperdir=", stage, "/upper,workdir=", stage, "/work", NULL};
    for (int i = 0; parts[i]; i++) put_str(data, sizeof data - 1, &pos, parts[i]);
    if (*r->data) {
        put_str(data, sizeof data - 1, &pos, ",");
        put_str(data, sizeof data - 1, &pos, r->data);
    }
    if (pos >= sizeof data - 1) {
        errno = ENAMETOOLONG;
        return -1;
    }
    data[pos] = 0;
    int lower = idmap(clone_tree(AT_FDCWD, r->source, 0, 1, 1), r, 1);
    struct stat st;
    if (lower < 0 || fstat(lower, &st) < 0) {
        safe_close(lower);
        *lower_failed = 1;
        return -1;
    }
    int tmp = new_fs("tmpfs", "mode=0755,size=1m", 0);
    int rc = tmp < 0 ? -1 : 0;
    for (int i = 0; rc == 0 && i < 3; i++) rc = mkdirat(tmp, i == 0 ? "lower" : i == 1 ? "upper" : "work", 0755);
    if (rc == 0) rc = fchownat(tmp, "upper", st.st_uid, st.st_gid, 0);
    if (rc == 0) rc = fchmodat(tmp, "upper", st.st_mode & 07777, 0);
    /* Attached before the lower goes in: older kernels mount nothing on a detached tree. */
    int attached = rc == 0 && sys_move_mount(tmp, "", AT_FDCWD, stage, MOVE_MOUNT_F_EMPTY_PATH) == 0;
    if (attached) {
        char lp[4096];
        size_t lpos = 0;
        put_str(lp, sizeof lp - 1, &lpos, stage);
        put_str(lp, sizeof lp - 1, &lpos, "/lower");
        lp[lpos] = 0;
        rc = sys_move_mount(lower, "", AT_FDCWD, lp, MOVE_MOUNT_F_EMPTY_PATH);
    }
    safe_close(lower);
    safe_close(tmp);
    int mnt = -1;
    if (attached && rc == 0) mnt = new_fs("overlay", data, r->m.attr);
    if (mnt < 0 && attached) { /* nothing stays on the stage; the failure's errno is kept */
        int saved = errno;
        umount2(stage, MNT_DETACH);
        errno = saved;
    }
    return mnt;
}

/* With a read-only bind of a bare rootfs, a missing mount point on the root itself
 * (not below an earlier step's mount: a volume) cannot be made: say which, and what to
 * do about it. */
static int names_bare_mount_point(const struct mount_rec *mounts, int i, int err, struct init_failure *e) {
    const struct mount_rec *r = &mounts[i];
    if (!bare_rootfs || err != EROFS) return 0;
    for (int j = 1; j < i; j++) {
        if (mounts[j].m.op != MOP_BIND && mounts[j].m.op != MOP_FS) continue;
        size_t l = strlen(mounts[j].target);
        if (!strncmp(mounts[j].target, r->target, l) && (r->target[l] == '/' || r->target[l] == 0 || l == 1))
            return 0;
    }
    size_t pos = 0;
    char *d = e->detail;
    size_t cap = sizeof e->detail - 1;
    put_str(d, cap, &pos, "rootfs ");
    put_str(d, cap, &pos, bare_rootfs);
    put_str(d, cap, &pos, " has no ");
    put_str(d, cap, &pos, r->target);
    put_str(d, cap, &pos, " (overlayfs: ");
    put_str(d, cap, &pos, strerror(bare_rootfs_err));
    put_str(d, cap, &pos, "); create it there or use \"writable\": \"overlay\"");
    d[pos] = 0;
    e->step = STEP_MOUNT;
    e->err = err;
    return 1;
}

static int build_root(const char *stage, const struct mount_rec *mounts, int n, int readonly_root,
                      struct init_failure *e) {
    /* Nothing we mount may propagate to the host, nor the host's later mounts to us. */
    if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0) {
        set_error(e, STEP_MOUNT, errno, "make / private", NULL, NULL);
        return -1;
    }
    int i = 0;
    if (n == 0 || mounts[0].m.op != MOP_ROOT) {
        set_error(e, STEP_MOUNT, EINVAL, "the plan has no root", NULL, NULL);
        return -1;
    }
    const struct mount_rec *r = &mounts[i++];
    int mnt;
    int readonly_when_built = 0;
    if ((r->m.flags & MF_TMPFS_UPPER) && *r->source) {
        int lower_failed;
        mnt = tmpfs_upper_overlay(stage, r, &lower_failed);
        if (mnt >= 0) {
            readonly_when_built = (r->m.flags & MF_READONLY) != 0;
        } else if (!lower_failed && (r->m.flags & MF_READONLY)) {
            /* A tree overlayfs cannot take as a layer: the read-only bind of it still
             * works when the tree has every mount point it needs. */
            bare_rootfs = r->source;
            bare_rootfs_err = errno;
            mnt = idmap(clone_tree(AT_FDCWD, r->source, 0, 1, 1), r, 1);
        }
    } else if (*r->source && !strcmp(r->fstype, "overlay")) {
        /* The lower layer as its own (idmapped) mount on the stage, then the overlay on
         * top of it; the overlay keeps a private clone of the layer, and the stage's
         * lower mount leaves with the old root. */
        char data[4096];
        size_t sl = strlen(stage), dl = strlen(r->data);
        if (9 + sl + 1 + dl + 1 > sizeof data) {
            errno = ENAMETOOLONG;
            step_error(e, r);
            return -1;
        }
        int lower = idmap(clone_tree(AT_FDCWD, r->source, 0, 1, 1), r, 1);
        if (lower < 0 || sys_move_mount(lower, "", AT_FDCWD, stage, MOVE_MOUNT_F_EMPTY_PATH) < 0) {
            step_error(e, r);
            return -1;
        }
        close(lower);
        memcpy(data, "lowerdir=", 9);
        memcpy(data + 9, stage, sl);
        data[9 + sl] = ',';
        memcpy(data + 10 + sl, r->data, dl + 1);
        mnt = new_fs("overlay", data, r->m.attr | ((r->m.flags & MF_READONLY) ? MOUNT_ATTR_RDONLY : 0));
    } else if (*r->source)
        mnt = idmap(clone_tree(AT_FDCWD, r->source, 0, 1, (r->m.flags & MF_READONLY) != 0), r, 1);
    else
        mnt = idmap(new_fs(r->fstype, r->data, r->m.attr | ((r->m.flags & MF_READONLY) ? MOUNT_ATTR_RDONLY : 0)),
                    r, 0);
    if (mnt < 0 || sys_move_mount(mnt, "", AT_FDCWD, stage, MOVE_MOUNT_F_EMPTY_PATH) < 0) {
        step_error(e, r);
        return -1;
    }
    close(mnt);
    root_fd = open(stage, O_PATH | O_DIRECTORY | O_CLOEXEC);
    if (root_fd < 0) {
        set_error(e, STEP_MOUNT, errno, "open the new root ", stage, NULL);
        return -1;
    }
    root_fresh = !*r->source && !strcmp(r->fstype, "tmpfs");
    for (; i < n; i++) {
        if (do_step(&mounts[i]) < 0) {
            if (!names_bare_mount_point(mounts, i, errno, e)) step_error(e, &mounts[i]);
            return -1;
        }
    }
    cache_clear();
    /* pivot_root(".", "."): the old root ends up on top of the new one and is detached
     * at once, so no path to the host's tree remains (runc's way). */
    if (fchdir(root_fd) < 0 || syscall(SYS_pivot_root, ".", ".") < 0) {
        set_error(e, STEP_PIVOT, errno, "pivot_root", NULL, NULL);
        return -1;
    }
    if (umount2(".", MNT_DETACH) < 0 || chdir("/") < 0) {
        set_error(e, STEP_PIVOT, errno, "detach the old root", NULL, NULL);
        return -1;
    }
    close(root_fd);
    root_fd = -1;
    if ((readonly_root || readonly_when_built) && sys_mount_setattr(AT_FDCWD, "/", 0, MOUNT_ATTR_RDONLY) < 0) {
        set_error(e, STEP_MOUNT, errno, "make / read-only", NULL, NULL);
        return -1;
    }
    return 0;
}

int sb_set_hostname(const char *name, struct init_failure *e) {
    if (sethostname(name, strlen(name)) < 0) {
        set_error(e, STEP_HOSTNAME, errno, name, NULL, NULL);
        return -1;
    }
    return 0;
}

static int write_file(const char *path, const char *text, size_t len) {
    int fd = open(path, O_WRONLY | O_CLOEXEC);
    if (fd < 0) return -1;
    ssize_t w = write(fd, text, len);
    safe_close(fd);
    if (w == (ssize_t)len) return 0;
    if (w >= 0) errno = EIO; /* short write */
    return -1;
}

int sb_make_userns(uint32_t uid, uint32_t gid, uint32_t count, struct init_failure *e) {
    /* A user namespace is made by a process: a short-lived child unshares it and waits;
     * we, root in the parent namespace, write its maps through the host's /proc (its
     * host pid: the child reads /proc/self, since our pid namespace may be new) and keep
     * ns/user open; the child then exits. */
    int tp[2], gp[2];
    if (pipe2(tp, O_CLOEXEC) < 0) {
        set_error(e, STEP_USERNS, errno, "pipe", NULL, NULL);
        return -1;
    }
    if (pipe2(gp, O_CLOEXEC) < 0) {
        set_error(e, STEP_USERNS, errno, "pipe", NULL, NULL);
        close(tp[0]);
        close(tp[1]);
        return -1;
    }
    pid_t pid = fork();
    if (pid < 0) {
        set_error(e, STEP_USERNS, errno, "fork", NULL, NULL);
        close(tp[0]), close(tp[1]), close(gp[0]), close(gp[1]);
        return -1;
    }
    if (pid == 0) {
        close(tp[0]);
        close(gp[1]);
        char buf[32];
        ssize_t n = -1;
        if (unshare(CLONE_NEWUSER) == 0) n = readlink("/proc/self", buf, sizeof buf);
        if (n <= 0) { /* "-errno" */
            size_t pos = 0;
            put_str(buf, sizeof buf, &pos, "-");
            put_u64(buf, sizeof buf, &pos, (uint64_t)errno);
            n = (ssize_t)pos;
        }
        (void)!write(tp[1], buf, (size_t)n);
        char c;
        (void)!read(gp[0], &c, 1); /* EOF: the parent is done with us */
        _exit(0);
    }
    close(tp[1]);
    close(gp[0]);
    char hp[32];
    ssize_t n;
    do n = read(tp[0], hp, sizeof hp - 1);
    while (n < 0 && errno == EINTR);
    close(tp[0]);
    int fd = -1;
    if (n <= 0 || hp[0] == '-') {
        int err = EIO;
        if (n > 1 && hp[0] == '-') {
            err = 0;
            for (ssize_t i = 1; i < n; i++) err = err * 10 + (hp[i] - '0');
        }
        set_error(e, STEP_USERNS, err, "create the user namespace", NULL, NULL);
    } else {
        hp[n] = 0;
        const char *file[3] = {"/uid_map", "/gid_map", "/ns/user"};
        uint32_t first[2] = {uid, gid};
        for (int i = 0; i < 3; i++) {
            char path[64], map[64];
            size_t pp = 0, mp = 0;
            put_str(path, sizeof path - 1, &pp, "/proc/");
            put_str(path, sizeof path - 1, &pp, hp);
            put_str(path, sizeof path - 1, &pp, file[i]);
            path[pp] = 0;
            if (i == 2) {
                fd = open(path, O_RDONLY | O_CLOEXEC);
                if (fd < 0) set_error(e, STEP_USERNS, errno, "open ", path, NULL);
                break;
            }
            put_str(map, sizeof map, &mp, "0 ");
            put_u64(map, sizeof map, &mp, first[i]);
            put_str(map, sizeof map, &mp, " ");
            put_u64(map, sizeof map, &mp, count);
            put_str(map, sizeof map, &mp, "\n");
            if (write_file(path, map, mp) < 0) {
                set_error(e, STEP_USERNS, errno, "write ", path, NULL);
                break;
            }
        }
    }
    close(gp[1]);
    while (waitpid(pid, NULL, __WALL) < 0 && errno == EINTR) {
    }
    userns_root_uid = uid;
    userns_root_gid = gid;
    return fd;
}

int sb_unprivileged_ports(struct init_failure *e) {
    if (write_file("/proc/sys/net/ipv4/ip_unprivileged_port_start", "0\n", 2) < 0) {
        set_error(e, STEP_SYSCTL, errno, "net.ipv4.ip_unprivileged_port_start=0", NULL, NULL);
        return -1;
    }
    return 0;
}

int sb_loopback_up(struct init_failure *e) {
    int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (s < 0) {
        set_error(e, STEP_LOOPBACK, errno, "socket", NULL, NULL);
        return -1;
    }
    struct ifreq ifr;
    memset(&ifr, 0, sizeof ifr);
    strcpy(ifr.ifr_name, "lo");
    int rc = ioctl(s, SIOCGIFFLAGS, &ifr);
    if (rc == 0 && !(ifr.ifr_flags & IFF_UP)) {
        ifr.ifr_flags |= IFF_UP;
        rc = ioctl(s, SIOCSIFFLAGS, &ifr);
    }
    safe_close(s);
    if (rc < 0) {
        set_error(e, STEP_LOOPBACK, errno, "bring lo up", NULL, NULL);
        return -1;
    }
    return 0;
}

struct cap_header {
    uint32_t version;
    int pid;
};
struct cap_data {
    uint32_t effective, permitted, inheritable;
};

int sb_build_root(const char *stage, const struct mount_rec *mounts, int n, const struct secret_rec *secrets,
                  int nsecrets, int readonly_root, struct init_failure *e) {
    plan_secrets = secrets;
    nplan_secrets = nsecrets;
    if (sb_userns_fd < 0) return build_root(stage, mounts, n, readonly_root, e);
    /* With a user namespace everything the build creates (tmpfs roots, directories,
     * device nodes) belongs to the app's root -- the mapped uid -- and creating on an
     * idmapped mount needs an fsuid the mapping has (host root's would be EOVERFLOW).
     * Changing the fsuid drops the file capabilities from the effective set; they are
     * raised again from the permitted set for the build, and come back by themselves
     * when the fsuid returns to 0. */
    setfsgid(userns_root_gid);
    setfsuid(userns_root_uid);
    struct cap_header h = {LINUX_CAPABILITY_VERSION_3, 0};
    struct cap_data d[2];
    if (syscall(SYS_capget, &h, d) == 0) {
        d[0].effective = d[0].permitted;
        d[1].effective = d[1].permitted;
        syscall(SYS_capset, &h, d);
    }
    int rc = build_root(stage, mounts, n, readonly_root, e);
    setfsuid(0);
    setfsgid(0);
    return rc;
}

static int load_seccomp(const struct sb_creds *c) {
    struct {
        unsigned short len;
        const void *filter;
    } prog = {(unsigned short)(c->seccomp_len / 8), c->seccomp};
    return (int)syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, &prog);
}

int sb_apply_creds(const struct sb_creds *c, struct init_failure *e) {
    for (int i = 0; i < c->nrlimits; i++) {
        struct rlimit rl = {(rlim_t)c->rlimits[i].cur, (rlim_t)c->rlimits[i].max};
        if (setrlimit((int)c->rlimits[i].resource, &rl) < 0) {
            set_error(e, STEP_RLIMIT, errno, "setrlimit", NULL, NULL);
            return -1;
        }
    }
    umask(c->has_umask ? (mode_t)c->umask : 022);
    /* Into the app's user namespace after the rlimits (raising a hard limit needs
     * CAP_SYS_RESOURCE in the host's namespace) and before everything that must hold
     * inside it. setns gives every capability there; then root inside is the mapped
     * uid outside, and the configured set is applied below as for any root. */
    if (c->userns_fd >= 0) {
        if (setns(c->userns_fd, CLONE_NEWUSER) < 0) {
            set_error(e, STEP_USERNS, errno, "enter the app's user namespace", NULL, NULL);
            return -1;
        }
        if (!c->has_uid && (setgroups(0, NULL) < 0 || setresgid(0, 0, 0) < 0 || setresuid(0, 0, 0) < 0)) {
            set_error(e, STEP_CREDENTIALS, errno, "become root of the user namespace", NULL, NULL);
            return -1;
        }
    }
    if (c->has_caps) {
        /* Capabilities are numbered without gaps: EINVAL is the first past the kernel's
         * last one, and so is every number after it. */
        for (int cap = 0; cap < 64; cap++) {
            if (c->caps & (1ULL << cap)) continue;
            if (prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) < 0) {
                if (errno == EINVAL) break;
                set_error(e, STEP_CAPS, errno, "drop from the bounding set", NULL, NULL);
                return -1;
            }
        }
    }
    /* Without no_new_privs the filter can only be loaded while CAP_SYS_ADMIN is still
     * effective, so before the credentials change (runc does the same). */
    if (c->seccomp_len && !c->no_new_privs && load_seccomp(c) < 0) {
        set_error(e, STEP_SECCOMP, errno, "load the seccomp filter", NULL, NULL);
        return -1;
    }
    if (c->has_uid) {
        gid_t groups[64];
        int ng = c->ngroups > 64 ? 64 : c->ngroups;
        for (int i = 0; i < ng; i++) {
            uint32_t g;
            memcpy(&g, (const char *)c->groups + 4 * i, 4);
            groups[i] = g;
        }
        if (setgroups((size_t)ng, groups) < 0 || setresgid(c->gid, c->gid, c->gid) < 0 ||
            setresuid(c->uid, c->uid, c->uid) < 0) {
            set_error(e, STEP_CREDENTIALS, errno, "set user and groups", NULL, NULL);
            return -1;
        }
    }
    /* A non-root user keeps no capabilities (the kernel clears them on setuid; Docker
     * does the same); root keeps exactly the configured set. */
    if (c->has_caps && (!c->has_uid || c->uid == 0)) {
        struct cap_header h = {LINUX_CAPABILITY_VERSION_3, 0};
        struct cap_data d[2];
        d[0].effective = d[0].permitted = d[0].inheritable = (uint32_t)c->caps;
        d[1].effective = d[1].permitted = d[1].inheritable = (uint32_t)(c->caps >> 32);
        if (syscall(SYS_capset, &h, d) < 0) {
            set_error(e, STEP_CAPS, errno, "capset", NULL, NULL);
            return -1;
        }
    }
    if (c->no_new_privs && prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0) {
        set_error(e, STEP_NO_NEW_PRIVS, errno, "no_new_privs", NULL, NULL);
        return -1;
    }
    return 0;
}

int sb_apply_seccomp_last(const struct sb_creds *c, struct init_failure *e) {
    if (c->seccomp_len && c->no_new_privs && load_seccomp(c) < 0) {
        set_error(e, STEP_SECCOMP, errno, "load the seccomp filter", NULL, NULL);
        return -1;
    }
    return 0;
}
