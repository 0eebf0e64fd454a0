#include "runtime/instance_watch.hpp"

#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <boost/asio/read.hpp>
#include <cstring>
#include <set>

#include "host/log.hpp"
#include "sys/crash_point.hpp"
#include "sys/file.hpp"
#include "sys/process.hpp"

namespace isolated::runtime {

namespace asio = boost::asio;

void Watch::write_record() {
    // Root's only: the record holds the app's definition, env values and arguments
    // included, and the run dir is world-traversable (the read-only socket is in it).
    if (auto st = sys::replace_file_at(run_dir.get(), kInstanceRecord, serialize_instance_record(record), 0600); !st)
        host::log_warning(app, "instance record: " + st.error().to_string() +
                                   " (a restarted daemon could not adopt this instance)");
}

void Watch::read_report() {
    asio::async_read(report, asio::buffer(&msg, sizeof msg),
                     [self = shared_from_this()](boost::system::error_code ec, std::size_t) {
                         if (self->detached) return;
                         if (ec) {
                             // EOF without a report: with "init": false the report pipe
                             // closes on the app's successful exec.
                             if (self->init_is_app && !self->started && !self->failure && !self->exited) {
                                 self->msg = {};
                                 self->msg.kind = REPORT_STARTED;
                                 self->handle_report();
                             }
                             return;
                         }
                         self->handle_report();
                     });
}

pid_t Watch::host_pid_of_app(pid_t reported) const {
    if (init_is_app) return info.init_pid;
    auto children = sys::children_of(info.init_pid);
    if (reported > 0)
        for (pid_t c : children)
            if (sys::innermost_pid(c) == reported) return c;
    if (!children.empty() && reported <= 0) return children.front();
    return reported;
}

// A pidfd on the main process `pid`, taken only while it is the init's child (and
// has the pid `reported` inside the sandbox when that is known): checked after the
// pidfd pins a process, and counted only if that process is still there after the
// check, so a process that took the pid over is never taken for the app.
void Watch::open_main(pid_t pid, pid_t reported) {
    if (init_is_app || pid <= 0) return;
    auto fd = sys::pidfd_open(pid);
    if (!fd) return;
    if (sys::parent_pid(pid) != info.init_pid) return;
    if (reported > 0 && sys::innermost_pid(pid) != reported) return;
    if (!sys::pidfd_alive(fd->get())) return;
    if (auto start = sys::process_start_time(pid)) record.pid_start = *start;
    main_pidfd = std::move(*fd);
}

void Watch::handle_report() {
    if (msg.kind == REPORT_STARTED) {
        started = true;
        info.pid = host_pid_of_app(msg.pid);
        info.started_at = std::chrono::system_clock::now();
        open_main(info.pid, msg.pid);
        record.pid = info.pid;
        record.started_at = info.started_at;
        write_record();
        if (callbacks.on_started) callbacks.on_started();
    } else if (msg.kind == REPORT_FAILED) {
        msg.detail[sizeof msg.detail - 1] = 0;
        failure = describe_init_failure(msg.step, msg.err, msg.detail);
    }
}

void Watch::wait_exit() {
    pidfd.async_wait(asio::posix::stream_descriptor::wait_read,
                     [self = shared_from_this()](boost::system::error_code ec) {
                         if (ec || self->detached) return;
                         self->handle_exit();
                     });
    watch_log_drops();
}

// The app's own log says what was lost only once it can be written again; the
// daemon's log says it while it happens (journald logs its "Suppressed" lines itself).
void Watch::watch_log_drops() {
    drop_timer.expires_after(std::chrono::seconds(5));
    drop_timer.async_wait([self = shared_from_this()](boost::system::error_code ec) {
        if (ec || self->detached || self->exited) return;
        if (self->drop_quiet_checks > 0) --self->drop_quiet_checks;
        ResourceUsage u;
        if (auto text = sys::read_file_at(self->run_dir.get(), INIT_LOG_DROPPED_FILE, 4096))
            parse_log_dropped(*text, u);
        if (u.log_dropped_lines && *u.log_dropped_lines > self->drops_warned && self->drop_quiet_checks == 0) {
            host::log_warning(self->app, std::to_string(*u.log_dropped_lines) + " log lines (" +
                                             std::to_string(u.log_dropped_bytes.value_or(0)) +
                                             " bytes) of this instance dropped so far: its log file cannot be "
                                             "written (is the log dir full?); the app runs on");
            self->drops_warned = *u.log_dropped_lines;
            self->drop_quiet_checks = 12;  // a minute
        }
        self->watch_log_drops();
    });
}

// A report may still sit unread in the pipe when the pidfd fires first (both are
// ready in the same loop turn): read it without waiting.
void Watch::drain_report() {
    if (!report.is_open()) return;
    report.cancel();
    report.non_blocking(true);
    boost::system::error_code ec;
    std::size_t n = asio::read(report, asio::buffer(&msg, sizeof msg), ec);
    if (n == sizeof msg) handle_report();
    report.close(ec);
}

// Why the sandbox's init ended when it left no exit record and the kernel could not
// tell its status: SIGKILL is the only signal it cannot catch to record the app's
// exit, so it was killed -- by the end of the pid namespace it joined, or by a kill
// of everything (cgroup, OOM killer, an operator) -- and the app with it.
ExitInfo Watch::init_killed_exit() const {
    ExitInfo exit;
    exit.at = std::chrono::system_clock::now();
    if (init_is_app) {
        // No init to record anything: the app itself ended, unseen.
        exit.code = 255;
        exit.message = "ended while no daemon was its parent; its exit status is unknown";
        return exit;
    }
    exit.signal = SIGKILL;
    exit.code = 128 + SIGKILL;
    // The peer's init ended, or is ending: it stays in its exit until this init is
    // reaped (zap_pid_ns_processes), so "exited" alone would come too late.
    bool peer_gone = false;
    if (pid_peer_fd) {
        pollfd p{pid_peer_fd.get(), POLLIN, 0};
        peer_gone = (::poll(&p, 1, 0) == 1 && (p.revents & (POLLIN | POLLHUP))) ||
                    sys::process_exiting(pid_peer_pid);
    }
    if (peer_gone)
        exit.message = "killed with the pid namespace of app \"" + pid_peer + "\" when its init ended";
    else
        exit.message = "the sandbox's init was killed (SIGKILL) before it could record the app's exit";
    return exit;
}

void Watch::handle_exit() {
    siginfo_t si;
    std::memset(&si, 0, sizeof si);
    // We are the init's parent unless it was adopted: reap it (P_PIDFD, Linux 5.4).
    int rc = ::waitid(static_cast<idtype_t>(P_PIDFD), static_cast<id_t>(pidfd.native_handle()), &si,
                      WEXITED | WNOHANG);
    std::optional<ExitInfo> waited;
    if (rc == 0 && si.si_pid != 0) {
        waited.emplace();
        if (si.si_code == CLD_EXITED) {
            waited->code = si.si_status;
        } else {
            waited->signal = si.si_status;
            waited->code = 128 + si.si_status;
        }
    } else if (auto st = sys::pidfd_exit_status(pidfd.native_handle())) {
        // Not our child (adopted): the kernel keeps the status once its parent reaped it.
        waited.emplace();
        if (WIFSIGNALED(*st)) {
            waited->signal = WTERMSIG(*st);
            waited->code = 128 + waited->signal;
        } else {
            waited->code = WEXITSTATUS(*st);
        }
    }
    auto recorded = parse_exit_record(sys::read_file_at(run_dir.get(), INIT_EXIT_FILE, kExitRecordMax).value_or(""), instance);
    if (!recorded && !waited && status_tries-- > 0) {
        // An adopted init is reaped by its new parent (PID 1 or a subreaper) a moment
        // after it ends; only then does the kernel have its status. Ask again shortly.
        status_timer.expires_after(std::chrono::milliseconds(20));
        status_timer.async_wait([self = shared_from_this()](boost::system::error_code ec) {
            if (ec || self->detached) return;
            self->handle_exit();
        });
        return;
    }
    drain_report();
    exited = true;
    main_pidfd.reset();
    grace_timer.cancel();
    drop_timer.cancel();
    ExitInfo exit;
    if (recorded) {
        exit = *recorded;
    } else if (waited) {
        exit = *waited;
        exit.at = std::chrono::system_clock::now();
        if (waited->signal == SIGKILL && !init_is_app) {
            exit = init_killed_exit();  // the same, with the reason when it is known
        } else if (!init_is_app) {
            exit.message = "the sandbox's init ended without recording the app's exit";
        }
    } else {
        exit = init_killed_exit();
    }
    if (failure) exit.message = *failure;
    // After the init is gone: what is left of the app is killed, the OOM counter read,
    // the cgroup removed, the forwards and the hosts entry gone.
    resources.release(&exit);
    sys::crash_point("stop.before-record-remove");
    // Handled: nothing is left for a later daemon to adopt.
    (void)::unlinkat(run_dir.get(), kInstanceRecord, 0);
    boost::system::error_code ignored;
    pidfd.close(ignored);
    auto cb = std::move(callbacks.on_exit);
    callbacks = {};
    if (cb) cb(exit);
}

namespace {

class HostInstance : public supervisor::Instance {
public:
    HostInstance(std::shared_ptr<Watch> w, Duration grace) : w_(std::move(w)), grace_(grace) {}

