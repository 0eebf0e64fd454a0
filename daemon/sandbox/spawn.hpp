// clone3 -> exec of isolated-init. Between clone and exec the child only does
// async-signal-safe work on descriptors and arrays prepared before the clone, and
// reports {step, errno} on the report pipe if exec fails (bubblewrap/crun style).
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <string>

#include "isolated/result.hpp"
#include "isolated/unique_fd.hpp"
#include "sandbox/launch_plan.hpp"

namespace isolated::sandbox {

struct SpawnRequest {
    std::string init_path;        ///< the isolated-init binary
    const LaunchPlan* plan = nullptr;
    int log_dir_fd = -1;          ///< O_DIRECTORY, given to the init as INIT_FD_LOGDIR
    int run_dir_fd = -1;          ///< O_DIRECTORY, given to the init as INIT_FD_RUNDIR
    std::uint64_t clone_flags = 0;  ///< namespace flags (CLONE_NEW*), added to CLONE_PIDFD
    int cgroup_fd = -1;           ///< >= 0: CLONE_INTO_CGROUP (cgroup v2)
};

struct Spawned {
    pid_t pid = 0;                ///< the init, host view
    unique_fd pidfd;              ///< CLOEXEC
    unique_fd report;             ///< read end of the report pipe, CLOEXEC
};

/// Creates the init. On success the init exists and owns its copies of the fds.
Result<Spawned> spawn_init(const SpawnRequest& req);

}  // namespace isolated::sandbox
