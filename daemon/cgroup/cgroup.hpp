// Resource control for apps: one cgroup per app, behind a Manager whose driver is
// chosen once at daemon start (youki's libcgroups `Manager`, crun's manager table).
//
//   v2       cgroupfs on the unified hierarchy: <cgroup2 mount>/<root>/<app>. The
//            daemon moves itself to the leaf <root>/_daemon when it lives at or
//            above <root> (no process may sit in an inner node that distributes
//            controllers); controllers are enabled in subtree_control on the way down.
//   v1       legacy/hybrid hosts: <mount of cpu|cpuacct|memory|pids|freezer>/<root>/<app>.
//   systemd  systemd is PID 1: a transient scope isolated-<app>.scope in
//            isolated.slice, created over sd-bus with the limits as unit properties;
//            counters and kill go through the scope's cgroup underneath (v2 or v1).
//   none     no usable cgroup hierarchy: every operation succeeds and does nothing.
//
// App cgroup names are the app names ([a-z0-9][a-z0-9-]{0,31}); `_daemon` can never
// collide with one. Nothing here logs, knows about restarts, or sleeps for long: the
// only waits are bounded (v1 freezing, rmdir while the last tasks exit, the systemd
// job), each documented where it happens.
//
// How the runtime uses it:
//   daemon start  make_manager(opts) -> prepare_daemon() -> reconcile(apps the
//                 daemon adopted or will start).
//   launch        create(app, limits) -> placement(): the init's child writes itself
//                 into cgroup.procs under cgroup_dir_fd (v2) or calls
//                 enter_cgroups_from_child(procs_fds) (v1) as its first act before
//                 exec (the spawn is vfork-style, which clone3's CLONE_INTO_CGROUP
//                 cannot be through glibc), or call attach(pid) after the clone while the child waits
//                 on its go pipe (systemd, first process). attach(pid) works everywhere
//                 as the fallback. Exec probes and `isoctl exec`: isolated-init --exec
//                 writes itself into procs_files() before it enters the sandbox.
//   stop          signal the app, wait its timeout, then kill() (takes everything in
//                 the cgroup, double-forked daemons included).
//   exit          read oom_kills() (and usage() if wanted) BEFORE remove(): the
//                 counters vanish with the cgroup.
//   adoption      open(app) returns the existing cgroup of a running app untouched.
//   hooks         create_hook("<app>.<kind>") per hook run (daemon/hooks/), placed like
//                 an init (placement() / attach()), kill() + remove() when it ends;
//                 remove_hooks() at daemon start and shutdown.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "isolated/api_types.hpp"
#include "isolated/app_spec.hpp"
#include "isolated/result.hpp"

struct sd_bus;

namespace isolated::cgroup {

enum class Driver { none, v1, v2, systemd };
std::string_view to_string(Driver d);
/// "none", "v1", "v2", "systemd"; anything else (including "auto") -> nullopt.
std::optional<Driver> driver_from_string(std::string_view s);

struct SdBusUnref {
    void operator()(sd_bus* b) const;
};
using BusPtr = std::unique_ptr<sd_bus, SdBusUnref>;
/// Opens a started sd-bus connection to the system manager. Default:
/// sd_bus_open_system(). Tests hand in a direct connection to a fake manager.
using BusFactory = std::function<Result<BusPtr>()>;

struct ManagerOptions {
    std::string driver = "auto";          ///< auto | systemd | v2 | v1 | none
    std::string root = "isolated";        ///< --cgroup-root: subtree owned inside each hierarchy
    /// Prepended to every mount point read from mountinfo and to /run/systemd/system:
    /// "" on a real host, a fixture directory in unit tests.
    std::string fs_prefix;
    std::string proc_self = "/proc/self"; ///< where mountinfo and cgroup are read
    BusFactory bus;                       ///< systemd driver; empty = sd_bus_open_system()
    std::chrono::milliseconds systemd_job_timeout{10000};
    /// Tests only: runs after every cgroup directory this module creates, so a fixture
    /// can populate it with the interface files the kernel would create.
    std::function<void(const std::string& dir)> after_mkdir;
};

/// How a new process enters an app's cgroup from its first instruction.
struct Placement {
    /// v2: the cgroup's directory fd (owned by the AppCgroup, O_RDONLY|O_DIRECTORY).
    /// The child of the vfork-style spawn writes itself into openat(fd,
    /// "cgroup.procs") (sandbox/spawn.cpp, hooks/hook_process.cpp); the same fd would
    /// serve clone3's CLONE_INTO_CGROUP, which glibc's clone() cannot pass.
    int cgroup_dir_fd = -1;
    /// v1: open cgroup.procs of every hierarchy (owned by the AppCgroup, CLOEXEC). The
    /// child calls enter_cgroups_from_child() with them between clone and exec.
    std::vector<int> procs_fds;
    /// systemd, before the scope exists: call attach(pid) right after the clone while
    /// the child is held on its go pipe (a scope cannot be created empty).
    bool attach_after_clone = false;
};

/// Async-signal-safe, for the child between clone and exec: writes "0" into each fd.
/// On v1, writing 0 to cgroup.procs moves the writer's whole thread group
/// (kernel/cgroup/cgroup.c cgroup_procs_write_start: pid 0 means current). The
/// permission check is on the writer's euid, so call it before dropping privileges.
/// Returns 0, or the errno of the first failed write.
int enter_cgroups_from_child(const int* fds, std::size_t count) noexcept;

/// One app's cgroup. The destructor only closes descriptors: the cgroup outlives the
/// daemon (apps keep running across a daemon restart). remove() ends it.
class AppCgroup {
public:
    virtual ~AppCgroup() = default;
    virtual const std::string& app() const = 0;
    /// For people and logs: a directory, or "isolated.slice/isolated-web.scope".
    virtual std::string describe() const = 0;

