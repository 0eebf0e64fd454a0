#include "probe/worker.hpp"

#include <algorithm>

namespace isolated::probe {

Worker::Worker(supervisor::Clock& clock, ProbeType type, ProbeSpec spec, std::unique_ptr<Prober> prober,
               double jitter, WorkerCallbacks callbacks)
    : clock_(clock),
      type_(type),
      spec_(std::move(spec)),
      prober_(std::move(prober)),
      jitter_(std::clamp(jitter, 0.0, 1.0)),
      callbacks_(std::move(callbacks)) {
    // kubelet's initial results: a container is not ready until proven, alive until
    // proven dead, and its startup is unknown.
    if (type_ == ProbeType::readiness) verdict_ = false;
    if (type_ == ProbeType::liveness) verdict_ = true;
    // Kubernetes rejects successThreshold != 1 for liveness and startup; treat it as 1
    // here too (the validator may let it through).
    if (type_ != ProbeType::readiness) spec_.success_threshold = 1;
    spec_.success_threshold = std::max<std::uint32_t>(spec_.success_threshold, 1);
    spec_.failure_threshold = std::max<std::uint32_t>(spec_.failure_threshold, 1);
    if (spec_.period <= Duration::zero()) spec_.period = std::chrono::seconds(1);
    if (spec_.timeout <= Duration::zero()) spec_.timeout = std::chrono::seconds(1);
}

Worker::~Worker() {
    *alive_ = false;
    timer_.reset();
    prober_.reset();  // abandons a run in flight: its done is never called
}

void Worker::start() {
    if (started_ || stopped_) return;
    started_ = true;
    auto spread = std::min(spec_.period, max_first_jitter);
    auto jitter = std::chrono::duration_cast<Duration>(spread * jitter_);
    schedule_at(clock_.now() + spec_.initial_delay + jitter);
}

supervisor::SteadyTime Worker::on_grid(supervisor::SteadyTime when) const {
    auto slack = std::min<Duration>(probe_slack, spec_.period / 10);
    if (slack <= Duration::zero()) return when;
    auto since = std::chrono::duration_cast<Duration>(when.time_since_epoch());
    auto rounded = (since + slack - Duration(1)) / slack * slack;
    return supervisor::SteadyTime(std::chrono::duration_cast<supervisor::SteadyTime::duration>(rounded));
}

void Worker::schedule_at(supervisor::SteadyTime nominal) {
    nominal_ = nominal;
    auto delay = std::max(Duration::zero(), std::chrono::duration_cast<Duration>(on_grid(nominal) - clock_.now()));
    timer_ = clock_.schedule(delay, [this] { run(); });
}

void Worker::run() {
    timer_.reset();
    if (stopped_ || in_flight_) return;
    in_flight_ = true;
    run_started_ = clock_.now();
    prober_->run(spec_.timeout, [this, alive = std::weak_ptr<bool>(alive_)](ProbeOutcome o) {
        if (alive.expired() || !*alive.lock()) return;
        finish(std::move(o));
    });
}

void Worker::finish(ProbeOutcome outcome) {
    in_flight_ = false;
    status_.last_probe_at = clock_.wall_now();
    status_.result = outcome.result;
    // The prober ends a run at its timeout; a result that lands a little after it (the
    // loop was busy) still says "took the timeout", which is what the run was allowed.
    auto took = std::min<supervisor::SteadyTime::duration>(clock_.now() - run_started_, spec_.timeout);
    status_.last_duration_seconds = std::chrono::duration<double>(took).count();
    bool success = outcome.result != ProbeResult::failure;  // a warning is a success (kubelet)
    if (success) {
        ++status_.consecutive_successes;
        status_.consecutive_failures = 0;
        ++status_.total_successes;
    } else {
        ++status_.consecutive_failures;
        status_.consecutive_successes = 0;
        ++status_.total_failures;
    }
    // The message says what the last run found: a success clears an earlier failure's
    // message (it would otherwise read as a current problem).
    status_.message = outcome.result == ProbeResult::success ? "" : outcome.message;

    std::optional<std::string> warning;
    if (outcome.result == ProbeResult::warning && outcome.message != last_warning_) warning = outcome.message;
    last_warning_ = outcome.result == ProbeResult::warning ? outcome.message : "";

    std::optional<bool> change;
    bool crossed = success ? status_.consecutive_successes >= spec_.success_threshold
                           : status_.consecutive_failures >= spec_.failure_threshold;
    if (crossed && verdict_ != success) {
        verdict_ = success;
        change = success;
    }
    if (crossed && !success && type_ != ProbeType::readiness) stopped_ = true;  // kubelet's onHold
    if (crossed && success && type_ == ProbeType::startup) stopped_ = true;

    // From the previous run's nominal start, not its actual one: that is a little later
    // than the grid point and would push every run to the next point.
    if (!stopped_) schedule_at(std::max(clock_.now(), nominal_ + spec_.period));

    // Callbacks last: they may destroy this worker.
    // Copies, so that a callback that destroys the worker does not destroy the
    // std::function it is running in.
    std::weak_ptr<bool> alive = alive_;
    if (callbacks_.on_run) callbacks_.on_run();
    if (warning && callbacks_.on_warning) {
        auto fn = callbacks_.on_warning;
        fn(*warning);
        if (alive.expired()) return;
    }
    if (change && callbacks_.on_change) {
        auto fn = callbacks_.on_change;
        fn(*change, outcome.message);
    }
}

}  // namespace isolated::probe
