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
#include "supervisor/probe_host.hpp"
#include "supervisor/runtime.hpp"

namespace isolated::supervisor {

class Supervisor {
public:
    /// Completion of an operator command: nullopt on success, else why it failed.
    using Done = std::function<void(std::optional<std::string> error)>;

    /// `probes` runs the instances' health probes; null = no probes are run.
    Supervisor(Clock& clock, Runtime& runtime, EventLog& events, RandomSource random, ProbeHost* probes = nullptr);
    ~Supervisor();

    /// Replaces the (empty) registry with `apps`, without starting them.
    void load(const std::map<std::string, AppSpec>& apps);
    /// After load(), before start_all(): adopts every instance an earlier daemon left
    /// (App::adopt). Instances of apps no longer defined are stopped by their recorded
    /// definition, as a reload that removed them would. Returns the defined apps that
    /// were adopted -- running, or handled by their restart policy after an exit.
    std::set<std::string> adopt_all();
    /// Starts every app, dependencies first, except those in `skip` (adopted ones).
    void start_all(const std::set<std::string>& skip = {});

    bool contains(const std::string& name) const { return apps_.count(name) != 0; }
    std::vector<AppStatus> list() const;
    std::optional<AppDetail> detail(const std::string& name) const;
    /// Counts by state, for status lines ("5 apps: 4 ready, 1 backoff").
    std::map<AppState, std::size_t> census() const;

    /// `done` fires once the app is up (success), or has landed in backoff, failed or
    /// stopped (error). Dependencies that are down are started too.
    void start(const std::string& name, Done done);
    /// `done` fires once the app is stopped or failed.
    void stop(const std::string& name, std::optional<Duration> timeout, Done done);
    void restart(const std::string& name, std::optional<Duration> timeout, Done done);

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
        bool want_up;  // start/restart: true; stop: false
        Done done;
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
    void settle_waiters(App& app);
    void advance_batches();
    void start_batch(std::set<std::string> names, std::optional<Duration> timeout, StopReason reason, Done done);
    void start_with_dependencies(const std::string& name, std::set<std::string>& visiting);
    std::optional<std::string> unmet_dependency(const App& app) const;
    LaunchContext launch_context(const App& app) const;
    /// Names of the apps `app` needs before it can launch (dependsOn + app: refs).
    static std::vector<std::string> prerequisites(const AppSpec& spec);
    void forget_removed();

    Clock& clock_;
    EventLog& events_;
    AppHooks hooks_;
    std::map<std::string, std::unique_ptr<App>> apps_;
    std::set<std::string> removing_;
    std::vector<Waiter> waiters_;
    std::vector<std::unique_ptr<StopBatch>> batches_;
    bool shutting_down_ = false;
    bool in_change_ = false;
    bool change_again_ = false;
};

}  // namespace isolated::supervisor
