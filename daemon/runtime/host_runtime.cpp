#include "runtime/host_runtime.hpp"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <boost/asio/posix/stream_descriptor.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/steady_timer.hpp>
#include <algorithm>
#include <cstring>
#include <filesystem>
#include <set>
#include <sstream>
#include <sched.h>

#include <dirent.h>
#include <nlohmann/json.hpp>

#include "host/log.hpp"
#include "isolated/api_json.hpp"
#include "isolated/app_parser.hpp"

#include "isolated/unique_fd.hpp"
#include "isolated/units.hpp"
#include "sandbox/init_protocol.h"
#include "sandbox/sandbox_plan.hpp"
#include "sandbox/spawn.hpp"
#include "sys/process.hpp"

namespace isolated::runtime {

namespace asio = boost::asio;

namespace {

Result<unique_fd> open_dir(const std::string& path) {
    int fd = ::open(path.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) return os_error("open \"" + path + "\"");
    return unique_fd(fd);
}

Status make_dir(const std::string& path, mode_t mode) {
    if (::mkdir(path.c_str(), mode) < 0 && errno != EEXIST) return os_error("mkdir \"" + path + "\"");
    return {};
}

std::string read_at(int dirfd, const char* name) {
    int fd = ::openat(dirfd, name, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0) return {};
    unique_fd f(fd);
    std::string out;
    char buf[1024];
    ssize_t n;
    while ((n = ::read(fd, buf, sizeof buf)) > 0) out.append(buf, static_cast<size_t>(n));
    return out;
}

// The instance record, <run_dir>/apps/<app>/instance.json: what a later daemon needs to
// adopt the instance (docs/ARCHITECTURE.md, "Adoption"). Written when the init is
// released and again once the app runs; removed once the instance's exit is handled.
constexpr const char* kInstanceRecord = "instance.json";

Status write_at(int dirfd, const char* name, const std::string& content) {
    std::string tmp = std::string(name) + ".tmp";
    unique_fd fd(::openat(dirfd, tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0644));
    if (!fd) return os_error("create \"" + tmp + "\"");
    if (::write(fd.get(), content.data(), content.size()) != static_cast<ssize_t>(content.size()))
        return os_error("write \"" + tmp + "\"");
    if (::renameat(dirfd, tmp.c_str(), dirfd, name) < 0) return os_error("rename \"" + tmp + "\"");
    return {};
}

std::int64_t to_unix_ns(WallTime t) {
    return std::chrono::duration_cast<std::chrono::nanoseconds>(t.time_since_epoch()).count();
}

// State shared between the Instance (owned by the supervisor) and the handlers
// pending on the loop. The Instance's destructor marks it detached and cancels the
// handlers; nothing is killed.
struct Watch : std::enable_shared_from_this<Watch> {
    Watch(asio::io_context& io) : pidfd(io), report(io), grace_timer(io), status_timer(io) {}

    asio::posix::stream_descriptor pidfd;
    asio::posix::stream_descriptor report;
    asio::steady_timer grace_timer;
    asio::steady_timer status_timer;  // waiting for the kernel to know the init's status
    int status_tries = 50;            // of 20 ms each
    /// `namespaces.pid: app:NAME`: NAME and a pidfd of NAME's init at launch, whose
    /// exit takes this sandbox's processes with it (the kernel kills the namespace).
    std::string pid_peer;
    unique_fd pid_peer_fd;
    pid_t pid_peer_pid = 0;
    unique_fd run_dir;
    std::string instance;
    supervisor::InstanceCallbacks callbacks;
    supervisor::InstanceInfo info;
    std::uint64_t init_start = 0;  // the init's start time (sys::process_start_time)
    init_report msg{};
    std::optional<std::string> failure;  // from a REPORT_FAILED
    bool detached = false;
    bool exited = false;

    bool started = false;
    bool init_is_app = false;  // "init": false -- the init execs the app itself
    /// The app's main process (the init's child) once it is known, for operators'
    /// signals; with "init": false the init's own pidfd is the main process's.
    unique_fd main_pidfd;
    std::string init_path;  // the isolated-init binary, to tell its processes apart
    std::unique_ptr<cgroup::AppCgroup> cgroup;
    net::Network* network = nullptr;  // set when the app is attached to the bridge
    std::shared_ptr<net::HostsFiles> hosts;  // set when the app is in the others' hosts files
    std::string app;
    nlohmann::json record;  // the instance record, as last written

