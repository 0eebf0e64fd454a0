#include "sandbox/security.hpp"

#include <seccomp.h>
#include <sched.h>
#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <map>
#include <nlohmann/json.hpp>

#include "isolated/unique_fd.hpp"

namespace isolated::sandbox {
namespace {

int cap_number(const std::string& name) {
    const auto& names = capability_names();
    auto it = std::find(names.begin(), names.end(), name);
    return it == names.end() ? -1 : static_cast<int>(it - names.begin());
}

std::uint64_t all_caps() {
    std::uint64_t m = 0;
    for (size_t i = 0; i < capability_names().size(); ++i) m |= 1ULL << i;
    return m;
}

bool has_cap(std::uint64_t caps, const char* name) {
    int n = cap_number(name);
    return n >= 0 && (caps & (1ULL << n));
}

// Docker's default allowlist (moby profiles/seccomp/default.json) for x86_64, without
// the entries that depend on a capability (below). Names libseccomp does not know on
// this architecture are skipped.
const char* const kAllowed[] = {
    "accept", "accept4", "access", "adjtimex", "alarm", "arch_prctl", "bind", "brk", "cachestat", "capget",
    "capset", "chdir", "chmod", "chown", "clock_getres", "clock_gettime", "clock_nanosleep", "close",
    "close_range", "connect", "copy_file_range", "creat", "dup", "dup2", "dup3", "epoll_create",
    "epoll_create1", "epoll_ctl", "epoll_ctl_old", "epoll_pwait", "epoll_pwait2", "epoll_wait",
    "epoll_wait_old", "eventfd", "eventfd2", "execve", "execveat", "exit", "exit_group", "faccessat",
    "faccessat2", "fadvise64", "fallocate", "fanotify_mark", "fchdir", "fchmod", "fchmodat", "fchmodat2",
    "fchown", "fchownat", "fcntl", "fdatasync", "fgetxattr", "flistxattr", "flock", "fork", "fremovexattr",
    "fsetxattr", "fstat", "fstatfs", "fsync", "ftruncate", "futex", "futex_requeue", "futex_wait",
    "futex_waitv", "futex_wake", "futimesat", "getcpu", "getcwd", "getdents", "getdents64", "getegid",
    "geteuid", "getgid", "getgroups", "getitimer", "getpeername", "getpgid", "getpgrp", "getpid", "getppid",
    "getpriority", "getrandom", "getresgid", "getresuid", "getrlimit", "get_robust_list", "getrusage",
    "getsid", "getsockname", "getsockopt", "get_thread_area", "gettid", "gettimeofday", "getuid", "getxattr",
    "inotify_add_watch", "inotify_init", "inotify_init1", "inotify_rm_watch", "io_cancel", "ioctl",
    "io_destroy", "io_getevents", "io_pgetevents", "ioprio_get", "ioprio_set", "io_setup", "io_submit",
    "kill", "landlock_add_rule", "landlock_create_ruleset", "landlock_restrict_self", "lchown", "lgetxattr",
    "link", "linkat", "listen", "listxattr", "llistxattr", "lremovexattr", "lseek", "lsetxattr", "lstat",
    "madvise", "map_shadow_stack", "membarrier", "memfd_create", "memfd_secret", "mincore", "mkdir",
    "mkdirat", "mknod", "mknodat", "mlock", "mlock2", "mlockall", "mmap", "modify_ldt", "mprotect",
    "mq_getsetattr", "mq_notify", "mq_open", "mq_timedreceive", "mq_timedsend", "mq_unlink", "mremap",
    "msgctl", "msgget", "msgrcv", "msgsnd", "msync", "munlock", "munlockall", "munmap", "name_to_handle_at",
    "nanosleep", "newfstatat", "open", "openat", "openat2", "pause", "pidfd_open", "pidfd_send_signal",
    "pipe", "pipe2", "pkey_alloc", "pkey_free", "pkey_mprotect", "poll", "ppoll", "prctl", "pread64",
    "preadv", "preadv2", "prlimit64", "process_mrelease", "pselect6", "ptrace", "pwrite64", "pwritev",
    "pwritev2", "read", "readahead", "readlink", "readlinkat", "readv", "recvfrom", "recvmmsg", "recvmsg",
    "remap_file_pages", "removexattr", "rename", "renameat", "renameat2", "restart_syscall", "rmdir", "rseq",
    "rt_sigaction", "rt_sigpending", "rt_sigprocmask", "rt_sigqueueinfo", "rt_sigreturn", "rt_sigsuspend",
    "rt_sigtimedwait", "rt_tgsigqueueinfo", "sched_getaffinity", "sched_getattr", "sched_getparam",
    "sched_get_priority_max", "sched_get_priority_min", "sched_getscheduler", "sched_rr_get_interval",
    "sched_setaffinity", "sched_setattr", "sched_setparam", "sched_setscheduler", "sched_yield", "seccomp",
    "select", "semctl", "semget", "semop", "semtimedop", "sendfile", "sendmmsg", "sendmsg", "sendto",
    "setfsgid", "setfsuid", "setgid", "setgroups", "setitimer", "setpgid", "setpriority", "setregid",
    "setresgid", "setresuid", "setreuid", "setrlimit", "set_robust_list", "setsid", "setsockopt",
    "set_thread_area", "set_tid_address", "setuid", "setxattr", "shmat", "shmctl", "shmdt", "shmget",
    "shutdown", "sigaltstack", "signalfd", "signalfd4", "socket", "socketpair", "splice", "stat", "statfs",
    "statx", "symlink", "symlinkat", "sync", "sync_file_range", "syncfs", "sysinfo", "tee", "tgkill", "time",
    "timer_create", "timer_delete", "timer_getoverrun", "timer_gettime", "timer_settime", "timerfd_create",
    "timerfd_gettime", "timerfd_settime", "times", "tkill", "truncate", "umask", "uname", "unlink",
    "unlinkat", "utime", "utimensat", "utimes", "vfork", "vmsplice", "wait4", "waitid", "write", "writev",
};

// Syscalls a capability makes meaningful; allowed only when the app keeps it (Docker's
// "includes: caps" entries).
const std::map<std::string, std::vector<const char*>> kByCapability = {
    {"CAP_SYS_ADMIN", {"bpf", "clone3", "fanotify_init", "fsconfig", "fsmount", "fsopen", "fspick",
                       "lookup_dcookie", "mount", "mount_setattr", "move_mount", "open_tree", "perf_event_open",
                       "quotactl", "quotactl_fd", "setdomainname", "sethostname", "setns", "syslog", "umount2",
                       "unshare", "pivot_root"}},
    {"CAP_SYS_BOOT", {"reboot"}},
    {"CAP_SYS_CHROOT", {"chroot"}},
    {"CAP_SYS_MODULE", {"delete_module", "init_module", "finit_module"}},
    {"CAP_SYS_PACCT", {"acct"}},
    {"CAP_SYS_PTRACE", {"kcmp", "pidfd_getfd", "process_madvise", "process_vm_readv", "process_vm_writev"}},
    {"CAP_SYS_RAWIO", {"iopl", "ioperm"}},
    {"CAP_SYS_TIME", {"settimeofday", "clock_settime", "clock_adjtime"}},
    {"CAP_SYS_TTY_CONFIG", {"vhangup"}},
    {"CAP_SYS_NICE", {"get_mempolicy", "mbind", "set_mempolicy", "set_mempolicy_home_node"}},
    {"CAP_SYSLOG", {"syslog"}},
    {"CAP_BPF", {"bpf"}},
    {"CAP_PERFMON", {"perf_event_open"}},
    {"CAP_DAC_READ_SEARCH", {"open_by_handle_at"}},
};

constexpr std::uint64_t kNamespaceFlags = CLONE_NEWNS | CLONE_NEWUTS | CLONE_NEWIPC | CLONE_NEWUSER | CLONE_NEWPID |
                                          CLONE_NEWNET | CLONE_NEWCGROUP;

struct Ctx {
    scmp_filter_ctx ctx;
    explicit Ctx(std::uint32_t def) : ctx(seccomp_init(def)) {
        // A binary tree over the syscall numbers instead of a linear chain (libseccomp
        // >= 2.5): every syscall the app makes is checked in ~log2(n) jumps, not up to
        // n, and the program the kernel verifies and JITs at each start is shorter.
        if (ctx) seccomp_attr_set(ctx, SCMP_FLTATR_CTL_OPTIMIZE, 2);
    }
    ~Ctx() {
        if (ctx) seccomp_release(ctx);
    }
};

Status allow(scmp_filter_ctx ctx, const char* name) {
    int nr = seccomp_syscall_resolve_name(name);
    if (nr == __NR_SCMP_ERROR) return {};  // not on this architecture
    int rc = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, nr, 0);
    if (rc < 0 && rc != -EEXIST) return Error::os(-rc, std::string("seccomp rule for ") + name);
    return {};
}

Result<std::string> export_bpf(scmp_filter_ctx ctx) {
    int fd = ::memfd_create("isolated-seccomp", MFD_CLOEXEC);
    if (fd < 0) return os_error("memfd_create");
    unique_fd mem(fd);
    if (int rc = seccomp_export_bpf(ctx, fd); rc < 0) return Error::os(-rc, "seccomp_export_bpf");
    off_t size = ::lseek(fd, 0, SEEK_END);
    std::string out(static_cast<size_t>(size), '\0');
    if (::pread(fd, out.data(), out.size(), 0) != size) return os_error("read the seccomp filter");
    return out;
}

Status add_defaults(scmp_filter_ctx ctx, std::uint64_t caps) {
    for (const char* name : kAllowed)
        if (auto st = allow(ctx, name); !st) return st;
    for (const auto& [cap, names] : kByCapability)
        if (has_cap(caps, cap.c_str()))
            for (const char* n : names)
                if (auto st = allow(ctx, n); !st) return st;
    int rc = 0;
    if (has_cap(caps, "CAP_SYS_ADMIN")) {
        rc = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(clone), 0);
    } else {
        // New namespaces only with CAP_SYS_ADMIN. clone3 passes its flags in memory,
        // which BPF cannot see: ENOSYS makes glibc fall back to clone (Docker does this).
        rc = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(clone), 1,
                              SCMP_A0(SCMP_CMP_MASKED_EQ, kNamespaceFlags, 0));
        if (rc == 0) rc = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(ENOSYS), SCMP_SYS(clone3), 0);
    }
    if (rc < 0) return Error::os(-rc, "seccomp rule for clone");
    // personality(2): only the harmless personas (Docker's list).
    for (std::uint64_t p : {0x0ULL, 0x8ULL, 0x20000ULL, 0x20008ULL, 0xffffffffULL}) {
        rc = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(personality), 1, SCMP_A0(SCMP_CMP_EQ, p));
        if (rc < 0) return Error::os(-rc, "seccomp rule for personality");
    }
    return {};
}

}  // namespace

