// The supervisor's state machine, driven by a manual clock and a fake runtime.
#include <catch2/catch.hpp>

#include <csignal>

#include "fakes/fake_probe_host.hpp"
#include "fakes/fake_runtime.hpp"
#include "fakes/manual_clock.hpp"
#include "supervisor/backoff.hpp"
#include "fakes/supervisor_rig.hpp"
#include "supervisor/supervisor.hpp"

using namespace isolated;
using namespace isolated::supervisor;
using namespace std::chrono_literals;
using isolated::test::FakeProbeHost;
using isolated::test::FakeRuntime;
using isolated::test::ManualClock;

namespace {

using isolated::test::make_spec;

struct Rig : isolated::test::SupervisorRig {
    AppState state(const std::string& n) const {
        for (auto& s : sup.list())
            if (s.name == n) return s.state;
        FAIL("no app " << n);
        return AppState::failed;
    }
};

/// A Rig whose supervisor runs probes through a FakeProbeHost.
struct ProbeRig {
    ManualClock clock;
    FakeRuntime runtime;
    FakeProbeHost probes;
    EventLog events;
    Supervisor sup{clock, runtime, events, [] { return 0.5; }, &probes};
    ProbeRig() { sup.settle = Duration(0); }

    AppState state(const std::string& n) const { return sup.detail(n)->status.state; }
    AppStatus status(const std::string& n) const { return sup.detail(n)->status; }
    void load(const std::vector<AppSpec>& specs) { isolated::test::load_specs(sup, specs); }
    /// Messages of the app's events of `type`.
    std::vector<std::string> messages(const std::string& app, const std::string& type) const {
        std::vector<std::string> out;
        for (auto& e : events.recent(app))
            if (e.type == type) out.push_back(e.message);
        return out;
    }
    std::vector<std::string> states(const std::string& app) const {
        std::vector<std::string> out;
        for (auto& e : events.recent(app))
            if (e.type == "state") out.push_back(e.state);
        return out;
    }
};

ProbeSpec http_probe() {
    ProbeSpec p;
    p.kind = ProbeKind::http;
    p.port = 80;
    return p;
}

struct Outcome {
    bool called = false;
    std::optional<std::string> error;
    Supervisor::Done fn() {
        return [this](std::optional<std::string> e) {
            called = true;
            error = std::move(e);
        };
    }
};

}  // namespace

TEST_CASE("backoff doubles from the initial delay up to the cap", "[backoff]") {
    BackoffSpec b;  // 1s, x2, 5m cap, 10% jitter
    CHECK(backoff_delay(1, b, 0.5) == 1s);
    CHECK(backoff_delay(2, b, 0.5) == 2s);
    CHECK(backoff_delay(3, b, 0.5) == 4s);
    CHECK(backoff_delay(9, b, 0.5) == 256s);
    CHECK(backoff_delay(10, b, 0.5) == 300s);
    CHECK(backoff_delay(1000, b, 0.5) == 300s);  // no overflow
    CHECK(backoff_delay(0, b, 0.5) == 1s);
}

TEST_CASE("backoff jitter spreads by +-jitter, also at the cap", "[backoff]") {
    BackoffSpec b;
    CHECK(backoff_delay(1, b, 0.0) == 900ms);
    CHECK(backoff_delay(1, b, 0.999999) == 1100ms);
    CHECK(backoff_delay(20, b, 0.0) == 270s);
    CHECK(backoff_delay(20, b, 0.999999) == 330s);
    b.jitter = 0;
    CHECK(backoff_delay(3, b, 0.0) == 4s);
}

TEST_CASE("backoff honours factor and initial", "[backoff]") {
    BackoffSpec b;
    b.initial = 500ms;
    b.factor = 3;
    b.max = 10s;
    b.jitter = 0;
    CHECK(backoff_delay(1, b, 0.5) == 500ms);
    CHECK(backoff_delay(2, b, 0.5) == 1500ms);
    CHECK(backoff_delay(3, b, 0.5) == 4500ms);
    CHECK(backoff_delay(4, b, 0.5) == 10s);
    b.factor = 1;
    CHECK(backoff_delay(7, b, 0.5) == 500ms);
}

TEST_CASE("backoff count resets after resetAfter of clean running", "[backoff]") {
    BackoffSpec b;
    BackoffTracker t;
    SteadyTime t0{};
    CHECK(t.record_exit(t0, t0 + 1s, b) == 1);
    CHECK(t.record_exit(t0, t0 + 1s, b) == 2);
    CHECK(t.record_exit(t0, t0 + 9min, b) == 3);
    CHECK(t.record_exit(t0, t0 + 10min, b) == 1);
    t.reset();
    CHECK(t.record_exit(t0, t0 + 1s, b) == 1);
}

TEST_CASE("an app starts, becomes ready without a readiness probe, and reports its pid", "[supervisor]") {
    Rig r;
    r.load({make_spec("web")});
    r.sup.start_all();
    CHECK(r.state("web") == AppState::starting);
    REQUIRE(r.runtime.launch_count("web") == 1);
    r.runtime.started("web");
    CHECK(r.state("web") == AppState::ready);
    auto st = r.status("web");
    CHECK(st.ready);
    CHECK(st.pid == r.runtime.last("web")->info.pid);
    CHECK(st.init_pid == r.runtime.last("web")->info.init_pid);
    CHECK(st.started_at.has_value());
    CHECK(st.restarts == 0);
}

TEST_CASE("with a readiness probe a started app is running, not ready", "[supervisor]") {
    Rig r;
    auto s = make_spec("web");
    s.probes.readiness = ProbeSpec{};
    r.load({s});
    r.sup.start_all();
    r.runtime.started("web");
    CHECK(r.state("web") == AppState::running);
    CHECK_FALSE(r.status("web").ready);
}

TEST_CASE("a crashed app is restarted after the backoff, which doubles", "[supervisor]") {
    Rig r;
    r.load({make_spec("web")});
    r.sup.start_all();
    r.runtime.started("web");
    r.runtime.exit("web", 0, 9);
    CHECK(r.state("web") == AppState::backoff);
    auto st = r.status("web");
    REQUIRE(st.last_exit);
    CHECK(st.last_exit->signal == 9);
    CHECK(st.last_exit->code == 137);
    CHECK(st.next_restart_at.has_value());
    CHECK(r.clock.next_due() == 1s);

    r.clock.advance(999ms);
    CHECK(r.runtime.launch_count("web") == 1);
    r.clock.advance(1ms);
    CHECK(r.runtime.launch_count("web") == 2);
    CHECK(r.state("web") == AppState::starting);
    CHECK(r.status("web").restarts == 1);
    r.runtime.started("web");
    r.runtime.exit("web", 1);
    CHECK(r.clock.next_due() == 2s);
    r.clock.advance(2s);
    CHECK(r.runtime.launch_count("web") == 3);
    CHECK(r.status("web").restarts == 2);
}

TEST_CASE("the backoff resets after ten minutes of clean running", "[supervisor]") {
    Rig r;
    r.load({make_spec("web")});
    r.sup.start_all();
    for (int i = 0; i < 3; ++i) {
        r.runtime.started("web");
        r.runtime.exit("web", 1);
        r.clock.advance(*r.clock.next_due());
    }
    r.runtime.started("web");
    r.clock.advance(10min);
    r.runtime.exit("web", 1);
    CHECK(r.clock.next_due() == 1s);
}

