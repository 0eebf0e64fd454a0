// When the supervisor tells the runtime to release an app's kept pod sandbox (issue 19,
// item 1): every way out of the restart cycle does (stop, a policy that does not
// restart, maxRetries, removal, shutdown, a daemon start that does not start the app),
// a restart by the policy (backoff) does not.
#include <catch2/catch.hpp>

#include "fakes/supervisor_rig.hpp"

using namespace isolated;
using namespace isolated::supervisor;
using namespace std::chrono_literals;
using isolated::test::make_spec;

namespace {
using Rig = isolated::test::SupervisorRig;

AppSpec restarting(const std::string& name, RestartPolicy policy = RestartPolicy::always) {
    auto s = make_spec(name);
    s.restart.policy = policy;
    return s;
}
}  // namespace

TEST_CASE("sandbox: a restart by the policy keeps the sandbox, the backoff included", "[supervisor][sandbox-keep]") {
    Rig r;
    r.load({restarting("web")});
    r.sup.start_all();
    r.runtime.started("web");
    for (int i = 0; i < 3; ++i) {
        r.runtime.exit("web", 0, 9);  // crash
        CHECK(r.status("web").state == AppState::backoff);
        r.clock.advance(60s);
        CHECK(r.status("web").state != AppState::backoff);
        r.runtime.started("web");
    }
    CHECK(r.runtime.launch_count("web") == 4);
    CHECK(r.runtime.release_count("web") == 0);
    // A redefinition that restarts the app leaves the comparison to the runtime.
    auto changed = restarting("web");
    changed.command.push_back("--v2");
    AppDir fresh;
    fresh.apps.emplace("web", changed);
    r.sup.reload(fresh);
    r.runtime.exit("web", 0, 15);
    CHECK(r.runtime.launch_count("web") == 5);
    CHECK(r.runtime.release_count("web") == 0);
}

TEST_CASE("sandbox: an operator restart gets a new sandbox, running or in backoff", "[supervisor][sandbox-keep]") {
    Rig r;
    r.load({restarting("web")});
    r.sup.start_all();
    r.runtime.started("web");
    r.sup.restart("web", std::nullopt, [](std::optional<std::string>) {});
    CHECK(r.runtime.release_count("web") == 0);  // its instance still runs
    r.runtime.exit("web", 0, 15);
    CHECK(r.runtime.release_count("web") == 1);
    CHECK(r.runtime.launch_count("web") == 2);
    // Released before the launch, not after it.
    CHECK(r.runtime.kept.count("web") == 1);
    r.runtime.started("web");
    r.runtime.exit("web", 1);
    CHECK(r.status("web").state == AppState::backoff);
    r.sup.restart("web", std::nullopt, [](std::optional<std::string>) {});
    CHECK(r.runtime.release_count("web") == 2);
    CHECK(r.runtime.launch_count("web") == 3);
    // The crash after it is the policy's again.
    r.runtime.started("web");
    r.runtime.exit("web", 1);
    r.clock.advance(60s);
    CHECK(r.runtime.launch_count("web") == 4);
    CHECK(r.runtime.release_count("web") == 2);
}

TEST_CASE("sandbox: an operator stop releases it, running or in backoff", "[supervisor][sandbox-keep]") {
    Rig r;
    r.load({restarting("web"), restarting("api")});
    r.sup.start_all();
    r.runtime.started("web");
    r.runtime.started("api");
    r.sup.stop("web", std::nullopt, [](std::optional<std::string>) {});
    CHECK(r.runtime.release_count("web") == 0);  // still stopping: its instance runs
    r.runtime.exit("web", 0, 15);
    CHECK(r.status("web").state == AppState::stopped);
    CHECK(r.runtime.release_count("web") == 1);

    r.runtime.exit("api", 1);
    CHECK(r.status("api").state == AppState::backoff);
    CHECK(r.runtime.release_count("api") == 0);
    r.sup.stop("api", std::nullopt, [](std::optional<std::string>) {});
    CHECK(r.status("api").state == AppState::stopped);
    CHECK(r.runtime.release_count("api") == 1);
    CHECK(r.runtime.kept.empty());
}

