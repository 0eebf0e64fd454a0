// A HookRunner that runs nothing: it records every hook the supervisor asked for, so
// tests can check which hooks fired, how often and with which event. Header-only.
#pragma once

#include <string>
#include <vector>

#include "supervisor/hook_runner.hpp"

namespace isolated::test {

class FakeHookRunner : public supervisor::HookRunner {
public:
    struct Call {
        std::string app;
        supervisor::HookKind kind;
        HookSpec hook;
        AppEvent event;
    };

    void run(const std::string& app, supervisor::HookKind kind, const HookSpec& hook, const AppEvent& event) override {
        calls.push_back(Call{app, kind, hook, event});
    }

    /// Every hook asked for, oldest first.
    std::vector<Call> calls;

    std::vector<Call> of(const std::string& app, supervisor::HookKind kind) const {
        std::vector<Call> out;
        for (const auto& c : calls)
            if (c.app == app && c.kind == kind) out.push_back(c);
        return out;
    }
};

}  // namespace isolated::test
