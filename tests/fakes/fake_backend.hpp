// An api::Backend made of plain data: the tests set the apps, events and logs, see
// every action the API asked for, decide when actions settle, and push new events
// and log lines to whoever follows them. Header-only, so that both test tiers can
// use it (the integration tier does not compile tests/fakes/*.cpp).
#pragma once

#include <algorithm>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "api/backend.hpp"

namespace isolated::test {

class FakeBackend : public api::Backend {
public:
    /// Starts with two apps: "web" (ready, pid 100) and "db" (stopped).
    FakeBackend();
    ~FakeBackend() override;

    // ---- what the tests set ----
    std::vector<AppStatus> apps;
    std::vector<AppEvent> stored_events;
    /// get_app's "spec" by app name; an app not here gets {"command": ["/usr/bin/NAME"]}.
    std::map<std::string, AppSpec> specs;
    std::map<std::string, std::vector<api::LogLine>> logs;
    ReloadReport reload_report;
    VersionInfo version_info{"0.1.0-test", "v1", "none"};
    std::string metrics_text = "# TYPE isolated_apps gauge\nisolated_apps 2\n";
    /// What the apps' starts read from envFiles and secrets (learned_secrets()).
    LearnedSecrets learned;
    /// true: app_action applies the action and calls Done before returning.
    bool settle_at_once = true;
    /// With settle_at_once: what Done gets (nullopt = success).
    std::optional<api::ApiError> action_error;
    /// How follow_logs delivers its tail (never from inside the call). Default: kept
    /// until run_deferred(); a test with a running io_context posts it there.
    std::function<void(std::function<void()>)> defer;

    // ---- what the tests inspect ----
    struct ActionCall {
        std::string app;
        api::AppAction action;
        std::optional<Duration> timeout;
        Done done;
    };
    std::vector<ActionCall> action_calls;
    struct SignalCall {
        std::string app;
        int signal = 0;
        bool all = false;
    };
    /// Every signal_app call that reached the backend.
    std::vector<SignalCall> signal_calls;
    int reload_calls = 0;

    /// Applies pending call `i` (unless `error`) and calls its Done.
    void settle(std::size_t i, std::optional<api::ApiError> error = std::nullopt);
    /// Like EventLog::publish: assigns the next seq, stores, tells subscribers.
    AppEvent publish(AppEvent e);
    /// Appends a line to the app's output and tells its followers.
    void write_log(const std::string& app, std::string text, std::string stream = "stdout");
    void run_deferred();
    std::size_t event_subscribers() const { return event_subs_.size(); }
    std::size_t log_followers() const { return log_subs_.size(); }
    AppStatus* find(const std::string& name);

    // ---- api::Backend ----
    std::vector<AppStatus> list_apps() override;
    /// What apps_generation() answers (nullopt: none, every list is read); list_calls
    /// counts the reads.
    std::optional<std::uint64_t> generation;
    int list_calls = 0;
    std::optional<std::uint64_t> apps_generation() override { return generation; }
    std::optional<AppDetail> get_app(const std::string& name) override;
    void app_action(const std::string& name, api::AppAction action, std::optional<Duration> timeout,
                    Done done) override;
    ReloadReport reload() override;
    VersionInfo version() override;
    std::vector<AppEvent> events(const std::string& app) override;
    std::unique_ptr<api::Subscription> subscribe_events(const std::string& app,
                                                        std::function<void(const AppEvent&)> fn) override;
    api::ApiResult<std::vector<api::LogLine>> read_logs(const std::string& app, std::size_t tail,
                                                        std::optional<WallTime> since = std::nullopt) override;
    api::ApiResult<std::unique_ptr<api::Subscription>> follow_logs(
        const std::string& app, std::size_t tail, std::optional<WallTime> since,
        std::function<void(const api::LogLine&)> on_line) override;
    std::string metrics() override;
    const LearnedSecrets* learned_secrets() override { return &learned; }
    /// 404 for an unknown app, 409 for one without a pid; else the main process (pid)
    /// and, with `all`, pid + 1.
    api::ApiResult<api::SignalResult> signal_app(const std::string& app, int sig, bool all) override;

private:
    class FakeSubscription;
    struct EventSub {
        std::string app;
        std::function<void(const AppEvent&)> fn;
    };
    struct LogSub {
        std::string app;
        std::function<void(const api::LogLine&)> fn;
        bool started = false;                 ///< tail delivered
        std::vector<api::LogLine> backlog;    ///< written before the tail went out
    };

