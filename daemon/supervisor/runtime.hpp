// The port through which the supervisor runs app instances. The supervisor decides
// *when* (state machine, backoff, dependencies); a Runtime decides *how* (sandbox,
// cgroup, network). The daemon's implementation is runtime::HostRuntime, which
// composes daemon/sandbox, daemon/cgroup and daemon/net; unit tests use FakeRuntime.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "isolated/api_types.hpp"
#include "isolated/app_spec.hpp"
#include "isolated/result.hpp"

namespace isolated::supervisor {

/// Facts about a running instance, as far as they are known.
struct InstanceInfo {
    pid_t pid = 0;        ///< the app's main process (host view); 0 until started
    pid_t init_pid = 0;   ///< the sandbox's init
    std::string address;  ///< bridge address, "" if none
    std::optional<WallTime> started_at;  ///< when the app was exec'd
    /// An image app: the image its start resolved (the same after adoption).
    std::optional<AppImage> image;
    /// The signal that stops it when its spec leaves it to the image (stop.signal 0); 0: the spec's.
    int stop_signal = 0;
};

/// Who got a signal an operator sent (Instance::send_signal).
struct SignalDelivery {
    pid_t main_pid = 0;        ///< the app's main process, when it was among them
    std::vector<pid_t> pids;   ///< every process signalled (host view), main first
};

/// The sandbox of a running instance, for work inside it: joining its namespaces
/// (`app:NAME`), probes in its network namespace, exec probes and `isoctl exec`. Its
/// init is named by a pidfd, which stays that process's whatever becomes of the pid
/// (a pid alone is not: an adopted init is not the daemon's child, so it is reaped by
/// someone else and its pid may be reused before the daemon notices).
struct SandboxHandle {
    /// A pidfd of the sandbox's init, borrowed from the Instance: valid while the
    /// Instance lives. Dup it (F_DUPFD_CLOEXEC) to keep it longer. -1: none.
    int pidfd = -1;
    /// The same init's pid (host view) and start time (clock ticks since boot, field 22
    /// of /proc/PID/stat): its identity where only numbers can travel (`isoctl exec`,
    /// another process, must open its own pidfd from the pid and check the start time).
    pid_t pid = 0;
    std::uint64_t start_time = 0;
    explicit operator bool() const { return pidfd >= 0; }
};

/// One run of an app: from launch to exit. Destroying an Instance releases the
/// daemon's handles (pidfd, pipes) but never kills anything: that is how the daemon
/// leaves apps running for the next daemon to adopt.
class Instance {
public:
    virtual ~Instance() = default;
    virtual InstanceInfo info() const = 0;
    /// Delivers the stop signal to the app (through its init, which forwards it to the
    /// app's process group).
    virtual void signal(int sig) = 0;
    /// An operator's signal (`isoctl kill`), delivered through pidfds so that a recycled
    /// pid is never hit: to the app's main process (its command: the init's child, or
    /// with "init": false the init itself), or with `all` to every process of the app
    /// except isolated's own (the init, the log writer, `isolated-init --exec` relays),
    /// each once. An error when nobody was left to signal (the app is ending).
    virtual Result<SignalDelivery> send_signal(int sig, bool all) {
        (void)sig, (void)all;
        return Error::msg("this runtime cannot signal apps");
    }
    /// SIGKILL to every process of the app (cgroup kill, pid-namespace teardown, or a
    /// process-tree walk, whatever this runtime has). Exit is still reported via on_exit.
    virtual void kill_all() = 0;
    /// Live usage from the app's cgroup; empty fields when unknown.
    virtual ResourceUsage usage() const = 0;
    /// The sandbox, pinned by its init's pidfd; empty once the instance has ended (or
    /// in a runtime without sandboxes). The same for a launched and an adopted instance.
    virtual SandboxHandle sandbox() const { return {}; }
};

struct InstanceCallbacks {
    /// The app was exec'd inside its sandbox; `info` now has its pid.
    std::function<void()> on_started;
    /// The instance ended (the app exited, or the sandbox could not be built, in which
    /// case exit.message says why). Called exactly once, after on_started if any. After
    /// this the runtime has released the instance's kernel objects.
    std::function<void(const ExitInfo&)> on_exit;
};

/// What a launch may need from other apps: their running instances, for joining
/// namespaces (`app:NAME`).
struct LaunchContext {
    std::map<std::string, const Instance*> peers;
    /// The app's restart count, recorded with the instance so that a later daemon
    /// adopting it shows the same count.
    std::uint32_t restarts = 0;
    /// How the app's previous instance ended, recorded with the instance for the same
    /// reason: an adopted app keeps its `lastExit`.
    std::optional<ExitInfo> last_exit;
};

/// An instance an earlier daemon launched and left behind (a restart, an upgrade, a
/// crash of the daemon), found again by a new one.
struct Adoption {
    AppSpec spec;                          ///< the definition it was launched with
    std::uint32_t restarts = 0;            ///< LaunchContext::restarts of its launch
    std::optional<WallTime> started_at;    ///< when the app was exec'd, if known
    std::optional<ExitInfo> last_exit;     ///< LaunchContext::last_exit of its launch
    /// Still running: re-acquired (the same process, never a recycled PID); its exit
    /// arrives through the callbacks' on_exit like any other.
    std::unique_ptr<Instance> instance;
    /// Ended while no daemon watched: how, from the exit record its init left; its
    /// kernel objects are already released.
    std::optional<ExitInfo> exit;
};

/// What an app's ended instances leave for its next one: the restart count and how
/// the last one ended (AppStatus's `restarts` and `lastExit`).
struct AppHistory {
    std::uint32_t restarts = 0;
    std::optional<ExitInfo> last_exit;
};

class Runtime {
public:
    virtual ~Runtime() = default;
    /// Why `spec` can never run with this runtime, whatever a restart would change (a
    /// resource limit without a cgroup driver to enforce it); nullopt when nothing
    /// stands in the way. Such an app fails at once instead of being launched.
    virtual std::optional<std::string> cannot_run(const AppSpec& spec) const {
        (void)spec;
        return std::nullopt;
    }
    /// The part of `limits` this runtime enforces (what status and the API report as
    /// the app's limits): never a limit that is not in force.
    virtual ResourcesSpec enforced_limits(const ResourcesSpec& limits) const { return limits; }

