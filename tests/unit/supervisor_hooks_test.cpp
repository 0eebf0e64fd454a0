// Failure hooks from the supervisor's side: which transitions hand which event to the
// HookRunner port (a fake here), once per transition and never for others.
#include <catch2/catch.hpp>

#include <csignal>

#include "fakes/fake_hook_runner.hpp"
#include "fakes/fake_probe_host.hpp"
#include "fakes/fake_runtime.hpp"
#include "fakes/manual_clock.hpp"
#include "fakes/supervisor_rig.hpp"
#include "supervisor/supervisor.hpp"

using namespace isolated;
using namespace isolated::supervisor;
using namespace std::chrono_literals;
using isolated::test::FakeHookRunner;
using isolated::test::FakeProbeHost;
using isolated::test::FakeRuntime;
using isolated::test::ManualClock;

namespace {

HookSpec hook(const std::string& program) {
    HookSpec h;
    h.command = {program, "--flag"};
    return h;
}

/// An app with all three hooks, each its own program.
AppSpec hooked(const std::string& name) {
    AppSpec s;
    s.name = name;
    s.command = {"/bin/" + name};
    s.hooks.on_failure = hook("/usr/local/bin/on-failure");
    s.hooks.on_unhealthy = hook("/usr/local/bin/on-unhealthy");
    s.hooks.on_oom = hook("/usr/local/bin/on-oom");
    return s;
}

ProbeSpec http_probe() {
    ProbeSpec p;
    p.kind = ProbeKind::http;
    p.port = 80;
    return p;
}

ExitInfo oom_exit() {
    ExitInfo e;
    e.code = 137;
    e.signal = SIGKILL;
    e.oom_killed = true;
    return e;
}

struct Rig {
    ManualClock clock;
    FakeRuntime runtime;
    FakeProbeHost probes;
    FakeHookRunner hooks;
    EventLog events;
    Supervisor sup{clock, runtime, events, [] { return 0.5; }, &probes, &hooks};
    Rig() { sup.settle = Duration(0); }

    AppState state(const std::string& n) const { return sup.detail(n)->status.state; }
    void load(const std::vector<AppSpec>& specs) { isolated::test::load_specs(sup, specs); }
    std::size_t count(const std::string& app, HookKind k) const { return hooks.of(app, k).size(); }
    /// The stored event with `seq` (the hook must get the very event that was published).
    AppEvent stored(std::uint64_t seq) const {
        for (auto& e : events.recent())
            if (e.seq == seq) return e;
        FAIL("no event " << seq);
        return {};
    }
};

}  // namespace

TEST_CASE("hooks: onFailure fires once when the app gives up after maxRetries, with the failed state event",
          "[supervisor][hooks]") {
    Rig r;
    auto s = hooked("web");
    s.restart.max_retries = 1;
    r.load({s});
    r.sup.start_all();
    r.runtime.started("web");
    r.runtime.exit("web", 3);  // backoff: no hook
    CHECK(r.state("web") == AppState::backoff);
    CHECK(r.hooks.calls.empty());
    r.clock.advance(*r.clock.next_due());
    r.runtime.started("web");
    r.runtime.exit("web", 3);
    REQUIRE(r.state("web") == AppState::failed);

    REQUIRE(r.hooks.calls.size() == 1);
    const auto& c = r.hooks.calls[0];
    CHECK(c.app == "web");
    CHECK(c.kind == HookKind::failure);
    CHECK(c.hook == *s.hooks.on_failure);
    CHECK(c.event.type == "state");
    CHECK(c.event.state == "failed");
    CHECK_THAT(c.event.message, Catch::Contains("gave up after 1 restarts"));
    CHECK(c.event.seq > 0);
    CHECK(r.stored(c.event.seq) == c.event);

    // Staying failed is no new failure; a start and a new failure are.
    r.clock.advance(1h);
    CHECK(r.count("web", HookKind::failure) == 1);
    r.sup.start("web", [](auto) {});
    r.runtime.started("web");
    r.runtime.exit("web", 3);
    r.clock.advance(*r.clock.next_due());
    r.runtime.started("web");
    r.runtime.exit("web", 3);
    CHECK(r.state("web") == AppState::failed);
    CHECK(r.count("web", HookKind::failure) == 2);
    CHECK(r.count("web", HookKind::unhealthy) == 0);
    CHECK(r.count("web", HookKind::oom) == 0);
}