    void apply(const std::string& app, api::AppAction action);

    std::uint64_t next_seq_ = 1;
    std::uint64_t next_sub_ = 1;
    std::map<std::uint64_t, EventSub> event_subs_;
    std::map<std::uint64_t, LogSub> log_subs_;
    std::vector<std::function<void()>> deferred_;
    /// Lets subscriptions that outlive the fake (a bug in a test) find it gone.
    std::shared_ptr<FakeBackend*> self_;
};

// ---- implementation -------------------------------------------------------------------

class FakeBackend::FakeSubscription : public api::Subscription {
public:
    FakeSubscription(std::weak_ptr<FakeBackend*> backend, std::uint64_t id, bool logs)
        : backend_(std::move(backend)), id_(id), logs_(logs) {}
    ~FakeSubscription() override {
        auto b = backend_.lock();
        if (!b) return;
        if (logs_)
            (*b)->log_subs_.erase(id_);
        else
            (*b)->event_subs_.erase(id_);
    }

private:
    std::weak_ptr<FakeBackend*> backend_;
    std::uint64_t id_;
    bool logs_;
};

inline FakeBackend::FakeBackend() : self_(std::make_shared<FakeBackend*>(this)) {
    AppStatus web;
    web.name = "web";
    web.state = AppState::ready;
    web.ready = true;
    web.pid = 100;
    web.init_pid = 99;
    web.started_at = WallTime(std::chrono::seconds(1'700'000'000));
    web.address = "10.88.0.2";
    web.ports = {PortSpec{8080, 80, Protocol::tcp, ""}};
    AppStatus db;
    db.name = "db";
    apps = {web, db};
}

inline FakeBackend::~FakeBackend() = default;

inline AppStatus* FakeBackend::find(const std::string& name) {
    for (auto& a : apps)
        if (a.name == name) return &a;
    return nullptr;
}

inline void FakeBackend::apply(const std::string& app, api::AppAction action) {
    AppStatus* a = find(app);
    if (!a) return;
    if (action == api::AppAction::stop) {
        a->state = AppState::stopped;
        a->ready = false;
        a->pid = 0;
        a->init_pid = 0;
    } else {
        a->state = AppState::ready;
        a->ready = true;
        a->pid = a->pid ? a->pid + 1 : 200;
        a->init_pid = a->pid - 1;
    }
}

inline void FakeBackend::settle(std::size_t i, std::optional<api::ApiError> error) {
    auto& call = action_calls.at(i);
    if (!error) apply(call.app, call.action);
    auto done = std::exchange(call.done, nullptr);
    if (!done) return;
    if (error)
        done(std::move(*error));
    else
        done(api::ApiResult<void>{});
}

inline AppEvent FakeBackend::publish(AppEvent e) {
    // Tests may also fill stored_events by hand: keep seq increasing past them.
    if (!stored_events.empty()) next_seq_ = std::max(next_seq_, stored_events.back().seq + 1);
    e.seq = next_seq_++;
    stored_events.push_back(e);
    std::vector<std::uint64_t> ids;
    for (const auto& [id, sub] : event_subs_) ids.push_back(id);
    for (auto id : ids) {
        auto it = event_subs_.find(id);  // an earlier listener may have unsubscribed it
        if (it == event_subs_.end()) continue;
        if (it->second.app.empty() || it->second.app == e.app) {
            auto fn = it->second.fn;
            fn(e);
        }
    }
    return e;
}

inline void FakeBackend::write_log(const std::string& app, std::string text, std::string stream) {
    api::LogLine line{WallTime(std::chrono::seconds(1'700'000'000)) + std::chrono::milliseconds(logs[app].size()),
                      std::move(stream), std::move(text)};
    logs[app].push_back(line);
    std::vector<std::uint64_t> ids;
    for (const auto& [id, sub] : log_subs_) ids.push_back(id);
    for (auto id : ids) {
        auto it = log_subs_.find(id);
        if (it == log_subs_.end() || it->second.app != app) continue;
        if (!it->second.started) {
            it->second.backlog.push_back(line);
            continue;
        }
        auto fn = it->second.fn;
        fn(line);
    }
}

inline void FakeBackend::run_deferred() {
    auto work = std::exchange(deferred_, {});
    for (auto& fn : work) fn();
}

inline std::vector<AppStatus> FakeBackend::list_apps() {
    ++list_calls;
    return apps;
}

inline std::optional<AppDetail> FakeBackend::get_app(const std::string& name) {
    AppStatus* a = find(name);
    if (!a) return std::nullopt;
    AppDetail d;
    d.status = *a;
    d.spec.name = name;
    d.spec.command = {"/usr/bin/" + name};
    if (auto it = specs.find(name); it != specs.end()) d.spec = it->second;
    d.events = events(name);
    return d;
}

inline void FakeBackend::app_action(const std::string& name, api::AppAction action,
                                    std::optional<Duration> timeout, Done done) {
    action_calls.push_back({name, action, timeout, std::move(done)});
    if (!find(name)) {
        settle(action_calls.size() - 1,
               api::ApiError{404, api_error::not_found, "no app named \"" + name + "\""});
        return;
    }
    if (settle_at_once) settle(action_calls.size() - 1, action_error);
}

inline ReloadReport FakeBackend::reload() {
    ++reload_calls;
    return reload_report;
}

inline VersionInfo FakeBackend::version() { return version_info; }

inline std::vector<AppEvent> FakeBackend::events(const std::string& app) {
    std::vector<AppEvent> out;
    for (const auto& e : stored_events)
        if (app.empty() || e.app == app) out.push_back(e);
    return out;
}

inline std::unique_ptr<api::Subscription> FakeBackend::subscribe_events(const std::string& app,
                                                                        std::function<void(const AppEvent&)> fn) {
    auto id = next_sub_++;
    event_subs_[id] = EventSub{app, std::move(fn)};
    return std::make_unique<FakeSubscription>(self_, id, /* logs= */ false);
}

inline api::ApiResult<std::vector<api::LogLine>> FakeBackend::read_logs(const std::string& app, std::size_t tail,
                                                                        std::optional<WallTime> since) {
    if (!find(app)) return api::ApiError{404, api_error::not_found, "no app named \"" + app + "\""};
    std::vector<api::LogLine> all;
    for (const auto& line : logs[app])
        if (!since || line.time >= *since) all.push_back(line);
    std::size_t from = tail >= all.size() ? 0 : all.size() - tail;
    return std::vector<api::LogLine>(all.begin() + static_cast<std::ptrdiff_t>(from), all.end());
}

inline api::ApiResult<std::unique_ptr<api::Subscription>> FakeBackend::follow_logs(
    const std::string& app, std::size_t tail, std::optional<WallTime> since,
    std::function<void(const api::LogLine&)> on_line) {
    auto lines = read_logs(app, tail, since);
    if (!lines) return lines.error();
    auto id = next_sub_++;
    log_subs_[id] = LogSub{app, std::move(on_line), false, {}};
    auto deliver = [weak = std::weak_ptr<FakeBackend*>(self_), id, tail_lines = std::move(*lines)] {
        auto b = weak.lock();
        if (!b) return;
        auto& subs = (*b)->log_subs_;
        auto it = subs.find(id);
        if (it == subs.end()) return;
        auto fn = it->second.fn;
        for (const auto& line : tail_lines) fn(line);
        it = subs.find(id);
        if (it == subs.end()) return;
        for (const auto& line : std::exchange(it->second.backlog, {})) fn(line);
        it->second.started = true;
    };
    if (defer)
        defer(std::move(deliver));
    else
        deferred_.push_back(std::move(deliver));
    return std::unique_ptr<api::Subscription>(std::make_unique<FakeSubscription>(self_, id, /* logs= */ true));
}

inline std::string FakeBackend::metrics() { return metrics_text; }

inline api::ApiResult<api::SignalResult> FakeBackend::signal_app(const std::string& app, int sig, bool all) {
    signal_calls.push_back({app, sig, all});
    AppStatus* a = find(app);
    if (!a) return api::ApiError{404, api_error::not_found, "no app named \"" + app + "\""};
    if (a->pid <= 0) return api::ApiError{409, api_error::conflict, app + " is " + to_string(a->state) + ", not running"};
    api::SignalResult out;
    out.signal = sig;
    out.all = all;
    out.main_pid = a->pid;
    out.pids = {a->pid};
    if (all) out.pids.push_back(a->pid + 1);
    return out;
}

}  // namespace isolated::test
