// ExecRunner on the host: one posix_spawn (vfork+exec: no copy of the daemon's
// memory) per run, in a new process group, stdin /dev/null, stdout+stderr into one
// nonblocking pipe; watched through a pidfd on the loop; SIGKILL to the group at the
// timeout. No thread, no blocking wait.
#pragma once

#include <string>

#include <boost/asio/io_context.hpp>

#include "probe/exec_runner.hpp"

namespace isolated::probe {

class HostExecRunner : public ExecRunner {
public:
    explicit HostExecRunner(boost::asio::io_context& io) : io_(io) {}
    [[nodiscard]] std::unique_ptr<ExecHandle> run(const std::vector<std::string>& command, Duration timeout,
                                                  Done done) override;
    /// As run(), with PASS_FDS given to the command as fds 3, 4, ... (the rest closed).
    [[nodiscard]] std::unique_ptr<ExecHandle> run_with_fds(const std::vector<std::string>& command,
                                                           const std::vector<int>& pass_fds, Duration timeout,
                                                           Done done);

private:
    boost::asio::io_context& io_;
};

/// A runner for apps whose exec probes cannot run (no runner wired, the sandbox is
/// gone): every run fails with `reason`, reported later from the loop.
class UnavailableExecRunner : public ExecRunner {
public:
    UnavailableExecRunner(boost::asio::io_context& io, std::string reason) : io_(io), reason_(std::move(reason)) {}
    [[nodiscard]] std::unique_ptr<ExecHandle> run(const std::vector<std::string>& command, Duration timeout,
                                                  Done done) override;

private:
    boost::asio::io_context& io_;
    std::string reason_;
};

}  // namespace isolated::probe
