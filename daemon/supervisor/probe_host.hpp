// The port through which the supervisor runs an instance's health probes. The
// supervisor decides what a verdict means (ready/unhealthy, a liveness restart, a
// failed start); a ProbeHost decides how to probe (daemon/probe: workers with their own
// timers on the loop, HTTP/TCP inside the app's netns, exec inside the sandbox).
// Unit tests use FakeProbeHost (tests/fakes/fake_probe_host.hpp).
#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "isolated/api_types.hpp"
#include "isolated/app_spec.hpp"
#include "supervisor/runtime.hpp"

namespace isolated::supervisor {

enum class ProbeType { startup, liveness, readiness };

inline std::string to_string(ProbeType t) {
    switch (t) {
        case ProbeType::startup: return "startup";
        case ProbeType::liveness: return "liveness";
        case ProbeType::readiness: return "readiness";
    }
    return "readiness";
}

/// A probe's verdict changed after its thresholds (kubelet's results cache: only
/// changes are reported).
///  - startup:   passing = succeeded (liveness and readiness start now);
///               !passing = ran out of failureThreshold (the app must be restarted).
///  - liveness:  !passing = failureThreshold crossed; reported once per crossing, the
///               probe then holds (kubelet's onHold) until the next instance.
///  - readiness: passing = ready, !passing = not ready; reported on every flip.
struct ProbeChange {
    ProbeType type = ProbeType::readiness;
    bool passing = false;
    std::string message;  ///< the failure (or warning) text of the run that decided it
};

struct ProbeCallbacks {
    /// Always called from the loop, never from inside ProbeHost::start().
    std::function<void(const ProbeChange&)> on_change;
    /// A run succeeded with a warning (HTTP redirect to another host, a final 3xx):
    /// counted as success, as kubelet does; called when the warning first appears or
    /// its text changes, not on every run.
    std::function<void(ProbeType, const std::string& message)> on_warning;
    /// After every finished run (its counts and times in health() moved), before
    /// on_warning/on_change; must not destroy the probe set.
    std::function<void()> on_run;
};

/// The probes of one instance. Destroying it stops every probe at once (timers
/// cancelled, sockets closed, exec probes killed); no callback runs after that.
class ProbeSetHandle {
public:
    virtual ~ProbeSetHandle() = default;
    /// Every configured probe's last result and counts (nullopt = no such probe).
    virtual HealthStatus health() const = 0;
};

class ProbeHost {
public:
    virtual ~ProbeHost() = default;
    /// Starts the probes of `spec.probes` for a started instance: the startup probe
    /// first, liveness and readiness once it has succeeded (at once when there is no
    /// startup probe). Never fails: a probe that cannot run (no netns, no exec runner)
    /// fails each run with the reason as its message.
    [[nodiscard]] virtual std::unique_ptr<ProbeSetHandle> start(const AppSpec& spec, const Instance& instance,
                                                               ProbeCallbacks callbacks) = 0;
};

}  // namespace isolated::supervisor
