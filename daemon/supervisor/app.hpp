// One app's lifecycle: the state machine whose states docs/API.md lists, in the style
// of systemd's service.c -- an enter_<state>() function per state and a single
// set_state() that records, logs and notifies. It decides *when* (policy, backoff, stop
// timeouts) and leaves *how* to the Runtime port. No syscalls, no JSON.
//
//            start()                        on_started
//  stopped ─────────► starting ─(deps ok)─► [launch] ──────────► ready (or running
//     ▲                  │                                      until readiness)
//     │ stop()           │ exit / launch error                     │ exit
//     │                  ▼                                         ▼
//  stopping ◄──────── backoff ◄── policy says restart ──────── [enter_dead]
//     │  signal, then      │ timer                                  │ policy says no
//     │  kill_all() after  └──► starting (restarts + 1)             ▼
//     │  stop.timeout                                      stopped (code 0) / failed
//
// Every end of an instance -- an exit, an exit after a stop (the operator's or a
// probe's), an exit found at adoption, a definition the runtime cannot run -- goes
// through enter_dead(), the one place where the restart policy, how the run ended,
// maxRetries and what the operator asked meet (systemd's service_enter_dead).
//
// Probes (through the ProbeHost port, started when the instance reports on_started):
// a startup probe keeps the app `running` until it succeeds, and running out of it
// stops the app and counts as a failed run (restarted by policy); readiness moves the
// app between `running` (never ready yet), `ready` and `unhealthy`; a liveness failure
// stops the app by its stop policy and restarts it by its restart policy, with the
// backoff, counted in `restarts`.
//
// Hooks (through the HookRunner port): onFailure when the app enters `failed`,
// onUnhealthy when its liveness probe fails, onOOM when an exit was an OOM kill --
// each once per such transition, with the event that recorded it.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "isolated/api_types.hpp"
#include "isolated/app_spec.hpp"
#include "supervisor/backoff.hpp"
#include "supervisor/clock.hpp"
#include "supervisor/event_log.hpp"
#include "supervisor/hook_runner.hpp"
#include "supervisor/probe_host.hpp"
#include "supervisor/runtime.hpp"

namespace isolated::supervisor {

class App;

/// What an App needs from its surroundings (the Supervisor provides it).
struct AppHooks {
    Clock* clock = nullptr;
    Runtime* runtime = nullptr;
    EventLog* events = nullptr;
    /// Runs the instances' probes; null = probes are not run (apps with a readiness
    /// probe then stay `running`).
    ProbeHost* probes = nullptr;
    /// Runs the apps' failure hooks; null = hooks are not run.
    HookRunner* hook_runner = nullptr;
    RandomSource random;
    /// Why the app cannot be launched yet ("waiting for db to be ready"), or nullopt.
    std::function<std::optional<std::string>(const App&)> unmet_dependency;
    /// Peers for joined namespaces.
    std::function<LaunchContext(const App&)> launch_context;
    /// Called after every state change (dependencies, waiters, shutdown progress).
    std::function<void(App&)> changed;
    /// Counts every change that may show in an app's status() except its usage (read
    /// from the cgroup at most once a second): bumped on entry to and exit from each
    /// command and callback, so that a cache of the list can skip it while unchanged
    /// (Supervisor::status_generation). Null = not counted.
    std::uint64_t* status_changes = nullptr;
};

/// liveness, startup: a probe stopped the app; its exit counts as a failure.
enum class StopReason { user, restart, shutdown, removed, redefine, liveness, startup };
std::string to_string(StopReason);

class App {
public:
    App(AppSpec spec, const AppHooks& hooks);
    ~App();
    App(const App&) = delete;
    App& operator=(const App&) = delete;

    const std::string& name() const { return spec_.name; }
    const AppSpec& spec() const { return spec_; }
    AppState state() const { return state_; }
    /// Launched and not yet exited.
    bool has_instance() const { return instance_ != nullptr; }
    const Instance* instance() const { return instance_.get(); }
    /// The app is up: running, ready or unhealthy.
    bool is_up() const;
    /// stopped or failed: nothing running and nothing scheduled.
    bool is_down() const { return state_ == AppState::stopped || state_ == AppState::failed; }
    AppStatus status() const;

    /// Operator start: from stopped/failed, or now instead of waiting out a backoff
    /// (the backoff series starts over). While stopping: start again once stopped.
    void start();
    /// Stops with the stop signal; after `timeout` (default: the spec's) everything of
    /// the app is killed.
    void stop(std::optional<Duration> timeout, StopReason reason);
    /// Stop (if up) then start; not counted in `restarts`.
    void restart(std::optional<Duration> timeout);
    /// A new definition from reload. An app that is up restarts with it; a failed one
    /// or one in backoff starts with it; a stopped one just keeps it for later.
    void redefine(AppSpec spec);
    /// A definition that differs from the one in force only where same_definition()
    /// does not look (autostart, the file's name): taken as it is, nothing restarts.
    void replace_equivalent_spec(AppSpec spec);
    /// Another app changed: a start waiting for dependencies may go ahead now.
    void dependencies_changed();
    /// The apps whose namespaces this one joins (`app:NAME` in network.mode or
    /// namespaces.pid/ipc/uts).
    std::vector<std::string> namespace_peers() const;
    /// `peer_of(NAME)` is the sandbox NAME runs now (nullopt: no instance). When a peer whose
    /// namespaces the running instance joined has ended (or runs another instance), the
    /// instance is killed: what it joined is gone, or (a network namespace it alone
    /// still holds) cut off from the bridge. It then follows its restart policy, as
    /// an app whose joined pid namespace ended does.
    void check_joined_peers(const std::function<std::optional<SandboxHandle>(const std::string&)>& peer_of);
    /// An operator's signal (`isoctl kill`) to the app's main process, or with `all` to
    /// every process of it (Instance::send_signal); recorded as a "signal" event. An
    /// error saying why when the app's command is not running. What the app does with
    /// it is its own business: an exit that follows is handled as any other.
    Result<SignalDelivery> send_signal(int sig, bool all);

