// What the supervisor's unit tests share: a spec with just a name and a command, and a
// Supervisor over a manual clock, the fake runtime and a real EventLog, answering a
// start as soon as the app runs (the settle window has tests of its own).
#pragma once

#include <map>
#include <string>
#include <vector>

#include "fakes/fake_runtime.hpp"
#include "fakes/manual_clock.hpp"
#include "supervisor/supervisor.hpp"

namespace isolated::test {

inline AppSpec make_spec(const std::string& name, std::vector<std::string> deps = {}) {
    AppSpec s;
    s.name = name;
    s.command = {"/bin/" + name};
    s.depends_on = std::move(deps);
    return s;
}

/// Loads SPECS as the apps dir would.
inline void load_specs(supervisor::Supervisor& sup, const std::vector<AppSpec>& specs) {
    std::map<std::string, AppSpec> m;
    for (const auto& s : specs) m.emplace(s.name, s);
    sup.load(m);
}

/// Without probes or hooks; tests that need them build their own over the same parts.
struct SupervisorRig {
    ManualClock clock;
    FakeRuntime runtime;
    supervisor::EventLog events;
    supervisor::Supervisor sup{clock, runtime, events, [] { return 0.5; }};  // no jitter
    SupervisorRig() { sup.settle = Duration(0); }

    AppStatus status(const std::string& n) const { return sup.detail(n)->status; }
    void load(const std::vector<AppSpec>& specs) { load_specs(sup, specs); }
};

}  // namespace isolated::test