TEST_CASE("restart policies decide what an exit leads to", "[supervisor]") {
    Rig r;
    auto always = make_spec("always");
    auto onf = make_spec("onf");
    onf.restart.policy = RestartPolicy::on_failure;
    auto never = make_spec("never");
    never.restart.policy = RestartPolicy::never;
    auto never_bad = make_spec("neverbad");
    never_bad.restart.policy = RestartPolicy::never;
    auto onf_ok = make_spec("onfok");
    onf_ok.restart.policy = RestartPolicy::on_failure;
    r.load({always, onf, never, never_bad, onf_ok});
    r.sup.start_all();
    for (auto n : {"always", "onf", "never", "neverbad", "onfok"}) r.runtime.started(n);
    r.runtime.exit("always", 0);
    r.runtime.exit("onf", 3);
    r.runtime.exit("onfok", 0);
    r.runtime.exit("never", 0);
    r.runtime.exit("neverbad", 2);
    CHECK(r.state("always") == AppState::backoff);
    CHECK(r.state("onf") == AppState::backoff);
    CHECK(r.state("onfok") == AppState::stopped);
    CHECK(r.state("never") == AppState::stopped);
    CHECK(r.state("neverbad") == AppState::failed);
    CHECK(r.status("neverbad").message == "exited with code 2");
}

TEST_CASE("maxRetries gives up: failed", "[supervisor]") {
    Rig r;
    auto s = make_spec("web");
    s.restart.max_retries = 2;
    r.load({s});
    r.sup.start_all();
    for (int i = 0; i < 2; ++i) {
        r.runtime.exit("web", 1);
        CHECK(r.state("web") == AppState::backoff);
        r.clock.advance(*r.clock.next_due());
    }
    r.runtime.exit("web", 1);
    CHECK(r.state("web") == AppState::failed);
    CHECK_THAT(r.status("web").message, Catch::Contains("gave up after 2 restarts"));
    CHECK(r.clock.pending_timers() == 0);
}

TEST_CASE("a launch error is an exit with code 125 and the reason", "[supervisor]") {
    Rig r;
    r.runtime.fail_launch = Error::os(ENOENT, "open \"/srv/missing\"");
    r.load({make_spec("web")});
    r.sup.start_all();
    CHECK(r.state("web") == AppState::backoff);
    auto st = r.status("web");
    REQUIRE(st.last_exit);
    CHECK(st.last_exit->code == 125);
    CHECK_THAT(st.last_exit->message, Catch::Contains("/srv/missing") && Catch::Contains("ENOENT"));
    r.runtime.fail_launch.reset();
    r.clock.advance(1s);
    CHECK(r.runtime.launch_count("web") == 1);
}

TEST_CASE("stop sends the stop signal and completes when the app exits", "[supervisor]") {
    Rig r;
    auto s = make_spec("web");
    s.stop.signal = 3;
    r.load({s});
    r.sup.start_all();
    r.runtime.started("web");
    Outcome o;
    r.sup.stop("web", std::nullopt, o.fn());
    CHECK(r.state("web") == AppState::stopping);
    CHECK(r.runtime.last("web")->signals == std::vector<int>{3});
    CHECK_FALSE(o.called);
    r.runtime.exit("web", 0, 3);
    CHECK(o.called);
    CHECK_FALSE(o.error);
    CHECK(r.state("web") == AppState::stopped);
    CHECK(r.clock.pending_timers() == 0);  // no restart after an operator stop
    CHECK(r.status("web").restarts == 0);
}

TEST_CASE("a stop the app ignores ends in kill_all after the timeout", "[supervisor]") {
    Rig r;
    auto s = make_spec("web");
    s.stop.timeout = 30s;
    r.load({s});
    r.sup.start_all();
    r.runtime.started("web");
    Outcome o;
    r.sup.stop("web", 5s, o.fn());  // the API's timeout overrides the spec's
    r.clock.advance(4999ms);
    CHECK(r.runtime.last("web")->kills == 0);
    r.clock.advance(1ms);
    CHECK(r.runtime.last("web")->kills == 1);
    CHECK_FALSE(o.called);
    r.runtime.exit("web", 0, 9);
    CHECK(o.called);
    CHECK(r.state("web") == AppState::stopped);
    CHECK(r.status("web").last_exit->signal == 9);
}

TEST_CASE("stop during backoff cancels the restart", "[supervisor]") {
    Rig r;
    r.load({make_spec("web")});
    r.sup.start_all();
    r.runtime.exit("web", 1);
    Outcome o;
    r.sup.stop("web", std::nullopt, o.fn());
    CHECK(o.called);
    CHECK(r.state("web") == AppState::stopped);
    r.clock.advance(1h);
    CHECK(r.runtime.launch_count("web") == 1);
}

TEST_CASE("an operator restart is not counted and resets the backoff series", "[supervisor]") {
    Rig r;
    r.load({make_spec("web")});
    r.sup.start_all();
    r.runtime.started("web");
    r.runtime.exit("web", 1);
    r.clock.advance(1s);
    r.runtime.started("web");
    CHECK(r.status("web").restarts == 1);
    Outcome o;
    r.sup.restart("web", std::nullopt, o.fn());
    CHECK(r.state("web") == AppState::stopping);
    r.runtime.exit("web", 0, 15);
    CHECK(r.state("web") == AppState::starting);
    CHECK(r.runtime.launch_count("web") == 3);
    CHECK_FALSE(o.called);
    r.runtime.started("web");
    CHECK(o.called);
    CHECK_FALSE(o.error);
    CHECK(r.status("web").restarts == 1);
    r.runtime.exit("web", 1);
    CHECK(r.clock.next_due() == 1s);  // a new series
}

TEST_CASE("start reports failure when the app lands in backoff", "[supervisor]") {
    Rig r;
    r.load({make_spec("web")});
    Outcome o;
    r.sup.start("web", o.fn());
    CHECK_FALSE(o.called);
    r.runtime.exit("web", 1);
    REQUIRE(o.called);
    REQUIRE(o.error);
    CHECK_THAT(*o.error, Catch::Contains("backoff") && Catch::Contains("exited with code 1"));
}

TEST_CASE("start during backoff starts at once", "[supervisor]") {
    Rig r;
    r.load({make_spec("web")});
    r.sup.start_all();
    r.runtime.exit("web", 1);
    Outcome o;
    r.sup.start("web", o.fn());
    CHECK(r.runtime.launch_count("web") == 2);
    r.runtime.started("web");
    CHECK(o.called);
    CHECK(r.status("web").restarts == 0);
}

TEST_CASE("unknown apps are errors", "[supervisor]") {
    Rig r;
    Outcome o;
    r.sup.start("nope", o.fn());
    CHECK(o.called);
    CHECK(o.error);
}

TEST_CASE("dependsOn: a dependent launches only once its dependency is ready", "[supervisor][deps]") {
    Rig r;
    r.load({make_spec("db"), make_spec("web", {"db"})});
    r.sup.start_all();
    CHECK(r.runtime.launch_count("db") == 1);
    CHECK(r.runtime.launch_count("web") == 0);
    CHECK(r.state("web") == AppState::starting);
    CHECK_THAT(r.status("web").message, Catch::Contains("waiting for db"));
    r.runtime.started("db");
    CHECK(r.runtime.launch_count("web") == 1);
}

