#include "sandbox/spawn.hpp"

#include <fcntl.h>
#include <sched.h>
#include <linux/sched.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cstring>

#include "cgroup/cgroup.hpp"
#include "sandbox/init_protocol.h"
#include "sys/file.hpp"

namespace isolated::sandbox {
namespace {

// Descriptors for the child are first moved to numbers above the init's fixed slots,
// so that the dup2() calls in the child cannot clobber one another.
constexpr int kHighFd = 64;

Result<unique_fd> dup_high(int fd, const char* what) {
    int d = ::fcntl(fd, F_DUPFD_CLOEXEC, kHighFd);
    // EINVAL: the fd limit is at most kHighFd (LimitNOFILE=64, a prlimit). Any number
    // above the init's slots does; below that, it is the limit's fault: say so.
    if (d < 0 && errno == EINVAL) d = ::fcntl(fd, F_DUPFD_CLOEXEC, INIT_FD_FIRST_FREE);
    if (d < 0) return Error::os(errno == EINVAL ? EMFILE : errno, std::string("dup ") + what);
    return unique_fd(d);
}

// The child's side. Only async-signal-safe calls; every input was prepared before
// clone. Never returns.
struct ChildFds {
    int devnull, plan, report, logdir, rundir, go, init;
    NamespaceJoin joins[3];
    const int* procs = nullptr;
    std::size_t nprocs = 0;
    int cgroup_dir = -1;  ///< cgroup v2: the app's cgroup directory
};

[[noreturn]] void child_exec(const ChildFds& c, const char* path, char* const argv[], char* const envp[]) {
    // Into the app's cgroup before anything else runs: v2 by its cgroup.procs ("0" moves
    // the writer), v1 by one file per hierarchy.
    int step = STEP_CGROUP;
    const char* detail = "cgroup.procs";
    if (c.cgroup_dir >= 0) {
        int f = ::openat(c.cgroup_dir, "cgroup.procs", O_WRONLY | O_CLOEXEC);
        if (f < 0 || ::write(f, "0", 1) != 1) goto fail;
        ::close(f);
    }
    if (c.nprocs) {
        if (int e = cgroup::enter_cgroups_from_child(c.procs, c.nprocs); e != 0) {
            errno = e;
            goto fail;
        }
    }
    step = STEP_JOIN;
    detail = "";
    for (const auto& j : c.joins)
        if (j.pidfd >= 0 && ::setns(j.pidfd, j.flags) < 0) goto fail;
    step = STEP_EXEC_INIT;
    detail = path;
    if (::dup2(c.devnull, 0) < 0 || ::dup2(c.devnull, 1) < 0 || ::dup2(c.devnull, 2) < 0 ||
        ::dup2(c.plan, INIT_FD_PLAN) < 0 || ::dup2(c.report, INIT_FD_REPORT) < 0 ||
        ::dup2(c.logdir, INIT_FD_LOGDIR) < 0 || ::dup2(c.rundir, INIT_FD_RUNDIR) < 0)
        goto fail;
    if (c.go >= 0 && ::dup2(c.go, INIT_FD_GO) < 0) goto fail;
    if (c.init >= 0) {
        // Keep the memfd open across the exec's own use of it; it is CLOEXEC.
        ::syscall(SYS_close_range, INIT_FD_FIRST_FREE, static_cast<unsigned>(c.init) - 1, 0);
        ::syscall(SYS_close_range, static_cast<unsigned>(c.init) + 1, ~0U, 0);
        ::syscall(SYS_execveat, c.init, "", argv, envp, AT_EMPTY_PATH);
    } else {
        // Nothing else of the daemon's crosses into the sandbox (CVE-2024-21626).
        ::syscall(SYS_close_range, INIT_FD_FIRST_FREE, ~0U, 0);
        ::execve(path, argv, envp);
    }
fail : {
    init_report r;
    std::memset(&r, 0, sizeof r);
    r.kind = REPORT_FAILED;
    r.step = step;
    r.err = errno;
    size_t n = 0;
    while (detail[n] && n + 1 < sizeof r.detail) {
        r.detail[n] = detail[n];
        ++n;
    }
    // fd INIT_FD_REPORT if the dup2 got that far, else the original.
    if (::write(INIT_FD_REPORT, &r, sizeof r) < 0) (void)::write(c.report, &r, sizeof r);
    ::_exit(INIT_EXIT_SETUP_FAILED);
}
}

struct CloneArgs {
    const ChildFds* fds;
    const char* path;
    char* const* argv;
    char* const* envp;
};

int child_main(void* p) {
    auto* a = static_cast<CloneArgs*>(p);
    child_exec(*a->fds, a->path, a->argv, a->envp);
}

}  // namespace

Result<unique_fd> sealed_memfd(const char* name, std::string_view data) {
    int fd = ::memfd_create(name, MFD_CLOEXEC | MFD_ALLOW_SEALING);
    if (fd < 0) return os_error("memfd_create");
    unique_fd mem(fd);
    while (!data.empty()) {
        ssize_t w = ::write(fd, data.data(), data.size());
        if (w < 0) {
            if (errno == EINTR) continue;
            return os_error(std::string("write ") + name);
        }
        data.remove_prefix(static_cast<size_t>(w));
    }
    if (::fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE | F_SEAL_SEAL) < 0)
        return os_error(std::string("seal ") + name);
    return mem;
}

