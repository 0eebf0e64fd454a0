// App files against what the daemon knows (issue 13): who keeps a host port two files
// claim, across reloads and daemon restarts (item 3); pinned addresses outside the
// daemon's subnet rejected at load (item 8).
#include <signal.h>

#include <catch2/catch.hpp>
#include <chrono>
#include <filesystem>

#include "integration/harness.hpp"

using namespace isolated::test;
using namespace std::chrono_literals;
using nlohmann::json;

namespace {

void require_root() { require_prerequisite(is_root(), "integration tests need root (namespaces, unshare --net)"); }

// Running, by the API: listed with a live pid.
bool app_running(Daemon& d, const std::string& name) {
    auto r = d.http("GET", "/v1/apps/" + name);
    if (r.code != 200) return false;
    auto j = json::parse(r.out);
    return j["pid"].is_number_integer() && j["pid"].get<int>() > 0 && process_alive(j["pid"].get<int>());
}

std::size_t count(const std::string& text, const std::string& what) {
    std::size_t n = 0;
    for (auto at = text.find(what); at != std::string::npos; at = text.find(what, at + 1)) ++n;
    return n;
}

}  // namespace

TEST_CASE("a host port clash rejects the file added later, not the running app, also after a daemon restart",
          "[integration][daemon][reload]") {
    require_root();
    Daemon d;
    const std::string ports = R"(, "network": {"ports": [{"host": 18080, "app": 80}]})";
    d.write_app("web", ticker(d, ports));
    d.start();
    d.wait_state("web", "ready");
    const int web_pid = d.app("web")["pid"];

    // aaa comes first by name, and its file is made older than web's: neither may
    // unseat the app that holds the port.
    d.write_app("aaa", ticker(d, ports));
    const std::string aaa_file = d.apps_dir() + "/aaa.json";
    std::filesystem::last_write_time(aaa_file, std::filesystem::file_time_type::clock::now() - 1h);
    const std::string blame = aaa_file + ":1: network.ports[0].host: tcp port 18080 is already forwarded by app \"web\"";

    auto r = d.http("POST", "/v1/reload");
    INFO(r.out);
    REQUIRE(r.code == 200);
    auto rep = json::parse(r.out);
    CHECK(rep["added"] == json::array());
    CHECK(rep["unchanged"] == json::array({"web"}));
    REQUIRE(rep["rejected"].size() == 1);
    CHECK(rep["rejected"][0]["name"] == "aaa");
    CHECK(rep["rejected"][0]["errors"] == json::array({blame}));
    auto ir = d.isoctl({"reload"});
    CHECK(ir.code == 1);
    CHECK_THAT(ir.err, Catch::Contains(blame));
    CHECK(d.app("web")["pid"] == web_pid);
    CHECK(d.state("web") == "ready");
    CHECK_FALSE(app_running(d, "aaa"));

    // SIGHUP reloads the same way.
    std::size_t logged = count(d.daemon_log(), blame);
    ::kill(d.pid(), SIGHUP);
    REQUIRE(wait_until([&] { return count(d.daemon_log(), blame) > logged; }));

    // A daemon killed and started again: web, still running, is adopted and keeps the port.
    d.kill9();
    logged = count(d.daemon_log(), blame);
    d.start();
    d.wait_state("web", "ready");
    CHECK(d.app("web")["pid"] == web_pid);
    CHECK(count(d.daemon_log(), blame) > logged);
    CHECK_FALSE(app_running(d, "aaa"));

    // Stopped with its apps and started again: web's address lease says it was accepted.
    CHECK(d.stop() == 0);
    CHECK_FALSE(process_alive(web_pid));
    logged = count(d.daemon_log(), blame);
    d.start();
    d.wait_state("web", "ready");
    CHECK(count(d.daemon_log(), blame) > logged);
    CHECK_FALSE(app_running(d, "aaa"));

    // Once web gives the port up, aaa gets it.
    d.write_app("web", ticker(d));
    r = d.http("POST", "/v1/reload");
    rep = json::parse(r.out);
    CHECK(rep["added"] == json::array({"aaa"}));
    CHECK(rep["rejected"] == json::array());
    d.wait_state("aaa", "ready");
}

TEST_CASE("a pinned address the daemon's subnet cannot give is a bad file, at start and on reload",
          "[integration][daemon][reload]") {
    require_root();
    Daemon d;
    d.write_app("ok", ticker(d, R"(, "network": {"address": "10.100.0.20"})"));
    d.write_app("outside", ticker(d, R"(, "network": {"address": "10.200.0.5"})"));
    d.start();
    d.wait_state("ok", "ready");
    CHECK(d.app("ok")["address"] == "10.100.0.20");
    CHECK_THAT(d.daemon_log(), Catch::Contains("outside.json:1: network.address: 10.200.0.5 is outside the subnet "
                                               "10.100.0.0/24 of the bridge (setting subnet)"));
    CHECK_FALSE(app_running(d, "outside"));

    d.write_app("gateway", ticker(d, R"(, "network": {"address": "10.100.0.1"})"));
    auto r = d.http("POST", "/v1/reload");
    INFO(r.out);
    REQUIRE(r.code == 200);
    auto rep = json::parse(r.out);
    CHECK(rep["added"] == json::array());
    REQUIRE(rep["rejected"].size() == 2);
    CHECK(rep["rejected"][0]["name"] == "gateway");
    CHECK(rep["rejected"][0]["errors"][0] == d.apps_dir() + "/gateway.json:1: network.address: 10.100.0.1 is the "
                                                            "bridge's own address (the gateway of 10.100.0.0/24)");
    CHECK(rep["rejected"][1]["name"] == "outside");

    // Another --subnet: the same file is fine.
    CHECK(d.stop() == 0);
    d.remove_app("gateway");
    d.start({"--subnet", "10.200.0.0/24", "--bridge", "isotest1"});
    d.wait_state("outside", "ready");
    CHECK(d.app("outside")["address"] == "10.200.0.5");
}
