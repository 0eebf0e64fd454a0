// The daemon's ProbeHost: builds a ProbeSet per started instance with the real probers
// (HTTP and TCP inside the app's network namespace, exec through an ExecRunner), all
// on the one io_context.
//
// Wiring (daemon/main.cpp):
//     probe::ProbeManager probes(io, clock, probe::netns_of_init(exec_runner_factory), random);
//     supervisor::Supervisor sup(clock, runtime, events, random, &probes);
#pragma once

#include <functional>
#include <memory>

#include <boost/asio/io_context.hpp>

#include "isolated/result.hpp"
#include "isolated/unique_fd.hpp"
#include "probe/exec_runner.hpp"
#include "supervisor/clock.hpp"
#include "supervisor/probe_host.hpp"

namespace isolated::probe {

/// Where one instance's probes run.
struct ProbeTarget {
    /// The app's network namespace (a netns fd, or a pidfd); invalid = the daemon's own
    /// (host network mode). Held open for the instance's probes.
    unique_fd netns;
    /// Runs exec probe commands inside the app's sandbox; null = exec probes fail
    /// with "no exec runner".
    std::shared_ptr<ExecRunner> exec;
};

using TargetResolver = std::function<Result<ProbeTarget>(const AppSpec&, const supervisor::Instance&)>;

/// Makes the ExecRunner for one instance (e.g. one that enters its sandbox).
using ExecRunnerFactory =
    std::function<std::shared_ptr<ExecRunner>(const AppSpec&, const supervisor::Instance&)>;

/// The default resolver: the netns of the instance's init, from the pidfd in its
/// SandboxHandle (sys::netns_of_pidfd: never by pid alone, which an adopted init's exit could
/// hand to another process), or the daemon's own netns when the app uses the host
/// network; an error when the instance has no sandbox (it has ended). Exec runners
/// from `exec` (may be null).
TargetResolver netns_of_init(ExecRunnerFactory exec);

class ProbeManager : public supervisor::ProbeHost {
public:
    ProbeManager(boost::asio::io_context& io, supervisor::Clock& clock, TargetResolver resolve,
                 supervisor::RandomSource random);
    [[nodiscard]] std::unique_ptr<supervisor::ProbeSetHandle> start(const AppSpec& spec,
                                                                   const supervisor::Instance& instance,
                                                                   supervisor::ProbeCallbacks callbacks) override;

private:
    boost::asio::io_context& io_;
    supervisor::Clock& clock_;
    TargetResolver resolve_;
    supervisor::RandomSource random_;
};

}  // namespace isolated::probe
