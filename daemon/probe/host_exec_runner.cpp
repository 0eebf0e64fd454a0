#include "probe/host_exec_runner.hpp"

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <boost/asio/post.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <boost/asio/steady_timer.hpp>

#include "isolated/result.hpp"
#include "isolated/unique_fd.hpp"
#include "sys/process.hpp"

extern char** environ;

namespace isolated::probe {

namespace asio = boost::asio;

namespace {

struct Run : std::enable_shared_from_this<Run> {
    Run(asio::io_context& io, pid_t pid, int pidfd, int out)
        : pid(pid), pidfd(io, pidfd), out(io, out), deadline(io) {}

    pid_t pid;
    asio::posix::stream_descriptor pidfd;
    asio::posix::stream_descriptor out;
    asio::steady_timer deadline;
    ExecRunner::Done done;
    ExecResult result;
    bool reaped = false;
    bool abandoned = false;
    char buf[4096];

    void start(Duration timeout) {
        auto self = shared_from_this();
        deadline.expires_after(timeout);
        deadline.async_wait([self](boost::system::error_code ec) {
            if (ec || self->reaped) return;
            self->result.timed_out = true;
            self->kill_group();
        });
        pidfd.async_wait(asio::posix::stream_descriptor::wait_read,
                         [self](boost::system::error_code ec) { self->exited(); });
        read_more();
    }

    /// The group id is the leader's pid, which cannot be reused before we reap it.
    void kill_group() {
        if (!reaped) ::kill(-pid, SIGKILL);
    }

    void read_more() {
        out.async_read_some(asio::buffer(buf), [self = shared_from_this()](boost::system::error_code ec, std::size_t n) {
            self->keep(n);
            if (!ec) self->read_more();
        });
    }

    void keep(std::size_t n) {
        std::size_t room = max_exec_output - std::min(max_exec_output, result.output.size());
        result.output.append(buf, std::min(n, room));  // the rest is read and dropped
    }