    /// Starts building the sandbox and the app. Returns once the init process exists;
    /// progress arrives through the callbacks, always later on the loop (never from
    /// inside this call). A returned error means nothing was created.
    virtual Result<std::unique_ptr<Instance>> launch(const AppSpec& spec, const LaunchContext& ctx,
                                                     InstanceCallbacks callbacks) = 0;

    /// An operator stopped (true) or started (false) the app. Remembered until the host
    /// reboots (under the run dir), so that a restarted daemon leaves an app the
    /// operator stopped stopped, as Docker does with a stopped container.
    virtual void remember_stopped(const std::string& app, bool stopped) {
        (void)app;
        (void)stopped;
    }
    /// The apps an operator stopped and has not started since.
    virtual std::set<std::string> remembered_stopped() { return {}; }
    /// The app's history, kept (under the run dir) for a daemon that starts while the
    /// app has no instance to adopt -- one killed in a backoff or in the middle of a
    /// launch -- so that its restart count and last exit are not lost with it.
    virtual void remember_history(const std::string& app, const AppHistory& history) {
        (void)app;
        (void)history;
    }
    virtual std::optional<AppHistory> remembered_history(const std::string& app) {
        (void)app;
        return std::nullopt;
    }
    /// `app` was removed (its file is gone) and its last instance has ended: what the
    /// runtime keeps for an app between its instances (its address lease) goes now,
    /// not at the next reload or daemon start.
    virtual void forget(const std::string& app) { (void)app; }

    /// The app left its restart cycle -- stopped (by the operator, the daemon's shutdown,
    /// its restart policy), failed, removed -- so no instance of it follows soon: what
    /// the runtime kept for its next instance (its pod sandbox: the network namespace
    /// with the address, veth and forwards in it) goes now. Not called between an
    /// instance's end and the restart the policy makes (backoff), when it is reused.
    /// Idempotent; cheap when nothing is kept.
    virtual void release_sandbox(const std::string& app) { (void)app; }
    /// Apps with a kept sandbox (from an earlier daemon too): at daemon start the
    /// supervisor releases those of apps that will not start.
    virtual std::set<std::string> kept_sandboxes() { return {}; }

    /// Names of the apps whose instances an earlier daemon recorded (adoption).
    virtual std::vector<std::string> recorded_instances() { return {}; }
    /// Re-acquires the recorded instance of `app`; nullopt when there is none. on_started
    /// is never called for an adopted instance (it started long ago).
    virtual std::optional<Adoption> adopt(const std::string& app, InstanceCallbacks callbacks) {
        (void)app;
        (void)callbacks;
        return std::nullopt;
    }
};

}  // namespace isolated::supervisor
