// The registry of apps: dependency order for starts and stops, operator commands
// that complete when the app has settled, reload as a diff, and shutdown.
//
// dependsOn semantics (docs/DECISIONS.md): an app is launched only once every app it
// depends on is ready -- readiness probe passing, when it has one -- (and every app
// whose namespaces it joins is up); starting an
// app starts its stopped dependencies; stops of several apps (shutdown, reload) go in
// reverse dependency order. A dependency that restarts later does not restart its
// dependents (docker compose's depends_on, not systemd's Requires=).
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "isolated/api_types.hpp"
#include "isolated/app_parser.hpp"
#include "supervisor/app.hpp"
#include "supervisor/clock.hpp"
#include "supervisor/event_log.hpp"
#include "supervisor/hook_runner.hpp"
#include "supervisor/probe_host.hpp"
#include "supervisor/runtime.hpp"

namespace isolated::supervisor {

class Supervisor {
public:
    /// Completion of an operator command: nullopt on success, else why it failed.
    using Done = std::function<void(std::optional<std::string> error)>;

    /// `probes` runs the instances' health probes; null = no probes are run. `hooks`
    /// runs the apps' failure hooks; null = no hooks are run.
    Supervisor(Clock& clock, Runtime& runtime, EventLog& events, RandomSource random, ProbeHost* probes = nullptr,
               HookRunner* hooks = nullptr);
    ~Supervisor();

    /// Replaces the (empty) registry with `apps`, without starting them.
    void load(const std::map<std::string, AppSpec>& apps);
    /// The files of the last load or reload that were rejected (by app name): shown in
    /// list()/detail() as `fileErrors`; a name with no accepted definition is listed as
    /// a `failed` app that cannot be started.
    void set_rejected(const std::map<std::string, std::vector<Diagnostic>>& rejected);
    bool is_rejected(const std::string& name) const { return rejected_.count(name) != 0; }
    /// After load(), before start_all(): adopts every instance an earlier daemon left
    /// (App::adopt). Instances of apps no longer defined are stopped by their recorded
    /// definition, as a reload that removed them would. Returns the defined apps that
    /// were adopted -- running, or handled by their restart policy after an exit.
    std::set<std::string> adopt_all();
    /// Starts every app, dependencies first, except those in `skip` (adopted ones) and
    /// those with `autostart: false`.
    void start_all(const std::set<std::string>& skip = {});

    bool contains(const std::string& name) const { return apps_.count(name) != 0; }
    /// The defined apps launched and not yet exited whose definition in force has
    /// network `mode`: what list() would say through initPid and detail() through the
    /// spec, without building either (list() reads every app's usage from its cgroup).
    std::set<std::string> launched_with(NetworkMode mode) const;
    std::vector<AppStatus> list() const;
    /// Changes whenever list() may answer anything else than before, usage aside (that
    /// moves at most once a second: see App::status()). Equal generations = equal
    /// lists, for a cache of the list (api::AppListCache).
    std::uint64_t status_generation() const { return changes_; }
    std::optional<AppDetail> detail(const std::string& name) const;
    /// The sandbox of the app's current instance (Instance::sandbox()), for work inside
    /// it (`isoctl exec`); empty when the app is not defined or has no instance.
    SandboxHandle sandbox(const std::string& name) const;
    /// Counts by state, for status lines ("5 apps: 4 ready, 1 backoff").
    std::map<AppState, std::size_t> census() const;

    /// `done` fires once the app has come up (success) -- `ready` when it has a startup
    /// or readiness probe, else up for `settle` without exiting -- together with the
    /// dependencies this call started; or with an error once it (or one of those) has
    /// landed in backoff, failed or stopped, or `wait` (default: default_wait_timeout,
    /// plus the startup probe's budget) has passed.
    void start(const std::string& name, Done done, std::optional<Duration> wait = std::nullopt);
    /// Stops the app and, first, every app that depends on it (dependsOn or app:
    /// references, transitively) and is not down; `done` fires once all are down.
    void stop(const std::string& name, std::optional<Duration> timeout, Done done);
    void restart(const std::string& name, std::optional<Duration> timeout, Done done);
    /// An operator's signal to the app's main process, or with `all` to every process of
    /// it (App::send_signal); an error when the app is not defined or not running.
    Result<SignalDelivery> signal(const std::string& name, int sig, bool all);

    /// How long a start without a probe must stay up to count as started (a crash
    /// in that window is reported as a failed start).
    Duration settle = std::chrono::seconds(1);
    /// How long start/restart wait at most (systemd's DefaultTimeoutStartSec).
    Duration default_wait_timeout = std::chrono::seconds(90);

    /// Applies a freshly loaded apps directory: starts added apps, restarts changed
    /// ones, stops and forgets removed ones; a rejected file leaves its app on its
    /// last good definition.
    ReloadReport reload(const AppDir& fresh);

    /// Stops every app in reverse dependency order; `done` when all are down.
    void shutdown(Done done);
    bool shutting_down() const { return shutting_down_; }

private:
    struct Waiter {
        std::string app;
        Done done;
        /// Prerequisites this command started: they must come up too (a dependent
        /// that was already running is not "started" while its dependency is not).
        std::vector<std::string> also;
        bool was_up = false;                  ///< up before the command: no settle
        std::optional<SteadyTime> up_since;   ///< first seen up, for the settle window
        SteadyTime deadline{};
        Duration limit{};
        std::unique_ptr<Timer> wake;          ///< pumps at the end of the settle window
        std::unique_ptr<Timer> expire;        ///< pumps at the deadline
    };
    struct StopBatch {
        std::set<std::string> names;
        std::set<std::string> asked;
        std::optional<Duration> timeout;
        StopReason reason;
        Done done;
    };

    App& add_app(const AppSpec& spec);
    /// Propagates a change: waiting launches, operator waiters, stop batches.
    /// Re-entrant calls (a change caused by this one) are folded into the running one.
    void pump();
    void settle_waiters();
    /// nullopt: not settled yet; else the outcome (nullopt inside = success).
    std::optional<std::optional<std::string>> outcome(Waiter& w);
    /// Has `app` come up as far as a start waits for (see start()), for `w`'s settle window.
    bool came_up(const App& app, Waiter* w);
    void add_waiter(const std::string& name, Done done, std::vector<std::string> also, std::optional<Duration> wait);
    /// Apps that depend on `name`, directly or not, nearest last.
    std::set<std::string> dependents_of(const std::string& name) const;
    void advance_batches();
    void start_batch(std::set<std::string> names, std::optional<Duration> timeout, StopReason reason, Done done);
    void start_with_dependencies(const std::string& name, std::set<std::string>& visiting,
                                 std::vector<std::string>* started = nullptr);
    std::optional<std::string> unmet_dependency(const App& app) const;
    LaunchContext launch_context(const App& app) const;
    /// Names of the apps `app` needs before it can launch (dependsOn + app: refs).
    static std::vector<std::string> prerequisites(const AppSpec& spec);
    void forget_removed();

    Clock& clock_;
    EventLog& events_;
    AppHooks hooks_;
    std::map<std::string, std::unique_ptr<App>> apps_;
    std::map<std::string, std::vector<std::string>> rejected_;
    std::set<std::string> removing_;
    std::vector<Waiter> waiters_;
    std::vector<std::unique_ptr<StopBatch>> batches_;
    bool shutting_down_ = false;
    bool in_change_ = false;
    bool adopting_ = false;  ///< adopt_all() runs: peers may not be adopted yet
    bool change_again_ = false;
    std::uint64_t changes_ = 0;  ///< see status_generation(); the apps count through hooks_
};

}  // namespace isolated::supervisor
