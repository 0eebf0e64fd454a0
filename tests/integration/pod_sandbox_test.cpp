// The pod sandbox an app keeps across restarts (issue 19, item 1): its network
// namespace -- address, veth, forwards, the same namespace (inode) -- survives a crash
// and the restart its policy makes, is adopted by a restarted daemon, and goes on stop,
// on removal, and when a reload changes the app's network definition.
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <filesystem>
#include <thread>

#include "integration/harness.hpp"

using namespace isolated::test;
using namespace std::chrono_literals;
using nlohmann::json;

namespace {

void require_root() { require_prerequisite(is_root(), "integration tests need root (namespaces, cgroups)"); }

// "net:[4026532...]" of the process's network namespace; "" once it is gone.
std::string netns_of(int pid) { return read_link("/proc/" + std::to_string(pid) + "/ns/net"); }

std::string web_json(const std::string& ports = R"([{"host": 8080, "app": 80}])",
                     const std::string& backoff = R"({"initial": "100ms"})") {
    return probe_app_json("serve 80", R"(, "network": {"ports": )" + ports +
                                          R"(}, "restart": {"policy": "always", "backoff": )" + backoff + "}");
}

// Waits for the app to run another instance than OLD_PID, and returns its JSON.
json wait_new_instance(Daemon& d, const std::string& app, int old_pid) {
    REQUIRE(wait_until(
        [&] {
            auto a = d.app(app);
            return a["pid"].is_number() && a["pid"].get<int>() != old_pid && a["state"] == "ready";
        },
        std::chrono::seconds(15) * slow_factor()));
    return d.app(app);
}

bool kept_mount(Daemon& d, const std::string& app) {
    for (const auto& m : mounts_under(d.run_dir()))
        if (m == d.run_dir() + "/netns/" + app) return true;
    return false;
}

bool has_veth(Daemon& d, const std::string& app) {
    return d.in_netns({"ip", "-o", "link", "show", "veth-" + app}).code == 0;
}

std::string table(Daemon& d) { return d.in_netns({"nft", "list", "table", "ip", "isolated"}).out; }

std::string fetch(Daemon& d) {
    return d.in_netns({"curl", "-s", "--max-time", "5", "http://127.0.0.1:8080/"}).out;
}

void check_torn_down(Daemon& d, const std::string& app) {
    CHECK_FALSE(kept_mount(d, app));
    CHECK_FALSE(std::filesystem::exists(d.run_dir() + "/netns/" + app));
    CHECK_FALSE(std::filesystem::exists(d.run_dir() + "/apps/" + app + "/sandbox.json"));
    CHECK_THAT(table(d), !Catch::Contains("8080"));
    // The veth goes with its namespace, which the kernel frees a moment after the last
    // reference (the bind mount) went.
    CHECK(wait_until([&] { return !has_veth(d, app); }));
}

}  // namespace

TEST_CASE("sandbox-keep: a crash restart keeps the address, the network namespace and the forwards, stop tears them down",
          "[integration][sandbox-keep]") {
    require_root();
    require_prerequisite(have_tool("curl") && have_tool("nft") && have_tool("ip"), "curl, nft and ip");
    Daemon d;
    d.write_app("web", web_json());
    d.start();
    d.wait_state("web", "ready");
    auto first = d.app("web");
    const int pid0 = first["pid"];
    const std::string address = first["address"], ns0 = netns_of(pid0);
    REQUIRE_FALSE(ns0.empty());
    CHECK(kept_mount(d, "web"));
    CHECK(fetch(d) == "hello from web\n");

    for (int round = 0; round < 2; ++round) {
        const int pid = d.app("web")["pid"];
        REQUIRE(::kill(pid, SIGKILL) == 0);
        auto next = wait_new_instance(d, "web", pid);
        INFO("round " << round);
        CHECK(next["address"] == address);
        CHECK(netns_of(next["pid"].get<int>()) == ns0);
        CHECK(next["restarts"] == round + 1);
        CHECK(has_veth(d, "web"));
        CHECK_THAT(table(d), Catch::Contains("8080"));
        // The forward still leads to the app (now its new instance).
        CHECK(wait_until([&] { return fetch(d) == "hello from web\n"; }));
    }

    // An operator's restart is a new start: a new namespace, the same address.
    const int before_restart = d.app("web")["pid"];
    CHECK(d.isoctl({"restart", "web"}).code == 0);
    auto restarted = wait_new_instance(d, "web", before_restart);
    CHECK(restarted["address"] == address);
    const std::string ns_restarted = netns_of(restarted["pid"].get<int>());
    CHECK(ns_restarted != ns0);
    CHECK(kept_mount(d, "web"));
    CHECK(wait_until([&] { return fetch(d) == "hello from web\n"; }));

    CHECK(d.isoctl({"stop", "web"}).code == 0);
    CHECK(d.state("web") == "stopped");
    check_torn_down(d, "web");

    // Started again: a new namespace, the same (sticky) address.
    CHECK(d.isoctl({"start", "web"}).code == 0);
    d.wait_state("web", "ready");
    auto again = d.app("web");
    CHECK(again["address"] == address);
    CHECK(netns_of(again["pid"].get<int>()) != ns_restarted);
    CHECK(d.stop() == 0);
    CHECK(mounts_under(d.run_dir()).empty());
}