    virtual Placement placement() const = 0;
    /// The cgroup.procs file of each hierarchy the app's cgroup is in (v1: several;
    /// v2 and systemd on v2: one). For `isolated-init --exec`, which writes itself
    /// there before it runs the command, so exec probes and `isoctl exec` are in the
    /// app's cgroup. Empty without cgroups (or a scope whose cgroup is not visible).
    virtual std::vector<std::string> procs_files() const = 0;
    /// Moves `pid` (its whole thread group) into the cgroup; systemd: the first call
    /// creates the scope with PIDs=[pid] and waits for its job.
    virtual Status attach(pid_t pid) = 0;

    /// SIGKILLs every process in the cgroup, descendants of descendants included:
    /// cgroup.kill on v2 (>= 5.14; freeze + kill + thaw before), freeze + kill + thaw
    /// on v1 (kill loop without freezer). Returns once the signals are sent.
    virtual Status kill() = 0;
    /// Processes (thread group ids) in the cgroup and its sub-cgroups.
    virtual Result<std::vector<pid_t>> pids() const = 0;

    /// Live usage; fields the hierarchy cannot provide stay empty. memory_bytes is the
    /// working set as cAdvisor computes it: usage minus inactive file pages.
    virtual Result<ResourceUsage> usage() const = 0;
    /// OOM kills in this cgroup since it was created (memory.events oom_kill on v2,
    /// memory.oom_control oom_kill on v1); 0 without a memory controller.
    virtual Result<std::uint64_t> oom_kills() const = 0;
    /// The limits in force, read back from the kernel (systemd: from the cgroup the
    /// scope got). Only fields the hierarchy enforces are filled.
    virtual Result<ResourcesSpec> limits() const = 0;

    /// Removes the cgroup. Retries for up to ~1 s while the last tasks exit (a killed
    /// task keeps the cgroup busy until it has exited), killing again in between.
    /// systemd: stops the scope. Removing what is already gone succeeds.
    virtual Status remove() = 0;
};

class Manager {
public:
    virtual ~Manager() = default;
    virtual Driver driver() const = 0;
    /// For the start-up log line: driver and where the apps live.
    virtual std::string describe() const = 0;

    /// Once at daemon start: creates <root> in each hierarchy; v2: moves the daemon to
    /// its leaf if needed and enables the controllers down to <root>.
    virtual Status prepare_daemon() = 0;

    /// A fresh cgroup for a new instance of `app` with `limits` applied. A leftover
    /// cgroup of the same app (a crash, an unclean stop) is killed and removed first,
    /// so counters such as oom_kill start from zero. A limit the host cannot enforce
    /// (its controller is not available here) is an error naming the controller;
    /// documented exceptions: v1 has no memory.high and no io weight, both are skipped.
    virtual Result<std::unique_ptr<AppCgroup>> create(const std::string& app, const ResourcesSpec& limits) = 0;
    /// The existing cgroup of a running app (adoption after a daemon restart);
    /// ENOENT when there is none.
    virtual Result<std::unique_ptr<AppCgroup>> open(const std::string& app) = 0;

    /// Kills and removes every app cgroup under <root> whose app is not in `live`.
    /// Returns the app names it removed.
    virtual Result<std::vector<std::string>> reconcile(const std::set<std::string>& live) = 0;
    /// A fresh cgroup for one run of a hook (hooks.onFailure, ...), `name` being
    /// "<app>.<kind>" (is_hook_name): in no app's cgroup and out of the daemon's, so its
    /// processes can all be killed at its timeout and none stays behind. v2, v1:
    /// <root>/_hooks/<name> in each hierarchy, without limits; systemd: the scope
    /// isolated-<name>.scope in isolated.slice, made by attach() of its first process;
    /// none: a handle that does nothing. A leftover of the same name is killed and
    /// removed first. remove() ends it.
    virtual Result<std::unique_ptr<AppCgroup>> create_hook(const std::string& name) = 0;
    /// Kills and removes every hook cgroup (and the _hooks subtree): at daemon start what
    /// a crashed daemon left, at shutdown what is still running. Returns their names.
    virtual Result<std::vector<std::string>> remove_hooks() = 0;

    /// After a clean shutdown with no app left: removes isolated's own subtree where the
    /// daemon does not live in it (v1); elsewhere a no-op (v2: the daemon's leaf is in
    /// it and systemd removes the service's cgroup).
    virtual Status remove_root() { return {}; }
};

/// Detects the host's layout (mountinfo, /proc/self/cgroup, /run/systemd/system) and
/// builds the driver asked for; "auto" picks systemd when systemd is PID 1, else v1
/// when a cpu/memory/pids controller is mounted as v1, else v2 when a cgroup2 mount
/// exists, else none.
Result<std::unique_ptr<Manager>> make_manager(const ManagerOptions& opts);

}  // namespace isolated::cgroup