    ~HostInstance() override {
        w_->detached = true;
        boost::system::error_code ec;
        w_->pidfd.close(ec);
        w_->report.close(ec);
        w_->grace_timer.cancel();
        w_->status_timer.cancel();
        w_->drop_timer.cancel();
    }

    supervisor::InstanceInfo info() const override { return w_->info; }

    void signal(int sig) override {
        if (w_->exited || !w_->pidfd.is_open()) return;
        (void)sys::pidfd_send_signal(w_->pidfd.native_handle(), sig);
    }

    Result<supervisor::SignalDelivery> send_signal(int sig, bool all) override {
        if (w_->exited || !w_->pidfd.is_open()) return Error::msg("it has exited");
        supervisor::SignalDelivery d;
        // With "init": false the init's pidfd is the app's main process.
        const int main_fd = w_->init_is_app ? w_->pidfd.native_handle() : w_->main_pidfd.get();
        const pid_t main_pid = w_->init_is_app ? w_->info.init_pid : w_->info.pid;
        if (main_fd >= 0) {
            if (auto st = sys::pidfd_send_signal(main_fd, sig); st) {
                d.main_pid = main_pid;
                d.pids.push_back(main_pid);
            } else if (st.error().errno_value != ESRCH) {
                return Error::os(st.error().errno_value, signal_name(sig) + " to pid " + std::to_string(main_pid));
            }
        }
        if (all) signal_the_rest(sig, d);
        if (d.pids.empty())
            return Error::msg(all ? "no process of it is left to signal (it is ending)"
                                  : "its main process has exited (it is ending)");
        return d;
    }

