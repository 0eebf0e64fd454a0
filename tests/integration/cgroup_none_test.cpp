// Without a cgroup driver (issue 13): a limit is never silently left unenforced. An app
// with limits fails with an error that says why and what to do; an app without limits
// runs; no status shows a limit that is not in force.
#include <catch2/catch.hpp>

#include "integration/harness.hpp"

using namespace isolated::test;
using nlohmann::json;

namespace {

void require_root() { require_prerequisite(is_root(), "integration tests need root (namespaces, cgroups)"); }

}  // namespace

TEST_CASE("cgroups none: an app with limits fails with a clear error, one without runs, no limit is shown",
          "[integration][cgroup][limits]") {
    require_root();
    Daemon d;
    d.write_app("limited", ticker(d, R"(, "resources": {"memory": "32M", "pids": 64})"));
    d.write_app("plain", ticker(d));
    d.start({"--cgroup-driver", "none"});
    d.wait_state("plain", "ready");
    d.wait_state("limited", "failed");
    auto limited = d.app("limited");
    INFO(limited.dump());
    std::string message = limited["message"];
    CHECK_THAT(message, Catch::Contains("no cgroup driver"));
    CHECK_THAT(message, Catch::Contains("resources (memory, pids) cannot be enforced"));
    CHECK_THAT(message, Catch::Contains("--cgroup-driver"));
    CHECK(limited["pid"].is_null());
    CHECK(limited["restarts"] == 0);
    // Limits are reported only where they are in force: nowhere here.
    for (const auto& [key, value] : limited["resources"]["limits"].items()) CHECK(value.is_null());
    auto status = d.isoctl({"status", "limited"});
    CHECK_THAT(status.out, !Catch::Contains("32"));
    CHECK_THAT(status.out, Catch::Contains("no cgroup driver"));
    // It stays failed: nothing a restart could change.
    CHECK(d.state("limited") == "failed");
    CHECK(d.get_json("/v1/version")["cgroupDriver"] == "none");
    CHECK_THAT(d.daemon_log(), Catch::Contains("apps with resource limits fail to start"));
    CHECK(d.stop() == 0);
}