TEST_CASE("hooks: onFailure fires for an app that cannot be run and for a failed exit under restart never",
          "[supervisor][hooks]") {
    Rig r;
    r.runtime.no_limits = "resources need a cgroup driver";
    auto limited = hooked("limited");
    limited.resources.memory = 32ull << 20;
    auto once = hooked("once");
    once.restart.policy = RestartPolicy::never;
    auto clean = hooked("clean");
    clean.restart.policy = RestartPolicy::never;
    r.load({limited, once, clean});
    r.sup.start_all();
    CHECK(r.state("limited") == AppState::failed);
    REQUIRE(r.count("limited", HookKind::failure) == 1);
    CHECK_THAT(r.hooks.of("limited", HookKind::failure)[0].event.message, Catch::Contains("cgroup driver"));

    r.runtime.started("once");
    r.runtime.exit("once", 2);
    CHECK(r.state("once") == AppState::failed);
    CHECK(r.count("once", HookKind::failure) == 1);

    // A clean exit under `never` is `stopped`, not a failure.
    r.runtime.started("clean");
    r.runtime.exit("clean", 0);
    CHECK(r.state("clean") == AppState::stopped);
    CHECK(r.hooks.of("clean", HookKind::failure).empty());
}

TEST_CASE("hooks: nothing fires for starts, crashes that restart, readiness flips, operator stops and restarts",
          "[supervisor][hooks]") {
    Rig r;
    auto s = hooked("web");
    s.probes.readiness = http_probe();
    r.load({s});
    r.sup.start_all();
    r.runtime.started("web");
    r.probes.change("web", ProbeType::readiness, true);
    r.probes.change("web", ProbeType::readiness, false, "HTTP 503");
    CHECK(r.state("web") == AppState::unhealthy);  // readiness, not liveness: no onUnhealthy
    r.probes.change("web", ProbeType::readiness, true);
    r.runtime.exit("web", 1);  // a crash the policy restarts
    CHECK(r.state("web") == AppState::backoff);
    r.clock.advance(*r.clock.next_due());
    r.runtime.started("web");
    r.sup.restart("web", std::nullopt, [](auto) {});
    r.runtime.exit("web", 0, SIGTERM);
    r.runtime.started("web");
    r.sup.stop("web", std::nullopt, [](auto) {});
    r.runtime.exit("web", 0, SIGTERM);
    CHECK(r.state("web") == AppState::stopped);
    // An exit by SIGKILL that is not an OOM kill is not onOOM's.
    r.sup.start("web", [](auto) {});
    r.runtime.started("web");
    r.runtime.exit("web", 137, SIGKILL);
    CHECK(r.hooks.calls.empty());
}

TEST_CASE("hooks: onUnhealthy fires once per liveness failure, with the probe event", "[supervisor][hooks]") {
    Rig r;
    auto s = hooked("web");
    s.probes.liveness = http_probe();
    r.load({s});
    r.sup.start_all();
    r.runtime.started("web");
    r.probes.change("web", ProbeType::liveness, false, "connect 127.0.0.1:80: ECONNREFUSED");
    REQUIRE(r.count("web", HookKind::unhealthy) == 1);
    auto c = r.hooks.of("web", HookKind::unhealthy)[0];
    CHECK(c.hook == *s.hooks.on_unhealthy);
    CHECK(c.event.type == "probe");
    CHECK_THAT(c.event.message, Catch::Contains("liveness probe failed") && Catch::Contains("ECONNREFUSED"));
    CHECK(r.stored(c.event.seq) == c.event);

    // The stop and the restart that follow are not further transitions.
    r.runtime.exit("web", 0, SIGTERM);
    CHECK(r.state("web") == AppState::backoff);
    r.clock.advance(*r.clock.next_due());
    r.runtime.started("web");
    CHECK(r.count("web", HookKind::unhealthy) == 1);
    // The next instance's liveness failure is the next one.
    r.probes.change("web", ProbeType::liveness, false, "timeout");
    CHECK(r.count("web", HookKind::unhealthy) == 2);
    CHECK(r.count("web", HookKind::failure) == 0);
    CHECK(r.count("web", HookKind::oom) == 0);
}

