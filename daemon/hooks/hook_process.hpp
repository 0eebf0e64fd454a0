// One hook process: who it runs as (resolved with the host's user database when it
// runs) and its spawn -- clone, then in the child only async-signal-safe steps on data
// prepared before the clone: into its cgroup, a session of its own, default signals,
// groups/gid/uid, stdin/stdout/stderr, every other fd closed, exec. A failure before
// the exec is reported as {step, errno} on a CLOEXEC pipe (as sandbox/spawn.cpp does
// for the init). No policy, no logging, no Asio.
#pragma once

#include <sys/types.h>

#include <optional>
#include <string>
#include <vector>

#include "cgroup/cgroup.hpp"
#include "isolated/result.hpp"
#include "isolated/unique_fd.hpp"

namespace isolated::hooks {

struct Credentials {
    uid_t uid = 0;
    gid_t gid = 0;
    std::vector<gid_t> groups;  ///< supplementary groups, the primary one included
};

/// A hook's "user": NAME, UID, UID:GID or NAME:GROUP, looked up now with getpwnam /
/// getpwuid / getgrnam (so a user added after the app file was loaded is found, one
/// removed since is an error). NAME gets its passwd uid, gid and its groups
/// (getgrouplist); a UID without a passwd entry runs with gid = uid and no other group,
/// as an app's user does; an unknown NAME or GROUP is an error.
Result<Credentials> resolve_user(const std::string& user);

struct HookLaunch {
    std::vector<std::string> argv;  ///< argv[0]: the absolute program
    std::vector<std::string> env;   ///< "KEY=value", the whole environment
    Credentials creds;
    int stdin_fd = -1;
    int output_fd = -1;              ///< stdout and stderr
    /// The run's cgroup: entered by the child before anything else (v2, v1), or the
    /// process is attached before it may go on (systemd); null = none.
    cgroup::AppCgroup* cgroup = nullptr;
};

struct HookProcess {
    pid_t pid = 0;
    unique_fd pidfd;   ///< CLOEXEC
    unique_fd report;  ///< read end of the report pipe: data = it failed before exec
};

/// Starts the hook. On success the process exists (it may still fail before its exec:
/// see spawn_failure). An error means no process is left.
Result<HookProcess> spawn(const HookLaunch& launch);

/// After the process ended: why it never got to exec the program ("setuid 65534:
/// Operation not permitted", "exec \"/x\": No such file or directory"), or nullopt
/// when it did exec. Reads the report pipe; does not block.
std::optional<std::string> spawn_failure(int report_fd, const std::string& program);

}  // namespace isolated::hooks