    void kill_all() override {
        if (w_->exited) return;
        // Everything below the init first, so the init can still record how the app
        // ended; then, if it has not left within the grace period, the init too.
        sys::kill_descendants(w_->info.init_pid);
        w_->grace_timer.expires_after(grace_);
        w_->grace_timer.async_wait([w = w_](boost::system::error_code ec) {
            if (ec || w->exited || w->detached || !w->pidfd.is_open()) return;
            if (w->resources.cgroup) (void)w->resources.cgroup->kill();
            (void)sys::pidfd_send_signal(w->pidfd.native_handle(), SIGKILL);
        });
    }

    // The init's pidfd: the one clone(CLONE_PIDFD) gave at launch, or the one adopt()
    // opened and checked against the record. Empty once the exit is handled.
    supervisor::SandboxHandle sandbox() const override {
        if (w_->exited || !w_->pidfd.is_open()) return {};
        return {w_->pidfd.native_handle(), w_->info.init_pid, w_->init_start};
    }

    // Read from the cgroup at most once a second (cAdvisor's housekeeping does the
    // same): a dashboard polling GET /v1/apps with 100 apps would otherwise cost 600
    // file opens per request.
    // The log lines the init dropped come from its run-dir record, read as often.
    ResourceUsage usage() const override {
        auto now = std::chrono::steady_clock::now();
        if (usage_at_ && now - *usage_at_ < std::chrono::seconds(1)) return usage_;
        usage_ = {};
        if (w_->resources.cgroup)
            if (auto u = w_->resources.cgroup->usage()) usage_ = *u;
        if (w_->run_dir)
            if (auto text = sys::read_file_at(w_->run_dir.get(), INIT_LOG_DROPPED_FILE, 4096))
                parse_log_dropped(*text, usage_);
        usage_at_ = now;
        return usage_;
    }

private:
    // The app's processes as the kernel groups them: its cgroup, or without one the
    // init's process tree (what `isoctl exec` started is then not in it).
    std::vector<pid_t> app_processes() const {
        if (w_->resources.cgroup)
            if (auto pids = w_->resources.cgroup->pids(); pids && !pids->empty()) return *pids;
        std::vector<pid_t> out{w_->info.init_pid};
        std::set<pid_t> seen{w_->info.init_pid};
        for (std::size_t i = 0; i < out.size(); ++i)
            for (pid_t c : sys::children_of(out[i]))
                if (seen.insert(c).second) out.push_back(c);
        return out;
    }

