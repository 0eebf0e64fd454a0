// Waiting that Ctrl-C can cut short, for verbs that pause between requests (top).
#pragma once

#include <chrono>

namespace isoctl {

/// Sleeps for `d`; throws Interrupted (transport.hpp) when SIGINT arrives first. When
/// SIGINT is ignored (nohup, a script's background job) it is left ignored and the
/// sleep runs its course.
void sleep_unless_interrupted(std::chrono::milliseconds d);

}  // namespace isoctl