Result<unique_fd> sealed_copy(const std::string& path) {
    auto bytes = sys::read_file(path);
    if (!bytes) return bytes.error();
    return sealed_memfd("isolated-init", *bytes);
}

Result<Spawned> spawn_init(const SpawnRequest& req) {
    // Sealed: nothing (a compromised app included) can alter the plan.
    auto memfd = sealed_memfd("isolated-plan", req.plan->encode());
    if (!memfd) return memfd.error();
    int pipefd[2];
    if (::pipe2(pipefd, O_CLOEXEC) < 0) return os_error("pipe2");
    unique_fd report_r(pipefd[0]), report_w(pipefd[1]);
    unique_fd devnull(::open("/dev/null", O_RDWR | O_CLOEXEC));
    if (!devnull) return os_error("open /dev/null");

    auto h_null = dup_high(devnull.get(), "/dev/null");
    auto h_plan = dup_high(memfd->get(), "plan");
    auto h_report = dup_high(report_w.get(), "report pipe");
    auto h_log = dup_high(req.log_dir_fd, "log dir");
    auto h_run = dup_high(req.run_dir_fd, "run dir");
    for (auto* r : {&h_null, &h_plan, &h_report, &h_log, &h_run})
        if (!*r) return r->error();
    unique_fd h_go, h_init;
    if (req.go_fd >= 0) {
        auto g = dup_high(req.go_fd, "go pipe");
        if (!g) return g.error();
        h_go = std::move(*g);
    }
    if (req.init_fd >= 0) {
        auto i = dup_high(req.init_fd, "init");
        if (!i) return i.error();
        h_init = std::move(*i);
    }
    ChildFds c{h_null->get(), h_plan->get(), h_report->get(), h_log->get(), h_run->get(), h_go.get(), h_init.get(), {}};
    for (int i = 0; i < 3; ++i) c.joins[i] = req.joins[i];
    c.procs = req.cgroup_procs_fds.data();
    c.nprocs = req.cgroup_procs_fds.size();

    std::string path = req.init_path;
    std::string arg0 = "isolated-init", arg1 = req.plan->app_name;
    char* argv[] = {arg0.data(), arg1.data(), nullptr};
    char* envp[] = {nullptr};

    c.cgroup_dir = req.cgroup_dir_fd;
    int pidfd = -1;
    // Block every signal across the clone: the child is a copy of the daemon, and a
    // signal handled in it before exec would run the daemon's handlers (Asio's
    // signal pipe) in the wrong process. The init starts with them blocked and sets
    // its own mask.
    // Joining another sandbox's pid namespace only affects children: enter it for the
    // clone, then return to our own.
    static int own_pid_ns = ::open("/proc/self/ns/pid", O_RDONLY | O_CLOEXEC);
    if (req.join_pid_pidfd >= 0) {
        if (own_pid_ns < 0) return Error::os(EBADF, "open /proc/self/ns/pid");
        if (::setns(req.join_pid_pidfd, CLONE_NEWPID) < 0) return os_error("join the pid namespace");
    }
    sigset_t all, old;
    sigfillset(&all);
    ::pthread_sigmask(SIG_SETMASK, &all, &old);
    // posix_spawn's way: the child shares our memory (CLONE_VM) on a stack of its own
    // and we wait (CLONE_VFORK) until it has exec'd the init. Nothing of the daemon's
    // address space is copied -- with a copy (fork) the page tables of a daemon this
    // size, the copy-on-write faults and the TLB shootdowns that follow cost more than
    // the namespaces. The child touches only what was prepared above.
    alignas(64) static thread_local char child_stack[64 * 1024];
    CloneArgs ca{&c, path.c_str(), argv, envp};
    int flags = CLONE_VM | CLONE_VFORK | CLONE_PIDFD | static_cast<int>(req.clone_flags) | SIGCHLD;
    long pid = ::clone(child_main, child_stack + sizeof child_stack, flags, &ca, &pidfd);
    int saved = errno;
    ::pthread_sigmask(SIG_SETMASK, &old, nullptr);
    if (req.join_pid_pidfd >= 0) (void)::setns(own_pid_ns, CLONE_NEWPID);
    if (pid < 0) return Error::os(saved, "clone");

    Spawned s;
    s.pid = static_cast<pid_t>(pid);
    s.pidfd.reset(pidfd);
    s.report = std::move(report_r);
    return s;
}

}  // namespace isolated::sandbox