    void write_record() {
        if (auto st = write_at(run_dir.get(), kInstanceRecord, record.dump() + "\n"); !st)
            host::log_warning(app, "instance record: " + st.error().to_string() +
                                       " (a restarted daemon could not adopt this instance)");
    }

    void read_report() {
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

    // The app's pid as the host sees it: the init's child that has the pid the report
    // carries inside the sandbox's pid namespace (`reported`), or, when that is not
    // known (adoption), its first child -- the app, forked before anything else.
    pid_t host_pid_of_app(pid_t reported) const {
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
    void open_main(pid_t pid, pid_t reported) {
        if (init_is_app || pid <= 0) return;
        auto fd = sys::pidfd_open(pid);
        if (!fd) return;
        if (sys::parent_pid(pid) != info.init_pid) return;
        if (reported > 0 && sys::innermost_pid(pid) != reported) return;
        if (!sys::pidfd_alive(fd->get())) return;
        if (auto start = sys::process_start_time(pid)) record["pidStart"] = *start;
        main_pidfd = std::move(*fd);
    }

    void handle_report() {
        if (msg.kind == REPORT_STARTED) {
            started = true;
            info.pid = host_pid_of_app(msg.pid);
            info.started_at = std::chrono::system_clock::now();
            open_main(info.pid, msg.pid);
            record["pid"] = info.pid;
            record["startedAt"] = to_unix_ns(*info.started_at);
            write_record();
            if (callbacks.on_started) callbacks.on_started();
        } else if (msg.kind == REPORT_FAILED) {
            msg.detail[sizeof msg.detail - 1] = 0;
            failure = describe_init_failure(msg.step, msg.err, msg.detail);
        }
    }

    void wait_exit() {
        pidfd.async_wait(asio::posix::stream_descriptor::wait_read,
                         [self = shared_from_this()](boost::system::error_code ec) {
                             if (ec || self->detached) return;
                             self->handle_exit();
                         });
    }

    // A report may still sit unread in the pipe when the pidfd fires first (both are
    // ready in the same loop turn): read it without waiting.
    void drain_report() {
        if (!report.is_open()) return;
        report.cancel();
        report.non_blocking(true);
        boost::system::error_code ec;
        std::size_t n = asio::read(report, asio::buffer(&msg, sizeof msg), ec);
        if (n == sizeof msg) handle_report();
        report.close(ec);
    }

    // After the init is gone: whatever is left in the cgroup (a probe, an escaped
    // process) is killed, the OOM counter read -- never guessed from exit code 137 --
    // and the cgroup removed; the app's forwards leave the nftables table. The veth
    // goes with the network namespace.
    void release_resources(ExitInfo& exit) {
        if (cgroup) {
            (void)cgroup->kill();
            if (auto n = cgroup->oom_kills(); n && *n > 0) {
                exit.oom_killed = true;
                if (exit.message.empty()) exit.message = "killed by the OOM killer (memory limit)";
            }
            (void)cgroup->remove();
            cgroup.reset();
        }
        if (network) {
            (void)network->detach_app(app);
            network = nullptr;
        }
        if (hosts) {
            hosts->leave(app);  // out of every running app's /etc/hosts
            hosts.reset();
        }
    }

    // Why the sandbox's init ended when it left no exit record and the kernel could not
    // tell its status: SIGKILL is the only signal it cannot catch to record the app's
    // exit, so it was killed -- by the end of the pid namespace it joined, or by a kill
    // of everything (cgroup, OOM killer, an operator) -- and the app with it.
    ExitInfo init_killed_exit() const {
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

    void handle_exit() {
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
        auto record = parse_exit_record(read_at(run_dir.get(), INIT_EXIT_FILE), instance);
        if (!record && !waited && status_tries-- > 0) {
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
        ExitInfo exit;
        if (record) {
            exit = *record;
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
        release_resources(exit);
        // Handled: nothing is left for a later daemon to adopt.
        (void)::unlinkat(run_dir.get(), kInstanceRecord, 0);
        boost::system::error_code ignored;
        pidfd.close(ignored);
        auto cb = std::move(callbacks.on_exit);
        callbacks = {};
        if (cb) cb(exit);
    }
};

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
            if (w->cgroup) (void)w->cgroup->kill();
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
    ResourceUsage usage() const override {
        if (!w_->cgroup) return {};
        auto now = std::chrono::steady_clock::now();
        if (usage_at_ && now - *usage_at_ < std::chrono::seconds(1)) return usage_;
        auto u = w_->cgroup->usage();
        usage_ = u ? *u : ResourceUsage{};
        usage_at_ = now;
        return usage_;
    }

private:
    // The app's processes as the kernel groups them: its cgroup, or without one the
    // init's process tree (what `isoctl exec` started is then not in it).
    std::vector<pid_t> app_processes() const {
        if (w_->cgroup)
            if (auto pids = w_->cgroup->pids(); pids && !pids->empty()) return *pids;
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

HostRuntime::HostRuntime(asio::io_context& io, HostRuntimeOptions options)
    : io_(io), options_(std::move(options)), rng_(std::random_device{}()), hosts_(std::make_shared<net::HostsFiles>()) {
    hosts_->on_error = [](const std::string& app, const std::string& error) {
        host::log_warning(app, "/etc/hosts not updated: " + error);
    };
    // Without the copy the init is executed from its path (logged by the launch error
    // if that fails too).
    if (auto fd = sandbox::sealed_copy(options_.init_path)) init_fd_ = std::move(*fd);
}

namespace {

Status write_file(const std::string& path, const std::string& content) {
    // Unchanged files are not rewritten: most starts find them as the last one left them.
    {
        unique_fd cur(::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW));
        if (cur) {
            std::string have(content.size() + 1, '\0');
            ssize_t n = ::read(cur.get(), have.data(), have.size());
            if (n == static_cast<ssize_t>(content.size()) && have.compare(0, content.size(), content) == 0) return {};
        }
    }
    return write_at(AT_FDCWD, path.c_str(), content);
}

std::string read_host_file(const std::string& path) {
    unique_fd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
    std::string out;
    if (!fd) return out;
    char buf[4096];
    ssize_t n;
    while ((n = ::read(fd.get(), buf, sizeof buf)) > 0) out.append(buf, static_cast<size_t>(n));
    return out;
}

// The host's resolv.conf without loopback nameservers, which mean nothing inside a
// network namespace of its own (Docker drops them too).
std::string sandbox_resolv_conf(const std::string& host) {
    std::istringstream in(host);
    std::string out, line;
    while (std::getline(in, line)) {
        if (line.rfind("nameserver", 0) == 0 &&
            (line.find(" 127.") != std::string::npos || line.find(" ::1") != std::string::npos))
            continue;
        out += line + "\n";
    }
    return out;
}

Status make_dirs(const std::string& path, mode_t mode) {
    if (::mkdir(path.c_str(), mode) == 0 || errno == EEXIST) return {};
    std::error_code ec;
    std::filesystem::create_directories(path, ec);
    if (ec) return Error::os(ec.value(), "mkdir \"" + path + "\"");
    ::chmod(path.c_str(), mode);
    return {};
}

}  // namespace

// Files the sandbox sees through read-only binds: /etc/hosts, /etc/hostname,
// /etc/resolv.conf. The network module replaces hosts for bridged apps.
Status HostRuntime::prepare_app_files(const AppSpec& spec, const std::string& app_dir, const std::string& bridge_hosts) {
    std::string etc = app_dir + "/etc";
    if (auto st = make_dirs(etc, 0755); !st) return st;
    if (auto st = make_dirs(app_dir + "/root", 0755); !st) return st;
    std::string hostname = spec.effective_hostname();
    std::string hosts;
    if (spec.network.mode == NetworkMode::host) {
        hosts = read_host_file("/etc/hosts");
    } else if (!bridge_hosts.empty()) {
        hosts = bridge_hosts;
    } else {
        hosts = "127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n127.0.1.1\t" + hostname + "\n";
    }
    if (auto st = write_file(etc + "/hosts", hosts); !st) return st;
    if (auto st = write_file(etc + "/hostname", hostname + "\n"); !st) return st;
    if (auto st = write_file(etc + "/resolv.conf", sandbox_resolv_conf(read_host_file("/etc/resolv.conf"))); !st)
        return st;
    for (const auto& m : spec.mounts)
        if (m.type == MountType::bind && m.create)
            if (auto st = make_dirs(m.source, 0755); !st) return st;
    if (spec.rootfs.type == RootfsType::directory && spec.rootfs.writable == RootfsWritable::overlay) {
        // A throw-away upper layer: every start begins from the rootfs as shipped.
        std::string base = options_.state_dir + "/overlay/" + spec.name;
        std::error_code ec;
        std::filesystem::remove_all(base, ec);
        if (ec) return Error::os(ec.value(), "reset \"" + base + "\"");
        for (const char* d : {"/upper", "/work"}) {
            if (auto st = make_dirs(base + d, 0755); !st) return st;
            // With a user namespace the upper layer's root is the mapped root's, as the
            // idmapped lower's root shows (and what the app's root copies up lands there
            // owned by the mapped uid).
            if (const auto& u = spec.namespaces.user; u.enabled && ::chown((base + d).c_str(), u.uid, u.gid) != 0)
                return os_error("chown \"" + base + d + "\"");
        }
    }
    return {};
}

std::string HostRuntime::new_instance_id() {
    char buf[17];
    std::snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(rng_()));
    return buf;
}

namespace {

// The limits an app file sets, by their names in it: "memory, pids".
std::string limit_names(const ResourcesSpec& r) {
    std::vector<std::string> names;
    if (r.cpu) names.push_back("cpu");
    if (r.cpu_weight) names.push_back("cpuWeight");
    if (r.memory) names.push_back("memory");
    if (r.memory_high) names.push_back("memoryHigh");
    if (r.swap) names.push_back("swap");
    if (r.pids) names.push_back("pids");
    if (r.io_weight) names.push_back("ioWeight");
    std::string out;
    for (const auto& n : names) out += (out.empty() ? "" : ", ") + n;
    return out;
}

}  // namespace

std::optional<std::string> HostRuntime::cannot_run(const AppSpec& spec) const {
    if (spec.resources == ResourcesSpec{}) return std::nullopt;
    if (options_.cgroups && options_.cgroups->driver() != cgroup::Driver::none) return std::nullopt;
    return "no cgroup driver (cgroups: none), so its resources (" + limit_names(spec.resources) +
           ") cannot be enforced; run isolated where a cgroup hierarchy is mounted (not under `ip netns exec`, "
           "which remounts /sys) or pick one with --cgroup-driver systemd|v2|v1, or remove \"resources\" from "
           "the app";
}

ResourcesSpec HostRuntime::enforced_limits(const ResourcesSpec& limits) const {
    if (!options_.cgroups) return {};
    ResourcesSpec r = limits;
    switch (options_.cgroups->driver()) {
        case cgroup::Driver::none: return {};
        case cgroup::Driver::v1:
            // Documented exceptions of the v1 driver: no memory.high, no io weight.
            r.memory_high.reset();
            r.io_weight.reset();
            return r;
        case cgroup::Driver::v2:
        case cgroup::Driver::systemd: return r;
    }
    return r;
}

Result<sandbox::StartFiles> HostRuntime::read_start_files(const AppSpec& spec) {
    auto files = sandbox::read_start_files(spec);
    if (!files) return files.error();
    if (options_.learned_secrets) options_.learned_secrets->learn(spec.name, files->values());
    launched_env_[spec.name] = files->env;
    return files;
}

Result<std::unique_ptr<supervisor::Instance>> HostRuntime::launch(const AppSpec& spec,
                                                                  const supervisor::LaunchContext& ctx,
                                                                  supervisor::InstanceCallbacks callbacks) {
    if (auto why = cannot_run(spec)) return Error::msg(*why);
    // At every start, before anything is made: a changed envFile or secret takes effect
    // now, and one that cannot be read fails the start with nothing to undo.
    auto files = read_start_files(spec);
    if (!files) return files.error();
    std::string apps_dir = options_.run_dir + "/apps";
    std::string app_dir = apps_dir + "/" + spec.name;
    for (const auto* d : {&apps_dir, &app_dir})
        if (auto st = make_dir(*d, 0755); !st) return st.error();
    auto run_dir = open_dir(app_dir);
    if (!run_dir) return run_dir.error();
    auto log_dir = open_dir(options_.log_dir);
    if (!log_dir) return log_dir.error();
    // Records left by an earlier run must never be read as this one's.
    for (const char* name : {INIT_EXIT_FILE, kInstanceRecord})
        if (::unlinkat(run_dir->get(), name, 0) < 0 && errno != ENOENT)
            return os_error("remove \"" + app_dir + "/" + name + "\"");

    // The bridge address first: /etc/hosts names it.
    const bool bridged = spec.network.mode == NetworkMode::bridge && options_.network;
    std::optional<net::Ipv4> pinned;
    std::string hosts;
    if (bridged) {
        if (!spec.network.address.empty()) {
            auto p = net::parse_pinned_address(spec.network.address);
            if (!p) return p.error();
            pinned = *p;
        }
        auto lease = options_.network->lease(spec.name, pinned);
        if (!lease) return lease.error();
        hosts = hosts_->render(spec.name, spec.effective_hostname(), *lease);
    }
    if (auto st = prepare_app_files(spec, app_dir, hosts); !st) return st.error();

    auto w = std::make_shared<Watch>(io_);
    w->instance = new_instance_id();
    w->init_is_app = !spec.init;
    w->init_path = options_.init_path;
    auto plan = sandbox::make_launch_plan(spec, w->instance, options_.log, files->env);
    plan.secrets = std::move(files->secrets);
    sandbox::SandboxInputs inputs;
    inputs.root_stage = app_dir + "/root";
    inputs.etc_dir = app_dir + "/etc";
    inputs.overlay_upper = options_.state_dir + "/overlay/" + spec.name + "/upper";
    inputs.overlay_work = options_.state_dir + "/overlay/" + spec.name + "/work";
    inputs.config_dir = options_.config_dir;
    if (auto st = sandbox::plan_sandbox(plan, spec, inputs); !st) return st.error();
    sandbox::prune_rotated_logs(log_dir->get(), plan);

    sandbox::SpawnRequest req;
    req.init_path = options_.init_path;
    req.init_fd = init_fd_.get();
    req.plan = &plan;
    req.log_dir_fd = log_dir->get();
    req.run_dir_fd = run_dir->get();
    req.clone_flags = sandbox::namespace_clone_flags(spec);
    // Joins of another app's namespaces (`app:NAME`): the supervisor only launches once
    // NAME runs, and passes its instance, whose sandbox handle has its init's pidfd.
    auto peer_sandbox = [&](const std::string& name) -> Result<supervisor::SandboxHandle> {
        auto it = ctx.peers.find(name);
        auto sandbox = it == ctx.peers.end() || !it->second ? supervisor::SandboxHandle{} : it->second->sandbox();
        if (!sandbox) return Error::msg("app \"" + name + "\" is not running, so its namespaces cannot be joined");
        return sandbox;
    };
    int n = 0;
    auto add_join = [&](const std::string& name, int flag) -> Status {
        auto peer = peer_sandbox(name);
        if (!peer) return peer.error();
        req.joins[n++] = {peer->pidfd, flag};
        return {};
    };
    if (spec.namespaces.pid.kind == NamespaceKind::app) {
        auto peer = peer_sandbox(spec.namespaces.pid.app);
        if (!peer) return peer.error();
        req.join_pid_pidfd = peer->pidfd;
        w->pid_peer = spec.namespaces.pid.app;
        w->pid_peer_fd.reset(::fcntl(peer->pidfd, F_DUPFD_CLOEXEC, 3));
        w->pid_peer_pid = peer->pid;
    }
    if (spec.network.mode == NetworkMode::app)
        if (auto st = add_join(spec.network.app, CLONE_NEWNET); !st) return st.error();
    if (spec.namespaces.ipc.kind == NamespaceKind::app)
        if (auto st = add_join(spec.namespaces.ipc.app, CLONE_NEWIPC); !st) return st.error();
    if (spec.namespaces.uts.kind == NamespaceKind::app)
        if (auto st = add_join(spec.namespaces.uts.app, CLONE_NEWUTS); !st) return st.error();
    // The cgroup exists before the init: on v2 the init is born in it, on v1 its first
    // instructions move it there; with systemd it is attached while it waits.
    std::unique_ptr<cgroup::AppCgroup> cg;
    cgroup::Placement placement;
    if (options_.cgroups) {
        auto c = options_.cgroups->create(spec.name, spec.resources);
        if (!c) return c.error();
        cg = std::move(*c);
        placement = cg->placement();
        req.cgroup_dir_fd = placement.cgroup_dir_fd;
        req.cgroup_procs_fds = placement.procs_fds;
    }
    // Work from outside the new namespaces (systemd attach, veth) happens while the
    // init waits on the go pipe.
    const bool need_go = placement.attach_after_clone || bridged;
    unique_fd go_r, go_w;
    if (need_go) {
        int gp[2];
        if (::pipe2(gp, O_CLOEXEC) < 0) return os_error("pipe2");
        go_r.reset(gp[0]);
        go_w.reset(gp[1]);
        req.go_fd = go_r.get();
        plan.flags |= SB_WAIT_GO;
        plan.flags &= ~static_cast<std::uint32_t>(SB_LOOPBACK);  // set up with the veth
    }
    auto spawned = sandbox::spawn_init(req);
    if (!spawned) {
        if (cg) (void)cg->remove();
        return spawned.error();
    }
    go_r.reset();
    // A failure now leaves a waiting init: kill it (closing the go pipe makes it give up
    // anyway) and reap it, so that nothing of this launch remains.
    auto abandon = [&](const Error& e) -> Error {
        (void)sys::pidfd_send_signal(spawned->pidfd.get(), SIGKILL);
        siginfo_t si{};
        ::waitid(static_cast<idtype_t>(P_PIDFD), static_cast<id_t>(spawned->pidfd.get()), &si, WEXITED);
        if (cg) {
            (void)cg->kill();
            (void)cg->remove();
        }
        return e;
    };
    if (cg && placement.attach_after_clone)
        if (auto st = cg->attach(spawned->pid); !st) return abandon(st.error());
    if (bridged) {
        auto att = options_.network->attach_app(spec.name, net::NetnsRef::of_fd(spawned->pidfd.get()), pinned,
                                                spec.network.ports);
        if (!att) return abandon(att.error());
        w->info.address = att->address.to_string();
        w->network = options_.network;
        w->app = spec.name;
    }
    if (go_w && ::write(go_w.get(), "g", 1) != 1) return abandon(os_error("release the init"));
    go_w.reset();
    w->cgroup = std::move(cg);
    if (bridged) {
        // The app is on the bridge: every running bridged app (this one included) now
        // finds it by name.
        if (auto addr = net::Ipv4::parse(w->info.address)) {
            hosts_->join(spec.name, {*addr, spec.effective_hostname(), app_dir + "/etc/hosts"});
            w->hosts = hosts_;
        }
    }

    w->run_dir = std::move(*run_dir);
    w->callbacks = std::move(callbacks);
    w->info.init_pid = spawned->pid;
    // Read while the init is our unreaped child: its pid is still its own.
    w->init_start = sys::process_start_time(spawned->pid).value_or(0);
    w->app = spec.name;
    w->record = {{"instance", w->instance},
                 {"initPid", spawned->pid},
                 {"initStart", w->init_start},
                 {"pid", 0},
                 {"address", w->info.address},
                 {"restarts", ctx.restarts},
                 {"lastExit", ctx.last_exit ? nlohmann::json(*ctx.last_exit) : nlohmann::json(nullptr)},
                 {"spec", app_spec_to_json(spec)}};
    w->write_record();
    w->pidfd.assign(spawned->pidfd.release());
    w->report.assign(spawned->report.release());
    w->read_report();
    w->wait_exit();
    return std::unique_ptr<supervisor::Instance>(std::make_unique<HostInstance>(w, options_.init_grace));
}

void HostRuntime::remember_stopped(const std::string& app, bool stopped) {
    std::string dir = options_.run_dir + "/apps/" + app;
    std::string marker = dir + "/stopped";
    if (!stopped) {
        (void)::unlink(marker.c_str());
        return;
    }
    if (auto st = make_dirs(dir, 0755); !st) {
        host::log_warning(app, st.error().to_string());
        return;
    }
    if (auto st = write_file(marker, "stopped by the operator\n"); !st) host::log_warning(app, st.error().to_string());
}

namespace {

// The apps (names of <run_dir>/apps/<app>/) that have the file `name` in their dir.
std::set<std::string> apps_having(const std::string& run_dir, const std::string& name) {
    std::set<std::string> out;
    std::string apps_dir = run_dir + "/apps";
    DIR* d = ::opendir(apps_dir.c_str());
    if (!d) return out;
    while (dirent* e = ::readdir(d)) {
        std::string app = e->d_name;
        if (app == "." || app == "..") continue;
        if (::access((apps_dir + "/" + app + "/" + name).c_str(), F_OK) == 0) out.insert(app);
    }
    ::closedir(d);
    return out;
}

}  // namespace

std::set<std::string> HostRuntime::remembered_stopped() { return apps_having(options_.run_dir, "stopped"); }

std::vector<std::string> HostRuntime::recorded_instances() {
    auto apps = apps_having(options_.run_dir, kInstanceRecord);
    return {apps.begin(), apps.end()};
}

std::optional<supervisor::Adoption> HostRuntime::adopt(const std::string& app, supervisor::InstanceCallbacks callbacks) {
    std::string app_dir = options_.run_dir + "/apps/" + app;
    auto run_dir = open_dir(app_dir);
    if (!run_dir) return std::nullopt;
    std::string text = read_at(run_dir->get(), kInstanceRecord);
    if (text.empty()) return std::nullopt;
    auto forget = [&](const std::string& why) -> std::optional<supervisor::Adoption> {
        host::log_warning(app, "instance record " + app_dir + "/" + kInstanceRecord + " " + why + "; not adopted");
        (void)::unlinkat(run_dir->get(), kInstanceRecord, 0);
        return std::nullopt;
    };
    nlohmann::json rec = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
    if (!rec.is_object() || !rec.contains("spec") || !rec["instance"].is_string() ||
        !rec["initPid"].is_number_integer() || !rec["initStart"].is_number_unsigned())
        return forget("is malformed");
    auto parsed = parse_app_text(app, rec["spec"].dump(), app_dir + "/" + kInstanceRecord);
    if (!parsed.spec) return forget("holds a definition this daemon cannot read");

    supervisor::Adoption a;
    a.spec = std::move(*parsed.spec);
    a.restarts = rec.value("restarts", 0u);
    if (rec.contains("lastExit") && rec["lastExit"].is_object()) {
        try {
            a.last_exit = rec["lastExit"].get<ExitInfo>();
        } catch (const nlohmann::json::exception&) {
            // An unreadable last exit is only history: the instance is adopted without it.
        }
    }
    if (rec.contains("startedAt") && rec["startedAt"].is_number_integer())
        a.started_at = WallTime(std::chrono::duration_cast<WallTime::duration>(
            std::chrono::nanoseconds(rec["startedAt"].get<std::int64_t>())));
    const std::string instance = rec["instance"].get<std::string>();
    const pid_t init_pid = rec["initPid"].get<pid_t>();
    const std::uint64_t init_start = rec["initStart"].get<std::uint64_t>();

    // The pidfd pins the process: checked after it is open, the start time cannot
    // belong to a process that replaced ours under the same PID.
    unique_fd pidfd;
    if (init_pid > 0)
        if (auto fd = sys::pidfd_open(init_pid); fd && sys::process_start_time(init_pid) == init_start)
            pidfd = std::move(*fd);
    std::unique_ptr<cgroup::AppCgroup> cg;
    if (options_.cgroups)
        if (auto c = options_.cgroups->open(app); c) cg = std::move(*c);
    if (pidfd && cg && options_.cgroups->driver() != cgroup::Driver::none) {
        auto pids = cg->pids();
        if (pids && std::find(pids->begin(), pids->end(), init_pid) == pids->end()) {
            host::log_warning(app, "process " + std::to_string(init_pid) +
                                       " matches the record but is not in the app's cgroup; not adopted");
            pidfd.reset();
        }
    }
    const bool bridged = a.spec.network.mode == NetworkMode::bridge && options_.network;

    if (!pidfd) {
        // Ended while no daemon watched: its init recorded how (unless it was killed
        // itself, or the app ran without the init).
        ExitInfo exit;
        if (auto r = parse_exit_record(read_at(run_dir->get(), INIT_EXIT_FILE), instance)) {
            exit = *r;
            if (exit.message.empty()) exit.message = "while the daemon was down";
        } else if (a.spec.init) {
            // Its init was SIGKILLed (nothing else ends it without a record).
            exit.signal = SIGKILL;
            exit.code = 128 + SIGKILL;
            exit.at = std::chrono::system_clock::now();
            exit.message = "ended while the daemon was down: the sandbox's init was killed (SIGKILL) before it "
                           "could record the app's exit";
        } else {
            exit.code = 255;
            exit.at = std::chrono::system_clock::now();
            exit.message = "ended while the daemon was down; its exit status is unknown";
        }
        if (cg) {
            (void)cg->kill();
            if (auto n = cg->oom_kills(); n && *n > 0) exit.oom_killed = true;
            (void)cg->remove();
        }
        if (bridged) (void)options_.network->detach_app(app);
        (void)::unlinkat(run_dir->get(), kInstanceRecord, 0);
        a.exit = exit;
        return a;
    }

    // What its start read is not on disk anywhere: read it again, for exec plans and
    // the redaction. A file that changed or went meanwhile is no reason to give up a
    // running app; exec then runs without its variables.
    if (auto files = read_start_files(a.spec); !files)
        host::log_warning(app, "adopted, but " + files.error().to_string() +
                                   " (isoctl exec and exec probes run without the envFile variables)");

    auto w = std::make_shared<Watch>(io_);
    w->instance = instance;
    w->init_is_app = !a.spec.init;
    w->init_path = options_.init_path;
    w->started = true;
    w->app = app;
    w->info.init_pid = init_pid;
    w->init_start = init_start;  // checked above, once the pidfd pinned the process
    w->info.address = rec.value("address", "");
    w->info.pid = rec.value("pid", 0);
    w->info.started_at = a.started_at;
    if (w->info.pid <= 0) w->info.pid = w->host_pid_of_app(0);
    // The main process again, for operators' signals: the same process as recorded
    // (pid and start time, as for the init above), or, for a record without its start
    // time, the init's child under the recorded pid.
    if (!w->init_is_app && w->info.pid > 0) {
        const auto pid_start = rec.value("pidStart", std::uint64_t{0});
        if (pid_start == 0) {
            w->open_main(w->info.pid, 0);
        } else if (auto fd = sys::pidfd_open(w->info.pid);
                   fd && sys::process_start_time(w->info.pid) == pid_start) {
            w->main_pidfd = std::move(*fd);
        }
    }
    w->cgroup = std::move(cg);
    if (bridged) {
        w->network = options_.network;
        if (auto addr = net::Ipv4::parse(w->info.address)) {
            hosts_->join(app, {*addr, a.spec.effective_hostname(), app_dir + "/etc/hosts"});
            w->hosts = hosts_;
        }
    }
    w->run_dir = std::move(*run_dir);
    w->callbacks = std::move(callbacks);
    w->record = std::move(rec);
    w->pidfd.assign(pidfd.release());
    w->wait_exit();
    a.instance = std::make_unique<HostInstance>(w, options_.init_grace);
    return a;
}

Result<std::string> HostRuntime::exec_plan(const AppSpec& spec, const std::vector<std::string>& command, bool tty) {
    AppSpec s = spec;
    s.command = command;
    auto env = launched_env_.find(spec.name);
    auto plan = sandbox::make_launch_plan(s, "exec", options_.log, env == launched_env_.end() ? EnvList{} : env->second);
    if (auto st = sandbox::plan_exec(plan, s, tty); !st) return st.error();
    // Into the app's cgroup before the command runs: its limits apply, its usage counts
    // (issue 4). The cgroup exists while the app runs; without one there is nothing to join.
    if (options_.cgroups)
        if (auto cg = options_.cgroups->open(spec.name); cg) plan.cgroup_procs = (*cg)->procs_files();
    return plan.encode();
}

std::optional<ExitInfo> parse_exit_record(const std::string& text, const std::string& instance) {
    std::istringstream in(text);
    std::string line;
    ExitInfo e;
    bool have_code = false, have_instance = false;
    while (std::getline(in, line)) {
        auto eq = line.find('=');
        if (eq == std::string::npos) continue;
        std::string key = line.substr(0, eq), val = line.substr(eq + 1);
        try {
            if (key == "instance") {
                if (val != instance) return std::nullopt;
                have_instance = true;
            } else if (key == "code") {
                e.code = std::stoi(val);
                have_code = true;
            } else if (key == "signal") {
                e.signal = std::stoi(val);
            } else if (key == "at") {
                auto dot = val.find('.');
                std::int64_t secs = std::stoll(val.substr(0, dot));
                std::int64_t nanos = dot == std::string::npos ? 0 : std::stoll(val.substr(dot + 1));
                e.at = WallTime(std::chrono::seconds(secs)) +
                       std::chrono::duration_cast<WallTime::duration>(std::chrono::nanoseconds(nanos));
            } else if (key == "message") {
                e.message = val;
            }
        } catch (const std::exception&) {
            return std::nullopt;
        }
    }
    if (!have_code || !have_instance) return std::nullopt;
    return e;
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
