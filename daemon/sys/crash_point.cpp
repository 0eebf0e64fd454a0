#include "sys/crash_point.hpp"

#include <signal.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <string>

namespace isolated::sys {

namespace detail {
bool crash_points_armed = false;
}  // namespace detail

namespace {
std::string armed_name;
long armed_hit = 1;
long hits = 0;
}  // namespace

void arm_crash_points() {
    const char* v = std::getenv("ISOLATED_CRASH_AT");
    if (!v || !*v) return;
    std::string s = v;
    if (auto colon = s.rfind(':'); colon != std::string::npos) {
        armed_hit = std::strtol(s.c_str() + colon + 1, nullptr, 10);
        if (armed_hit < 1) armed_hit = 1;
        s.resize(colon);
    }
    armed_name = s;
    detail::crash_points_armed = true;
}

void detail::crash_point_reached(const char* name) {
    if (armed_name != name || ++hits != armed_hit) return;
    // One line on stderr (async-signal-safe write, nothing buffered) so the test's log
    // says where the daemon died, then the signal no handler can delay.
    std::string line = "isolated: crash point " + armed_name + " reached (ISOLATED_CRASH_AT): SIGKILL\n";
    (void)!::write(2, line.data(), line.size());
    ::kill(::getpid(), SIGKILL);
    ::pause();
}

}  // namespace isolated::sys
