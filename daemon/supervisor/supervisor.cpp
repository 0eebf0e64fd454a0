#include "supervisor/supervisor.hpp"

#include <algorithm>

#include "host/log.hpp"
#include "sys/crash_point.hpp"

namespace isolated::supervisor {

Supervisor::Supervisor(Clock& clock, Runtime& runtime, EventLog& events, RandomSource random, ProbeHost* probes,
                       HookRunner* hooks)
    : clock_(clock), events_(events) {
    hooks_.clock = &clock;
    hooks_.runtime = &runtime;
    hooks_.events = &events;
    hooks_.probes = probes;
    hooks_.hook_runner = hooks;
    hooks_.random = std::move(random);
    hooks_.unmet_dependency = [this](const App& a) { return unmet_dependency(a); };
    hooks_.launch_context = [this](const App& a) { return launch_context(a); };
    hooks_.changed = [this](App&) { pump(); };
    hooks_.status_changes = &changes_;
}

Supervisor::~Supervisor() {
    // Apps go away with their instances detached, not killed: whoever destroys the
    // supervisor without shutdown() leaves the apps running (for adoption).
    hooks_.changed = nullptr;
    apps_.clear();
}

void Supervisor::load(const std::map<std::string, AppSpec>& apps) {
    ++changes_;
    for (const auto& [name, spec] : apps) add_app(spec);
}

void Supervisor::set_rejected(const std::map<std::string, std::vector<Diagnostic>>& rejected) {
    ++changes_;
    rejected_.clear();
    for (const auto& [name, errors] : rejected) {
        if (name.empty()) continue;  // the directory itself (missing): not an app
        auto& out = rejected_[name];
        for (const auto& d : errors) out.push_back(d.to_string());
    }
}

App& Supervisor::add_app(const AppSpec& spec) {
    ++changes_;
    auto app = std::make_unique<App>(spec, hooks_);
    App& ref = *app;
    apps_[spec.name] = std::move(app);
    return ref;
}

std::set<std::string> Supervisor::adopt_all() {
    ++changes_;
    std::set<std::string> adopted, orphans;
    adopting_ = true;
    auto stopped = hooks_.runtime->remembered_stopped();
    // Stop markers of apps with neither a file nor an instance (removed while no daemon
    // ran): nothing of them is left to keep stopped.
    auto recorded = hooks_.runtime->recorded_instances();
    for (const auto& name : stopped)
        if (!apps_.count(name) && !rejected_.count(name) &&
            std::find(recorded.begin(), recorded.end(), name) == recorded.end()) {
            hooks_.runtime->remember_stopped(name, false);
            hooks_.runtime->forget(name);
        }
    for (const auto& name : hooks_.runtime->recorded_instances()) {
        auto it = apps_.find(name);
        if (it != apps_.end()) {
            if (!it->second->adopt(/*defined=*/true)) continue;
            adopted.insert(name);
            sys::crash_point("adopt.between-apps");
            // The daemon died while stopping it for the operator: finish that stop.
            if (stopped.count(name) && !it->second->is_down()) it->second->stop(std::nullopt, StopReason::user);
            continue;
        }
        AppSpec placeholder;
        placeholder.name = name;
        App& app = add_app(placeholder);
        if (rejected_.count(name)) {
            // Its file is there but rejected (an edit that does not parse): the instance
            // keeps the definition it runs with, the last good one, as a reload keeps it
            // -- a daemon restart must not turn a bad edit into an outage.
            if (app.adopt(/*defined=*/true, /*keep_recorded=*/true)) {
                host::log_warning(name, "its app file is rejected; the running instance keeps the definition it was "
                                        "started with");
                adopted.insert(name);
            } else {
                apps_.erase(name);
            }
            continue;
        }
        if (app.adopt(/*defined=*/false)) {
            host::log_info(name, "its app file is gone; stopping the adopted instance");
            orphans.insert(name);
        } else {
            apps_.erase(name);
        }
    }
    if (!orphans.empty()) {
        removing_.insert(orphans.begin(), orphans.end());
        start_batch(orphans, std::nullopt, StopReason::removed, [](std::optional<std::string>) {});
    }
    adopting_ = false;
    pump();
    return adopted;
}

void Supervisor::start_all(const std::set<std::string>& skip) {
    ++changes_;
    std::map<std::string, AppSpec> specs;
    for (const auto& [name, app] : apps_) specs.emplace(name, app->spec());
    // Apps an operator stopped stay stopped across daemon restarts (until a reboot
    // clears the run dir, or `isoctl start`).
    auto stopped = hooks_.runtime->remembered_stopped();
    for (const auto& name : start_order(specs)) {
        if (skip.count(name) || removing_.count(name)) continue;
        if (stopped.count(name)) {
            host::log_info(name, "stays stopped: an operator stopped it (isoctl start starts it)");
            continue;
        }
        if (!apps_.at(name)->spec().autostart) {
            host::log_info(name, "stays stopped: autostart is false (isoctl start starts it)");
            continue;
        }
        apps_.at(name)->start();
    }
    // Sandboxes an earlier daemon kept for apps that do not start now (removed while no
    // daemon ran, stopped by the operator, autostart false, failed at adoption) go;
    // those of apps starting again (a backoff the daemon died in) are reused.
    for (const auto& name : hooks_.runtime->kept_sandboxes()) {
        auto it = apps_.find(name);
        if (it == apps_.end() || it->second->is_down()) hooks_.runtime->release_sandbox(name);
    }
}

std::vector<AppStatus> Supervisor::list() const {
    std::vector<AppStatus> out;
    out.reserve(apps_.size());
    for (const auto& [name, app] : apps_) {
        out.push_back(app->status());
        if (auto r = rejected_.find(name); r != rejected_.end()) out.back().file_errors = r->second;
    }
    // Files rejected before their app was ever accepted: listed, `failed`, so that a
    // broken file is seen where operators look.
    for (const auto& [name, errors] : rejected_) {
        if (apps_.count(name)) continue;
        AppStatus st;
        st.name = name;
        st.state = AppState::failed;
        st.message = "app file rejected: " + (errors.empty() ? std::string("invalid") : errors.front());
        st.file_errors = errors;
        out.push_back(std::move(st));
    }
    std::sort(out.begin(), out.end(), [](const AppStatus& a, const AppStatus& b) { return a.name < b.name; });
    return out;
}

std::set<std::string> Supervisor::launched_with(NetworkMode mode) const {
    std::set<std::string> out;
    for (const auto& [name, app] : apps_)
        if (app->has_instance() && app->instance()->info().init_pid > 0 && app->spec().network.mode == mode)
            out.insert(name);
    return out;
}

std::optional<AppDetail> Supervisor::detail(const std::string& name) const {
    auto it = apps_.find(name);
    auto rejected = rejected_.find(name);
    if (it == apps_.end()) {
        if (rejected == rejected_.end()) return std::nullopt;
        AppDetail d;
        for (auto& st : list())
            if (st.name == name) d.status = std::move(st);
        d.spec.name = name;
        d.has_spec = false;
        d.events = events_.recent(name, 50);
        return d;
    }
    AppDetail d;
    d.status = it->second->status();
    if (rejected != rejected_.end()) d.status.file_errors = rejected->second;
    d.spec = it->second->spec();
    d.events = events_.recent(name, 50);
    return d;
}

SandboxHandle Supervisor::sandbox(const std::string& name) const {
    auto it = apps_.find(name);
    if (it == apps_.end() || !it->second->instance()) return {};
    return it->second->instance()->sandbox();
}

std::map<AppState, std::size_t> Supervisor::census() const {
    std::map<AppState, std::size_t> out;
    for (const auto& [name, app] : apps_) ++out[app->state()];
    for (const auto& [name, errors] : rejected_)
        if (!apps_.count(name)) ++out[AppState::failed];
    return out;
}

// ---- operator commands -------------------------------------------------------------------

void Supervisor::start_with_dependencies(const std::string& name, std::set<std::string>& visiting,
                                         std::vector<std::string>* started) {
    auto it = apps_.find(name);
    if (it == apps_.end() || !visiting.insert(name).second) return;
    for (const auto& dep : prerequisites(it->second->spec()))
        if (auto d = apps_.find(dep); d != apps_.end() && d->second->is_down()) {
            hooks_.runtime->remember_stopped(dep, false);
            start_with_dependencies(dep, visiting, started);
            if (started) started->push_back(dep);
        }
    it->second->start();
}

namespace {
std::string not_defined(const std::string& name) { return "no app named \"" + name + "\""; }
}  // namespace

void Supervisor::start(const std::string& name, Done done, std::optional<Duration> wait) {
    if (!contains(name)) {
        if (auto r = rejected_.find(name); r != rejected_.end())
            return done(name + "'s app file is rejected: " + (r->second.empty() ? "" : r->second.front()));
        return done(not_defined(name));
    }
    hooks_.runtime->remember_stopped(name, false);
    bool was_up = apps_.at(name)->is_up();
    // Register the waiter after the starts: starting a dependency publishes events
    // that pump(), and a waiter registered earlier would see this app still stopped.
    std::set<std::string> visiting;
    std::vector<std::string> started;
    start_with_dependencies(name, visiting, &started);
    add_waiter(name, std::move(done), std::move(started), wait);
    if (was_up) waiters_.back().was_up = true;
    pump();
}

void Supervisor::stop(const std::string& name, std::optional<Duration> timeout, Done done) {
    auto it = apps_.find(name);
    if (it == apps_.end()) return done(not_defined(name));
    // Dependents go down first and stay down (systemd's Requires=: stopping a unit
    // stops what requires it): they would lose what they depend on anyway.
    std::set<std::string> names{name};
    for (const auto& dep : dependents_of(name)) {
        if (apps_.at(dep)->is_down()) continue;
        names.insert(dep);
        AppEvent e;
        e.time = clock_.wall_now();
        e.app = dep;
        e.type = "stop";
        e.message = "stopping: it depends on " + name + ", which is being stopped";
        host::log_info(dep, e.message);
        events_.publish(std::move(e));
    }
    for (const auto& n : names) hooks_.runtime->remember_stopped(n, true);
    start_batch(std::move(names), timeout, StopReason::user, std::move(done));
}

void Supervisor::restart(const std::string& name, std::optional<Duration> timeout, Done done) {
    auto it = apps_.find(name);
    if (it == apps_.end()) return done(not_defined(name));
    hooks_.runtime->remember_stopped(name, false);
    std::set<std::string> visiting{name};
    std::vector<std::string> started;
    for (const auto& dep : prerequisites(it->second->spec()))
        if (auto d = apps_.find(dep); d != apps_.end() && d->second->is_down()) {
            hooks_.runtime->remember_stopped(dep, false);
            start_with_dependencies(dep, visiting, &started);
            started.push_back(dep);
        }
    it->second->restart(timeout);
    add_waiter(name, std::move(done), std::move(started), std::nullopt);
    pump();
}

Result<SignalDelivery> Supervisor::signal(const std::string& name, int sig, bool all) {
    ++changes_;
    auto it = apps_.find(name);
    if (it == apps_.end()) return Error::msg(not_defined(name));
    return it->second->send_signal(sig, all);
}

std::set<std::string> Supervisor::dependents_of(const std::string& name) const {
    std::set<std::string> out;
    std::vector<std::string> queue{name};
    for (size_t i = 0; i < queue.size(); ++i)
        for (const auto& [other, app] : apps_) {
            if (other == name || out.count(other)) continue;
            auto deps = prerequisites(app->spec());
            if (std::find(deps.begin(), deps.end(), queue[i]) == deps.end()) continue;
            out.insert(other);
            queue.push_back(other);
        }
    return out;
}

void Supervisor::add_waiter(const std::string& name, Done done, std::vector<std::string> also,
                            std::optional<Duration> wait) {
    Waiter w;
    w.app = name;
    w.done = std::move(done);
    w.also = std::move(also);
    Duration limit = wait.value_or(default_wait_timeout);
    if (!wait) {
        // A startup probe may take its whole budget before the app counts as started.
        if (const auto& p = apps_.at(name)->spec().probes.startup)
            limit += p->initial_delay + p->period * p->failure_threshold;
    }
    w.limit = limit;
    w.deadline = clock_.now() + limit;
    w.expire = clock_.schedule(limit, [this] { pump(); });
    waiters_.push_back(std::move(w));
}

void Supervisor::shutdown(Done done) {
    ++changes_;
    shutting_down_ = true;
    std::set<std::string> all;
    for (const auto& [name, app] : apps_) all.insert(name);
    start_batch(std::move(all), std::nullopt, StopReason::shutdown, [this, done = std::move(done)](std::optional<std::string> e) {
        // A clean stop of the daemon stops every app with it: the next daemon starts
        // them afresh (restart count 0, no last exit), as it did before the history
        // was kept. Only a daemon that dies leaves counts behind for the next one.
        for (const auto& [name, app] : apps_) hooks_.runtime->remember_history(name, {});
        done(std::move(e));
    });
}

// ---- reload ------------------------------------------------------------------------------

ReloadReport Supervisor::reload(const AppDir& fresh) {
    ++changes_;
    ReloadReport report;
    for (const auto& [name, errors] : fresh.rejected) {
        RejectedApp r{name, {}};
        for (const auto& d : errors) r.errors.push_back(d.to_string());
        report.rejected.push_back(std::move(r));
        if (contains(name)) host::log_warning(name, "new definition rejected; keeping the last good one");
    }
    for (const auto& [name, spec] : fresh.apps) {
        auto it = apps_.find(name);
        if (it == apps_.end()) {
            report.added.push_back(name);
            add_app(spec);
            continue;
        }
        bool was_removing = removing_.erase(name) > 0;
        if (it->second->spec().same_definition(spec) && !was_removing) {
            report.unchanged.push_back(name);
            it->second->replace_equivalent_spec(spec);  // e.g. autostart changed: no restart
            continue;
        }
        report.changed.push_back(name);
        it->second->redefine(spec);
        if (was_removing) it->second->start();
        sys::crash_point("reload.between-apps");
    }
    std::set<std::string> removed;
    for (const auto& [name, app] : apps_) {
        if (fresh.apps.count(name) || fresh.rejected.count(name) || removing_.count(name)) continue;
        removed.insert(name);
        report.removed.push_back(name);
    }
    // Start the added ones (dependencies first), stop the removed ones (dependents first).
    std::map<std::string, AppSpec> specs;
    for (const auto& [name, app] : apps_) specs.emplace(name, app->spec());
    // An added app the operator stopped stays stopped, as at a daemon start: a daemon
    // that started while its file was broken never had it, and a fixed file is no
    // `isoctl start`.
    auto stopped = hooks_.runtime->remembered_stopped();
    for (const auto& name : start_order(specs))
        if (std::find(report.added.begin(), report.added.end(), name) != report.added.end() &&
            apps_.at(name)->spec().autostart && !stopped.count(name)) {
            apps_.at(name)->start();
            sys::crash_point("reload.between-apps");
        }
    // A file rejected before it was ever accepted, now gone: the app is gone, and so is
    // what was kept for it (an operator's stop marker from an earlier daemon, its
    // history), or a file of that name added later would inherit them.
    for (const auto& [name, _] : rejected_)
        if (!apps_.count(name) && !fresh.rejected.count(name)) {
            hooks_.runtime->remember_stopped(name, false);
            hooks_.runtime->forget(name);
        }
    set_rejected(fresh.rejected);
    if (!removed.empty()) {
        removing_.insert(removed.begin(), removed.end());
        start_batch(removed, std::nullopt, StopReason::removed, [](std::optional<std::string>) {});
    }

    AppEvent e;
    e.time = clock_.wall_now();
    e.type = "reload";
    e.message = std::to_string(report.added.size()) + " added, " + std::to_string(report.changed.size()) +
                " changed, " + std::to_string(report.removed.size()) + " removed, " +
                std::to_string(report.rejected.size()) + " rejected";
    host::log_info("", "reload: " + e.message);
    events_.publish(std::move(e));
    pump();
    return report;
}

void Supervisor::forget_removed() {
    ++changes_;
    for (auto it = removing_.begin(); it != removing_.end();) {
        auto app = apps_.find(*it);
        if (app == apps_.end()) {
            it = removing_.erase(it);
            continue;
        }
        if (!app->second->is_down()) {
            ++it;
            continue;
        }
        for (auto w = waiters_.begin(); w != waiters_.end();) {
            if (w->app == *it) {
                auto done = std::move(w->done);
                w = waiters_.erase(w);
                done("app \"" + app->first + "\" was removed");
            } else {
                ++w;
            }
        }
        host::log_info(*it, "removed");
        hooks_.runtime->remember_stopped(*it, false);
        hooks_.runtime->forget(*it);
        apps_.erase(app);
        it = removing_.erase(it);
    }
}

// ---- dependencies ------------------------------------------------------------------------

std::vector<std::string> Supervisor::prerequisites(const AppSpec& spec) {
    std::vector<std::string> out = spec.depends_on;
    auto add = [&](const std::string& n) {
        if (!n.empty() && std::find(out.begin(), out.end(), n) == out.end()) out.push_back(n);
    };
    if (spec.network.mode == NetworkMode::app) add(spec.network.app);
    for (const auto* ns : {&spec.namespaces.pid, &spec.namespaces.ipc, &spec.namespaces.uts})
        if (ns->kind == NamespaceKind::app) add(ns->app);
    return out;
}

std::optional<std::string> Supervisor::unmet_dependency(const App& app) const {
    const auto& spec = app.spec();
    for (const auto& dep : spec.depends_on) {
        auto it = apps_.find(dep);
        if (it == apps_.end() || removing_.count(dep)) return "waiting for " + dep + " (not defined)";
        if (it->second->state() != AppState::ready)
            return "waiting for " + dep + " to be ready (it is " + to_string(it->second->state()) + ")";
    }
    for (const auto& dep : prerequisites(spec)) {
        if (std::find(spec.depends_on.begin(), spec.depends_on.end(), dep) != spec.depends_on.end()) continue;
        auto it = apps_.find(dep);
        if (it == apps_.end()) return "waiting for " + dep + " (not defined)";
        if (!it->second->is_up() || !it->second->has_instance())
            return "waiting for " + dep + " to be running to join its namespaces (it is " +
                   to_string(it->second->state()) + ")";
    }
    return std::nullopt;
}

LaunchContext Supervisor::launch_context(const App& app) const {
    LaunchContext ctx;
    for (const auto& dep : prerequisites(app.spec()))
        if (auto it = apps_.find(dep); it != apps_.end() && it->second->instance())
            ctx.peers[dep] = it->second->instance();
    return ctx;
}

// ---- change propagation ------------------------------------------------------------------

void Supervisor::pump() {
    ++changes_;
    // State changes cascade (a dependency becomes ready -> a dependent launches ->
    // ...). Handle them iteratively rather than recursively.
    if (in_change_) {
        change_again_ = true;
        return;
    }
    in_change_ = true;
    do {
        change_again_ = false;
        for (auto& [name, app] : apps_)
            if (!removing_.count(name)) app->dependencies_changed();
        // Not while adopting: a peer not yet adopted has no instance yet.
        if (!adopting_)
            for (auto& [name, app] : apps_)
                app->check_joined_peers([this](const std::string& peer) -> std::optional<SandboxHandle> {
                    auto it = apps_.find(peer);
                    if (it == apps_.end() || !it->second->instance()) return std::nullopt;
                    return it->second->instance()->sandbox();
                });
        settle_waiters();
        advance_batches();
    } while (change_again_);
    in_change_ = false;
    bool any_gone = std::any_of(removing_.begin(), removing_.end(), [this](const std::string& n) {
        auto it = apps_.find(n);
        return it == apps_.end() || it->second->is_down();
    });
    // Not from inside the App's own call stack: the App may be the one being erased.
    if (any_gone) clock_.post([this] { forget_removed(); });
}

bool Supervisor::came_up(const App& app, Waiter* w) {
    const auto& p = app.spec().probes;
    if (hooks_.probes && (p.startup || p.readiness)) return app.state() == AppState::ready;
    if (!app.is_up()) {
        if (w) w->up_since.reset();
        return false;
    }
    if (!w || w->was_up || settle <= Duration(0)) return true;
    // No probe to say it works: it must at least not exit at once (a command that
    // fails on its first line is a failed start, not a started app).
    auto now = clock_.now();
    if (!w->up_since) {
        w->up_since = now;
        w->wake = clock_.schedule(settle, [this] { pump(); });
    }
    return now - *w->up_since >= settle;
}

std::optional<std::optional<std::string>> Supervisor::outcome(Waiter& w) {
    using Outcome = std::optional<std::optional<std::string>>;
    auto it = apps_.find(w.app);
    if (it == apps_.end()) return Outcome{std::optional<std::string>{"app \"" + w.app + "\" was removed"}};
    auto down = [](const App& a) {
        AppState s = a.state();
        return s == AppState::backoff || s == AppState::failed || s == AppState::stopped;
    };
    auto failure = [](const App& a) {
        std::string m = a.status().message;
        return a.name() + " is " + to_string(a.state()) + (m.empty() ? "" : ": " + m);
    };
    const App& app = *it->second;
    bool up = came_up(app, &w);
    if (!up && down(app)) return Outcome{std::optional<std::string>{failure(app)}};
    bool all = up;
    for (const auto& dep : w.also) {
        auto d = apps_.find(dep);
        if (d == apps_.end()) continue;
        const auto& deps = app.spec().depends_on;
        bool needs_ready = std::find(deps.begin(), deps.end(), dep) != deps.end();
        bool dep_up = needs_ready ? d->second->state() == AppState::ready : d->second->is_up();
        if (!dep_up && down(*d->second))
            return Outcome{std::optional<std::string>{"dependency " + failure(*d->second)}};
        all = all && dep_up;
    }
    if (all) return Outcome{std::optional<std::string>{}};
    if (clock_.now() >= w.deadline) {
        std::string m = app.status().message;
        return Outcome{std::optional<std::string>{w.app + " is not up after " + format_duration(w.limit) + " (it is " +
                                                  to_string(app.state()) + (m.empty() ? "" : ": " + m) + ")"}};
    }
    return std::nullopt;
}

void Supervisor::settle_waiters() {
    for (auto it = waiters_.begin(); it != waiters_.end();) {
        auto result = outcome(*it);
        if (!result) {
            ++it;
            continue;
        }
        auto done = std::move(it->done);
        it = waiters_.erase(it);
        done(*result);
        // `done` may have added waiters: restart the scan.
        it = waiters_.begin();
    }
}

void Supervisor::start_batch(std::set<std::string> names, std::optional<Duration> timeout, StopReason reason,
                             Done done) {
    auto b = std::make_unique<StopBatch>();
    b->names = std::move(names);
    b->timeout = timeout;
    b->reason = reason;
    b->done = std::move(done);
    batches_.push_back(std::move(b));
    pump();
}

void Supervisor::advance_batches() {
    for (auto bit = batches_.begin(); bit != batches_.end();) {
        StopBatch& b = **bit;
        auto down = [&](const std::string& n) {
            auto it = apps_.find(n);
            return it == apps_.end() || it->second->is_down();
        };
        bool progressed = true;
        while (progressed) {
            progressed = false;
            for (const auto& name : b.names) {
                if (b.asked.count(name) || down(name)) continue;
                // Dependents inside the batch go first.
                bool blocked = false;
                for (const auto& other : b.names) {
                    if (other == name || down(other)) continue;
                    auto deps = prerequisites(apps_.at(other)->spec());
                    if (std::find(deps.begin(), deps.end(), name) != deps.end()) blocked = true;
                }
                if (blocked) continue;
                b.asked.insert(name);
                apps_.at(name)->stop(b.timeout, b.reason);
                progressed = true;
            }
        }
        // A dependency cycle (rejected at load, but be safe) would block forever: if
        // nothing is on its way down, ask the rest at once.
        bool waiting = std::any_of(b.asked.begin(), b.asked.end(), [&](const std::string& n) { return !down(n); });
        if (!waiting)
            for (const auto& name : b.names)
                if (!down(name) && b.asked.insert(name).second) apps_.at(name)->stop(b.timeout, b.reason);
        bool all_down = std::all_of(b.names.begin(), b.names.end(), down);
        if (all_down) {
            auto done = std::move(b.done);
            bit = batches_.erase(bit);
            if (done) done(std::nullopt);
            bit = batches_.begin();  // done may have changed the list
            continue;
        }
        ++bit;
    }
}

}  // namespace isolated::supervisor