    void exited() {
        // Whatever the command left running in its group (a backgrounded child) goes
        // with it: a probe must not leave processes behind.
        kill_group();
        siginfo_t si{};
        if (::waitid(static_cast<idtype_t>(P_PIDFD), static_cast<id_t>(pidfd.native_handle()), &si, WEXITED) != 0) {
            result.ran = false;
            result.error = Error::os(errno, "waitid").to_string();
        } else if (si.si_code == CLD_EXITED) {
            result.exit_code = si.si_status;
        } else {
            result.signal = si.si_status;
            result.exit_code = 128 + si.si_status;
        }
        reaped = true;
        deadline.cancel();
        // What is already in the pipe belongs to the result; a grandchild that still
        // holds the pipe open must not delay it.
        for (;;) {
            ssize_t n = ::read(out.native_handle(), buf, sizeof buf);
            if (n <= 0) break;
            keep(static_cast<std::size_t>(n));
        }
        boost::system::error_code ignored;
        out.close(ignored);
        pidfd.close(ignored);
        if (abandoned || !done) return;
        auto fn = std::move(done);
        done = nullptr;
        fn(std::move(result));
    }
};

class HostExecHandle : public ExecHandle {
public:
    explicit HostExecHandle(std::shared_ptr<Run> run) : run_(std::move(run)) {}
    ~HostExecHandle() override {
        if (!run_) return;
        run_->abandoned = true;
        run_->done = nullptr;
        // Killed now, reaped by the pending pidfd wait (which keeps the Run alive).
        run_->kill_group();
    }

private:
    std::shared_ptr<Run> run_;
};

class FailedHandle : public ExecHandle {
public:
    explicit FailedHandle(std::shared_ptr<bool> cancelled) : cancelled_(std::move(cancelled)) {}
    ~FailedHandle() override { *cancelled_ = true; }

private:
    std::shared_ptr<bool> cancelled_;
};

std::unique_ptr<ExecHandle> fail_later(asio::io_context& io, ExecRunner::Done done, std::string error) {
    auto cancelled = std::make_shared<bool>(false);
    asio::post(io, [cancelled, done = std::move(done), error = std::move(error)] {
        if (*cancelled) return;
        ExecResult r;
        r.ran = false;
        r.error = error;
        done(std::move(r));
    });
    return std::make_unique<FailedHandle>(cancelled);
}

Result<unique_fd> spawn(const std::vector<std::string>& command, int out_fd, pid_t& pid,
                        const std::vector<int>& pass_fds = {}) {
    if (command.empty()) return Error::msg("exec probe: empty command");
    std::vector<char*> argv;
    for (const auto& a : command) argv.push_back(const_cast<char*>(a.c_str()));
    argv.push_back(nullptr);

    posix_spawn_file_actions_t fa;
    posix_spawnattr_t attr;
    posix_spawn_file_actions_init(&fa);
    posix_spawnattr_init(&attr);
    posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_adddup2(&fa, out_fd, 1);
    posix_spawn_file_actions_adddup2(&fa, out_fd, 2);
    // Passed fds were moved above the target slots by the caller.
    for (std::size_t i = 0; i < pass_fds.size(); ++i)
        posix_spawn_file_actions_adddup2(&fa, pass_fds[i], static_cast<int>(3 + i));
    // Every fd is CLOEXEC already; this is the belt to those braces (CVE-2024-21626).
    posix_spawn_file_actions_addclosefrom_np(&fa, static_cast<int>(3 + pass_fds.size()));
    sigset_t none, all;
    sigemptyset(&none);
    sigfillset(&all);
    posix_spawnattr_setsigmask(&attr, &none);
    posix_spawnattr_setsigdefault(&attr, &all);
    posix_spawnattr_setpgroup(&attr, 0);
    posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
    int rc = ::posix_spawnp(&pid, argv[0], &fa, &attr, argv.data(), environ);
    posix_spawn_file_actions_destroy(&fa);
    posix_spawnattr_destroy(&attr);
    if (rc != 0) return Error::os(rc, "exec \"" + command[0] + "\"");
    auto pidfd = sys::pidfd_open(pid);
    if (!pidfd) {
        ::kill(-pid, SIGKILL);
        ::waitpid(pid, nullptr, 0);  // just killed: returns at once
        return pidfd.error();
    }
    return std::move(*pidfd);
}

}  // namespace

std::unique_ptr<ExecHandle> HostExecRunner::run(const std::vector<std::string>& command, Duration timeout,
                                                Done done) {
    return run_with_fds(command, {}, timeout, std::move(done));
}

std::unique_ptr<ExecHandle> HostExecRunner::run_with_fds(const std::vector<std::string>& command,
                                                         const std::vector<int>& pass_fds, Duration timeout,
                                                         Done done) {
    auto fail = [&](const Error& e) { return fail_later(io_, std::move(done), e.to_string()); };
    int fds[2];
    if (::pipe2(fds, O_CLOEXEC) != 0) return fail(os_error("pipe2"));
    unique_fd rd(fds[0]), wr(fds[1]);
    pid_t pid = 0;
    // Out of the way of the slots they are dup2'ed to.
    std::vector<unique_fd> high;
    std::vector<int> pass;
    for (int fd : pass_fds) {
        int h = ::fcntl(fd, F_DUPFD_CLOEXEC, 64);
        if (h < 0) return fail(os_error("dup"));
        high.emplace_back(h);
        pass.push_back(h);
    }
    auto pidfd = spawn(command, wr.get(), pid, pass);
    wr.reset();
    if (!pidfd) return fail(pidfd.error());
    ::fcntl(rd.get(), F_SETFL, ::fcntl(rd.get(), F_GETFL) | O_NONBLOCK);
    auto r = std::make_shared<Run>(io_, pid, pidfd->release(), rd.release());
    r->done = std::move(done);
    r->start(timeout);
    return std::make_unique<HostExecHandle>(r);
}

std::unique_ptr<ExecHandle> UnavailableExecRunner::run(const std::vector<std::string>&, Duration, Done done) {
    return fail_later(io_, std::move(done), reason_);
}

}  // namespace isolated::probe
