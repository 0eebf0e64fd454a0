// Time as the supervisor sees it. The daemon uses AsioClock (daemon/host/asio_clock.hpp,
// steady_timer on the one io_context); unit tests use ManualClock
// (tests/fakes/manual_clock.hpp) and drive state machines by advancing it.
#pragma once

#include <chrono>
#include <functional>
#include <memory>

#include "isolated/units.hpp"

namespace isolated::supervisor {

using SteadyTime = std::chrono::steady_clock::time_point;
using WallTime = std::chrono::system_clock::time_point;

/// A scheduled callback. Destroying it cancels the callback (if not yet run).
class Timer {
public:
    virtual ~Timer() = default;
};

class Clock {
public:
    virtual ~Clock() = default;
    virtual SteadyTime now() const = 0;
    virtual WallTime wall_now() const = 0;
    /// Runs `fn` once on the loop after `delay`, unless the returned Timer is destroyed first.
    [[nodiscard]] virtual std::unique_ptr<Timer> schedule(Duration delay, std::function<void()> fn) = 0;
    /// Runs `fn` on the loop soon (not from inside this call).
    virtual void post(std::function<void()> fn) = 0;
};

/// A source of uniform doubles in [0, 1) for jitter; tests pin it.
using RandomSource = std::function<double()>;

}  // namespace isolated::supervisor
