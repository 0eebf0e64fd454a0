#include "supervisor/app.hpp"

#include <algorithm>
#include <csignal>

#include "host/log.hpp"
#include "sys/crash_point.hpp"

namespace isolated::supervisor {

namespace {

std::string describe_exit(const ExitInfo& e) {
    if (!e.message.empty() && e.code >= 125 && e.code <= 127 && e.signal == 0) return e.message;
    if (e.oom_killed) return "killed by the OOM killer";
    if (e.signal) return "killed by " + signal_name(e.signal);
    std::string s = "exited with code " + std::to_string(e.code);
    if (!e.message.empty()) s += " (" + e.message + ")";
    return s;
}

}  // namespace

std::string to_string(StopReason r) {
    switch (r) {
        case StopReason::user: return "user";
        case StopReason::restart: return "restart";
        case StopReason::shutdown: return "shutdown";
        case StopReason::removed: return "removed";
        case StopReason::redefine: return "redefine";
        case StopReason::liveness: return "liveness";
        case StopReason::startup: return "startup";
    }
    return "user";
}

App::App(AppSpec spec, const AppHooks& hooks) : spec_(std::move(spec)), hooks_(hooks) {
    // A daemon that died while this app had no instance (backoff, mid-launch) left its
    // count and last exit here; an instance to adopt brings its own (adopt()).
    if (hooks_.runtime)
        if (auto h = hooks_.runtime->remembered_history(spec_.name)) {
            restarts_ = h->restarts;
            last_exit_ = h->last_exit;
        }
}

App::~App() = default;

bool App::is_up() const {
    return state_ == AppState::running || state_ == AppState::ready || state_ == AppState::unhealthy;
}

AppStatus App::status() const {
    AppStatus s;
    s.name = spec_.name;
    s.state = state_;
    s.ready = state_ == AppState::ready;
    if (instance_) {
        auto info = instance_->info();
        s.pid = info.pid;
        s.init_pid = info.init_pid;
        s.address = info.address;
        s.image = info.image;
        s.usage = instance_->usage();
    }
    if (instance_ && started_) s.started_at = started_at_;
    s.restarts = restarts_;
    s.last_exit = last_exit_;
    if (spec_.network.mode == NetworkMode::bridge) s.ports = spec_.network.ports;
    s.limits = hooks_.runtime->enforced_limits(spec_.resources);  // only what is in force
    s.health = health();
    s.message = message_;
    if (state_ == AppState::backoff) s.next_restart_at = next_restart_at_;
    return s;
}

// ---- commands --------------------------------------------------------------------------

void App::start() {
    Touch touch(*this);
    switch (state_) {
        case AppState::stopped:
        case AppState::failed:
            backoff_.reset();
            enter_starting();
            break;
        case AppState::backoff:
            backoff_timer_.reset();
            backoff_.reset();
            enter_starting();
            break;
        case AppState::stopping:
            start_after_stop_ = true;
            break;
        case AppState::starting:
        case AppState::running:
        case AppState::ready:
        case AppState::unhealthy:
            break;
    }
}

void App::stop(std::optional<Duration> timeout, StopReason reason) {
    Touch touch(*this);
    start_after_stop_ = false;
    switch (state_) {
        case AppState::stopped:
        case AppState::failed:
            break;
        case AppState::backoff:
            backoff_timer_.reset();
            enter_stopped("stopped while waiting to restart");
            break;
        case AppState::starting:
            if (!instance_) {
                enter_stopped("stopped before it was started");
                break;
            }
            [[fallthrough]];
        case AppState::running:
        case AppState::ready:
        case AppState::unhealthy:
            stop_reason_ = reason;
            enter_stopping(timeout);
            break;
        case AppState::stopping:
            // Already on its way down; an operator stop wins over an internal reason
            // (e.g. a restart that should no longer start again).
            if (reason == StopReason::user || reason == StopReason::shutdown || reason == StopReason::removed)
                stop_reason_ = reason;
            break;
    }
}

void App::restart(std::optional<Duration> timeout) {
    Touch touch(*this);
    backoff_.reset();
    // An operator's restart is a new start, not the restart policy's: the next instance
    // gets a new sandbox (a deleted pod gets a new one, `docker restart` a new netns).
    fresh_sandbox_ = true;
    if (instance_) {
        stop(timeout, StopReason::restart);
        start_after_stop_ = true;
    } else if (state_ == AppState::stopping) {
        start_after_stop_ = true;
    } else {
        // Not launched: stopped, failed, in backoff, or waiting for dependencies.
        if (state_ == AppState::starting) return;
        backoff_timer_.reset();
        enter_starting();
    }
}

void App::redefine(AppSpec spec) {
    Touch touch(*this);
    pending_spec_ = std::move(spec);
    switch (state_) {
        case AppState::stopped:
            apply_pending_spec();
            break;
        case AppState::failed:
        case AppState::backoff:
            backoff_timer_.reset();
            backoff_.reset();
            enter_starting();
            break;
        case AppState::starting:
            if (!instance_) {
                apply_pending_spec();
                try_launch();
                break;
            }
            [[fallthrough]];
        case AppState::running:
        case AppState::ready:
        case AppState::unhealthy:
            publish("redefine", "definition changed; restarting");
            stop(std::nullopt, StopReason::redefine);
            start_after_stop_ = true;
            break;
        case AppState::stopping:
            break;  // applied at the next start or stop
    }
}

void App::replace_equivalent_spec(AppSpec spec) {
    Touch touch(*this);
    if (!spec_.same_definition(spec)) return;
    if (pending_spec_) {
        pending_spec_->autostart = spec.autostart;
        pending_spec_->logs = spec.logs;
        pending_spec_->hooks = spec.hooks;
    } else
        spec_ = std::move(spec);
}

void App::dependencies_changed() {
    Touch touch(*this);
    if (state_ == AppState::starting && !instance_) try_launch();
}

Result<SignalDelivery> App::send_signal(int sig, bool all) {
    Touch touch(*this);
    if (!instance_) return Error::msg(name() + " is " + to_string(state_) + ", not running");
    if (!started_) return Error::msg(name() + " is " + to_string(state_) + ": its command has not been started yet");
    auto d = instance_->send_signal(sig, all);
    if (!d) return Error::msg(name() + " is " + to_string(state_) + ", but " + d.error().to_string());
    std::string message = signal_name(sig) + " sent to ";
    if (!all) {
        message += "the main process (pid " + std::to_string(d->main_pid) + ")";
    } else {
        // Every pid would make an event of any size; the first ones say enough.
        constexpr std::size_t kShown = 10;
        std::string pids;
        for (std::size_t i = 0; i < d->pids.size() && i < kShown; ++i)
            pids += (i ? ", " : "") + std::to_string(d->pids[i]);
        if (d->pids.size() > kShown) pids += ", ...";
        const std::size_t n = d->pids.size();
        message += "every process of the app: " + std::to_string(n) + (n == 1 ? " process" : " processes") +
                   " (pid" + (n == 1 ? " " : "s ") + pids + ")";
    }
    publish("signal", std::move(message));
    return d;
}

bool App::adopt(bool defined, bool keep_recorded) {
    Touch touch(*this);
    InstanceCallbacks cb;
    cb.on_started = [this] { handle_started(); };
    cb.on_exit = [this](const ExitInfo& e) { handle_exit(e); };
    auto a = hooks_.runtime->adopt(spec_.name, std::move(cb));
    if (!a) return false;
    AppSpec current = std::move(spec_);
    spec_ = std::move(a->spec);  // what actually runs
    if (keep_recorded) current = spec_;
    restarts_ = a->restarts;
    last_exit_ = a->last_exit;  // how the instance before it ended, as that daemon knew
    launched_at_ = hooks_.clock->now();
    if (!a->instance) {
        const ExitInfo& exit = *a->exit;
        if (!defined) {
            last_exit_ = exit;
            publish("exit", describe_exit(exit), exit);
            Ending ending;
            ending.asked = Ending::Asked::stop;  // the supervisor stops it: its file is gone
            ending.exit = exit;
            ending.detail = "its app file was removed";
            enter_dead(ending);
            return true;
        }
        if (!current.same_definition(spec_)) pending_spec_ = std::move(current);
        handle_exit(exit);
        return true;
    }
    instance_ = std::move(a->instance);
    started_ = true;
    started_at_ = a->started_at.value_or(hooks_.clock->wall_now());
    auto info = instance_->info();
    publish("adopt", "adopted the running instance (pid " + std::to_string(info.pid) + ", init " +
                         std::to_string(info.init_pid) + ")");
    start_probes();
    enter_up();
    if (defined && !current.same_definition(spec_)) redefine(std::move(current));
    return true;
}

// ---- states -------------------------------------------------------------------------------

void App::enter_starting() {
    apply_pending_spec();
    if (fresh_sandbox_ && hooks_.runtime) hooks_.runtime->release_sandbox(spec_.name);
    fresh_sandbox_ = false;
    next_restart_at_.reset();
    started_ = false;
    set_state(AppState::starting, "");
    try_launch();
}

void App::try_launch() {
    if (state_ != AppState::starting || instance_) return;
    if (auto why = hooks_.runtime->cannot_run(spec_)) {
        Ending ending;
        ending.cause = Ending::Cause::cannot_run;
        ending.detail = std::move(*why);
        return enter_dead(ending);
    }
    if (auto why = hooks_.unmet_dependency(*this)) {
        set_state(AppState::starting, *why);
        return;
    }
    InstanceCallbacks cb;
    cb.on_started = [this] { handle_started(); };
    cb.on_exit = [this](const ExitInfo& e) { handle_exit(e); };
    launched_at_ = hooks_.clock->now();
    LaunchContext ctx = hooks_.launch_context(*this);
    ctx.restarts = restarts_;
    ctx.last_exit = last_exit_;
    auto r = hooks_.runtime->launch(spec_, ctx, std::move(cb));
    if (!r) {
        // Nothing was created: handled like an instance that failed at once.
        ExitInfo e;
        e.code = 125;
        e.at = hooks_.clock->wall_now();
        e.message = r.error().to_string();
        handle_exit(e);
        return;
    }
    instance_ = std::move(*r);
    joined_.clear();
    peer_kill_sent_ = false;
    for (const auto& peer : namespace_peers())
        if (auto it = ctx.peers.find(peer); it != ctx.peers.end() && it->second) {
            auto h = it->second->sandbox();
            joined_[peer] = {h.pid, h.start_time};
        }
    set_state(AppState::starting, "creating the sandbox");
}

std::vector<std::string> App::namespace_peers() const {
    std::vector<std::string> out;
    if (spec_.network.mode == NetworkMode::app) out.push_back(spec_.network.app);
    for (const auto* ns : {&spec_.namespaces.pid, &spec_.namespaces.ipc, &spec_.namespaces.uts})
        if (ns->kind == NamespaceKind::app && std::find(out.begin(), out.end(), ns->app) == out.end())
            out.push_back(ns->app);
    return out;
}

void App::check_joined_peers(const std::function<std::optional<SandboxHandle>(const std::string&)>& peer_of) {
    if (!instance_ || peer_kill_sent_ || state_ == AppState::stopping) return;
    for (const auto& peer : namespace_peers()) {
        auto now = peer_of(peer);
        auto it = joined_.find(peer);
        if (now && it == joined_.end()) {
            // An adopted instance: the peer running now is the one it joined (no daemon
            // ran to restart the peer in between).
            joined_[peer] = {now->pid, now->start_time};
            continue;
        }
        // Another instance of the peer has another init (pid and start time; a runtime
        // that gives no handle cannot tell, and only the peer's end counts then).
        if (now && (now->pid == 0 || it->second == std::make_pair(now->pid, now->start_time))) continue;
        Touch touch(*this);
        peer_kill_sent_ = true;
        publish("kill", "the namespaces it joined ended with " + peer +
                            "'s instance; killing it (it restarts by its restart policy)");
        instance_->kill_all();
        return;
    }
}

void App::handle_started() {
    Touch touch(*this);
    started_ = true;
    started_at_ = instance_ ? instance_->info().started_at.value_or(hooks_.clock->wall_now()) : hooks_.clock->wall_now();
    if (state_ != AppState::starting) return;
    start_probes();
    enter_up();
}

void App::enter_up() {
    // Without a readiness probe an app that runs is ready (as in Kubernetes); probes
    // move it between running/ready/unhealthy once they land.
    if (!startup_passed_)
        set_state(AppState::running, "started; waiting for the startup probe");
    else if (spec_.probes.readiness)
        set_state(AppState::running, "started; waiting for readiness");
    else
        set_state(AppState::ready, "");
}

// ---- probes -------------------------------------------------------------------------------

void App::start_probes() {
    stop_probes();
    probe_failure_.clear();
    const auto& p = spec_.probes;
    bool any = p.startup || p.liveness || p.readiness;
    startup_passed_ = !(p.startup && hooks_.probes);
    if (!any || !hooks_.probes) return;
    last_health_.reset();
    ProbeCallbacks cb;
    cb.on_change = [this](const ProbeChange& c) { handle_probe_change(c); };
    cb.on_warning = [this](ProbeType t, const std::string& m) {
        Touch touch(*this);
        publish("probe", to_string(t) + " probe warning: " + m);
    };
    // Every run moves the probe's counts and times (health()), not only a verdict change.
    cb.on_run = [this] { touch(); };
    probes_ = hooks_.probes->start(spec_, *instance_, std::move(cb));
}

void App::stop_probes() {
    if (!probes_) return;
    last_health_ = probes_->health();
    probes_.reset();
    // The ended set's run counts move to the app's own (health() adds them back), so
    // that the totals count since the app was defined, as kubelet's prober_probe_total
    // counts over a pod's containers, not since this instance started.
    auto fold = [](std::optional<ProbeStatus>& p, ProbeRuns& runs) {
        if (!p) return;
        runs.successes += p->total_successes;
        runs.failures += p->total_failures;
        p->total_successes = p->total_failures = 0;
    };
    fold(last_health_->startup, earlier_runs_[0]);
    fold(last_health_->liveness, earlier_runs_[1]);
    fold(last_health_->readiness, earlier_runs_[2]);
}

HealthStatus App::health() const {
    // Only the probes the definition in force has; a probe that has not run (or whose
    // instance is gone without ever probing) is `unknown`.
    HealthStatus from = probes_ ? probes_->health() : last_health_.value_or(HealthStatus{});
    HealthStatus h;
    auto take = [](bool defined, const std::optional<ProbeStatus>& now, const ProbeRuns& earlier) {
        std::optional<ProbeStatus> p;
        if (!defined) return p;
        p = now.value_or(ProbeStatus{});
        p->total_successes += earlier.successes;
        p->total_failures += earlier.failures;
        return p;
    };
    h.startup = take(spec_.probes.startup.has_value(), from.startup, earlier_runs_[0]);
    h.liveness = take(spec_.probes.liveness.has_value(), from.liveness, earlier_runs_[1]);
    h.readiness = take(spec_.probes.readiness.has_value(), from.readiness, earlier_runs_[2]);
    return h;
}

void App::handle_probe_change(const ProbeChange& c) {
    Touch touch(*this);
    if (!is_up() || !probes_) return;  // stopping: verdicts no longer matter
    std::string what = to_string(c.type) + " probe";
    std::string detail = c.message.empty() ? "" : ": " + c.message;
    switch (c.type) {
        case ProbeType::startup:
            if (c.passing) {
                startup_passed_ = true;
                publish("probe", what + " succeeded");
                enter_up();
            } else {
                probe_failure_ = what + " failed" + detail;
                publish("probe", probe_failure_ + "; stopping the app");
                stop(std::nullopt, StopReason::startup);
            }
            break;
        case ProbeType::liveness:
            if (!c.passing) {
                probe_failure_ = what + " failed" + detail;
                auto e = publish("probe", probe_failure_ + "; restarting the app");
                run_hook(HookKind::unhealthy, e);
                stop(std::nullopt, StopReason::liveness);
            }
            break;
        case ProbeType::readiness:
            if (!startup_passed_) break;
            if (c.passing) {
                publish("probe", what + " passed");
                set_state(AppState::ready, "");
            } else {
                publish("probe", what + " failed" + detail);
                if (state_ == AppState::ready || state_ == AppState::unhealthy)
                    set_state(AppState::unhealthy, what + " failed" + detail);
                else
                    set_state(AppState::running, "started; " + what + " failing" + detail);
            }
            break;
    }
}

void App::enter_stopping(std::optional<Duration> timeout) {
    // kubelet stops probing a container it is terminating.
    stop_probes();
    Duration t = timeout.value_or(spec_.stop.timeout);
    // An image app's spec may leave the signal to its image: the instance knows it.
    int sig = instance_->info().stop_signal;
    if (sig == 0) sig = spec_.stop.signal != 0 ? spec_.stop.signal : SIGTERM;
    set_state(AppState::stopping, "sent " + signal_name(sig) + ", waiting up to " + format_duration(t));
    instance_->signal(sig);
    sys::crash_point("stop.after-signal");
    stop_timer_ = hooks_.clock->schedule(t, [this, t, sig] {
        Touch touch(*this);
        if (!instance_) return;
        publish("kill", "still running " + format_duration(t) + " after " + signal_name(sig) +
                            "; killing everything of the app");
        instance_->kill_all();
    });
}

// Stopped or failed: the app has left its restart cycle, so the sandbox the runtime
// kept for its next instance goes (a pod's sandbox goes when the pod does, not when a
// container restarts). Before the state is published: whoever sees `stopped` finds
// nothing of the app left.
void App::enter_stopped(std::string message) {
    apply_pending_spec();
    fresh_sandbox_ = false;
    if (hooks_.runtime) hooks_.runtime->release_sandbox(spec_.name);
    set_state(AppState::stopped, std::move(message));
}

void App::enter_failed(std::string message) {
    apply_pending_spec();
    fresh_sandbox_ = false;
    if (hooks_.runtime) hooks_.runtime->release_sandbox(spec_.name);
    set_state(AppState::failed, std::move(message));
}

void App::enter_backoff(std::uint32_t attempt, const std::string& why) {
    Duration delay = backoff_delay(attempt, spec_.restart.backoff, hooks_.random ? hooks_.random() : 0.5);
    next_restart_at_ = hooks_.clock->wall_now() + delay;
    set_state(AppState::backoff, why + "; restarting in " + format_duration(delay));
    backoff_timer_ = hooks_.clock->schedule(delay, [this] {
        Touch touch(*this);
        ++restarts_;
        publish("restart", "restarting (restart " + std::to_string(restarts_) + ")");
        enter_starting();
    });
}

void App::handle_exit(const ExitInfo& exit) {
    Touch touch(*this);
    bool was_stopping = state_ == AppState::stopping;
    stop_probes();
    instance_.reset();
    started_ = false;
    stop_timer_.reset();
    last_exit_ = exit;
    publish("exit", describe_exit(exit), exit);
    // An OOM kill is an event of its own (as Docker's "oom" and the kubelet's OOMKilled
    // reason), so alerting on it needs no parsing of exit events.
    if (exit.oom_killed) {
        std::string what = "killed by the OOM killer";
        if (spec_.resources.memory) what += " (memory limit " + format_size(*spec_.resources.memory) + ")";
        run_hook(HookKind::oom, publish("oom", what, exit));
    }

    Ending ending;
    ending.exit = exit;
    if (was_stopping) {
        if (start_after_stop_) {
            // An operator restart (or a redefinition), also one asked while a probe was
            // stopping the app.
            start_after_stop_ = false;
            ending.asked = Ending::Asked::start;
        } else if (stop_reason_ == StopReason::liveness || stop_reason_ == StopReason::startup) {
            // The exit the probe's stop caused: how it exited says nothing about the app.
            ending.cause = stop_reason_ == StopReason::liveness ? Ending::Cause::liveness : Ending::Cause::startup;
            ending.detail = probe_failure_;
        } else {
            ending.asked = Ending::Asked::stop;
        }
    }
    enter_dead(ending);
}

void App::enter_dead(const Ending& ending) {
    // The operator's word first: what was asked while the instance was ending is not
    // undone by the restart policy (systemd: a queued stop job turns Restart= off). An
    // operator restart is not counted in `restarts`, and has no backoff.
    switch (ending.asked) {
        case Ending::Asked::start: return enter_starting();
        case Ending::Asked::stop: return enter_stopped(ending.detail);
        case Ending::Asked::nothing: break;
    }

    std::string why;
    bool failure = true;  // what `on-failure` restarts and, when nothing restarts, `failed`
    switch (ending.cause) {
        case Ending::Cause::cannot_run:
            return enter_failed(ending.detail);  // no restart can help
        case Ending::Cause::liveness:
        case Ending::Cause::startup:
            // Kubernetes kills a container whose liveness or startup probe failed and
            // then follows restartPolicy: `never` leaves it failed, `always` and
            // `on-failure` restart it (a probe failure is a failure, whatever the exit
            // code the stop left), through the backoff and maxRetries.
            why = !ending.detail.empty()
                      ? ending.detail
                      : std::string(ending.cause == Ending::Cause::liveness ? "liveness" : "startup") + " probe failed";
            break;
        case Ending::Cause::exited:
            why = describe_exit(ending.exit);
            failure = ending.exit.code != 0 || ending.exit.signal != 0;
            break;
    }

    const RestartSpec& restart = spec_.restart;
    const bool restart_wanted = restart.policy == RestartPolicy::always ||
                                (restart.policy == RestartPolicy::on_failure && failure);
    if (!restart_wanted) return failure ? enter_failed(why) : enter_stopped(why);
    // The backoff series counts restarts only: an end that restarts nothing leaves it.
    auto attempt = backoff_.record_exit(launched_at_, hooks_.clock->now(), restart.backoff);
    if (restart.max_retries && attempt > *restart.max_retries)
        return enter_failed(why + "; gave up after " + std::to_string(*restart.max_retries) + " restarts");
    enter_backoff(attempt, why);
}

void App::apply_pending_spec() {
    if (!pending_spec_) return;
    // A new definition is a new app, as a new pod is in Kubernetes: its restart count
    // and backoff start over. (A change of `autostart` alone is not a new definition.)
    if (!pending_spec_->same_definition(spec_)) {
        restarts_ = 0;
        backoff_.reset();
    }
    spec_ = std::move(*pending_spec_);
    pending_spec_.reset();
}

void App::set_state(AppState s, std::string message) {
    bool state_changed = s != state_;
    if (!state_changed && message == message_) return;
    state_ = s;
    message_ = std::move(message);
    if (state_changed) {
        // Every change of the count or the last exit comes with a change of state.
        if (hooks_.runtime) hooks_.runtime->remember_history(spec_.name, {restarts_, last_exit_});
        host::log_info(spec_.name, message_.empty() ? to_string(s) : to_string(s) + ": " + message_);
        AppEvent e;
        e.time = hooks_.clock->wall_now();
        e.app = spec_.name;
        e.type = "state";
        e.state = to_string(s);
        e.message = message_;
        auto published = hooks_.events->publish(std::move(e));
        // Only on entering `failed`: a failed app that stays failed (a new message)
        // is not a new failure.
        if (s == AppState::failed) run_hook(HookKind::failure, published);
    }
    touch();
    if (hooks_.changed) hooks_.changed(*this);
}

AppEvent App::publish(std::string type, std::string message, std::optional<ExitInfo> exit) {
    host::log_info(spec_.name, message);
    AppEvent e;
    e.time = hooks_.clock->wall_now();
    e.app = spec_.name;
    e.type = std::move(type);
    e.message = std::move(message);
    e.exit = std::move(exit);
    return hooks_.events->publish(std::move(e));
}

void App::run_hook(HookKind kind, const AppEvent& event) {
    // The definition in force decides, hooks changed by a reload included (they are
    // taken without a restart: replace_equivalent_spec).
    const HookSpec* hook = hook_of(spec_.hooks, kind);
    if (!hook || !hooks_.hook_runner) return;
    hooks_.hook_runner->run(spec_.name, kind, *hook, event);
}

}  // namespace isolated::supervisor
