// What the supervisor takes from its Runtime port beyond launching (issue 13): apps the
// runtime cannot run at all, the limits it enforces, the last exit kept across adoption.
#include <catch2/catch.hpp>

#include <csignal>

#include "fakes/fake_runtime.hpp"
#include "fakes/manual_clock.hpp"
#include "fakes/supervisor_rig.hpp"
#include "supervisor/supervisor.hpp"

using namespace isolated;
using namespace isolated::supervisor;
using namespace std::chrono_literals;
using isolated::test::FakeRuntime;
using isolated::test::ManualClock;

namespace {

using isolated::test::make_spec;

using Rig = isolated::test::SupervisorRig;

}  // namespace

TEST_CASE("an app the runtime cannot run fails at once, whatever its restart policy, and is never launched",
          "[supervisor][limits]") {
    Rig r;
    r.runtime.no_limits = "no cgroup driver, so its resources (memory) cannot be enforced";
    auto limited = make_spec("limited");
    limited.resources.memory = 32u << 20;
    limited.restart.policy = RestartPolicy::always;
    auto plain = make_spec("plain");
    r.load({limited, plain});
    r.sup.start_all({});
    CHECK(r.status("limited").state == AppState::failed);
    CHECK(r.status("limited").message == *r.runtime.no_limits);
    CHECK(r.runtime.launch_count("limited") == 0);
    r.clock.advance(60s);  // no backoff, no retry
    CHECK(r.runtime.launch_count("limited") == 0);
    CHECK(r.status("limited").state == AppState::failed);
    // Limits that are not in force are never reported.
    CHECK(r.status("limited").limits == ResourcesSpec{});
    // An app without limits is not concerned.
    REQUIRE(r.runtime.last("plain"));
    r.runtime.started("plain");
    CHECK(r.status("plain").state == AppState::ready);
}

TEST_CASE("status reports the limits the runtime enforces", "[supervisor][limits]") {
    Rig r;
    auto limited = make_spec("limited");
    limited.resources.memory = 32u << 20;
    limited.resources.pids = 64;
    r.load({limited});
    r.sup.start_all({});
    r.runtime.started("limited");
    CHECK(r.status("limited").limits == limited.resources);
}

TEST_CASE("adoption: the last exit recorded with a running instance is shown again", "[supervisor][adoption]") {
    Rig r;
    auto web = make_spec("web");
    ExitInfo before;
    before.code = 3;
    before.message = "exited with code 3";
    r.runtime.recorded["web"] = {web, 2, true, {}, before};
    r.load({web});
    auto adopted = r.sup.adopt_all();
    r.sup.start_all(adopted);
    CHECK(r.status("web").state == AppState::ready);
    CHECK(r.status("web").restarts == 2);
    REQUIRE(r.status("web").last_exit);
    CHECK(r.status("web").last_exit->code == 3);
}

TEST_CASE("every launch hands the runtime the app's last exit, to record with the instance", "[supervisor][adoption]") {
    Rig r;
    auto web = make_spec("web");
    web.restart.policy = RestartPolicy::always;
    r.load({web});
    r.sup.start_all({});
    CHECK_FALSE(r.runtime.last("web")->ctx.last_exit);
    r.runtime.started("web");
    r.runtime.exit("web", 7);
    r.clock.advance(10s);
    REQUIRE(r.runtime.launch_count("web") == 2);
    REQUIRE(r.runtime.last("web")->ctx.last_exit);
    CHECK(r.runtime.last("web")->ctx.last_exit->code == 7);
}
