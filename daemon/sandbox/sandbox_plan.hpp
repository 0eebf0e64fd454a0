// The sandbox part of a launch plan: which namespaces, the root filesystem as a list
// of mount steps, the app's credentials and hardening. Policy lives here (pure
// functions over the AppSpec and a view of the host), the init only executes it.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "isolated/app_spec.hpp"
#include "isolated/result.hpp"
#include "sandbox/launch_plan.hpp"

namespace isolated::sandbox {

/// What the planner may know about a host path (lstat).
struct HostEntry {
    enum Kind { missing, directory, file, symlink, other } kind = missing;
    std::string link;  ///< symlink text
};
using HostProbe = std::function<HostEntry(const std::string& path)>;
HostEntry probe_host(const std::string& path);

struct SandboxInputs {
    std::string root_stage;     ///< empty host dir the new root is mounted on
    std::string etc_dir;        ///< host dir holding the hosts, hostname, resolv.conf written for the app
    std::string overlay_upper;  ///< directory rootfs with an overlay: upper and work dirs (reset per start)
    std::string overlay_work;
    std::string config_dir = "/etc/isolated";  ///< isolated's own configuration, masked in host rootfs
    HostProbe probe = probe_host;
};

/// clone() flags (CLONE_NEW*) for the app's namespaces (joins of `app:NAME` are not
/// among them).
std::uint64_t namespace_clone_flags(const AppSpec& spec);

/// Docker's masked and read-only paths (moby/moby oci/defaults.go).
const std::vector<std::string>& masked_paths();
const std::vector<std::string>& readonly_paths();

/// The mount steps for SPEC's root filesystem, volumes, /proc, /sys and /dev.
Result<std::vector<MountStep>> plan_mounts(const AppSpec& spec, const SandboxInputs& in);

/// A user as the app's rootfs defines it.
struct Credentials {
    std::uint32_t uid = 0, gid = 0;
    std::vector<std::uint32_t> groups;
    std::string home = "/";
};

/// Resolves `user` ("" = root, "name", "uid", "uid:gid", "name:group") against the
/// rootfs's passwd and group files (their text). A numeric uid without an entry is
/// allowed, as in Docker; an unknown name is an error.
Result<Credentials> resolve_user(const std::string& user, const std::string& passwd, const std::string& group);

/// Reads PATH inside ROOT without following symlinks out of it (openat2 RESOLVE_IN_ROOT);
/// "" when it does not exist.
std::string read_in_root(const std::string& root, const std::string& path);

/// Fills the sandbox fields of PLAN for SPEC (flags, hostname, mounts, credentials,
/// capabilities, seccomp, rlimits, umask).
Status plan_sandbox(LaunchPlan& plan, const AppSpec& spec, const SandboxInputs& in);

/// The plan of `isoctl exec` in SPEC's sandbox: PLAN's argv, env and workdir with the
/// app's credentials and hardening (init_protocol.h, exec mode).
Status plan_exec(LaunchPlan& plan, const AppSpec& spec, bool tty);

}  // namespace isolated::sandbox
