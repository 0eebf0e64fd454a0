// Supervisor-level regression tests for what the soak runner (tests/soak/, issue 18)
// found; the integration tests of the same bugs are tests/integration/soak_regressions_test.cpp.
#include <catch2/catch.hpp>

#include "fakes/fake_runtime.hpp"
#include "fakes/supervisor_rig.hpp"
#include "supervisor/supervisor.hpp"

using namespace isolated;
using namespace isolated::supervisor;
using isolated::test::make_spec;

TEST_CASE("soak: a removed app is forgotten by the runtime once its instance has ended, not before",
          "[supervisor][soak]") {
    isolated::test::SupervisorRig r;
    r.load({make_spec("keep"), make_spec("drop")});
    r.sup.start_all();
    r.runtime.started("keep");
    r.runtime.started("drop");
    AppDir fresh;
    fresh.apps.emplace("keep", make_spec("keep"));
    r.sup.reload(fresh);
    r.clock.run_posted();
    CHECK(r.runtime.forgotten.empty());  // still stopping: its lease is still in use
    r.runtime.exit("drop", 0, 15);
    r.clock.run_posted();
    CHECK(r.runtime.forgotten == std::vector<std::string>{"drop"});
}

TEST_CASE("soak: an app joined to another's network namespace is killed when that instance ends, and only once",
          "[supervisor][soak]") {
    isolated::test::SupervisorRig r;
    auto side = make_spec("side");
    side.network.mode = NetworkMode::app;
    side.network.app = "web";
    r.load({make_spec("web"), side});
    r.sup.start_all();
    r.runtime.started("web");
    r.clock.run_posted();
    r.runtime.started("side");
    r.clock.run_posted();
    REQUIRE(r.status("side").state == AppState::ready);
    CHECK(r.runtime.last("side")->kills == 0);
    r.runtime.exit("web", 0, 9);
    r.clock.run_posted();
    CHECK(r.runtime.last("side")->kills == 1);
    // web comes back (after its backoff): side, still ending, is not killed again.
    r.clock.advance(std::chrono::seconds(10));
    r.clock.run_posted();
    r.runtime.started("web");
    r.clock.run_posted();
    CHECK(r.runtime.last("side")->kills == 1);
}
