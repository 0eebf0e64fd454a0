// The pod sandbox an app keeps across its restarts (issue 19): its network namespace,
// held without a process by a bind mount of its nsfs file on <run_dir>/netns/<app>
// (iproute2's `ip netns add` way), and next to it <run_dir>/apps/<app>/sandbox.json,
// what it was made for. An instance of an app that its restart policy starts again
// joins the kept namespace (setns) instead of making a new one, so its address, veth,
// routes, forwards and its place in the other apps' /etc/hosts stay, as a Kubernetes
// pod's sandbox (the pause container's namespaces) stays across container restarts.
//
// This file only does the filesystem side (mounts, records); HostRuntime decides what
// to keep and when to drop it. Internal to daemon/runtime/.
#pragma once

#include <sys/types.h>

#include <optional>
#include <set>
#include <string>

#include "isolated/app_spec.hpp"
#include "isolated/result.hpp"
#include "isolated/unique_fd.hpp"

namespace isolated::runtime {

/// What a kept sandbox was made for: a launch reuses it only when the app's definition
/// asks for the same (a reload that changed any of it gets a new one).
struct SandboxKey {
    std::string mode;      ///< "bridge" or "none"
    std::string pinned;    ///< network.address as written ("" = from the pool)
    std::string hostname;  ///< the effective hostname (its /etc/hosts line)
    std::string ports;     ///< the ports, in a canonical text form
    std::string address;   ///< the address eth0 has ("" for none)
    bool operator==(const SandboxKey&) const = default;
};

/// The key SPEC's network asks for; ADDRESS: its leased address ("" for none).
SandboxKey sandbox_key(const AppSpec& spec, const std::string& address);

/// Whether SPEC's sandbox is kept across restarts: `network.mode` bridge or none (not
/// host, whose namespace is the host's, nor `app:NAME`, which is the other app's).
bool keeps_sandbox(const AppSpec& spec);

class KeptSandboxes {
public:
    explicit KeptSandboxes(std::string run_dir) : run_dir_(std::move(run_dir)) {}

    /// Binds the network namespace of PID (a live child of the caller, whose pid cannot
    /// be recycled meanwhile) on <run_dir>/netns/<app> and records KEY. The directory is
    /// made a shared mount point of its own first (once), so that the bind mount's copies
    /// in mount namespaces made later (systemd's private ones, `ip netns exec`) go when
    /// it is unmounted here and do not keep the namespace alive.
    Status keep(const std::string& app, pid_t pid, const SandboxKey& key);
    /// The record of APP's kept sandbox; nullopt when it has none, or a part of it is
    /// missing or damaged (drop() then cleans up what is there).
    std::optional<SandboxKey> recorded(const std::string& app) const;
    /// An fd of APP's kept network namespace (O_RDONLY|O_CLOEXEC), checked to be one
    /// (nsfs, CLONE_NEWNET): joinable with setns().
    Result<unique_fd> open(const std::string& app) const;
    /// Unmounts (MNT_DETACH) and removes the bind mount and the record; nothing there is
    /// no error. The namespace goes once nothing else holds it (its veth with it).
    void drop(const std::string& app);
    /// Whether APP has a bind mount or a record (what drop() would clean).
    bool has(const std::string& app) const;
    /// Apps with a bind mount or a record (what drop() would clean).
    std::set<std::string> list() const;
    /// Daemon exit with nothing kept: the directory's own mount goes too.
    void unmount_dir_if_empty();

    std::string netns_path(const std::string& app) const { return run_dir_ + "/netns/" + app; }
    std::string record_path(const std::string& app) const { return run_dir_ + "/apps/" + app + "/sandbox.json"; }

private:
    Status ensure_dir();
    std::string run_dir_;
    bool dir_ready_ = false;
};

}  // namespace isolated::runtime