TEST_CASE("dependsOn: a dependency with a readiness probe must be ready, not just running", "[supervisor][deps]") {
    Rig r;
    auto db = make_spec("db");
    db.probes.readiness = ProbeSpec{};
    r.load({db, make_spec("web", {"db"})});
    r.sup.start_all();
    r.runtime.started("db");
    CHECK(r.state("db") == AppState::running);
    CHECK(r.runtime.launch_count("web") == 0);
}

TEST_CASE("dependsOn: starting an app starts its stopped dependencies", "[supervisor][deps]") {
    Rig r;
    r.load({make_spec("db"), make_spec("web", {"db"})});
    Outcome o;
    r.sup.start("web", o.fn());
    CHECK(r.runtime.launch_count("db") == 1);
    r.runtime.started("db");
    r.runtime.started("web");
    CHECK(o.called);
    INFO(o.error.value_or(""));
    CHECK_FALSE(o.error);
}

TEST_CASE("shutdown stops dependents before their dependencies", "[supervisor][deps]") {
    Rig r;
    r.load({make_spec("db"), make_spec("cache"), make_spec("web", {"db", "cache"})});
    r.sup.start_all();
    r.runtime.started("db");
    r.runtime.started("cache");
    r.runtime.started("web");
    Outcome o;
    r.sup.shutdown(o.fn());
    CHECK(r.state("web") == AppState::stopping);
    CHECK(r.state("db") == AppState::ready);
    CHECK(r.state("cache") == AppState::ready);
    r.runtime.exit("web", 0, 15);
    CHECK(r.state("db") == AppState::stopping);
    CHECK(r.state("cache") == AppState::stopping);
    CHECK_FALSE(o.called);
    r.runtime.exit("db", 0);
    r.runtime.exit("cache", 0);
    CHECK(o.called);
}

TEST_CASE("shutdown with nothing running completes at once, including apps in backoff", "[supervisor]") {
    Rig r;
    r.load({make_spec("a"), make_spec("b")});
    r.sup.start_all();
    r.runtime.exit("a", 1);
    r.runtime.started("b");
    Outcome o;
    r.sup.shutdown(o.fn());
    CHECK(r.state("a") == AppState::stopped);
    r.runtime.exit("b", 0);
    CHECK(o.called);
}

TEST_CASE("reload applies exactly the difference", "[supervisor][reload]") {
    Rig r;
    r.load({make_spec("keep"), make_spec("change"), make_spec("drop"), make_spec("bad")});
    r.sup.start_all();
    for (auto n : {"keep", "change", "drop", "bad"}) r.runtime.started(n);

    AppDir fresh;
    fresh.apps.emplace("keep", make_spec("keep"));
    auto changed = make_spec("change");
    changed.env["X"] = "1";
    fresh.apps.emplace("change", changed);
    fresh.apps.emplace("new", make_spec("new"));
    fresh.rejected["bad"] = {Diagnostic{"apps/bad.json", 3, "command", "expected an array"}};
    auto rep = r.sup.reload(fresh);

    CHECK(rep.added == std::vector<std::string>{"new"});
    CHECK(rep.changed == std::vector<std::string>{"change"});
    CHECK(rep.removed == std::vector<std::string>{"drop"});
    CHECK(rep.unchanged == std::vector<std::string>{"keep"});
    REQUIRE(rep.rejected.size() == 1);
    CHECK(rep.rejected[0].name == "bad");
    CHECK(rep.rejected[0].errors == std::vector<std::string>{"apps/bad.json:3: command: expected an array"});

    CHECK(r.runtime.launch_count("keep") == 1);
    CHECK(r.state("keep") == AppState::ready);
    CHECK(r.state("bad") == AppState::ready);  // keeps its last good definition
    CHECK(r.runtime.launch_count("new") == 1);
    CHECK(r.state("change") == AppState::stopping);
    CHECK(r.state("drop") == AppState::stopping);

    r.runtime.exit("change", 0, 15);
    CHECK(r.runtime.launch_count("change") == 2);
    CHECK(r.sup.detail("change")->spec.env.at("X") == "1");
    CHECK(r.status("change").restarts == 0);

    r.runtime.exit("drop", 0, 15);
    r.clock.run_posted();
    CHECK_FALSE(r.sup.contains("drop"));
}

TEST_CASE("reload of a stopped app keeps it stopped with the new definition", "[supervisor][reload]") {
    Rig r;
    r.load({make_spec("web")});
    AppDir fresh;
    auto s = make_spec("web");
    s.workdir = "/srv";
    fresh.apps.emplace("web", s);
    auto rep = r.sup.reload(fresh);
    CHECK(rep.changed == std::vector<std::string>{"web"});
    CHECK(r.state("web") == AppState::stopped);
    CHECK(r.sup.detail("web")->spec.workdir == "/srv");
    CHECK(r.runtime.launch_count("web") == 0);
}

TEST_CASE("events record state changes and exits", "[supervisor][events]") {
    Rig r;
    r.load({make_spec("web")});
    r.sup.start_all();
    r.runtime.started("web");
    r.runtime.exit("web", 0, 9);
    auto ev = r.events.recent("web");
    std::vector<std::string> kinds;
    for (auto& e : ev) kinds.push_back(e.type + (e.state.empty() ? "" : ":" + e.state));
    CHECK(kinds == std::vector<std::string>{"state:starting", "state:ready", "exit", "state:backoff"});
    CHECK(ev[2].exit->signal == 9);
    CHECK(ev[0].seq < ev[1].seq);
}

// ---- probes (issue 6) ----------------------------------------------------------------------

TEST_CASE("probes start when the instance starts, not before", "[supervisor][probes]") {
    ProbeRig r;
    auto s = make_spec("web");
    s.probes.readiness = http_probe();
    r.load({s, make_spec("plain")});
    r.sup.start_all();
    CHECK(r.probes.sets.empty());
    r.runtime.started("web");
    r.runtime.started("plain");
    REQUIRE(r.probes.started_count("web") == 1);
    CHECK(r.probes.started_count("plain") == 0);  // no probes: no probe set
    CHECK(r.probes.last("web")->instance.pid == r.runtime.last("web")->info.pid);
    CHECK(r.state("plain") == AppState::ready);
}

TEST_CASE("readiness moves an app between running, ready and unhealthy and never restarts it",
          "[supervisor][probes]") {
    ProbeRig r;
    auto s = make_spec("web");
    s.probes.readiness = http_probe();
    r.load({s});
    r.sup.start_all();
    r.runtime.started("web");
    CHECK(r.state("web") == AppState::running);
    CHECK_FALSE(r.status("web").ready);

    r.probes.change("web", ProbeType::readiness, true);
    CHECK(r.state("web") == AppState::ready);
    CHECK(r.status("web").ready);

    r.probes.change("web", ProbeType::readiness, false, "HTTP probe failed with status code 503");
    CHECK(r.state("web") == AppState::unhealthy);
    CHECK_FALSE(r.status("web").ready);
    CHECK_THAT(r.status("web").message, Catch::Contains("503"));

    r.probes.change("web", ProbeType::readiness, true);
    CHECK(r.state("web") == AppState::ready);

    r.clock.advance(1h);
    CHECK(r.runtime.launch_count("web") == 1);
    CHECK(r.runtime.last("web")->signals.empty());
    CHECK(r.status("web").restarts == 0);
    CHECK(r.states("web") ==
          std::vector<std::string>{"starting", "running", "ready", "unhealthy", "ready"});
    auto probe_events = r.messages("web", "probe");
    REQUIRE(probe_events.size() == 3);
    CHECK(probe_events[0] == "readiness probe passed");
    CHECK_THAT(probe_events[1], Catch::StartsWith("readiness probe failed: ") && Catch::Contains("503"));
}

