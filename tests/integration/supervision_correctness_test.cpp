// What a careful operator found wrong in a day of use (issue 13), as regressions against
// the real daemon: start/restart answer only once the app is up, stopping a dependency
// stops its dependents first, rejected files are visible, OOM kills are events of their
// own, a new definition is a new app, autostart.
#include <signal.h>

#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>

#include "integration/harness.hpp"

using namespace isolated::test;
using namespace std::chrono_literals;
using nlohmann::json;

namespace {

void require_root() { require_prerequisite(is_root(), "integration tests need root (namespaces, unshare --net)"); }

// A shell app that becomes ready (exec probe) about `delay` after it starts.
std::string slow_ready(const Daemon& d, const std::string& delay, const std::string& extra = "") {
    return R"({"command": ["sh", "-c", "rm -f /tmp/ready; sleep )" + delay +
           R"(; touch /tmp/ready; while true; do sleep 0.2; done; : )" + d.dir() +
           R"("], "stop": {"timeout": "5s"},
        "probes": {"readiness": {"exec": {"command": ["test", "-e", "/tmp/ready"]}, "period": "1s"}})" +
           extra + "}";
}

std::vector<json> events_of(Daemon& d, const std::string& app) {
    auto r = d.http("GET", "/v1/events?app=" + app);
    std::vector<json> out;
    std::istringstream in(r.out);
    for (std::string line; std::getline(in, line);)
        if (!line.empty()) out.push_back(json::parse(line));
    return out;
}

}  // namespace

TEST_CASE("start waits for a crash-at-once app to settle and reports the failure, autostart false stays stopped",
          "[integration][daemon][issue13]") {
    require_root();
    Daemon d;
    d.write_app("quick", R"({"command": ["sh", "-c", "exit 3"], "autostart": false})");
    d.write_app("web", ticker(d));
    d.start();
    d.wait_state("web", "ready");
    // autostart: false -- defined, not started by the daemon.
    CHECK(d.state("quick") == "stopped");
    auto r = d.isoctl({"start", "quick"});
    CHECK(r.code == 1);
    CHECK_THAT(r.err, Catch::Contains("exited with code 3"));
    // The exit is the last word: no `ready` state after it.
    auto evs = events_of(d, "quick");
    bool seen_exit = false;
    for (const auto& e : evs) {
        if (e["type"] == "exit") seen_exit = true;
        if (seen_exit) CHECK_FALSE((e["type"] == "state" && e["state"] == "ready"));
    }
    CHECK(seen_exit);
    // A start of a running app answers at once.
    CHECK(d.isoctl({"start", "web"}).code == 0);
}

TEST_CASE("start and restart answer once the readiness probe passes, --timeout bounds the wait",
          "[integration][daemon][issue13]") {
    require_root();
    Daemon d;
    d.write_app("slow", slow_ready(d, "2"));
    d.write_app("never", R"({"command": ["sh", "-c", "while true; do sleep 0.2; done; : )" + d.dir() +
                             R"("], "autostart": false,
        "probes": {"readiness": {"exec": {"command": ["false"]}, "period": "1s"}}})");
    d.start();
    d.wait_state("slow", "ready", 20s);
    auto r = d.isoctl({"restart", "slow"});
    CHECK(r.code == 0);
    CHECK_THAT(r.out, Catch::Contains("slow: ready"));
    CHECK(d.state("slow") == "ready");

    r = d.isoctl({"start", "never", "--timeout", "3s"});
    CHECK(r.code == 1);
    CHECK_THAT(r.err, Catch::Contains("not up after 3s"));
    // --no-wait answers at once, with the state the app is in.
    r = d.isoctl({"restart", "slow", "--no-wait"});
    CHECK(r.code == 0);
    CHECK_THAT(r.out, !Catch::Contains("slow: ready"));
}

TEST_CASE("stopping a dependency stops its dependents first, starting a dependent waits for what it pulled in",
          "[integration][daemon][issue13]") {
    require_root();
    Daemon d;
    d.write_app("db", slow_ready(d, "2", R"(, "restart": {"policy": "never"})"));
    d.write_app("api", ticker(d, R"(, "dependsOn": ["db"])"));
    d.start();
    d.wait_state("api", "ready", 20s);

    auto r = d.isoctl({"stop", "db"});
    CHECK(r.code == 0);
    CHECK(d.state("db") == "stopped");
    CHECK(d.state("api") == "stopped");
    bool api_first = false;
    for (const auto& e : events_of(d, "")) {
        if (e["app"] == "api" && e["type"] == "state" && e["state"] == "stopped") api_first = true;
        if (e["app"] == "db" && e["type"] == "state" && e["state"] == "stopped") {
            CHECK(api_first);
            break;
        }
    }

    // api up while db went down on its own (policy never): starting api starts db, and
    // answers only once db is ready too.
    CHECK(d.isoctl({"start", "api"}).code == 0);
    CHECK(d.state("db") == "ready");
    ::kill(d.app("db")["pid"].get<int>(), SIGKILL);
    REQUIRE(wait_until([&] { return d.state("db") == "failed"; }));
    CHECK(d.state("api") == "ready");
    r = d.isoctl({"start", "api"});
    CHECK(r.code == 0);
    CHECK(d.state("db") == "ready");
}