TEST_CASE("sandbox-keep: network none keeps its namespace too, and a policy that does not restart releases it",
          "[integration][sandbox-keep]") {
    require_root();
    Daemon d;
    // Ends with code 0 once /tmp/quit exists (/tmp is fresh at every start).
    d.write_app("solo", R"({"command": ["sh", "-c", "echo started; while [ ! -e /tmp/quit ]; do sleep 0.1; done; : )" +
                            d.dir() + R"("], "stop": {"timeout": "5s"}, "network": {"mode": "none"}, )"
                                      R"("restart": {"policy": "on-failure", "backoff": {"initial": "100ms"}}})");
    d.start();
    d.wait_state("solo", "ready");
    const int pid0 = d.app("solo")["pid"];
    const std::string ns0 = netns_of(pid0);
    CHECK(kept_mount(d, "solo"));
    REQUIRE(::kill(pid0, SIGKILL) == 0);
    auto next = wait_new_instance(d, "solo", pid0);
    CHECK(netns_of(next["pid"].get<int>()) == ns0);
    // lo is still up in it (IFF_UP | IFF_LOOPBACK).
    CHECK(d.isoctl({"exec", "-T", "solo", "--", "cat", "/sys/class/net/lo/flags"}).out == "0x9\n");

    // A clean exit: on-failure does not restart it, so its sandbox goes.
    CHECK(d.isoctl({"exec", "-T", "solo", "--", "touch", "/tmp/quit"}).code == 0);
    d.wait_state("solo", "stopped");
    CHECK_FALSE(kept_mount(d, "solo"));
    CHECK_FALSE(std::filesystem::exists(d.run_dir() + "/apps/solo/sandbox.json"));
    CHECK(d.stop() == 0);
    CHECK(mounts_under(d.run_dir()).empty());
}

TEST_CASE("sandbox-keep: removal of the app file and a reload that changes its network take the sandbox",
          "[integration][sandbox-keep]") {
    require_root();
    require_prerequisite(have_tool("curl") && have_tool("nft") && have_tool("ip"), "curl, nft and ip");
    Daemon d;
    d.write_app("web", web_json());
    d.write_app("other", ticker(d, R"(, "restart": {"policy": "always", "backoff": {"initial": "100ms"}})"));
    d.start();
    d.wait_state("web", "ready");
    d.wait_state("other", "ready");
    const int pid0 = d.app("web")["pid"];
    const std::string ns0 = netns_of(pid0);

    // Other ports: the app restarts in a new namespace with the new forward only.
    d.write_app("web", web_json(R"([{"host": 8081, "app": 80}])"));
    CHECK(d.isoctl({"reload"}).code == 0);
    auto next = wait_new_instance(d, "web", pid0);
    const std::string ns1 = netns_of(next["pid"].get<int>());
    CHECK(ns1 != ns0);
    CHECK(kept_mount(d, "web"));
    auto t = table(d);
    CHECK_THAT(t, Catch::Contains("8081"));
    CHECK_THAT(t, !Catch::Contains("8080"));
    CHECK(d.in_netns({"curl", "-s", "--max-time", "5", "http://127.0.0.1:8081/"}).out == "hello from web\n");

    // A crash of an unrelated app changes nothing of web's.
    const int other_pid = d.app("other")["pid"];
    ::kill(other_pid, SIGKILL);
    wait_new_instance(d, "other", other_pid);
    CHECK(netns_of(d.app("web")["pid"].get<int>()) == ns1);

    // Removal: stopped, and its sandbox goes with it.
    d.remove_app("web");
    CHECK(d.isoctl({"reload"}).code == 0);
    REQUIRE(wait_until([&] { return d.http("GET", "/v1/apps/web").code == 404; }));
    CHECK_FALSE(kept_mount(d, "web"));
    CHECK_FALSE(std::filesystem::exists(d.run_dir() + "/apps/web/sandbox.json"));
    CHECK_THAT(table(d), !Catch::Contains("8081"));
    CHECK(wait_until([&] { return !has_veth(d, "web"); }));
    CHECK(kept_mount(d, "other"));
    CHECK(d.stop() == 0);
    CHECK(mounts_under(d.run_dir()).empty());
}