TEST_CASE("readiness failing before the first success keeps the app running, not unhealthy",
          "[supervisor][probes]") {
    ProbeRig r;
    auto s = make_spec("web");
    s.probes.readiness = http_probe();
    r.load({s});
    r.sup.start_all();
    r.runtime.started("web");
    r.probes.change("web", ProbeType::readiness, false, "connect 127.0.0.1:80: ECONNREFUSED");
    CHECK(r.state("web") == AppState::running);
    CHECK_THAT(r.status("web").message, Catch::Contains("ECONNREFUSED"));
}

TEST_CASE("a liveness failure stops the app by its stop policy and restarts it, counted, once",
          "[supervisor][probes]") {
    ProbeRig r;
    auto s = make_spec("web");
    s.probes.liveness = http_probe();
    s.stop.signal = SIGQUIT;
    r.load({s});
    r.sup.start_all();
    r.runtime.started("web");
    CHECK(r.state("web") == AppState::ready);  // no readiness probe: ready

    r.probes.change("web", ProbeType::liveness, false, "connect 127.0.0.1:80: ECONNREFUSED");
    CHECK(r.state("web") == AppState::stopping);
    CHECK(r.runtime.last("web")->signals == std::vector<int>{SIGQUIT});
    CHECK_FALSE(r.probes.active("web"));  // probing stops while the app is stopped

    r.runtime.exit("web", 0, SIGQUIT);
    CHECK(r.state("web") == AppState::backoff);
    CHECK_THAT(r.status("web").message, Catch::Contains("liveness probe failed"));
    r.clock.advance(1s);
    CHECK(r.runtime.launch_count("web") == 2);
    CHECK(r.status("web").restarts == 1);
    r.runtime.started("web");
    CHECK(r.state("web") == AppState::ready);
    CHECK(r.probes.started_count("web") == 2);  // fresh probes for the new instance
    CHECK(r.probes.active("web"));
    auto probe_events = r.messages("web", "probe");
    REQUIRE(probe_events.size() == 1);
    CHECK_THAT(probe_events[0], Catch::Contains("liveness probe failed") && Catch::Contains("restarting"));
}

TEST_CASE("probe run totals count since the app was defined, across its instances", "[supervisor][probes]") {
    ProbeRig r;
    auto s = make_spec("web");
    s.probes.liveness = http_probe();
    r.load({s});
    r.sup.start_all();
    r.runtime.started("web");
    auto runs = [&](std::uint64_t ok, std::uint64_t bad) {
        auto& l = r.probes.last("web")->health.liveness;
        l->result = bad ? ProbeResult::failure : ProbeResult::success;
        l->total_successes = ok;
        l->total_failures = bad;
        l->last_duration_seconds = 0.25;
    };
    runs(3, 1);
    CHECK(r.status("web").health.liveness->total_successes == 3);
    CHECK(r.status("web").health.liveness->total_failures == 1);

    r.probes.change("web", ProbeType::liveness, false, "boom");
    r.runtime.exit("web", 0, SIGTERM);
    // Down: the last instance's figures, its totals counted once.
    REQUIRE(r.state("web") == AppState::backoff);
    auto down = *r.status("web").health.liveness;
    CHECK(down.total_successes == 3);
    CHECK(down.total_failures == 1);
    CHECK(down.last_duration_seconds == 0.25);

    r.clock.advance(1s);
    r.runtime.started("web");
    REQUIRE(r.probes.started_count("web") == 2);
    // The new instance's worker counts from 0; the app's totals go on.
    auto fresh = *r.status("web").health.liveness;
    CHECK(fresh.result == ProbeResult::unknown);
    CHECK_FALSE(fresh.last_duration_seconds);
    CHECK(fresh.total_successes == 3);
    CHECK(fresh.total_failures == 1);
    runs(2, 0);
    CHECK(r.status("web").health.liveness->total_successes == 5);
    CHECK(r.status("web").health.liveness->total_failures == 1);
    // An operator stop and start keeps them too.
    bool stopped = false;
    r.sup.stop("web", std::nullopt, [&](std::optional<std::string>) { stopped = true; });
    r.runtime.exit("web", 0, SIGTERM);
    REQUIRE(stopped);
    CHECK(r.status("web").health.liveness->total_successes == 5);
}

TEST_CASE("a liveness stop the app ignores ends in kill_all, then the restart", "[supervisor][probes]") {
    ProbeRig r;
    auto s = make_spec("web");
    s.probes.liveness = http_probe();
    s.stop.timeout = 10s;
    r.load({s});
    r.sup.start_all();
    r.runtime.started("web");
    r.probes.change("web", ProbeType::liveness, false, "timed out");
    r.clock.advance(10s);
    CHECK(r.runtime.last("web")->kills == 1);
    r.runtime.exit("web", 0, SIGKILL);
    CHECK(r.state("web") == AppState::backoff);
    r.clock.advance(2s);
    CHECK(r.runtime.launch_count("web") == 2);
}

TEST_CASE("liveness failures follow the restart policy: never fails, on-failure restarts", "[supervisor][probes]") {
    ProbeRig r;
    auto never = make_spec("never");
    never.probes.liveness = http_probe();
    never.restart.policy = RestartPolicy::never;
    auto onf = make_spec("onf");
    onf.probes.liveness = http_probe();
    onf.restart.policy = RestartPolicy::on_failure;
    r.load({never, onf});
    r.sup.start_all();
    for (const char* n : {"never", "onf"}) {
        r.runtime.started(n);
        r.probes.change(n, ProbeType::liveness, false, "boom");
        r.runtime.exit(n, 0);  // even a clean exit after the probe's stop is a failure
    }
    CHECK(r.state("never") == AppState::failed);
    CHECK_THAT(r.status("never").message, Catch::Contains("liveness probe failed: boom"));
    CHECK(r.state("onf") == AppState::backoff);
}

TEST_CASE("liveness restarts respect maxRetries", "[supervisor][probes]") {
    ProbeRig r;
    auto s = make_spec("web");
    s.probes.liveness = http_probe();
    s.restart.max_retries = 1;
    r.load({s});
    r.sup.start_all();
    r.runtime.started("web");
    r.probes.change("web", ProbeType::liveness, false, "x");
    r.runtime.exit("web", 143, SIGTERM);
    r.clock.advance(1s);
    r.runtime.started("web");
    r.probes.change("web", ProbeType::liveness, false, "x");
    r.runtime.exit("web", 143, SIGTERM);
    CHECK(r.state("web") == AppState::failed);
    CHECK_THAT(r.status("web").message, Catch::Contains("gave up"));
}

TEST_CASE("an operator restart during a liveness stop is not counted", "[supervisor][probes]") {
    ProbeRig r;
    auto s = make_spec("web");
    s.probes.liveness = http_probe();
    r.load({s});
    r.sup.start_all();
    r.runtime.started("web");
    r.probes.change("web", ProbeType::liveness, false, "x");
    Outcome o;
    r.sup.restart("web", std::nullopt, o.fn());
    r.runtime.exit("web", 0, SIGTERM);
    CHECK(r.runtime.launch_count("web") == 2);  // at once, no backoff
    r.runtime.started("web");
    CHECK(o.called);
    CHECK_FALSE(o.error);
    CHECK(r.status("web").restarts == 0);
}

