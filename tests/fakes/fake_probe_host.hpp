// A ProbeHost that probes nothing: the test decides each verdict and sees which probe
// sets the supervisor started and stopped. Header-only (both tiers may use it).
#pragma once

#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include "supervisor/probe_host.hpp"

namespace isolated::test {

struct FakeProbeSetState {
    std::string app;
    ProbesSpec spec;
    supervisor::InstanceInfo instance;
    supervisor::ProbeCallbacks callbacks;
    HealthStatus health;  ///< what health() answers; tests fill it
    bool alive = true;    ///< the handle exists
};

class FakeProbeHost : public supervisor::ProbeHost {
public:
    std::unique_ptr<supervisor::ProbeSetHandle> start(const AppSpec& spec, const supervisor::Instance& instance,
                                                      supervisor::ProbeCallbacks callbacks) override {
        auto s = std::make_shared<FakeProbeSetState>();
        s->app = spec.name;
        s->spec = spec.probes;
        s->instance = instance.info();
        s->callbacks = std::move(callbacks);
        if (spec.probes.startup) s->health.startup = ProbeStatus{};
        if (spec.probes.liveness) s->health.liveness = ProbeStatus{};
        if (spec.probes.readiness) s->health.readiness = ProbeStatus{};
        sets.push_back(s);
        return std::make_unique<Handle>(s);
    }

    /// Every probe set started, oldest first.
    std::vector<std::shared_ptr<FakeProbeSetState>> sets;

    std::shared_ptr<FakeProbeSetState> last(const std::string& app) const {
        for (auto it = sets.rbegin(); it != sets.rend(); ++it)
            if ((*it)->app == app) return *it;
        return nullptr;
    }
    std::size_t started_count(const std::string& app) const {
        std::size_t n = 0;
        for (auto& s : sets) n += s->app == app;
        return n;
    }
    /// Whether `app` has a live probe set.
    bool active(const std::string& app) const {
        auto s = last(app);
        return s && s->alive;
    }

    /// Reports a verdict change of the live probe set of `app`.
    void change(const std::string& app, supervisor::ProbeType type, bool passing, std::string message = "") {
        auto s = live(app);
        auto fn = s->callbacks.on_change;
        fn(supervisor::ProbeChange{type, passing, std::move(message)});
    }
    /// A run of the live probe set of `app` finished: its health now reads `health`
    /// (counts, times), as the real probe workers' do after every run.
    void ran(const std::string& app, const HealthStatus& health) {
        auto s = live(app);
        s->health = health;
        if (auto fn = s->callbacks.on_run) fn();
    }
    void warn(const std::string& app, supervisor::ProbeType type, const std::string& message) {
        auto s = live(app);
        auto fn = s->callbacks.on_warning;
        fn(type, message);
    }

private:
    struct Handle : supervisor::ProbeSetHandle {
        explicit Handle(std::shared_ptr<FakeProbeSetState> s) : s(std::move(s)) {}
        ~Handle() override { s->alive = false; }
        HealthStatus health() const override { return s->health; }
        std::shared_ptr<FakeProbeSetState> s;
    };

    std::shared_ptr<FakeProbeSetState> live(const std::string& app) const {
        auto s = last(app);
        if (!s || !s->alive) throw std::logic_error("no live probe set of " + app);
        return s;
    }
};

}  // namespace isolated::test
