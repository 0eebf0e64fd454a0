// Regression tests for daemon bugs the soak runner (tests/soak/, issue 18) found, one
// TEST_CASE per bug, each reproducing the soak's failing step without the soak.
#include <signal.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <thread>

#include "integration/harness.hpp"

using namespace isolated::test;
using namespace std::chrono_literals;

namespace {

void require_root() { require_prerequisite(is_root(), "these tests need root"); }

nlohmann::json leases_of(const Daemon& d) {
    std::ifstream f(d.state_dir() + "/leases.json");
    return nlohmann::json::parse(f)["leases"];
}

}  // namespace

TEST_CASE("soak: a bridged app removed by a reload gives its address lease back once it has stopped",
          "[integration][soak]") {
    require_root();
    Daemon d;
    d.write_app("keep", ticker(d));
    d.write_app("gone", ticker(d));
    d.start();
    d.wait_state("keep", "ready");
    d.wait_state("gone", "ready");
    REQUIRE(leases_of(d).contains("gone"));
    d.remove_app("gone");
    REQUIRE(d.isoctl({"reload"}).code == 0);
    // The reload's own reconcile ran while "gone" was still stopping; its lease must go
    // when it is removed, not at some later reload or daemon start.
    REQUIRE(wait_until([&] { return d.app("keep").is_object() && d.http("GET", "/v1/apps/gone").code == 404; }));
    CHECK(wait_until([&] { return !leases_of(d).contains("gone"); }, 5s));
    CHECK(leases_of(d).contains("keep"));
    CHECK(d.stop() == 0);
}

namespace {

std::string netns_of(int pid) {
    char buf[128];
    ssize_t n = ::readlink(("/proc/" + std::to_string(pid) + "/ns/net").c_str(), buf, sizeof buf - 1);
    return n > 0 ? std::string(buf, static_cast<size_t>(n)) : std::string();
}

}  // namespace

TEST_CASE("soak: an app joined to another's network namespace follows it into its new instance's namespace",
          "[integration][soak]") {
    require_root();
    Daemon d;
    const std::string fast = R"(, "restart": {"policy": "always", "backoff": {"initial": "100ms"}})";
    d.write_app("web", ticker(d, fast));
    d.write_app("side", ticker(d, R"(, "network": {"mode": "app:web"})" + fast));
    d.start();
    d.wait_state("web", "ready");
    d.wait_state("side", "ready");
    REQUIRE(netns_of(d.app("side")["pid"]) == netns_of(d.app("web")["pid"]));
    int old_web = d.app("web")["pid"];
    ::kill(old_web, SIGKILL);
    // web's new instance has a new namespace (and the veth): side, which alone still
    // held the old one, cut off from the bridge, is killed and restarts in the new one.
    REQUIRE(wait_until(
        [&] {
            auto w = d.app("web"), s = d.app("side");
            return w["state"] == "ready" && s["state"] == "ready" && w["pid"] != old_web &&
                   netns_of(s["pid"]) == netns_of(w["pid"]);
        },
        15s));
    CHECK(d.stop() == 0);
}

TEST_CASE("soak: a daemon killed while an app waits in backoff keeps its restart count and last exit",
          "[integration][soak]") {
    require_root();
    Daemon d;
    d.write_app("crasher", R"({"command": ["sh", "-c", "exit 3; : )" + d.dir() +
                               R"("], "restart": {"policy": "always", "backoff": {"initial": "300ms", "max": "20s"}}})");
    d.start();
    // Each backoff doubles: by the third restart it waits seconds, long enough to kill the
    // daemon in it.
    REQUIRE(wait_until([&] { return d.app("crasher")["restarts"] >= 3 && d.state("crasher") == "backoff"; }, 20s));
    int restarts = d.app("crasher")["restarts"];
    d.kill9();
    d.start();
    auto a = d.app("crasher");
    INFO(a.dump());
    CHECK(a["restarts"] >= restarts);
    REQUIRE(a["lastExit"].is_object());
    CHECK(a["lastExit"]["code"] == 3);
    CHECK(d.stop() == 0);
}

TEST_CASE("soak: a daemon restarted while a running app's file is broken keeps the app running with its last good definition",
          "[integration][soak]") {
    require_root();
    Daemon d;
    d.write_app("svc", ticker(d));
    d.start();
    d.wait_state("svc", "ready");
    int pid = d.app("svc")["pid"];
    write_file(d.apps_dir() + "/svc.json", R"({"command": ["sh", "-c"], "restart": {"policy": 7})");
    REQUIRE(d.isoctl({"reload"}).code != 2);
    CHECK(d.app("svc")["pid"] == pid);
    d.kill9();
    d.start();
    auto a = d.app("svc");
    INFO(a.dump() << "\n" << d.daemon_log());
    CHECK(a["state"] == "ready");
    CHECK(a["pid"] == pid);
    CHECK(!a["fileErrors"].empty());
    // Fixed, it is the same definition: nothing restarts.
    d.write_app("svc", ticker(d));
    REQUIRE(d.isoctl({"reload"}).code == 0);
    CHECK(d.app("svc")["pid"] == pid);
    CHECK(d.stop() == 0);
}

TEST_CASE("soak: an app the operator stopped stays stopped when a reload adds it back after a daemon restart rejected its file",
          "[integration][soak]") {
    require_root();
    Daemon d;
    d.write_app("svc", ticker(d));
    d.start();
    d.wait_state("svc", "ready");
    REQUIRE(d.isoctl({"stop", "svc"}).code == 0);
    write_file(d.apps_dir() + "/svc.json", R"({"command": ["sh", "-c"], "restart": {"policy": 7})");
    d.kill9();
    d.start();
    CHECK(d.state("svc") == "failed");  // its file rejected before this daemon accepted it
    d.write_app("svc", ticker(d));
    REQUIRE(d.isoctl({"reload"}).code == 0);
    // Added by the reload, but stopped by the operator: no start until `isoctl start`.
    std::this_thread::sleep_for(1s);
    auto a = d.app("svc");
    INFO(a.dump());
    CHECK(a["state"] == "stopped");
    CHECK(a["pid"].is_null());
    REQUIRE(d.isoctl({"start", "svc"}).code == 0);
    d.wait_state("svc", "ready");
    CHECK(d.stop() == 0);
}

TEST_CASE("soak: a file removed while it was rejected takes the operator's stop with it, so a new file of that name starts",
          "[integration][soak]") {
    require_root();
    Daemon d;
    d.write_app("svc", ticker(d));
    d.start();
    d.wait_state("svc", "ready");
    REQUIRE(d.isoctl({"stop", "svc"}).code == 0);
    write_file(d.apps_dir() + "/svc.json", R"({"command": ["sh", "-c"], "restart": {"policy": 7})");
    d.kill9();
    d.start();
    CHECK(d.state("svc") == "failed");
    d.remove_app("svc");
    REQUIRE(d.isoctl({"reload"}).code == 0);
    // A new app of the same name: nothing of the old one's stop applies.
    d.write_app("svc", ticker(d));
    REQUIRE(d.isoctl({"reload"}).code == 0);
    d.wait_state("svc", "ready");
    CHECK(d.stop() == 0);
}