TEST_CASE("an operator stop during a liveness stop leaves the app stopped", "[supervisor][probes]") {
    ProbeRig r;
    auto s = make_spec("web");
    s.probes.liveness = http_probe();
    r.load({s});
    r.sup.start_all();
    r.runtime.started("web");
    r.probes.change("web", ProbeType::liveness, false, "x");
    Outcome o;
    r.sup.stop("web", std::nullopt, o.fn());
    r.runtime.exit("web", 0, SIGTERM);
    CHECK(r.state("web") == AppState::stopped);
    CHECK(o.called);
    r.clock.advance(1h);
    CHECK(r.runtime.launch_count("web") == 1);
}

TEST_CASE("a startup probe holds the app running, its success hands over to readiness", "[supervisor][probes]") {
    ProbeRig r;
    auto s = make_spec("web");
    s.probes.startup = http_probe();
    s.probes.readiness = http_probe();
    r.load({s});
    r.sup.start_all();
    r.runtime.started("web");
    CHECK(r.state("web") == AppState::running);
    CHECK_THAT(r.status("web").message, Catch::Contains("startup probe"));
    // Readiness cannot count before startup has passed (the real ProbeSet does not
    // even run it; the supervisor does not trust it either).
    r.probes.change("web", ProbeType::readiness, true);
    CHECK(r.state("web") == AppState::running);
    r.probes.change("web", ProbeType::startup, true);
    CHECK(r.state("web") == AppState::running);
    CHECK_THAT(r.status("web").message, Catch::Contains("readiness"));
    r.probes.change("web", ProbeType::readiness, true);
    CHECK(r.state("web") == AppState::ready);
}

TEST_CASE("a startup probe without readiness: ready once it succeeds", "[supervisor][probes]") {
    ProbeRig r;
    auto s = make_spec("web");
    s.probes.startup = http_probe();
    r.load({s});
    r.sup.start_all();
    r.runtime.started("web");
    CHECK(r.state("web") == AppState::running);
    r.probes.change("web", ProbeType::startup, true);
    CHECK(r.state("web") == AppState::ready);
    CHECK(r.messages("web", "probe") == std::vector<std::string>{"startup probe succeeded"});
}

TEST_CASE("a startup probe that runs out stops the app and counts as a failed run", "[supervisor][probes]") {
    ProbeRig r;
    auto s = make_spec("web");
    s.probes.startup = http_probe();
    auto never = make_spec("once");
    never.probes.startup = http_probe();
    never.restart.policy = RestartPolicy::never;
    r.load({s, never});
    r.sup.start_all();
    for (const char* n : {"web", "once"}) {
        r.runtime.started(n);
        r.probes.change(n, ProbeType::startup, false, "HTTP probe failed with status code 500");
        CHECK(r.state(n) == AppState::stopping);
        r.runtime.exit(n, 143, SIGTERM);
    }
    CHECK(r.state("web") == AppState::backoff);
    CHECK_THAT(r.status("web").message, Catch::Contains("startup probe failed"));
    r.clock.advance(1s);
    CHECK(r.status("web").restarts == 1);
    CHECK(r.runtime.launch_count("web") == 2);
    CHECK(r.state("once") == AppState::failed);
    CHECK_THAT(r.status("once").message, Catch::Contains("startup probe failed"));
}

TEST_CASE("dependsOn waits for the dependency's readiness probe to pass", "[supervisor][probes][deps]") {
    ProbeRig r;
    auto db = make_spec("db");
    db.probes.readiness = http_probe();
    r.load({db, make_spec("web", {"db"})});
    Outcome o;
    r.sup.start("web", o.fn());
    r.runtime.started("db");
    CHECK(r.runtime.launch_count("web") == 0);
    CHECK_THAT(r.status("web").message, Catch::Contains("waiting for db to be ready"));
    r.probes.change("db", ProbeType::readiness, false, "not yet");
    CHECK(r.runtime.launch_count("web") == 0);
    r.probes.change("db", ProbeType::readiness, true);
    CHECK(r.runtime.launch_count("web") == 1);
    r.runtime.started("web");
    CHECK(o.called);
    CHECK_FALSE(o.error);
    // A dependency that turns unhealthy later does not touch a running dependent.
    r.probes.change("db", ProbeType::readiness, false, "x");
    CHECK(r.state("web") == AppState::ready);
    CHECK(r.runtime.last("web")->signals.empty());
}

TEST_CASE("health shows every configured probe, live and after the instance is gone", "[supervisor][probes]") {
    ProbeRig r;
    auto s = make_spec("web");
    s.probes.liveness = http_probe();
    s.probes.readiness = http_probe();
    r.load({s});
    auto h0 = r.status("web").health;  // never started: unknown, not absent
    REQUIRE(h0.liveness);
    REQUIRE(h0.readiness);
    CHECK_FALSE(h0.startup);
    CHECK(h0.liveness->result == ProbeResult::unknown);

    r.sup.start_all();
    r.runtime.started("web");
    auto set = r.probes.last("web");
    set->health.liveness->result = ProbeResult::failure;
    set->health.liveness->consecutive_failures = 3;
    set->health.liveness->message = "connect 127.0.0.1:80: ECONNREFUSED";
    set->health.readiness->result = ProbeResult::success;
    set->health.readiness->consecutive_successes = 7;
    auto h1 = r.status("web").health;
    CHECK(h1.liveness->consecutive_failures == 3);
    CHECK(h1.readiness->consecutive_successes == 7);

    r.probes.change("web", ProbeType::liveness, false, "connect 127.0.0.1:80: ECONNREFUSED");
    r.runtime.exit("web", 143, SIGTERM);
    auto h2 = r.status("web").health;  // in backoff: why it was restarted stays visible
    CHECK(r.state("web") == AppState::backoff);
    REQUIRE(h2.liveness);
    CHECK(h2.liveness->message == "connect 127.0.0.1:80: ECONNREFUSED");
}

TEST_CASE("probe warnings become probe events", "[supervisor][probes]") {
    ProbeRig r;
    auto s = make_spec("web");
    s.probes.readiness = http_probe();
    r.load({s});
    r.sup.start_all();
    r.runtime.started("web");
    r.probes.warn("web", ProbeType::readiness, "HTTP probe not following a redirect to another host");
    auto m = r.messages("web", "probe");
    REQUIRE(m.size() == 1);
    CHECK_THAT(m[0], Catch::StartsWith("readiness probe warning: "));
}

TEST_CASE("verdicts that arrive while the app is stopping change nothing", "[supervisor][probes]") {
    ProbeRig r;
    auto s = make_spec("web");
    s.probes.readiness = http_probe();
    s.probes.liveness = http_probe();
    r.load({s});
    r.sup.start_all();
    r.runtime.started("web");
    auto set = r.probes.last("web");
    auto cb = set->callbacks.on_change;  // as if a probe completed after the stop
    Outcome o;
    r.sup.stop("web", std::nullopt, o.fn());
    CHECK_FALSE(set->alive);
    cb(ProbeChange{ProbeType::liveness, false, "late"});
    cb(ProbeChange{ProbeType::readiness, true, ""});
    CHECK(r.state("web") == AppState::stopping);
    CHECK(r.runtime.last("web")->signals.size() == 1);
}

// ---- adoption (issue 7) ----------------------------------------------------------------

