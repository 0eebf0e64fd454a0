#include "hooks/hook_process.hpp"

#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <sched.h>
#include <linux/sched.h>
#include <signal.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <charconv>
#include <cstring>

#include "sys/process.hpp"

namespace isolated::hooks {
namespace {

std::optional<std::uint32_t> numeric(const std::string& s) {
    std::uint32_t v = 0;
    auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
    if (s.empty() || ec != std::errc() || p != s.data() + s.size()) return std::nullopt;
    return v;
}

// Above the slots the child dup2()s onto (0, 1, 2), so the dup2 calls cannot clobber
// one another, and in one range the child keeps open until exec.
constexpr int kHighFd = 64;

Result<unique_fd> dup_high(int fd, const char* what) {
    int d = ::fcntl(fd, F_DUPFD_CLOEXEC, kHighFd);
    if (d < 0) return os_error(std::string("dup ") + what);
    return unique_fd(d);
}

enum Step : int { step_cgroup = 1, step_go, step_session, step_groups, step_gid, step_uid, step_fds, step_exec };

const char* step_name(int step) {
    switch (step) {
        case step_cgroup: return "enter its cgroup";
        case step_go: return "wait for its cgroup";
        case step_session: return "setsid";
        case step_groups: return "setgroups";
        case step_gid: return "setgid";
        case step_uid: return "setuid";
        case step_fds: return "set up stdin/stdout/stderr";
        case step_exec: return "exec";
    }
    return "start";
}

struct Report {
    int step;
    int err;
};

struct ChildArgs {
    const char* path;
    char* const* argv;
    char* const* envp;
    int in, out, report, go;
    int cgroup_dir;
    const int* procs;
    std::size_t nprocs;
    uid_t uid;
    gid_t gid;
    const gid_t* groups;
    std::size_t ngroups;
};

// The child. Only async-signal-safe calls and raw syscalls on what was prepared before
// the clone: it may share the daemon's memory (CLONE_VM), and glibc's setuid() would
// try to reach the daemon's threads. Never returns.
[[noreturn]] void child_exec(const ChildArgs& a) {
    int step = step_cgroup;
    // Into the hook's cgroup before anything runs: v2 by its cgroup.procs ("0" moves
    // the writer), v1 by one file per hierarchy.
    if (a.cgroup_dir >= 0) {
        int f = ::openat(a.cgroup_dir, "cgroup.procs", O_WRONLY | O_CLOEXEC);
        if (f < 0 || ::write(f, "0", 1) != 1) goto fail;
        ::close(f);
    }
    if (a.nprocs) {
        if (int e = cgroup::enter_cgroups_from_child(a.procs, a.nprocs); e != 0) {
            errno = e;
            goto fail;
        }
    }
    step = step_go;
    if (a.go >= 0) {
        // systemd: the daemon makes the scope with this pid, then lets it go on.
        char c;
        ssize_t n;
        do n = ::read(a.go, &c, 1);
        while (n < 0 && errno == EINTR);
        if (n != 1) {
            if (n == 0) errno = ECANCELED;
            goto fail;
        }
    }
    step = step_session;
    // A session (and process group) of its own: the group kill reaches what it forks
    // even without a cgroup driver, and it has no controlling terminal of the daemon's.
    if (::setsid() < 0) goto fail;
    step = step_groups;
    if (::syscall(SYS_setgroups, a.ngroups, a.groups) < 0) goto fail;
    step = step_gid;
    if (::syscall(SYS_setresgid, a.gid, a.gid, a.gid) < 0) goto fail;
    step = step_uid;
    if (::syscall(SYS_setresuid, a.uid, a.uid, a.uid) < 0) goto fail;
    step = step_fds;
    if (::dup2(a.in, 0) < 0 || ::dup2(a.out, 1) < 0 || ::dup2(a.out, 2) < 0 || ::chdir("/") < 0) goto fail;
    // Nothing else of the daemon's crosses over; the report pipe closes on exec.
    ::syscall(SYS_close_range, 3u, static_cast<unsigned>(a.report) - 1, 0u);
    ::syscall(SYS_close_range, static_cast<unsigned>(a.report) + 1, ~0u, 0u);
    {
        // The daemon ignores SIGPIPE and blocked every signal for the clone: the hook
        // starts with default dispositions and nothing blocked, as from a shell.
        struct sigaction dfl;
        std::memset(&dfl, 0, sizeof dfl);
        dfl.sa_handler = SIG_DFL;
        for (int sig = 1; sig < NSIG; ++sig)
            if (sig != SIGKILL && sig != SIGSTOP) (void)::sigaction(sig, &dfl, nullptr);
        sigset_t none;
        sigemptyset(&none);
        ::sigprocmask(SIG_SETMASK, &none, nullptr);
    }
    step = step_exec;
    ::execve(a.path, a.argv, a.envp);
fail : {
    Report r{step, errno};
    (void)::write(a.report, &r, sizeof r);
    ::_exit(127);
}
}

int child_main(void* p) { child_exec(*static_cast<ChildArgs*>(p)); }

}  // namespace

Result<Credentials> resolve_user(const std::string& user) {
    auto colon = user.find(':');
    std::string u = user.substr(0, colon), g = colon == std::string::npos ? "" : user.substr(colon + 1);
    Credentials c;
    std::string name;  // for its supplementary groups
    if (auto id = numeric(u)) {
        c.uid = *id;
        if (const passwd* pw = ::getpwuid(c.uid)) {
            c.gid = pw->pw_gid;
            name = pw->pw_name;
        } else {
            c.gid = c.uid;
        }
    } else {
        errno = 0;
        const passwd* pw = ::getpwnam(u.c_str());
        if (!pw) return Error::msg("user \"" + u + "\" does not exist on this host");
        c.uid = pw->pw_uid;
        c.gid = pw->pw_gid;
        name = pw->pw_name;
    }
    if (!g.empty()) {
        if (auto id = numeric(g)) {
            c.gid = *id;
        } else {
            const group* gr = ::getgrnam(g.c_str());
            if (!gr) return Error::msg("group \"" + g + "\" does not exist on this host");
            c.gid = gr->gr_gid;
        }
    }
    if (!name.empty()) {
        int n = 32;
        std::vector<gid_t> groups(static_cast<std::size_t>(n));
        while (::getgrouplist(name.c_str(), c.gid, groups.data(), &n) < 0) groups.resize(static_cast<std::size_t>(n));
        groups.resize(static_cast<std::size_t>(n));
        c.groups = std::move(groups);
    }
    if (std::find(c.groups.begin(), c.groups.end(), c.gid) == c.groups.end()) c.groups.insert(c.groups.begin(), c.gid);
    return c;
}

Result<HookProcess> spawn(const HookLaunch& l) {
    if (l.argv.empty()) return Error::msg("empty command");
    int pipefd[2];
    if (::pipe2(pipefd, O_CLOEXEC) < 0) return os_error("pipe2");
    unique_fd report_r(pipefd[0]), report_w(pipefd[1]);
    // Read once the process has ended: never a wait.
    ::fcntl(report_r.get(), F_SETFL, O_NONBLOCK);
    auto in = dup_high(l.stdin_fd, "stdin");
    auto out = dup_high(l.output_fd, "output pipe");
    auto rep = dup_high(report_w.get(), "report pipe");
    for (auto* r : {&in, &out, &rep})
        if (!*r) return r->error();

    cgroup::Placement place;
    if (l.cgroup) place = l.cgroup->placement();
    // systemd makes a scope only around a process that exists: the child waits on a
    // go pipe until it has been attached, which rules out a vfork-style clone.
    unique_fd go_r, go_w;
    if (place.attach_after_clone) {
        if (::pipe2(pipefd, O_CLOEXEC) < 0) return os_error("pipe2");
        go_r.reset(pipefd[0]);
        go_w.reset(pipefd[1]);
        auto high = dup_high(go_r.get(), "go pipe");
        if (!high) return high.error();
        go_r = std::move(*high);
    }

    std::vector<char*> argv, envp;
    for (const auto& a : l.argv) argv.push_back(const_cast<char*>(a.c_str()));
    argv.push_back(nullptr);
    for (const auto& e : l.env) envp.push_back(const_cast<char*>(e.c_str()));
    envp.push_back(nullptr);
    ChildArgs a{argv[0], argv.data(), envp.data(), in->get(), out->get(), rep->get(), go_r ? go_r.get() : -1,
                place.cgroup_dir_fd, place.procs_fds.data(), place.procs_fds.size(), l.creds.uid, l.creds.gid,
                l.creds.groups.data(), l.creds.groups.size()};

    // Every signal blocked across the clone: the child is a copy of the daemon, and a
    // signal handled in it before exec would run the daemon's handlers there.
    sigset_t all, old;
    sigfillset(&all);
    ::pthread_sigmask(SIG_SETMASK, &all, &old);
    // posix_spawn's way where it can (shared memory, the daemon waits until the exec),
    // a copy of the daemon where the child must wait for the go (systemd).
    alignas(64) static char child_stack[64 * 1024];
    int flags = CLONE_PIDFD | SIGCHLD | (go_r ? 0 : CLONE_VM | CLONE_VFORK);
    int pidfd = -1;
    long pid = ::clone(child_main, child_stack + sizeof child_stack, flags, &a, &pidfd);
    int saved = errno;
    ::pthread_sigmask(SIG_SETMASK, &old, nullptr);
    if (pid < 0) return Error::os(saved, "clone");

    HookProcess p;
    p.pid = static_cast<pid_t>(pid);
    p.pidfd.reset(pidfd);
    p.report = std::move(report_r);
    if (go_r) {
        go_r.reset();
        if (auto r = l.cgroup->attach(p.pid); !r) {
            (void)sys::pidfd_send_signal(p.pidfd.get(), SIGKILL);
            siginfo_t si{};
            ::waitid(static_cast<idtype_t>(P_PIDFD), static_cast<id_t>(p.pidfd.get()), &si, WEXITED);
            return r.error();
        }
        if (::write(go_w.get(), "g", 1) != 1) {
            Error e = os_error("release the hook");
            (void)sys::pidfd_send_signal(p.pidfd.get(), SIGKILL);
            siginfo_t si{};
            ::waitid(static_cast<idtype_t>(P_PIDFD), static_cast<id_t>(p.pidfd.get()), &si, WEXITED);
            return e;
        }
    }
    return p;
}

std::optional<std::string> spawn_failure(int report_fd, const std::string& program) {
    Report r{};
    ssize_t n;
    do n = ::read(report_fd, &r, sizeof r);
    while (n < 0 && errno == EINTR);
    if (n != static_cast<ssize_t>(sizeof r)) return std::nullopt;
    std::string what = step_name(r.step);
    if (r.step == step_exec) what += " \"" + program + "\"";
    return Error::os(r.err, what).to_string();
}

}  // namespace isolated::hooks