const std::vector<std::string>& default_capabilities() {
    static const std::vector<std::string> caps = {
        "CAP_CHOWN",  "CAP_DAC_OVERRIDE", "CAP_FSETID",      "CAP_FOWNER",     "CAP_MKNOD",
        "CAP_NET_RAW", "CAP_SETGID",      "CAP_SETUID",      "CAP_SETFCAP",    "CAP_SETPCAP",
        "CAP_NET_BIND_SERVICE", "CAP_SYS_CHROOT", "CAP_KILL", "CAP_AUDIT_WRITE",
    };
    return caps;
}

std::uint64_t capability_mask(const SecuritySpec& security) {
    std::uint64_t mask = 0;
    for (const auto& c : default_capabilities())
        if (int n = cap_number(c); n >= 0) mask |= 1ULL << n;
    for (const auto& c : security.cap_drop) {
        if (c == "ALL") mask = 0;
        else if (int n = cap_number(c); n >= 0) mask &= ~(1ULL << n);
    }
    for (const auto& c : security.cap_add) {
        if (c == "ALL") mask = all_caps();
        else if (int n = cap_number(c); n >= 0) mask |= 1ULL << n;
    }
    return mask;
}

std::vector<std::string> capability_names_of(std::uint64_t mask) {
    std::vector<std::string> out;
    const auto& names = capability_names();
    for (size_t i = 0; i < names.size(); ++i)
        if (mask & (1ULL << i)) out.push_back(names[i]);
    return out;
}