TEST_CASE("adoption: a running instance is taken over, up at once, with its restart count", "[supervisor][adoption]") {
    Rig r;
    auto web = make_spec("web");
    r.runtime.recorded["web"] = {web, 3, true, {}, std::nullopt};
    r.load({web, make_spec("api", {"web"})});
    auto adopted = r.sup.adopt_all();
    CHECK(adopted == std::set<std::string>{"web"});
    r.sup.start_all(adopted);
    CHECK(r.state("web") == AppState::ready);
    CHECK(r.status("web").restarts == 3);
    CHECK(r.runtime.last("web")->adopted);
    CHECK(r.runtime.launch_count("web") == 1);  // the adopted one; nothing launched
    // A dependent that was not running starts: its dependency is ready.
    REQUIRE(r.runtime.last("api"));
    CHECK_FALSE(r.runtime.last("api")->adopted);
    // The adopted instance's exit is handled like any other.
    r.runtime.exit("web", 1);
    CHECK(r.state("web") == AppState::backoff);
    r.clock.advance(10s);
    CHECK(r.runtime.launch_count("web") == 2);
    CHECK(r.status("web").restarts == 4);
}

TEST_CASE("adoption: an exit while the daemon was down goes through the restart policy", "[supervisor][adoption]") {
    Rig r;
    auto always = make_spec("always");
    always.restart.policy = RestartPolicy::always;
    auto never = make_spec("never");
    never.restart.policy = RestartPolicy::never;
    ExitInfo killed;
    killed.code = 137;
    killed.signal = SIGKILL;
    r.runtime.recorded["always"] = {always, 0, false, killed, std::nullopt};
    r.runtime.recorded["never"] = {never, 0, false, killed, std::nullopt};
    r.load({always, never});
    auto adopted = r.sup.adopt_all();
    r.sup.start_all(adopted);
    CHECK(r.state("always") == AppState::backoff);
    CHECK(r.state("never") == AppState::failed);
    REQUIRE(r.status("never").last_exit);
    CHECK(r.status("never").last_exit->signal == SIGKILL);
    CHECK(r.runtime.launch_count("never") == 0);  // start_all left the adopted app alone
    r.clock.advance(10s);
    CHECK(r.runtime.launch_count("always") == 1);
    CHECK(r.status("always").restarts == 1);
}

TEST_CASE("adoption: a changed definition restarts the app, a removed app is stopped and forgotten",
          "[supervisor][adoption]") {
    Rig r;
    auto old_web = make_spec("web");
    auto new_web = make_spec("web");
    new_web.env["VERSION"] = "2";
    r.runtime.recorded["web"] = {old_web, 0, true, {}, std::nullopt};
    r.runtime.recorded["gone"] = {make_spec("gone"), 0, true, {}, std::nullopt};
    r.load({new_web});
    auto adopted = r.sup.adopt_all();
    r.sup.start_all(adopted);
    // web: stopped with its stop signal, then launched with the new definition.
    auto first = r.runtime.last("web");
    CHECK(first->adopted);
    CHECK(first->signals.size() == 1);
    auto gone = r.runtime.last("gone");
    CHECK(gone->signals.size() == 1);
    r.runtime.exit("web", 0);
    r.runtime.exit("gone", 0);
    r.clock.advance(1ms);  // forgetting removed apps is posted
    CHECK(r.runtime.launch_count("web") == 2);
    CHECK(r.sup.detail("web")->spec.env.at("VERSION") == "2");
    CHECK(r.status("web").restarts == 0);
    CHECK_FALSE(r.sup.contains("gone"));
}

TEST_CASE("an app the operator stopped stays stopped when the daemon starts again, until started", "[supervisor][adoption]") {
    FakeRuntime runtime;  // outlives both supervisors, as the run dir does
    auto web = make_spec("web"), db = make_spec("db");
    {
        ManualClock clock;
        EventLog events;
        Supervisor sup{clock, runtime, events, [] { return 0.5; }};
        sup.load({{"web", web}, {"db", db}});
        sup.start_all();
        runtime.started("web");
        runtime.started("db");
        Outcome stopped;
        sup.stop("web", std::nullopt, stopped.fn());
        runtime.exit("web", 0);
        CHECK(stopped.called);
        CHECK(runtime.stopped_by_operator == std::set<std::string>{"web"});
    }
    ManualClock clock;
    EventLog events;
    Supervisor sup{clock, runtime, events, [] { return 0.5; }};
    sup.load({{"web", web}, {"db", db}});
    sup.start_all();
    CHECK(runtime.launch_count("web") == 1);  // not launched again
    CHECK(runtime.launch_count("db") == 2);
    Outcome started;
    sup.start("web", started.fn());
    CHECK(runtime.launch_count("web") == 2);
    CHECK(runtime.stopped_by_operator.empty());
}

TEST_CASE("adoption: an instance the daemon was stopping for the operator is stopped after adoption",
          "[supervisor][adoption]") {
    Rig r;
    auto web = make_spec("web");
    r.runtime.recorded["web"] = {web, 0, true, {}, std::nullopt};
    r.runtime.stopped_by_operator = {"web"};
    r.load({web});
    r.sup.start_all(r.sup.adopt_all());
    CHECK(r.state("web") == AppState::stopping);
    CHECK(r.runtime.last("web")->signals.size() == 1);
    r.runtime.exit("web", 0);
    CHECK(r.state("web") == AppState::stopped);
    CHECK(r.runtime.launch_count("web") == 1);
}

// ---- issue 13: what start/stop answer, dependents, rejected files, autostart -------------

TEST_CASE("start of an app without probes waits out the settle window, an exit in it is a failed start",
          "[supervisor][issue13]") {
    Rig r;
    r.sup.settle = 1s;
    auto web = make_spec("web");
    web.restart.policy = RestartPolicy::always;
    r.load({web});
    Outcome o;
    r.sup.start("web", o.fn());
    r.runtime.started("web");
    CHECK(r.state("web") == AppState::ready);
    CHECK_FALSE(o.called);  // ready is not yet "started" for a command that may exit at once
    r.runtime.exit("web", 3);
    REQUIRE(o.called);
    REQUIRE(o.error);
    CHECK_THAT(*o.error, Catch::Contains("exited with code 3"));

    Outcome o2;
    r.sup.start("web", o2.fn());
    r.runtime.started("web");
    r.clock.advance(999ms);
    CHECK_FALSE(o2.called);
    r.clock.advance(1ms);
    REQUIRE(o2.called);
    CHECK_FALSE(o2.error);
    // Starting an app that is already up answers at once.
    Outcome o3;
    r.sup.start("web", o3.fn());
    CHECK(o3.called);
    CHECK_FALSE(o3.error);
}

TEST_CASE("start and restart of an app with a readiness probe answer when it is ready, or at the deadline",
          "[supervisor][issue13]") {
    ProbeRig r;
    auto web = make_spec("web");
    web.probes.readiness = http_probe();
    r.load({web});
    Outcome o;
    r.sup.start("web", o.fn(), 30s);
    r.runtime.started("web");
    CHECK(r.state("web") == AppState::running);
    CHECK_FALSE(o.called);
    r.probes.change("web", ProbeType::readiness, true);
    REQUIRE(o.called);
    CHECK_FALSE(o.error);

    Outcome o2;
    r.sup.restart("web", std::nullopt, o2.fn());
    r.runtime.exit("web", 0, 15);
    r.runtime.started("web");
    CHECK_FALSE(o2.called);
    r.probes.change("web", ProbeType::readiness, true);
    CHECK(o2.called);

    Outcome o3;
    r.sup.restart("web", std::nullopt, o3.fn());
    r.runtime.exit("web", 0, 15);
    r.runtime.started("web");
    r.clock.advance(r.sup.default_wait_timeout);
    REQUIRE(o3.called);
    REQUIRE(o3.error);
    CHECK_THAT(*o3.error, Catch::Contains("not up after 90s") && Catch::Contains("running"));
}

