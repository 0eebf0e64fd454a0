// Restart backoff as a pure function (systemd's service_restart_usec_next, kubelet's
// CrashLoopBackOff): the n-th consecutive restart waits initial * factor^(n-1), capped
// at max, then spread by +-jitter. The count resets after `resetAfter` of clean running
// (BackoffTracker below keeps that count).
#pragma once

#include <cstdint>

#include "isolated/app_spec.hpp"
#include "supervisor/clock.hpp"

namespace isolated::supervisor {

/// Delay before restart number `attempt` (1 = the first restart after a clean run).
/// `random01` in [0, 1) picks the jitter: 0.5 = none, 0 = -jitter, ->1 = +jitter.
/// The cap applies before the jitter, so delays at the cap still spread.
Duration backoff_delay(std::uint32_t attempt, const BackoffSpec& spec, double random01);

/// The consecutive-failure count across runs of one app.
class BackoffTracker {
public:
    /// An instance ran from `started` to `ended`; returns the attempt number for the
    /// restart that follows (1 after a run of at least resetAfter, else previous + 1).
    std::uint32_t record_exit(SteadyTime started, SteadyTime ended, const BackoffSpec& spec);
    /// A start asked for by the operator begins a new series.
    void reset() { attempts_ = 0; }
    std::uint32_t attempts() const { return attempts_; }

private:
    std::uint32_t attempts_ = 0;
};

}  // namespace isolated::supervisor
