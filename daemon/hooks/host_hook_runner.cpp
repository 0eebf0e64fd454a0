#include "hooks/host_hook_runner.hpp"

#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <boost/asio/posix/stream_descriptor.hpp>
#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <nlohmann/json.hpp>

#include "hooks/hook_process.hpp"
#include "host/log.hpp"
#include "isolated/api_json.hpp"
#include "isolated/redact.hpp"
#include "isolated/units.hpp"
#include "sandbox/spawn.hpp"
#include "sys/process.hpp"

namespace isolated::hooks {

namespace asio = boost::asio;
using supervisor::HookKind;
using supervisor::hook_field;

struct HostHookRunner::Run : std::enable_shared_from_this<Run> {
    explicit Run(asio::io_context& io) : pidfd(io), out(io), deadline(io) {}

    HostHookRunner* owner = nullptr;
    std::string key, app, program;
    HookKind kind = HookKind::failure;
    Duration timeout{};
    pid_t pid = 0;
    asio::posix::stream_descriptor pidfd, out;
    asio::steady_timer deadline;
    unique_fd report;
    std::unique_ptr<cgroup::AppCgroup> cgroup;
    std::chrono::steady_clock::time_point started;
    bool timed_out = false;
    bool over = false;  // reaped (finished) or abandoned (shutdown): no handler acts any more

    // Output: whole lines to the log, bounded; the hook's own arguments (a webhook's
    // token, an address) never reach the log, whatever the hook prints.
    Redactor redactor;
    std::string line;
    bool line_cut = false;
    std::size_t logged = 0, dropped = 0;
    char buf[4096];

    std::string prefix() const { return hook_field(kind) + " hook: "; }

    void start() {
        auto self = shared_from_this();
        deadline.expires_after(timeout);
        deadline.async_wait([self](boost::system::error_code ec) {
            if (ec || self->over) return;
            self->timed_out = true;
            self->kill_all();
        });
        pidfd.async_wait(asio::posix::stream_descriptor::wait_read, [self](boost::system::error_code) {
            if (self->over) return;
            self->owner->finished(self);
        });
        read_more();
    }

    void read_more() {
        out.async_read_some(asio::buffer(buf), [self = shared_from_this()](boost::system::error_code ec, std::size_t n) {
            if (self->over) return;  // finished() read the rest itself
            self->take(self->buf, n);
            if (!ec) self->read_more();
        });
    }

    /// Everything of the hook: its cgroup (what it forked, however detached) and its
    /// process group (the whole of it without a cgroup driver). Before the reap, so the
    /// group id cannot have been reused.
    void kill_all() {
        if (cgroup) (void)cgroup->kill();
        ::kill(-pid, SIGKILL);
        (void)sys::pidfd_send_signal(pidfd.native_handle(), SIGKILL);
    }

    /// Reaps the hook (it has ended, or was just killed); returns its wait status.
    siginfo_t reap() {
        siginfo_t si{};
        if (::waitid(static_cast<idtype_t>(P_PIDFD), static_cast<id_t>(pidfd.native_handle()), &si, WEXITED) != 0)
            si.si_code = 0;
        return si;
    }

    /// What is still in the pipe belongs to the output; a process that still holds it
    /// open (killed, not yet gone) must not delay anything.
    void drain() {
        for (;;) {
            ssize_t n = ::read(out.native_handle(), buf, sizeof buf);
            if (n <= 0) break;
            take(buf, static_cast<std::size_t>(n));
        }
        if (!line.empty() || line_cut) emit();
        if (dropped)
            host::log_info(app, prefix() + std::to_string(dropped) + " more bytes of output not logged (" +
                                    std::to_string(max_logged_output) + " bytes are)");
        boost::system::error_code ignored;
        out.close(ignored);
    }

    void take(const char* p, std::size_t n) {
        for (std::size_t i = 0; i < n; ++i) {
            if (p[i] == '\n') {
                emit();
            } else if (line.size() < max_logged_line) {
                line += p[i];
            } else {
                line_cut = true;
                ++dropped;
            }
        }
    }

    void emit() {
        if (logged + line.size() > max_logged_output) {
            dropped += line.size() + 1;
        } else {
            logged += line.size() + 1;
            host::log_info(app, prefix() + redactor.scrub(line) + (line_cut ? " [line cut]" : ""));
        }
        line.clear();
        line_cut = false;
    }

