// The launch plan: everything the init needs to build the sandbox and exec the app,
// prepared by the daemon (policy, defaults, validation) and encoded into the TLV
// records of init_protocol.h. The init only executes it.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "isolated/app_spec.hpp"

namespace isolated::sandbox {

/// The most files an app's log may be kept in (logs.maxFiles, --log-max-files).
inline constexpr std::uint32_t kMaxLogFiles = 1000;

struct LogSettings {
    std::uint64_t max_size = 10u << 20;  ///< per file (Kubernetes' containerLogMaxSize)
    std::uint32_t max_files = 5;         ///< including the current one (containerLogMaxFiles)
    /// journald's native socket ("/run/systemd/journal/socket"): output goes to the
    /// journal instead of the files; "" = files.
    std::string journal_socket;
};

/// One step of building the root filesystem (init_protocol.h, struct plan_mount).
struct MountStep {
    std::uint32_t op = 0;      ///< MOP_*
    std::uint32_t flags = 0;   ///< MF_*
    std::uint64_t attr = 0;    ///< MOUNT_ATTR_*
    std::uint32_t mode = 0;
    std::uint32_t major = 0, minor = 0;
    std::string source, target, fstype, data;
    bool operator==(const MountStep&) const = default;
};

/// One secret as the init writes it: /run/secrets/<name> (PLAN_SECRET).
struct SecretFile {
    std::string name;
    std::string content;
    std::uint32_t mode = 0400;
    std::uint32_t uid = 0, gid = 0;  ///< the owner, as host ids (plan_sandbox fills them)
};

struct Rlimit {
    std::uint32_t resource = 0;
    std::uint64_t cur = 0, max = 0;
};

struct LaunchPlan {
    std::string app_name;
    std::string instance;                ///< the daemon's id of this launch
    std::vector<std::string> argv;
    std::vector<std::string> env;        ///< "NAME=value"
    /// HOME came from the app's env or an envFile: the user's home does not replace it.
    bool home_set = false;
    std::string workdir = "/";
    std::string log_name;                ///< "" = output discarded
    LogSettings log;

    // ---- the sandbox (issue 3) ----
    std::uint32_t flags = 0;             ///< SB_*
    std::string hostname;                ///< "" = leave as is
    std::string root_stage;              ///< host dir the new root is mounted on
    std::vector<MountStep> mounts;       ///< first is MOP_ROOT when SB_MOUNT_NS
    std::optional<std::uint32_t> uid;
    std::uint32_t gid = 0;
    std::vector<std::uint32_t> groups;
    std::optional<std::uint64_t> caps;   ///< capability mask kept
    std::string seccomp_bpf;             ///< struct sock_filter[]; "" = unconfined
    std::vector<Rlimit> rlimits;
    std::optional<std::uint32_t> umask;
    /// The app's own user namespace (PLAN_USERNS): {first host uid, first host gid, count}.
    struct UserNs {
        std::uint32_t uid = 0, gid = 0, count = 0;
    };
    std::optional<UserNs> userns;
    /// The app's secrets, written by the init on a tmpfs at /run/secrets (the MOP_SECRETS
    /// mount step); in the plan's sealed memfd only, never in a file.
    std::vector<SecretFile> secrets;
    /// Exec mode: the app's cgroup.procs files (AppCgroup::procs_files()).
    std::vector<std::string> cgroup_procs;

    /// The TLV byte form read by the init.
    std::string encode() const;
};

/// The default PATH given to apps that do not set one (Docker's).
inline constexpr const char* kDefaultPath = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/// Where the app's secrets appear, and what $CREDENTIALS_DIRECTORY says when it has some.
inline constexpr const char* kSecretsDir = "/run/secrets";

/// Builds the plan for one launch of `spec`: argv, the environment (PATH and HOME
/// defaults, then the app's env, then `file_env` -- its envFiles' variables, which
/// override env as in systemd -- and CREDENTIALS_DIRECTORY when it has secrets, sorted),
/// workdir, log file and its limits (the app's
/// `logs` over the daemon's `log`).
LaunchPlan make_launch_plan(const AppSpec& spec, const std::string& instance, const LogSettings& log,
                            const std::vector<std::pair<std::string, std::string>>& file_env = {});

/// Removes the rotations of the plan's log file that its limit no longer keeps
/// (<log>.N for N >= max_files, left when an app's logs.maxFiles was lowered), so
/// that they neither fill the disk nor read as this app's newest output.
void prune_rotated_logs(int log_dir_fd, const LaunchPlan& plan);

}  // namespace isolated::sandbox