    /// Daemon start, before any start(): takes over the instance an earlier daemon left
    /// (Runtime::adopt). Running: the app is up again with its pid, start time and
    /// restart count, and its probes start over; launched with another definition than
    /// the one in force now, it is restarted with the new one. Ended while the daemon
    /// was down: that exit is handled now, by the restart policy. `defined`: false for
    /// an app whose file is gone (the supervisor stops it; its exit is not acted on).
    /// `keep_recorded`: the definition the instance was launched with becomes the one
    /// in force (its file is rejected now: the last good definition, as a reload keeps
    /// it). Returns false when there was nothing to adopt.
    bool adopt(bool defined, bool keep_recorded = false);

private:
    /// The init (pid, start time) of each peer the current instance joined.
    std::map<std::string, std::pair<pid_t, std::uint64_t>> joined_;
    bool peer_kill_sent_ = false;
    void enter_starting();
    void enter_up();
    void enter_stopping(std::optional<Duration> timeout);
    void enter_stopped(std::string message);
    void enter_failed(std::string message);
    void enter_backoff(std::uint32_t attempt, const std::string& why);
    void set_state(AppState s, std::string message);

    /// How an instance ended, or why none could run, and what had been asked of it:
    /// everything enter_dead() decides on.
    struct Ending {
        enum class Cause {
            exited,      ///< the app's command ended by itself; `exit` says how
            liveness,    ///< its liveness probe failed and the app was stopped for it
            startup,     ///< its startup probe ran out and the app was stopped for it
            cannot_run,  ///< the runtime can never run the definition; nothing was launched
        };
        /// What the operator (or the daemon for it: reload, shutdown, a removed app
        /// file) asked for before the instance ended.
        enum class Asked { nothing, stop, start };
        Cause cause = Cause::exited;
        Asked asked = Asked::nothing;
        ExitInfo exit;       ///< how the instance ended (not for cannot_run)
        /// liveness, startup: the probe's failure; cannot_run: why; a stop: why, where
        /// the state should say (an adopted instance whose app file is gone), else "".
        std::string detail;
    };
    /// After the instance ended: starting again (an operator restart), stopped, failed
    /// or backoff, by the operator's word first, then the restart policy and maxRetries.
    void enter_dead(const Ending& ending);

    void try_launch();
    void handle_started();
    void handle_exit(const ExitInfo& exit);
    void apply_pending_spec();
    void start_probes();
    void stop_probes();
    void handle_probe_change(const ProbeChange& change);
    HealthStatus health() const;
    /// Returns the event as published (with its seq).
    AppEvent publish(std::string type, std::string message, std::optional<ExitInfo> exit = std::nullopt);
    /// Hands `event` to the app's hook of `kind`, if it has one.
    void run_hook(HookKind kind, const AppEvent& event);
    void touch() const {
        if (hooks_.status_changes) ++*hooks_.status_changes;
    }
    /// Counts a change on entry and on exit: whatever runs in between (an event
    /// listener that lists the apps) and whatever comes after sees a new generation.
    struct Touch {
        explicit Touch(const App& a) : app(a) { app.touch(); }
        ~Touch() { app.touch(); }
        Touch(const Touch&) = delete;
        Touch& operator=(const Touch&) = delete;
        const App& app;
    };

    AppSpec spec_;
    std::optional<AppSpec> pending_spec_;
    const AppHooks& hooks_;
    AppState state_ = AppState::stopped;
    std::string message_;

    std::unique_ptr<Instance> instance_;
    bool started_ = false;                   // instance reported on_started
    SteadyTime launched_at_{};
    std::optional<WallTime> started_at_;
    std::uint32_t restarts_ = 0;
    BackoffTracker backoff_;
    std::optional<ExitInfo> last_exit_;
    std::optional<WallTime> next_restart_at_;
    std::unique_ptr<Timer> stop_timer_;
    std::unique_ptr<Timer> backoff_timer_;
    StopReason stop_reason_ = StopReason::user;
    bool start_after_stop_ = false;
    /// An operator's restart asked for: the next start releases the kept sandbox first.
    bool fresh_sandbox_ = false;

    std::unique_ptr<ProbeSetHandle> probes_;   // while the instance is up
    std::optional<HealthStatus> last_health_;  // of the last instance, shown while down
    /// Probe runs of the app's ended instances (startup, liveness, readiness): health()
    /// adds them to the live counts, so its totals count since the app was defined.
    struct ProbeRuns {
        std::uint64_t successes = 0, failures = 0;
    };
    ProbeRuns earlier_runs_[3];
    bool startup_passed_ = false;              // no startup probe, or it succeeded
    std::string probe_failure_;                // why a probe stopped the app
};

}  // namespace isolated::supervisor