    /// Releases the cgroup; a failure is logged (the next daemon start removes it).
    void remove_cgroup() {
        if (!cgroup) return;
        if (auto r = cgroup->remove(); !r)
            host::log_warning(app, prefix() + "cgroup " + cgroup->describe() + " not removed: " + r.error().to_string());
        cgroup.reset();
    }
};

HostHookRunner::HostHookRunner(asio::io_context& io, supervisor::EventLog& events, cgroup::Manager* cgroups)
    : io_(io), events_(events), cgroups_(cgroups) {}

HostHookRunner::~HostHookRunner() { shutdown(); }

void HostHookRunner::publish(const std::string& app, const std::string& message) {
    host::log_warning(app, message);
    AppEvent e;
    e.time = std::chrono::system_clock::now();
    e.app = app;
    e.type = "hook";
    e.message = message;
    events_.publish(std::move(e));
}

void HostHookRunner::run(const std::string& app, HookKind kind, const HookSpec& hook, const AppEvent& event) {
    if (shut_down_ || hook.command.empty()) return;
    std::string what = hook_field(kind) + " hook";
    std::string key = app + "." + to_string(kind);
    if (auto it = runs_.find(key); it != runs_.end()) {
        // systemd's OnFailure=: a unit that is already active is not started again.
        // The event that would have been its input is in the event log all the same.
        auto age = std::chrono::duration_cast<Duration>(std::chrono::steady_clock::now() - it->second->started);
        publish(app, what + " not run for event " + std::to_string(event.seq) + ": the previous run (pid " +
                         std::to_string(it->second->pid) + ", started " + format_duration(age) + " ago) is still running");
        return;
    }
    auto cannot = [&](const Error& e) { publish(app, what + " could not be run: " + e.to_string()); };

    auto creds = resolve_user(hook.user);
    if (!creds) return cannot(creds.error());
    nlohmann::json j = event;
    auto input = sandbox::sealed_memfd("isolated-hook-event", j.dump() + "\n");
    if (!input) return cannot(input.error());
    // Written through the same open file: the hook reads it from the start.
    if (::lseek(input->get(), 0, SEEK_SET) < 0) return cannot(os_error("lseek"));
    int fds[2];
    if (::pipe2(fds, O_CLOEXEC) != 0) return cannot(os_error("pipe2"));
    unique_fd rd(fds[0]), wr(fds[1]);

    // A cgroup of its own or no run at all: the hook must land in neither an app's
    // cgroup nor the daemon's, where its leftovers could not be told apart.
    std::unique_ptr<cgroup::AppCgroup> cg;
    if (cgroups_) {
        auto c = cgroups_->create_hook(key);
        if (!c) {
            c.error().message = "cgroup: " + c.error().message;
            return cannot(c.error());
        }
        cg = std::move(*c);
    }

    HookLaunch launch;
    launch.argv = hook.command;
    launch.env = {"ISOLATED_APP=" + app, "ISOLATED_EVENT=" + to_string(kind), std::string("PATH=") + hook_path};
    launch.creds = std::move(*creds);
    launch.stdin_fd = input->get();
    launch.output_fd = wr.get();
    launch.cgroup = cg.get();
    auto p = spawn(launch);
    wr.reset();
    if (!p) {
        if (cg) (void)cg->remove();
        return cannot(p.error());
    }
    ::fcntl(rd.get(), F_SETFL, ::fcntl(rd.get(), F_GETFL) | O_NONBLOCK);

    auto r = std::make_shared<Run>(io_);
    r->owner = this;
    r->key = key;
    r->app = app;
    r->program = hook.command.front();
    r->kind = kind;
    r->timeout = hook.timeout;
    r->pid = p->pid;
    r->pidfd.assign(p->pidfd.release());
    r->out.assign(rd.release());
    r->report = std::move(p->report);
    r->cgroup = std::move(cg);
    r->started = std::chrono::steady_clock::now();
    for (std::size_t i = 1; i < hook.command.size(); ++i) r->redactor.add_value(hook.command[i]);
    runs_[key] = r;
    host::log_info(app, r->prefix() + "started " + r->program + " as " + hook.user + " (pid " + std::to_string(r->pid) +
                            ", timeout " + format_duration(hook.timeout) + ") for event " + std::to_string(event.seq));
    r->start();
}

void HostHookRunner::finished(const std::shared_ptr<Run>& r) {
    r->over = true;
    r->deadline.cancel();
    // Whatever it left running (a backgrounded child) goes with it: a hook leaves
    // nothing behind, as a probe does not.
    if (r->cgroup) (void)r->cgroup->kill();
    ::kill(-r->pid, SIGKILL);
    siginfo_t si = r->reap();
    auto elapsed = std::chrono::duration_cast<Duration>(std::chrono::steady_clock::now() - r->started);
    r->drain();
    r->remove_cgroup();
    boost::system::error_code ignored;
    r->pidfd.close(ignored);
    if (auto it = runs_.find(r->key); it != runs_.end() && it->second == r) runs_.erase(it);

    std::string what = hook_field(r->kind) + " hook";
    if (auto why = spawn_failure(r->report.get(), r->program)) {
        publish(r->app, what + " could not be run: " + *why);
    } else if (r->timed_out) {
        publish(r->app, what + " killed after " + format_duration(r->timeout) + " (its timeout)");
    } else if (si.si_code == CLD_EXITED && si.si_status == 0) {
        host::log_info(r->app, r->prefix() + "exited with code 0 after " + format_duration(elapsed));
    } else if (si.si_code == CLD_EXITED) {
        publish(r->app, what + " exited with code " + std::to_string(si.si_status));
    } else if (si.si_code == CLD_KILLED || si.si_code == CLD_DUMPED) {
        publish(r->app, what + " killed by " + signal_name(si.si_status));
    } else {
        publish(r->app, what + " ended, and how is unknown (waitid failed)");
    }
}

std::size_t HostHookRunner::remove_leftovers() {
    if (!cgroups_) return 0;
    auto gone = cgroups_->remove_hooks();
    if (!gone) {
        host::log_warning("", "hooks: leftover hook cgroups not removed: " + gone.error().to_string());
        return 0;
    }
    return gone->size();
}

void HostHookRunner::shutdown() {
    if (shut_down_) return;
    shut_down_ = true;
    for (auto& [key, r] : runs_) {
        r->over = true;
        r->deadline.cancel();
        r->kill_all();
        (void)r->reap();
        r->drain();
        r->remove_cgroup();
        boost::system::error_code ignored;
        r->pidfd.close(ignored);
        host::log_info(r->app, r->prefix() + "killed: the daemon is stopping");
    }
    runs_.clear();
    // And the _hooks subtree itself, so nothing of the hooks outlives the daemon.
    if (cgroups_)
        if (auto r = cgroups_->remove_hooks(); !r)
            host::log_warning("", "hooks: cgroups not removed: " + r.error().to_string());
}

}  // namespace isolated::hooks
