// Named crash points: a testing aid for the soak (tests/soak/, issue 18). With
// ISOLATED_CRASH_AT=<name>[:<n>] in the daemon's environment at start, the n-th time
// (default: the first) the daemon passes crash_point("<name>") it SIGKILLs itself, so a
// test can kill it inside a window no outside timing hits reliably: between the clone
// of an init and its "go", between the nft transaction and the veth, between two apps
// of a reload or an adoption. Unset (always, in production) it costs one predictable
// branch on a flag read once at start. The names are listed in isolated(8).
#pragma once

namespace isolated::sys {

namespace detail {
extern bool crash_points_armed;
void crash_point_reached(const char* name);
}  // namespace detail

/// Reads ISOLATED_CRASH_AT once; called by main before anything else runs.
void arm_crash_points();

inline void crash_point(const char* name) {
    if (__builtin_expect(detail::crash_points_armed, false)) detail::crash_point_reached(name);
}

}  // namespace isolated::sys