TEST_CASE("stopping a dependency stops its dependents first, and they stay stopped", "[supervisor][issue13]") {
    Rig r;
    r.load({make_spec("db"), make_spec("web", {"db"}), make_spec("edge", {"web"}), make_spec("other")});
    r.sup.start_all();
    for (auto n : {"db", "web", "edge", "other"}) r.runtime.started(n);
    Outcome o;
    r.sup.stop("db", std::nullopt, o.fn());
    // edge first (it depends on web), then web, then db.
    CHECK(r.state("edge") == AppState::stopping);
    CHECK(r.state("web") == AppState::ready);
    CHECK(r.state("db") == AppState::ready);
    r.runtime.exit("edge", 0, 15);
    CHECK(r.state("web") == AppState::stopping);
    CHECK(r.state("db") == AppState::ready);
    r.runtime.exit("web", 0, 15);
    CHECK(r.state("db") == AppState::stopping);
    CHECK_FALSE(o.called);
    r.runtime.exit("db", 0, 15);
    REQUIRE(o.called);
    CHECK_FALSE(o.error);
    CHECK(r.state("other") == AppState::ready);
    CHECK(r.runtime.stopped_by_operator.count("web"));
    CHECK(r.runtime.stopped_by_operator.count("edge"));
}

TEST_CASE("starting a running dependent waits for the dependency the call started", "[supervisor][issue13]") {
    ProbeRig r;
    auto db = make_spec("db");
    db.probes.readiness = http_probe();
    db.restart.policy = RestartPolicy::never;
    r.load({db, make_spec("web", {"db"})});
    r.sup.start_all();
    r.runtime.started("db");
    r.probes.change("db", ProbeType::readiness, true);
    r.runtime.started("web");
    r.runtime.exit("db", 1);
    CHECK(r.state("db") == AppState::failed);
    CHECK(r.state("web") == AppState::ready);
    Outcome o;
    r.sup.start("web", o.fn());
    r.runtime.started("db");
    CHECK_FALSE(o.called);  // web runs, but db is not ready
    r.probes.change("db", ProbeType::readiness, true);
    REQUIRE(o.called);
    CHECK_FALSE(o.error);
}

TEST_CASE("autostart false: not started by start_all nor by a reload that adds it, isoctl start starts it",
          "[supervisor][issue13]") {
    Rig r;
    auto lazy = make_spec("lazy");
    lazy.autostart = false;
    r.load({lazy, make_spec("web")});
    r.sup.start_all();
    CHECK(r.state("lazy") == AppState::stopped);
    CHECK(r.runtime.launch_count("web") == 1);
    AppDir fresh;
    fresh.apps.emplace("lazy", lazy);
    fresh.apps.emplace("web", make_spec("web"));
    auto later = make_spec("later");
    later.autostart = false;
    fresh.apps.emplace("later", later);
    auto rep = r.sup.reload(fresh);
    CHECK(rep.added == std::vector<std::string>{"later"});
    CHECK(r.state("later") == AppState::stopped);
    Outcome o;
    r.sup.start("lazy", o.fn());
    r.runtime.started("lazy");
    CHECK(o.called);
    CHECK_FALSE(o.error);
}

TEST_CASE("rejected files are listed: a new one as failed, a known app keeps running with the errors",
          "[supervisor][issue13]") {
    Rig r;
    r.load({make_spec("web")});
    std::map<std::string, std::vector<Diagnostic>> rejected;
    rejected["broken"] = {Diagnostic{"apps/broken.json", 3, "resources.memory", "\"12Q\" is not a size"}};
    r.sup.set_rejected(rejected);
    r.sup.start_all();
    r.runtime.started("web");
    auto list = r.sup.list();
    REQUIRE(list.size() == 2);
    CHECK(list[0].name == "broken");
    CHECK(list[0].state == AppState::failed);
    CHECK(list[0].file_errors == std::vector<std::string>{"apps/broken.json:3: resources.memory: \"12Q\" is not a size"});
    auto d = r.sup.detail("broken");
    REQUIRE(d);
    CHECK_FALSE(d->has_spec);
    Outcome o;
    r.sup.start("broken", o.fn());
    REQUIRE(o.called);
    CHECK_THAT(o.error.value_or(""), Catch::Contains("rejected"));

    AppDir fresh;
    fresh.rejected["web"] = {Diagnostic{"apps/web.json", 1, "command", "must be a list"}};
    r.sup.reload(fresh);
    CHECK(r.state("web") == AppState::ready);
    CHECK(r.status("web").file_errors.size() == 1);
    CHECK_FALSE(r.sup.detail("broken"));  // its file is gone
}

TEST_CASE("a new definition starts the restart count over, an OOM kill is an event of its own",
          "[supervisor][issue13]") {
    Rig r;
    auto web = make_spec("web");
    web.resources.memory = 32ull << 20;
    r.load({web});
    r.sup.start_all();
    r.runtime.started("web");
    ExitInfo oom;
    oom.code = 137;
    oom.signal = 9;
    oom.oom_killed = true;
    r.runtime.exit_with("web", oom);
    bool oom_event = false;
    for (auto& e : r.events.recent("web"))
        if (e.type == "oom") {
            oom_event = true;
            CHECK_THAT(e.message, Catch::Contains("memory limit 32M"));
        }
    CHECK(oom_event);
    r.clock.advance(1s);
    r.runtime.started("web");
    CHECK(r.status("web").restarts == 1);
    auto changed = web;
    changed.env["V"] = "2";
    AppDir fresh;
    fresh.apps.emplace("web", changed);
    r.sup.reload(fresh);
    r.runtime.exit("web", 0, 15);
    r.runtime.started("web");
    CHECK(r.status("web").restarts == 0);
}

// ---- operators' signals (issue 16, item 4) ------------------------------------------------

namespace {
std::vector<std::string> event_messages(const EventLog& events, const std::string& app, const std::string& type) {
    std::vector<std::string> out;
    for (auto& e : events.recent(app))
        if (e.type == type) out.push_back(e.message);
    return out;
}
}  // namespace

TEST_CASE("signal: reaches the running instance and is an event, nothing else changes", "[supervisor][signal]") {
    Rig r;
    r.load({make_spec("web")});
    r.sup.start_all();
    r.runtime.started("web");
    const pid_t pid = r.status("web").pid;

    auto d = r.sup.signal("web", SIGHUP, false);
    REQUIRE(d);
    CHECK(d->main_pid == pid);
    CHECK(d->pids == std::vector<pid_t>{pid});
    auto all = r.sup.signal("web", SIGUSR1, true);
    REQUIRE(all);
    CHECK(all->pids.size() == 2);
    CHECK(r.runtime.last("web")->operator_signals ==
          std::vector<std::pair<int, bool>>{{SIGHUP, false}, {SIGUSR1, true}});
    CHECK(r.runtime.last("web")->signals.empty());  // not the stop path
    CHECK(event_messages(r.events, "web", "signal") ==
          std::vector<std::string>{"SIGHUP sent to the main process (pid " + std::to_string(pid) + ")",
                                   "SIGUSR1 sent to every process of the app: 2 processes (pids " +
                                       std::to_string(pid) + ", " + std::to_string(pid + 1) + ")"});
    CHECK(r.state("web") == AppState::ready);
    CHECK(r.status("web").restarts == 0);
    CHECK(r.runtime.launch_count("web") == 1);

    // An exit the signal causes is an exit like any other: the restart policy decides.
    r.runtime.exit("web", 128 + SIGTERM, SIGTERM);
    CHECK(r.state("web") == AppState::backoff);
}

