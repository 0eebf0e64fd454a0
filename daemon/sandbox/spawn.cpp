#include "sandbox/spawn.hpp"

#include <fcntl.h>
#include <linux/sched.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cstring>

#include "sandbox/init_protocol.h"

namespace isolated::sandbox {
namespace {

// Descriptors for the child are first moved to numbers above the init's fixed slots,
// so that the dup2() calls in the child cannot clobber one another.
constexpr int kHighFd = 64;

Result<unique_fd> dup_high(int fd, const char* what) {
    int d = ::fcntl(fd, F_DUPFD_CLOEXEC, kHighFd);
    if (d < 0) return os_error(std::string("dup ") + what);
    return unique_fd(d);
}

Result<unique_fd> make_plan_memfd(const std::string& blob) {
    int fd = ::memfd_create("isolated-plan", MFD_CLOEXEC | MFD_ALLOW_SEALING);
    if (fd < 0) return os_error("memfd_create");
    unique_fd memfd(fd);
    size_t off = 0;
    while (off < blob.size()) {
        ssize_t w = ::write(fd, blob.data() + off, blob.size() - off);
        if (w < 0) {
            if (errno == EINTR) continue;
            return os_error("write launch plan");
        }
        off += static_cast<size_t>(w);
    }
    // Sealed: nothing (including a compromised app later) can alter the plan.
    if (::fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE | F_SEAL_SEAL) < 0)
        return os_error("seal launch plan");
    return memfd;
}

// The child's side. Only async-signal-safe calls; every input was prepared before
// clone. Never returns.
[[noreturn]] void child_exec(int devnull, int plan, int report, int logdir, int rundir, const char* path,
                             char* const argv[], char* const envp[]) {
    int step = STEP_EXEC_INIT;
    if (::dup2(devnull, 0) < 0 || ::dup2(devnull, 1) < 0 || ::dup2(devnull, 2) < 0 ||
        ::dup2(plan, INIT_FD_PLAN) < 0 || ::dup2(report, INIT_FD_REPORT) < 0 || ::dup2(logdir, INIT_FD_LOGDIR) < 0 ||
        ::dup2(rundir, INIT_FD_RUNDIR) < 0)
        goto fail;
    // Nothing else of the daemon's crosses into the sandbox (CVE-2024-21626).
    ::syscall(SYS_close_range, INIT_FD_FIRST_FREE, ~0U, 0);
    ::execve(path, argv, envp);
fail : {
    init_report r;
    std::memset(&r, 0, sizeof r);
    r.kind = REPORT_FAILED;
    r.step = step;
    r.err = errno;
    size_t n = 0;
    while (path[n] && n + 1 < sizeof r.detail) {
        r.detail[n] = path[n];
        ++n;
    }
    // fd INIT_FD_REPORT if the dup2 got that far, else the original.
    if (::write(INIT_FD_REPORT, &r, sizeof r) < 0) (void)::write(report, &r, sizeof r);
    ::_exit(INIT_EXIT_SETUP_FAILED);
}
}

}  // namespace

Result<Spawned> spawn_init(const SpawnRequest& req) {
    auto memfd = make_plan_memfd(req.plan->encode());
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

    std::string path = req.init_path;
    std::string arg0 = "isolated-init", arg1 = req.plan->app_name;
    char* argv[] = {arg0.data(), arg1.data(), nullptr};
    char* envp[] = {nullptr};

    int pidfd = -1;
    clone_args args;
    std::memset(&args, 0, sizeof args);
    args.flags = CLONE_PIDFD | req.clone_flags;
    args.pidfd = reinterpret_cast<std::uint64_t>(&pidfd);
    args.exit_signal = SIGCHLD;
    if (req.cgroup_fd >= 0) {
        args.flags |= CLONE_INTO_CGROUP;
        args.cgroup = static_cast<std::uint64_t>(req.cgroup_fd);
    }

    // Block every signal across the clone: the child is a copy of the daemon, and a
    // signal handled in it before exec would run the daemon's handlers (Asio's
    // signal pipe) in the wrong process. The init starts with them blocked and sets
    // its own mask.
    sigset_t all, old;
    sigfillset(&all);
    ::pthread_sigmask(SIG_SETMASK, &all, &old);
    long pid = ::syscall(SYS_clone3, &args, sizeof args);
    if (pid == 0)
        child_exec(h_null->get(), h_plan->get(), h_report->get(), h_log->get(), h_run->get(), path.c_str(), argv,
                   envp);
    int saved = errno;
    ::pthread_sigmask(SIG_SETMASK, &old, nullptr);
    if (pid < 0) return Error::os(saved, "clone3");

    Spawned s;
    s.pid = static_cast<pid_t>(pid);
    s.pidfd.reset(pidfd);
    s.report = std::move(report_r);
    return s;
}

}  // namespace isolated::sandbox
