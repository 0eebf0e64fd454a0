// clone (CLONE_VM | CLONE_VFORK, posix_spawn's way) -> exec of isolated-init. Between
// clone and exec the child only does async-signal-safe work on descriptors and arrays
// prepared before the clone, and reports {step, errno} on the report pipe if exec
// fails (bubblewrap/crun style).
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "isolated/result.hpp"
#include "isolated/unique_fd.hpp"
#include "sandbox/launch_plan.hpp"

namespace isolated::sandbox {

/// A namespace of another sandbox to join: setns(pidfd, flags) in the child.
struct NamespaceJoin {
    int pidfd = -1;               ///< the other sandbox's init
    int flags = 0;                ///< CLONE_NEWNET | CLONE_NEWIPC | CLONE_NEWUTS
};

struct SpawnRequest {
    std::string init_path;        ///< the isolated-init binary (for messages)
    int init_fd = -1;             ///< >= 0: exec this fd (a sealed memfd copy of the init)
    const LaunchPlan* plan = nullptr;
    int log_dir_fd = -1;          ///< O_DIRECTORY, given to the init as INIT_FD_LOGDIR
    int run_dir_fd = -1;          ///< O_DIRECTORY, given to the init as INIT_FD_RUNDIR
    std::uint64_t clone_flags = 0;  ///< namespace flags (CLONE_NEW*), added to CLONE_PIDFD
    int cgroup_dir_fd = -1;       ///< >= 0: the cgroup v2 directory the child enters first
    int go_fd = -1;               ///< >= 0: read end of the go pipe, given as INIT_FD_GO
    std::vector<int> cgroup_procs_fds;  ///< cgroup v1: the child writes "0" to each first thing
    int join_pid_pidfd = -1;      ///< >= 0: the init is born into this sandbox's pid namespace
    NamespaceJoin joins[3];       ///< net/ipc/uts namespaces to join
};

/// A CLOEXEC memfd holding DATA, sealed against any change.
Result<unique_fd> sealed_memfd(const char* name, std::string_view data);

/// A sealed, executable memfd copy of the binary at PATH. Executing the init from it
/// means that /proc/<pid>/exe inside a sandbox points at an immutable copy, never at
/// the host's file (runc's fix for CVE-2019-5736).
Result<unique_fd> sealed_copy(const std::string& path);

struct Spawned {
    pid_t pid = 0;                ///< the init, host view
    unique_fd pidfd;              ///< CLOEXEC
    unique_fd report;             ///< read end of the report pipe, CLOEXEC
};

/// Creates the init. On success the init exists and owns its copies of the fds.
Result<Spawned> spawn_init(const SpawnRequest& req);

}  // namespace isolated::sandbox
