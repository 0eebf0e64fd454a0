// The probes of one app instance: up to three Workers, with the startup probe gating
// the other two (Kubernetes: "liveness and readiness probe delays do not begin until
// the startup probe has succeeded").
#pragma once

#include <functional>
#include <memory>

#include "isolated/app_spec.hpp"
#include "probe/worker.hpp"
#include "supervisor/probe_host.hpp"

namespace isolated::probe {

/// Makes the prober for one probe of the instance.
using ProberFactory = std::function<std::unique_ptr<Prober>(ProbeType, const ProbeSpec&)>;

class ProbeSet : public supervisor::ProbeSetHandle {
public:
    ProbeSet(supervisor::Clock& clock, const ProbesSpec& spec, const ProberFactory& make_prober,
             const supervisor::RandomSource& random, supervisor::ProbeCallbacks callbacks);
    ~ProbeSet() override;

    /// Starts the startup probe, or liveness and readiness when there is none.
    void start();
    HealthStatus health() const override;
    const Worker* worker(ProbeType t) const { return slot(t).get(); }

private:
    std::unique_ptr<Worker>& slot(ProbeType t);
    const std::unique_ptr<Worker>& slot(ProbeType t) const;
    void changed(ProbeType t, bool passing, const std::string& message);

    supervisor::ProbeCallbacks callbacks_;
    std::unique_ptr<Worker> startup_, liveness_, readiness_;
    std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
};

}  // namespace isolated::probe