Result<std::string> default_seccomp_bpf(std::uint64_t caps) {
    static std::map<std::uint64_t, std::string> cache;
    if (auto it = cache.find(caps); it != cache.end()) return it->second;
    Ctx c(SCMP_ACT_ERRNO(EPERM));
    if (!c.ctx) return Error::msg("seccomp_init failed");
    if (auto st = add_defaults(c.ctx, caps); !st) return st.error();
    auto bpf = export_bpf(c.ctx);
    if (!bpf) return bpf.error();
    cache.emplace(caps, *bpf);
    return bpf;
}

Result<std::string> seccomp_bpf_from_profile(const std::string& json_text, std::uint64_t caps) {
    (void)caps;
    nlohmann::json j;
    try {
        j = nlohmann::json::parse(json_text, nullptr, true, true);
    } catch (const std::exception& e) {
        return Error::msg(std::string("seccomp profile: ") + e.what());
    }
    auto action = [](const nlohmann::json& a, const nlohmann::json& errno_ret) -> std::optional<std::uint32_t> {
        if (!a.is_string()) return std::nullopt;
        std::string s = a.get<std::string>();
        int e = errno_ret.is_number_integer() ? errno_ret.get<int>() : EPERM;
        if (s == "SCMP_ACT_ALLOW") return SCMP_ACT_ALLOW;
        if (s == "SCMP_ACT_ERRNO") return SCMP_ACT_ERRNO(static_cast<std::uint16_t>(e));
        if (s == "SCMP_ACT_KILL" || s == "SCMP_ACT_KILL_THREAD") return SCMP_ACT_KILL;
        if (s == "SCMP_ACT_KILL_PROCESS") return SCMP_ACT_KILL_PROCESS;
        if (s == "SCMP_ACT_LOG") return SCMP_ACT_LOG;
        return std::nullopt;
    };
    auto def = action(j.value("defaultAction", nlohmann::json("SCMP_ACT_ERRNO")),
                      j.value("defaultErrnoRet", nlohmann::json(EPERM)));
    if (!def) return Error::msg("seccomp profile: unknown defaultAction");
    Ctx c(*def);
    if (!c.ctx) return Error::msg("seccomp_init failed");
    for (const auto& rule : j.value("syscalls", nlohmann::json::array())) {
        auto act = action(rule.value("action", nlohmann::json()), rule.value("errnoRet", nlohmann::json()));
        if (!act) return Error::msg("seccomp profile: unknown action in " + rule.dump());
        if (*act == *def) continue;
        for (const auto& n : rule.value("names", nlohmann::json::array())) {
            if (!n.is_string()) continue;
            int nr = seccomp_syscall_resolve_name(n.get<std::string>().c_str());
            if (nr == __NR_SCMP_ERROR) continue;
            int rc = seccomp_rule_add(c.ctx, *act, nr, 0);
            if (rc < 0 && rc != -EEXIST) return Error::os(-rc, "seccomp rule for " + n.get<std::string>());
        }
    }
    return export_bpf(c.ctx);
}

}  // namespace isolated::sandbox
