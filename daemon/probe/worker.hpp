// One probe of one instance (kubelet's prober/worker.go): its own timer, its period,
// timeout and thresholds, and a verdict that changes only when a threshold is crossed.
//
// Timing. The first run comes `initialDelay` after start() plus a jitter of up to
// min(period, 1s), so that apps started together (boot, a daemon restart that adopts
// them) do not probe in lockstep; later runs start `period` after the previous start
// (a ticker, as kubelet), or at once when a run took longer than the period.
//
// Timer slack. A run starts at its time rounded up to a grid of the monotonic clock,
// min(50 ms, period / 10) wide, shared by all workers -- as systemd's AccuracySec= or
// the kernel's timer slack -- so that runs falling due within the same 50 ms share one
// wakeup of the loop. 100 apps probed every second then cost about 20 wakeups a
// second instead of 100, still spread over the whole second (about 5 per grid point,
// never all at once). The nominal times are kept, so the average period stays exact.
//
// Verdicts (kubelet's doProbe): a run of `failureThreshold` consecutive failures, or of
// `successThreshold` consecutive successes (a warning counts as success), sets the
// verdict; only a *change* is reported. Initial verdicts are kubelet's: readiness not
// ready, liveness alive, startup unknown. After a liveness or startup failure the
// worker holds (stops probing): the instance is being restarted. After a startup
// success it stops: the startup probe has done its job.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include "isolated/app_spec.hpp"
#include "probe/prober.hpp"
#include "supervisor/clock.hpp"
#include "supervisor/probe_host.hpp"

namespace isolated::probe {

using supervisor::ProbeType;

struct WorkerCallbacks {
    /// The verdict changed (see supervisor::ProbeChange).
    std::function<void(bool passing, const std::string& message)> on_change;
    /// A warning appeared or its text changed.
    std::function<void(const std::string& message)> on_warning;
    /// Every finished run (status() moved); must not destroy the worker.
    std::function<void()> on_run;
};

/// The longest first-run jitter.
inline constexpr Duration max_first_jitter = std::chrono::seconds(1);
/// The widest timer-slack grid (see above).
inline constexpr Duration probe_slack = std::chrono::milliseconds(50);

class Worker {
public:
    /// `jitter` in [0, 1): the share of min(period, max_first_jitter) added to the first run.
    Worker(supervisor::Clock& clock, ProbeType type, ProbeSpec spec, std::unique_ptr<Prober> prober, double jitter,
           WorkerCallbacks callbacks);
    ~Worker();
    Worker(const Worker&) = delete;
    Worker& operator=(const Worker&) = delete;

    /// Schedules the first run. Calling it again does nothing.
    void start();
    bool started() const { return started_; }
    /// No more runs: held after a liveness/startup failure, done after a startup success.
    bool stopped() const { return stopped_; }
    /// The last result, the runs of this worker (totals, last duration) and the current streaks.
    const ProbeStatus& status() const { return status_; }
    /// The thresholded verdict: nullopt = unknown.
    std::optional<bool> verdict() const { return verdict_; }
    ProbeType type() const { return type_; }

private:
    /// Runs at `nominal` rounded up to the slack grid.
    void schedule_at(supervisor::SteadyTime nominal);
    supervisor::SteadyTime on_grid(supervisor::SteadyTime when) const;
    void run();
    void finish(ProbeOutcome outcome);

    supervisor::Clock& clock_;
    ProbeType type_;
    ProbeSpec spec_;
    std::unique_ptr<Prober> prober_;
    double jitter_;
    WorkerCallbacks callbacks_;

    bool started_ = false;
    bool stopped_ = false;
    bool in_flight_ = false;
    supervisor::SteadyTime nominal_{};  ///< the current/next run's time before rounding
    supervisor::SteadyTime run_started_{};  ///< when the run in flight (or the last one) began
    std::unique_ptr<supervisor::Timer> timer_;
    ProbeStatus status_;
    std::optional<bool> verdict_;
    std::string last_warning_;
    /// Lets finish() notice that a callback destroyed this worker.
    std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
};

}  // namespace isolated::probe
