#include "supervisor/backoff.hpp"

#include <algorithm>
#include <cmath>

namespace isolated::supervisor {

Duration backoff_delay(std::uint32_t attempt, const BackoffSpec& spec, double random01) {
    if (attempt == 0) attempt = 1;
    const double initial = static_cast<double>(spec.initial.count());
    const double max = static_cast<double>(spec.max.count());
    // factor^(attempt-1) overflows to inf for large attempts; min() then caps it.
    double base = initial * std::pow(std::max(spec.factor, 1.0), static_cast<double>(attempt - 1));
    base = std::min(base, max);
    double r = std::clamp(random01, 0.0, 1.0);
    double jittered = base * (1.0 + spec.jitter * (2.0 * r - 1.0));
    return Duration(static_cast<Duration::rep>(std::llround(std::max(jittered, 0.0))));
}

std::uint32_t BackoffTracker::record_exit(SteadyTime started, SteadyTime ended, const BackoffSpec& spec) {
    if (ended - started >= spec.reset_after) attempts_ = 0;
    return ++attempts_;
}

}  // namespace isolated::supervisor