TEST_CASE("rejected app files are visible in the list, the detail, the status table and the metrics",
          "[integration][daemon][issue13]") {
    require_root();
    Daemon d;
    d.write_app("web", ticker(d));
    d.write_app("broken", R"({"command": ["true"], "resources": {"memory": "12Q"}})");
    d.start();
    d.wait_state("web", "ready");

    auto broken = d.app("broken");
    CHECK(broken["state"] == "failed");
    REQUIRE(broken["fileErrors"].size() == 1);
    CHECK_THAT(broken["fileErrors"][0].get<std::string>(), Catch::Contains("resources.memory"));
    CHECK(broken["spec"].is_null());
    bool listed = false;
    auto all = d.get_json("/v1/apps");
    for (const auto& a : all["apps"])
        if (a["name"] == "broken") listed = true;
    CHECK(listed);
    auto r = d.isoctl({"start", "broken"});
    CHECK(r.code == 1);
    CHECK_THAT(r.err, Catch::Contains("rejected"));

    // A good app whose file breaks keeps running on its last good definition, marked.
    d.write_app("web", R"({"command": "not a list"})");
    CHECK(d.isoctl({"reload"}).code == 1);
    auto web = d.app("web");
    CHECK(web["state"] == "ready");
    CHECK(web["fileErrors"].size() == 1);
    auto st = d.isoctl({"status"});
    CHECK_THAT(st.out, Catch::Contains("web.json"));
    auto metrics = d.http("GET", "/v1/metrics").out;
    CHECK_THAT(metrics, Catch::Contains("isolated_app_file_rejected{app=\"web\",name=\"web\"} 1"));
    CHECK_THAT(metrics, Catch::Contains("isolated_app_file_rejected{app=\"broken\",name=\"broken\"} 1"));

    // Fixed: the mark goes; removed: the broken one is gone from the list.
    d.write_app("web", ticker(d));
    d.remove_app("broken");
    CHECK(d.isoctl({"reload"}).code == 0);
    CHECK(d.app("web")["fileErrors"].empty());
    CHECK(d.http("GET", "/v1/apps/broken").code == 404);
    CHECK_THAT(d.http("GET", "/v1/metrics").out, Catch::Contains("isolated_app_file_rejected{app=\"web\",name=\"web\"} 0"));
}

TEST_CASE("an OOM kill is an event of its own and labelled as such", "[integration][daemon][cgroup][issue13]") {
    require_root();
    require_prerequisite(std::filesystem::exists("/sys/fs/cgroup/memory/cgroup.procs") ||
                             std::filesystem::exists("/sys/fs/cgroup/cgroup.controllers"),
                         "a cgroup hierarchy with the memory controller");
    Daemon d;
    d.write_app("hog", probe_app_json("alloc 512", R"(, "resources": {"memory": "32M"}, "restart": {"policy": "never"})"));
    d.start();
    REQUIRE(wait_until([&] { return d.state("hog") == "failed"; }, 30s));
    auto hog = d.app("hog");
    CHECK(hog["lastExit"]["oomKilled"] == true);
    CHECK(hog["lastExit"]["reason"] == "oomKilled");
    bool oom_event = false;
    for (const auto& e : events_of(d, "hog"))
        if (e["type"] == "oom") {
            oom_event = true;
            CHECK_THAT(e["message"].get<std::string>(), Catch::Contains("memory limit 32M"));
        }
    CHECK(oom_event);
    auto st = d.isoctl({"status"});
    CHECK_THAT(st.out, Catch::Contains("oom-killed"));
    CHECK_THAT(st.out, !Catch::Contains("exec failed"));
}

TEST_CASE("a changed definition is a new app: restarts start over", "[integration][daemon][issue13]") {
    require_root();
    Daemon d;
    d.write_app("web", ticker(d));
    d.start();
    d.wait_state("web", "ready");
    ::kill(d.app("web")["pid"].get<int>(), SIGKILL);
    REQUIRE(wait_until([&] { return d.app("web")["restarts"] == 1 && d.state("web") == "ready"; }, 10s));
    d.write_app("web", ticker(d, R"(, "env": {"V": "2"})"));
    CHECK(d.isoctl({"reload"}).code == 0);
    REQUIRE(wait_until([&] { return d.state("web") == "ready" && d.app("web")["spec"]["env"].contains("V"); }, 15s));
    CHECK(d.app("web")["restarts"] == 0);
    // autostart alone is not a new definition: nothing restarts.
    int pid = d.app("web")["pid"];
    d.write_app("web", ticker(d, R"(, "env": {"V": "2"}, "autostart": false)"));
    CHECK(d.isoctl({"reload"}).code == 0);
    CHECK(d.app("web")["pid"] == pid);
    CHECK(d.app("web")["spec"]["autostart"] == false);
}
