// Name discovery on the bridge (issue 13): every running bridged app's /etc/hosts names
// the bridged apps that run now, and is rewritten in place (the sandbox's bind mount
// sees it) when apps come, go, stop or come back with another address.
#include <catch2/catch.hpp>

#include "integration/harness.hpp"

using namespace isolated::test;
using namespace std::chrono_literals;

namespace {

void require_root() { require_prerequisite(is_root(), "integration tests need root (namespaces, cgroups)"); }

}  // namespace

TEST_CASE("name discovery: a running app's /etc/hosts follows apps that come, stop, change address and go",
          "[integration][net][discovery]") {
    require_root();
    Daemon d;
    d.write_app("a1", ticker(d));
    d.start();
    d.wait_state("a1", "ready");
    auto hosts_of = [&](const std::string& app) {
        return d.isoctl({"exec", "-T", app, "--", "cat", "/etc/hosts"}).out;
    };
    auto a1_sees = [&](const std::string& line) { return hosts_of("a1").find(line) != std::string::npos; };
    const std::string a1_addr = d.app("a1")["address"];
    CHECK_FALSE(a1_sees("newbie"));

    // Added later: a1 resolves it without a restart.
    d.write_app("newbie", ticker(d));
    CHECK(d.isoctl({"reload"}).code == 0);
    d.wait_state("newbie", "ready");
    const std::string newbie_addr = d.app("newbie")["address"];
    REQUIRE(wait_until([&] { return a1_sees(newbie_addr + "\tnewbie\n"); }));
    auto found = d.isoctl({"exec", "-T", "a1", "--", "getent", "hosts", "newbie"});
    CHECK(found.code == 0);
    CHECK_THAT(found.out, Catch::Contains(newbie_addr));
    CHECK_THAT(hosts_of("newbie"), Catch::Contains(a1_addr + "\ta1\n"));
    CHECK(d.app("a1")["pid"].is_number());  // the same instance throughout

    // Stopped: out of a1's file.
    CHECK(d.isoctl({"stop", "newbie"}).code == 0);
    CHECK_FALSE(a1_sees("newbie"));
    CHECK(d.isoctl({"exec", "-T", "a1", "--", "getent", "hosts", "newbie"}).code != 0);

    // Back with another address: a1 sees the new one, not the old.
    d.write_app("newbie", ticker(d, R"(, "network": {"address": "10.100.0.77"})"));
    CHECK(d.isoctl({"reload"}).code == 0);
    CHECK(d.isoctl({"start", "newbie"}).code == 0);
    d.wait_state("newbie", "ready");
    REQUIRE(newbie_addr != "10.100.0.77");
    REQUIRE(wait_until([&] { return a1_sees("10.100.0.77\tnewbie\n"); }));
    CHECK_FALSE(a1_sees(newbie_addr + "\t"));

    // Removed: gone from a1's file; a1 itself still resolves.
    d.remove_app("newbie");
    CHECK(d.isoctl({"reload"}).code == 0);
    REQUIRE(wait_until([&] { return !a1_sees("newbie"); }));
    CHECK(d.isoctl({"exec", "-T", "a1", "--", "getent", "hosts", "a1"}).code == 0);
    CHECK(d.stop() == 0);
}

TEST_CASE("name discovery: an app that crashes stays in the others' /etc/hosts through its backoff, and leaves when stopped",
          "[integration][net][discovery][sandbox-keep]") {
    require_root();
    Daemon d;
    d.write_app("a1", ticker(d));
    // Runs 1 s, fails, and is restarted after a 3 s backoff.
    d.write_app("flaky", R"({"command": ["sh", "-c", "sleep 1; exit 1; : )" + d.dir() +
                             R"("], "restart": {"policy": "always", "backoff": {"initial": "3s"}}})");
    d.start();
    d.wait_state("a1", "ready");
    auto a1_hosts = [&] { return d.isoctl({"exec", "-T", "a1", "--", "cat", "/etc/hosts"}).out; };
    REQUIRE(wait_until([&] { return a1_hosts().find("\tflaky\n") != std::string::npos; }));
    // Between two instances its kept sandbox (issue 19) keeps its address, and the name
    // with it, as a Kubernetes pod's IP stays across its containers' restarts.
    d.wait_state("flaky", "backoff");
    CHECK_THAT(a1_hosts(), Catch::Contains("\tflaky\n"));
    // Out of its restart cycle, it is gone from the others' files.
    CHECK(d.isoctl({"stop", "flaky"}).code == 0);
    CHECK(wait_until([&] { return a1_hosts().find("flaky") == std::string::npos; }));
    CHECK(d.stop() == 0);
}
