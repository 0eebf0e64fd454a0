// The Grafana dashboard (conf/monitoring/isolated-dashboard.json) against a live daemon:
// tests/monitoring/check-dashboard.mjs parses every PromQL expression in it and checks that
// every metric it names has a sample in this daemon's GET /v1/metrics. The apps are made
// so that every series the dashboard draws exists: cpu, memory and pids limits (the
// container_spec_* and throttling series), all three probes with results (the probe
// series), and an app that has exited (the last-exit series).
#include <catch2/catch.hpp>

#include <filesystem>
#include <nlohmann/json.hpp>

#include "integration/harness.hpp"

using namespace isolated::test;
using namespace std::chrono_literals;
using nlohmann::json;

namespace {

bool has_result(const json& health, const char* probe) {
    const json& p = health.value(probe, json());
    return p.is_object() && p.value("result", "") == "success";
}

}  // namespace

TEST_CASE("dashboard: every PromQL expression of the Grafana dashboard parses and every metric it names is in a live daemon's metrics",
          "[integration][monitoring][cgroup]") {
    require_prerequisite(is_root(), "this test needs root");
    require_prerequisite(have_limit_controllers(), "the cpu, memory and pids cgroup controllers");
    const std::string check = source_dir() + "/tests/monitoring/check-dashboard.mjs";
    const std::string dashboard = source_dir() + "/conf/monitoring/isolated-dashboard.json";
    require_prerequisite(run({"node", "--version"}).code == 0 &&
                             std::filesystem::exists(source_dir() + "/tests/js/node_modules/@prometheus-io/lezer-promql"),
                         "node and tests/js/node_modules (scripts/install-deps.sh installs them)");

    Daemon d;
    d.write_app("web", probe_app_json("serve 80", R"(, "resources": {"cpu": "50%", "memory": "64M", "pids": 100}, )"
                                                  R"("probes": {"startup": {"tcp": {"port": 80}, "period": "1s"}, )"
                                                  R"("liveness": {"http": {"port": 80}, "period": "1s"}, )"
                                                  R"("readiness": {"http": {"port": 80}, "period": "1s"}})"));
    d.write_app("once", probe_app_json("exit 3", R"(, "restart": {"policy": "never"})"));
    d.start();
    d.wait_state("web", "ready");
    d.wait_state("once", "failed");
    // Usage is read from the cgroup and probes report on their own schedule: wait until the
    // daemon knows each figure the dashboard draws.
    const bool known = wait_until([&] {
        const json web = d.app("web");
        const json& usage = web["resources"]["usage"];
        return usage["cpuSeconds"].is_number() && usage["memoryBytes"].is_number() && usage["pids"].is_number() &&
               usage["cpuThrottledPeriods"].is_number() && has_result(web["health"], "startup") &&
               has_result(web["health"], "liveness") && has_result(web["health"], "readiness");
    }, 30s);
    INFO(d.app("web").dump());
    REQUIRE(known);

    auto metrics = d.http("GET", "/v1/metrics", "", /*read_only=*/true);
    REQUIRE(metrics.code == 200);
    const std::string file = d.dir() + "/metrics.txt";
    write_file(file, metrics.out);

    auto checked = run({"node", check, dashboard, file}, 60s);
    INFO("check-dashboard.mjs exit " << checked.code << "\n" << checked.out << checked.err << "\n--- /v1/metrics:\n"
                                     << metrics.out);
    CHECK(checked.code == 0);
    CHECK_THAT(checked.out, Catch::Contains("OK: "));
}