TEST_CASE("sandbox: a policy that does not restart releases it (completed, failed, maxRetries)",
          "[supervisor][sandbox-keep]") {
    Rig r;
    auto once = restarting("once", RestartPolicy::on_failure);
    auto never = restarting("never", RestartPolicy::never);
    auto limited = restarting("limited", RestartPolicy::always);
    limited.restart.max_retries = 1;
    r.load({once, never, limited});
    r.sup.start_all();
    for (auto n : {"once", "never", "limited"}) r.runtime.started(n);

    r.runtime.exit("once", 0);  // completed: on-failure does not restart
    CHECK(r.status("once").state == AppState::stopped);
    CHECK(r.runtime.release_count("once") == 1);

    r.runtime.exit("never", 2);
    CHECK(r.status("never").state == AppState::failed);
    CHECK(r.runtime.release_count("never") == 1);

    r.runtime.exit("limited", 1);
    CHECK(r.status("limited").state == AppState::backoff);
    r.clock.advance(60s);
    r.runtime.started("limited");
    CHECK(r.runtime.release_count("limited") == 0);
    r.runtime.exit("limited", 1);
    CHECK(r.status("limited").state == AppState::failed);
    CHECK(r.runtime.release_count("limited") == 1);
}

TEST_CASE("sandbox: removal and shutdown release it, a changed definition is the runtime's to compare",
          "[supervisor][sandbox-keep]") {
    Rig r;
    r.load({restarting("drop"), restarting("change"), restarting("stay")});
    r.sup.start_all();
    for (auto n : {"drop", "change", "stay"}) r.runtime.started(n);

    AppDir fresh;
    auto changed = restarting("change");
    PortSpec port;
    port.host = 8080;
    port.app = 80;
    changed.network.ports.push_back(port);
    fresh.apps.emplace("change", changed);
    fresh.apps.emplace("stay", restarting("stay"));
    r.sup.reload(fresh);
    r.runtime.exit("drop", 0, 15);
    r.clock.run_posted();
    CHECK_FALSE(r.sup.contains("drop"));
    CHECK(r.runtime.release_count("drop") >= 1);
    // The redefined app restarts at once: its next launch (the runtime) sees that its
    // sandbox was made for other ports and makes a new one.
    r.runtime.exit("change", 0, 15);
    CHECK(r.runtime.launch_count("change") == 2);
    CHECK(r.runtime.release_count("change") == 0);
    r.runtime.started("change");

    bool done = false;
    r.sup.shutdown([&](std::optional<std::string>) { done = true; });
    r.runtime.exit("change", 0, 15);
    r.runtime.exit("stay", 0, 15);
    r.clock.run_posted();
    CHECK(done);
    CHECK(r.runtime.release_count("change") == 1);
    CHECK(r.runtime.release_count("stay") == 1);
}

TEST_CASE("sandbox: at daemon start, kept sandboxes of apps that do not start are released, the others reused",
          "[supervisor][sandbox-keep]") {
    Rig r;
    // Kept by an earlier daemon: an app in backoff when it died, one the operator
    // stopped (the daemon died before it released it), one whose file is gone, one
    // with autostart false.
    r.runtime.kept = {"backoff", "stopped", "gone", "manual"};
    r.runtime.stopped_by_operator = {"stopped"};
    auto manual = restarting("manual");
    manual.autostart = false;
    r.load({restarting("backoff"), restarting("stopped"), manual});
    auto adopted = r.sup.adopt_all();
    r.sup.start_all(adopted);
    CHECK(r.runtime.release_count("backoff") == 0);
    CHECK(r.runtime.launch_count("backoff") == 1);
    CHECK(r.runtime.release_count("stopped") == 1);
    CHECK(r.runtime.release_count("gone") == 1);
    CHECK(r.runtime.release_count("manual") == 1);
    CHECK(r.runtime.kept == std::set<std::string>{"backoff"});
}

TEST_CASE("sandbox: an instance that ended while no daemon ran is handled by its policy", "[supervisor][sandbox-keep]") {
    Rig r;
    auto always = restarting("always");
    auto never = restarting("never", RestartPolicy::never);
    ExitInfo crash;
    crash.signal = 9;
    r.runtime.recorded["always"] = {always, 0, false, crash, {}};
    r.runtime.recorded["never"] = {never, 0, false, crash, {}};
    r.runtime.kept = {"always", "never"};
    r.load({always, never});
    auto adopted = r.sup.adopt_all();
    r.sup.start_all(adopted);
    CHECK(r.status("always").state == AppState::backoff);
    CHECK(r.runtime.release_count("always") == 0);
    CHECK(r.status("never").state == AppState::failed);
    CHECK(r.runtime.release_count("never") == 1);
}
