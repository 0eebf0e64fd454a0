// Running an exec probe's command. The probe module only needs "run this argv, kill
// it after the timeout, tell me how it ended"; *where* it runs is the runtime's
// business: the daemon's runner enters the app's sandbox (namespaces, rootfs, user,
// capabilities, seccomp, cgroup). HostExecRunner runs on the host, for tests and for
// apps that share the host's view.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "isolated/units.hpp"

namespace isolated::probe {

/// Output kept from an exec probe (stdout and stderr together).
inline constexpr std::size_t max_exec_output = 4096;

struct ExecResult {
    bool ran = true;        ///< false: it could not be started; `error` says why
    std::string error;
    int exit_code = 0;      ///< when it exited
    int signal = 0;         ///< when a signal ended it
    bool timed_out = false; ///< killed because the timeout passed
    std::string output;     ///< the first max_exec_output bytes of stdout+stderr
};

/// One command in flight. Destroying it kills the command (SIGKILL to its process
/// group) if it still runs, and its Done is never called; it is still reaped.
class ExecHandle {
public:
    virtual ~ExecHandle() = default;
};

class ExecRunner {
public:
    using Done = std::function<void(ExecResult)>;
    virtual ~ExecRunner() = default;
    /// Starts `command` (argv; argv[0] looked up in PATH); kills it when `timeout`
    /// passes; calls `done` exactly once, later, from the loop -- never from inside run().
    [[nodiscard]] virtual std::unique_ptr<ExecHandle> run(const std::vector<std::string>& command, Duration timeout,
                                                          Done done) = 0;
};

}  // namespace isolated::probe
