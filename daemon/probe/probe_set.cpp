#include "probe/probe_set.hpp"

namespace isolated::probe {

ProbeSet::ProbeSet(supervisor::Clock& clock, const ProbesSpec& spec, const ProberFactory& make_prober,
                   const supervisor::RandomSource& random, supervisor::ProbeCallbacks callbacks)
    : callbacks_(std::move(callbacks)) {
    auto make = [&](ProbeType t, const std::optional<ProbeSpec>& s) -> std::unique_ptr<Worker> {
        if (!s) return nullptr;
        WorkerCallbacks cb;
        cb.on_change = [this, t](bool passing, const std::string& m) { changed(t, passing, m); };
        cb.on_warning = [this, t](const std::string& m) {
            if (auto fn = callbacks_.on_warning) fn(t, m);
        };
        cb.on_run = [this] {
            if (callbacks_.on_run) callbacks_.on_run();
        };
        return std::make_unique<Worker>(clock, t, *s, make_prober(t, *s), random ? random() : 0.5, std::move(cb));
    };
    startup_ = make(ProbeType::startup, spec.startup);
    liveness_ = make(ProbeType::liveness, spec.liveness);
    readiness_ = make(ProbeType::readiness, spec.readiness);
}

ProbeSet::~ProbeSet() { *alive_ = false; }

void ProbeSet::start() {
    if (startup_) {
        startup_->start();
        return;
    }
    if (liveness_) liveness_->start();
    if (readiness_) readiness_->start();
}

std::unique_ptr<Worker>& ProbeSet::slot(ProbeType t) {
    switch (t) {
        case ProbeType::startup: return startup_;
        case ProbeType::liveness: return liveness_;
        case ProbeType::readiness: return readiness_;
    }
    return readiness_;
}

const std::unique_ptr<Worker>& ProbeSet::slot(ProbeType t) const { return const_cast<ProbeSet*>(this)->slot(t); }

HealthStatus ProbeSet::health() const {
    HealthStatus h;
    if (startup_) h.startup = startup_->status();
    if (liveness_) h.liveness = liveness_->status();
    if (readiness_) h.readiness = readiness_->status();
    return h;
}

void ProbeSet::changed(ProbeType t, bool passing, const std::string& message) {
    if (t == ProbeType::startup && passing) {
        if (liveness_) liveness_->start();
        if (readiness_) readiness_->start();
    }
    // Last: the callback may destroy this set.
    if (auto fn = callbacks_.on_change) fn(supervisor::ProbeChange{t, passing, message});
}

}  // namespace isolated::probe