TEST_CASE("sandbox-keep: a restarted daemon reuses the sandbox of an app in backoff and of a running app that crashes",
          "[integration][sandbox-keep]") {
    require_root();
    require_prerequisite(have_tool("curl") && have_tool("nft") && have_tool("ip"), "curl, nft and ip");
    Daemon d;
    // A long backoff: the daemon is killed while the app waits in it.
    d.write_app("web", web_json(R"([{"host": 8080, "app": 80}])", R"({"initial": "3s", "jitter": 0})"));
    d.start();
    d.wait_state("web", "ready");
    const int pid0 = d.app("web")["pid"];
    const std::string ns0 = netns_of(pid0), address = d.app("web")["address"];
    REQUIRE(::kill(pid0, SIGKILL) == 0);
    d.wait_state("web", "backoff");
    d.kill9();
    CHECK(kept_mount(d, "web"));

    d.start();
    auto next = wait_new_instance(d, "web", pid0);
    CHECK(netns_of(next["pid"].get<int>()) == ns0);
    CHECK(next["address"] == address);
    CHECK(wait_until([&] { return fetch(d) == "hello from web\n"; }));

    // Adopted while running, then a crash: the adopted instance's sandbox is reused.
    const int pid1 = next["pid"];
    d.kill9();
    d.start();
    d.wait_state("web", "ready");
    CHECK(d.app("web")["pid"] == pid1);
    REQUIRE(::kill(pid1, SIGKILL) == 0);
    auto third = wait_new_instance(d, "web", pid1);
    CHECK(netns_of(third["pid"].get<int>()) == ns0);
    CHECK(wait_until([&] { return fetch(d) == "hello from web\n"; }));
    CHECK(d.stop() == 0);
    CHECK(mounts_under(d.run_dir()).empty());
}

TEST_CASE("sandbox-keep: a daemon start tears down the sandboxes of apps that are gone or stay stopped",
          "[integration][sandbox-keep]") {
    require_root();
    require_prerequisite(have_tool("nft") && have_tool("ip"), "nft and ip");
    Daemon d;
    auto slow = R"(, "restart": {"policy": "always", "backoff": {"initial": "30s", "jitter": 0}})";
    d.write_app("gone", ticker(d, slow));
    d.write_app("held", ticker(d, slow));
    d.start();
    d.wait_state("gone", "ready");
    d.wait_state("held", "ready");
    for (auto n : {"gone", "held"}) {
        const int pid = d.app(n)["pid"];
        REQUIRE(::kill(pid, SIGKILL) == 0);
        d.wait_state(n, "backoff");
    }
    d.kill9();
    CHECK(kept_mount(d, "gone"));
    CHECK(kept_mount(d, "held"));
    // While no daemon runs: one app file removed, the other app marked stopped by the
    // operator (as a daemon killed in the middle of `isoctl stop` leaves it).
    d.remove_app("gone");
    write_file(d.run_dir() + "/apps/held/stopped", "stopped by the operator\n");

    d.start();
    CHECK(d.state("held") == "stopped");
    CHECK_FALSE(kept_mount(d, "gone"));
    CHECK_FALSE(kept_mount(d, "held"));
    CHECK(wait_until([&] { return !has_veth(d, "gone") && !has_veth(d, "held"); }));
    CHECK(d.stop() == 0);
    CHECK(mounts_under(d.run_dir()).empty());
}

TEST_CASE("sandbox-keep: a kept namespace whose veth was deleted by hand is not reused, the next instance gets a new one",
          "[integration][sandbox-keep]") {
    require_root();
    require_prerequisite(have_tool("curl") && have_tool("nft") && have_tool("ip"), "curl, nft and ip");
    Daemon d;
    d.write_app("web", web_json(R"([{"host": 8080, "app": 80}])", R"({"initial": "2s", "jitter": 0})"));
    d.start();
    d.wait_state("web", "ready");
    const int pid0 = d.app("web")["pid"];
    const std::string ns0 = netns_of(pid0), address = d.app("web")["address"];
    REQUIRE(::kill(pid0, SIGKILL) == 0);
    d.wait_state("web", "backoff");
    REQUIRE(d.in_netns({"ip", "link", "del", "veth-web"}).code == 0);
    auto next = wait_new_instance(d, "web", pid0);
    CHECK(netns_of(next["pid"].get<int>()) != ns0);
    CHECK(next["address"] == address);
    CHECK(has_veth(d, "web"));
    CHECK(wait_until([&] { return fetch(d) == "hello from web\n"; }));
    CHECK(d.stop() == 0);
    CHECK(mounts_under(d.run_dir()).empty());
}
