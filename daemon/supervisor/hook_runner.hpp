// The port through which the supervisor runs an app's failure hooks (hooks.onFailure,
// hooks.onUnhealthy, hooks.onOOM in the app file). The supervisor decides *when*: once
// per transition into the state the hook is for, with the event that recorded it. A
// HookRunner decides *how*: the daemon's (daemon/hooks/) runs the command on the host
// as the hook's user, in a cgroup of its own, with its timeout, and reports what went
// wrong as events of the app. Unit tests use FakeHookRunner (tests/fakes/).
#pragma once

#include <string>

#include "isolated/api_types.hpp"
#include "isolated/app_spec.hpp"

namespace isolated::supervisor {

enum class HookKind { failure, unhealthy, oom };

/// "failure", "unhealthy", "oom": the hook's ISOLATED_EVENT.
inline std::string to_string(HookKind k) {
    switch (k) {
        case HookKind::failure: return "failure";
        case HookKind::unhealthy: return "unhealthy";
        case HookKind::oom: return "oom";
    }
    return "failure";
}

/// "onFailure", "onUnhealthy", "onOOM": the hook's field in the app file, for messages.
inline std::string hook_field(HookKind k) {
    switch (k) {
        case HookKind::failure: return "onFailure";
        case HookKind::unhealthy: return "onUnhealthy";
        case HookKind::oom: return "onOOM";
    }
    return "onFailure";
}

/// The hook of `kind` in `hooks`, or null when none is configured.
inline const HookSpec* hook_of(const HooksSpec& hooks, HookKind k) {
    const std::optional<HookSpec>* h = nullptr;
    switch (k) {
        case HookKind::failure: h = &hooks.on_failure; break;
        case HookKind::unhealthy: h = &hooks.on_unhealthy; break;
        case HookKind::oom: h = &hooks.on_oom; break;
    }
    return h && *h ? &**h : nullptr;
}

class HookRunner {
public:
    virtual ~HookRunner() = default;
    /// `app` has just entered the state `kind` is for; `event` is the event that
    /// recorded it (with its seq), handed to the hook. Returns at once: the hook runs
    /// on its own, and the runner reports its failures (it could not run, it failed,
    /// it was killed at its timeout) as events of `app`.
    virtual void run(const std::string& app, HookKind kind, const HookSpec& hook, const AppEvent& event) = 0;
};

}  // namespace isolated::supervisor