TEST_CASE("hooks: onOOM fires once per OOM kill, with the oom event, and onFailure follows when the app gives up",
          "[supervisor][hooks]") {
    Rig r;
    auto s = hooked("hog");
    s.resources.memory = 32ull << 20;
    s.restart.max_retries = 1;
    r.load({s});
    r.sup.start_all();
    r.runtime.started("hog");
    r.runtime.exit_with("hog", oom_exit());
    REQUIRE(r.count("hog", HookKind::oom) == 1);
    auto c = r.hooks.of("hog", HookKind::oom)[0];
    CHECK(c.hook == *s.hooks.on_oom);
    CHECK(c.event.type == "oom");
    CHECK_THAT(c.event.message, Catch::Contains("memory limit 32M"));
    REQUIRE(c.event.exit);
    CHECK(c.event.exit->oom_killed);
    CHECK(r.stored(c.event.seq) == c.event);
    CHECK(r.count("hog", HookKind::failure) == 0);  // in backoff, not failed

    r.clock.advance(*r.clock.next_due());
    r.runtime.started("hog");
    r.runtime.exit_with("hog", oom_exit());
    CHECK(r.count("hog", HookKind::oom) == 2);
    CHECK(r.state("hog") == AppState::failed);
    CHECK(r.count("hog", HookKind::failure) == 1);
    // oom first, then the failure it led to.
    REQUIRE(r.hooks.calls.size() == 3);
    CHECK(r.hooks.calls[1].kind == HookKind::oom);
    CHECK(r.hooks.calls[2].kind == HookKind::failure);
    CHECK(r.hooks.calls[1].event.seq < r.hooks.calls[2].event.seq);
}

TEST_CASE("hooks: an app without hooks, or without that hook, fires nothing", "[supervisor][hooks]") {
    Rig r;
    AppSpec bare;
    bare.name = "bare";
    bare.command = {"/bin/bare"};
    bare.restart.policy = RestartPolicy::never;
    bare.resources.memory = 32ull << 20;
    auto only_oom = hooked("only");
    only_oom.hooks.on_failure.reset();
    only_oom.restart.policy = RestartPolicy::never;
    r.load({bare, only_oom});
    r.sup.start_all();
    r.runtime.started("bare");
    r.runtime.exit_with("bare", oom_exit());
    r.runtime.started("only");
    r.runtime.exit_with("only", oom_exit());
    CHECK(r.state("bare") == AppState::failed);
    CHECK(r.state("only") == AppState::failed);
    REQUIRE(r.hooks.calls.size() == 1);
    CHECK(r.hooks.calls[0].app == "only");
    CHECK(r.hooks.calls[0].kind == HookKind::oom);
}

TEST_CASE("hooks: a hook configured by a reload is used at the next transition, without a restart",
          "[supervisor][hooks]") {
    Rig r;
    AppSpec s;
    s.name = "web";
    s.command = {"/bin/web"};
    s.probes.liveness = http_probe();
    s.restart.policy = RestartPolicy::never;
    r.load({s});
    r.sup.start_all();
    r.runtime.started("web");

    AppDir fresh;
    auto with_hooks = s;
    with_hooks.hooks.on_unhealthy = hook("/usr/local/bin/page-me");
    with_hooks.hooks.on_failure = hook("/usr/local/bin/mail-me");
    fresh.apps.emplace("web", with_hooks);
    auto rep = r.sup.reload(fresh);
    CHECK(rep.unchanged == std::vector<std::string>{"web"});  // hooks alone restart nothing
    CHECK(r.runtime.launch_count("web") == 1);
    CHECK(r.state("web") == AppState::ready);

    r.probes.change("web", ProbeType::liveness, false, "timeout");
    REQUIRE(r.count("web", HookKind::unhealthy) == 1);
    CHECK(r.hooks.of("web", HookKind::unhealthy)[0].hook.command[0] == "/usr/local/bin/page-me");
    r.runtime.exit("web", 0, SIGTERM);
    CHECK(r.state("web") == AppState::failed);  // restart never: a liveness failure fails it
    REQUIRE(r.count("web", HookKind::failure) == 1);
    CHECK(r.hooks.of("web", HookKind::failure)[0].hook.command[0] == "/usr/local/bin/mail-me");

    // And a hook removed by a reload no longer fires.
    AppDir again;
    again.apps.emplace("web", s);
    r.sup.reload(again);
    r.sup.start("web", [](auto) {});
    r.runtime.started("web");
    r.probes.change("web", ProbeType::liveness, false, "timeout");
    CHECK(r.count("web", HookKind::unhealthy) == 1);
}