TEST_CASE("signal: an app that is not running says its state, an unknown app is an error", "[supervisor][signal]") {
    Rig r;
    r.load({make_spec("web"), make_spec("db")});
    auto stopped = r.sup.signal("web", SIGHUP, false);
    REQUIRE_FALSE(stopped);
    CHECK(stopped.error().message == "web is stopped, not running");

    r.sup.start_all();
    auto starting = r.sup.signal("web", SIGHUP, false);
    REQUIRE_FALSE(starting);
    CHECK(starting.error().message == "web is starting: its command has not been started yet");
    CHECK(r.runtime.last("web")->operator_signals.empty());

    // Started, but the main process is gone by the time the signal comes.
    r.runtime.started("web");
    r.runtime.last("web")->signal_error = "its main process has exited (it is ending)";
    auto ending = r.sup.signal("web", SIGHUP, false);
    REQUIRE_FALSE(ending);
    CHECK(ending.error().message == "web is ready, but its main process has exited (it is ending)");

    CHECK_FALSE(r.sup.signal("nope", SIGHUP, false));
    CHECK(event_messages(r.events, "web", "signal").empty());
}

TEST_CASE("signal: an adopted instance can be signalled, also while it is stopping", "[supervisor][signal]") {
    Rig r;
    auto web = make_spec("web");
    r.runtime.recorded["web"] = {web, 0, true, {}, std::nullopt};
    r.load({web});
    r.sup.start_all(r.sup.adopt_all());
    REQUIRE(r.state("web") == AppState::ready);
    REQUIRE(r.sup.signal("web", SIGHUP, false));
    CHECK(r.runtime.last("web")->adopted);
    CHECK(r.runtime.last("web")->operator_signals.size() == 1);

    // systemctl kill works while a unit stops: a SIGKILL to hurry a slow stop is fine.
    Outcome o;
    r.sup.stop("web", std::nullopt, o.fn());
    REQUIRE(r.state("web") == AppState::stopping);
    REQUIRE(r.sup.signal("web", SIGKILL, true));
    r.runtime.exit("web", 137, SIGKILL);
    CHECK(r.state("web") == AppState::stopped);
}

// The API's list cache skips Supervisor::list() while status_generation() stays put
// (api::AppListCache): a change that does not move it would be served stale. Every
// kind of change the supervisor knows is made here, and after each one an unchanged
// generation must mean an unchanged list (usage aside: the cache reads that by time).
TEST_CASE("status_generation moves with every change that list() shows", "[supervisor][cache]") {
    ProbeRig r;
    auto web = make_spec("web");
    web.probes.liveness = http_probe();
    web.probes.readiness = http_probe();
    web.restart.policy = RestartPolicy::always;
    r.load({web, make_spec("db"), make_spec("cron")});

    auto last_list = r.sup.list();
    auto last_gen = r.sup.status_generation();
    int steps = 0, moved = 0;
    auto step = [&](const char* what) {
        ++steps;
        auto now = r.sup.list();
        auto gen = r.sup.status_generation();
        CAPTURE(what);
        if (gen == last_gen) CHECK(now == last_list);  // else the cache would be stale
        if (!(now == last_list)) ++moved;
        last_list = std::move(now);
        last_gen = gen;
    };

    r.sup.start_all();
    step("start_all");
    r.runtime.started("web");
    step("web started");
    r.runtime.started("db");
    step("db started");
    HealthStatus h;
    h.liveness = ProbeStatus{};
    h.liveness->total_successes = 1;
    h.readiness = ProbeStatus{};
    h.readiness->total_successes = 1;
    r.probes.ran("web", h);
    step("a probe run (counts only)");
    r.probes.change("web", ProbeType::readiness, true);
    step("ready");
    h.readiness->total_failures = 1;
    h.readiness->message = "connection refused";
    r.probes.ran("web", h);
    step("a failed run");
    r.probes.change("web", ProbeType::readiness, false, "connection refused");
    step("not ready");
    r.probes.warn("web", ProbeType::liveness, "redirect to another host");
    step("a warning");
    r.runtime.exit("web", 1);
    step("web crashed");
    r.clock.advance(std::chrono::seconds(30));
    step("backoff over");
    r.runtime.started("web");
    step("web started again");
    Outcome stopped;
    r.sup.stop("db", std::nullopt, stopped.fn());
    step("db stopping");
    r.runtime.exit("db", 0, SIGTERM);
    step("db stopped");
    r.clock.advance(std::chrono::seconds(60));
    step("timers");
    (void)r.sup.signal("web", SIGHUP, false);
    step("signal");
    Outcome started;
    r.sup.start("db", started.fn());
    step("db start");
    r.runtime.started("db");
    step("db up");
    Outcome restarted;
    r.sup.restart("cron", std::nullopt, restarted.fn());
    step("cron restart");
    r.runtime.started("cron");
    step("cron up");

    AppDir fresh;
    auto web2 = web;
    web2.env["X"] = "1";
    fresh.apps.emplace("web", web2);
    fresh.apps.emplace("db", make_spec("db"));
    fresh.apps.emplace("new", make_spec("new"));
    fresh.rejected["bad"] = {Diagnostic{"apps/bad.json", 3, "command", "expected an array"}};
    r.sup.reload(fresh);
    step("reload: changed, added, removed, rejected");
    r.runtime.exit("web", 0, SIGTERM);
    step("web down for its new definition");
    r.runtime.started("web");
    step("web up with it");
    r.runtime.exit("cron", 0, SIGTERM);
    step("cron gone");
    r.clock.run_posted();
    step("posted");
    r.clock.advance(std::chrono::seconds(60));
    step("timers again");
    Outcome down;
    r.sup.shutdown(down.fn());
    step("shutdown");
    for (auto n : {"web", "db", "new"})
        if (r.runtime.last(n) && !r.runtime.last(n)->exited) r.runtime.exit(n, 0, SIGTERM);
    step("all down");
    CHECK(moved >= 15);  // the scenario really changed the list, step after step
    CHECK(steps >= 25);
}

TEST_CASE("launched_with names the launched apps of a network mode, and only while launched",
          "[supervisor]") {
    Rig r;
    auto web = make_spec("web");
    web.network.mode = NetworkMode::bridge;
    auto db = make_spec("db");
    db.network.mode = NetworkMode::bridge;
    auto plain = make_spec("plain");
    plain.network.mode = NetworkMode::none;
    r.load({web, db, plain});
    CHECK(r.sup.launched_with(NetworkMode::bridge).empty());
    r.sup.start_all();
    r.runtime.started("web");
    r.runtime.started("db");
    r.runtime.started("plain");
    CHECK(r.sup.launched_with(NetworkMode::bridge) == std::set<std::string>{"db", "web"});
    r.runtime.exit("db", 1);
    CHECK(r.sup.launched_with(NetworkMode::bridge) == std::set<std::string>{"web"});
}