    // isolated's own processes in the app's cgroup: the init (which would forward the
    // signal to the app's process group, a second time), the log writer of "init":
    // false, and the `isolated-init --exec` relays of exec probes and `isoctl exec`
    // (which forward it to their command, which gets it directly). All run the init
    // binary, from the daemon's sealed copy or its path.
    bool is_isolated_process(pid_t pid) const {
        if (pid == w_->info.init_pid) return !w_->init_is_app;
        std::string exe = sys::exe_path(pid);
        return exe == "/memfd:isolated-init (deleted)" || (!w_->init_path.empty() && exe == w_->init_path);
    }

    // `all`: every other process of the app, each through a pidfd of its own, as
    // systemd's cg_kill_recursive does: passes over the process list until one finds
    // nobody new (a process may fork while we look), at most 10.
    void signal_the_rest(int sig, supervisor::SignalDelivery& d) {
        std::set<pid_t> seen(d.pids.begin(), d.pids.end());
        for (int round = 0; round < 10; ++round) {
            std::vector<std::pair<pid_t, unique_fd>> opened;
            for (pid_t pid : app_processes()) {
                if (!seen.insert(pid).second) continue;
                auto fd = sys::pidfd_open(pid);
                if (fd && !is_isolated_process(pid)) opened.emplace_back(pid, std::move(*fd));
            }
            if (opened.empty()) return;
            // Listed again once the pidfds pin their processes: a pid still listed is the
            // pidfd's process if that has not been reaped since (and not one that took
            // the pid over in between, which could be anyone's).
            auto again = app_processes();
            std::set<pid_t> members(again.begin(), again.end());
            for (auto& [pid, fd] : opened)
                if (members.count(pid) && sys::pidfd_alive(fd.get()) && sys::pidfd_send_signal(fd.get(), sig))
                    d.pids.push_back(pid);
        }
    }

    std::shared_ptr<Watch> w_;
    Duration grace_;
    mutable ResourceUsage usage_;
    mutable std::optional<std::chrono::steady_clock::time_point> usage_at_;
};

}  // namespace

std::unique_ptr<supervisor::Instance> make_host_instance(std::shared_ptr<Watch> watch, Duration grace) {
    return std::make_unique<HostInstance>(std::move(watch), grace);
}

std::string describe_init_failure(int step, int err, const std::string& detail) {
    auto with_errno = [&](std::string what) { return Error::os(err, std::move(what)).to_string(); };
    switch (step) {
        case STEP_EXEC_INIT: return with_errno("exec of the sandbox init \"" + detail + "\"");
        case STEP_READ_PLAN: return with_errno("the init could not read its launch plan");
        case STEP_SIGNALS: return with_errno("the init could not set up signals");
        case STEP_OPEN_LOG: return with_errno("open log file \"" + detail + "\"");
        case STEP_PIPES: return with_errno("output pipes");
        // detail: what was forked ("log writer"); none for the app itself
        case STEP_FORK: return with_errno("fork of the " + (detail.empty() ? std::string("app") : detail));
        case STEP_CHDIR: return with_errno("workdir \"" + detail + "\"");
        case STEP_RESOLVE: return "command \"" + detail + "\" not found on PATH";
        case STEP_EXEC: return with_errno("exec \"" + detail + "\"");
        case STEP_GO: return with_errno("the sandbox was abandoned before it was built");
        case STEP_MOUNT: return with_errno(detail);
        case STEP_PIVOT: return with_errno(detail);
        case STEP_HOSTNAME: return with_errno("sethostname \"" + detail + "\"");
        case STEP_LOOPBACK: return with_errno(detail);
        case STEP_CREDENTIALS: return with_errno(detail);
        case STEP_CAPS: return with_errno(detail);
        case STEP_SECCOMP: return with_errno(detail);
        case STEP_NO_NEW_PRIVS: return with_errno(detail);
        case STEP_RLIMIT: return with_errno(detail);
        case STEP_JOIN: return with_errno("join the namespaces of another app");
        case STEP_USERNS: return with_errno(detail);
        case STEP_SECRETS: return with_errno(detail);
        case STEP_CGROUP_NS: return with_errno("unshare the cgroup namespace");
        case STEP_SYSCTL: return with_errno("sysctl " + detail);
        case STEP_PTY: return with_errno(detail.empty() ? std::string("open a pty in the sandbox") : detail);
        case STEP_CGROUP: return with_errno("enter the app's cgroup (" + detail + ")");
        case STEP_JOURNAL: return with_errno("connect to journald's socket \"" + detail + "\"");
        default: return with_errno("sandbox setup step " + std::to_string(step));
    }
}

}  // namespace isolated::runtime
