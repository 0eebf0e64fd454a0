// Exec probes inside an app's sandbox: each run is one isolated-init in exec mode
// (fork+exec), which enters the app init's namespaces and runs the command with the
// app's credentials, capabilities and seccomp filter (init_protocol.h, exec mode) --
// the same path as `isoctl exec`. Output capture, timeout and group kill come from
// HostExecRunner.
#pragma once

#include <boost/asio/io_context.hpp>
#include <functional>
#include <string>

#include "isolated/app_spec.hpp"
#include "isolated/result.hpp"
#include "isolated/unique_fd.hpp"
#include "probe/host_exec_runner.hpp"

namespace isolated::runtime {

class SandboxExecRunner : public probe::ExecRunner {
public:
    using Planner = std::function<Result<std::string>(const AppSpec&, const std::vector<std::string>&)>;
    /// INIT_PIDFD: a pidfd of the app's init (dup'ed, owned). INIT_PATH: the init binary.
    SandboxExecRunner(boost::asio::io_context& io, AppSpec spec, unique_fd init_pidfd, std::string init_path,
                      Planner planner)
        : host_(io), io_(io), spec_(std::move(spec)), pidfd_(std::move(init_pidfd)),
          init_path_(std::move(init_path)), planner_(std::move(planner)) {}

    [[nodiscard]] std::unique_ptr<probe::ExecHandle> run(const std::vector<std::string>& command, Duration timeout,
                                                         Done done) override;

private:
    probe::HostExecRunner host_;
    boost::asio::io_context& io_;
    AppSpec spec_;
    unique_fd pidfd_;
    std::string init_path_;
    Planner planner_;
    // A probe runs the same command every period: its plan (credentials, seccomp
    // filter, the app's cgroup) is built once and its sealed memfd reused -- the init
    // reads it with pread, so runs share it safely.
    std::vector<std::string> plan_command_;
    unique_fd plan_fd_;
};

}  // namespace isolated::runtime
