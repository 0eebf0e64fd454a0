// Issue 17: a live daemon's metrics as Prometheus reads them. `promtool check metrics`
// (Debian's prometheus package) parses and lints GET /v1/metrics of a daemon whose apps
// have cpu, memory and pids limits and startup (TCP), liveness (HTTP) and readiness
// (exec) probes with results, a probe that times out, and an app that has exited; the
// series the alerting rules and the dashboard need are there with sane values, and
// GET /metrics (Prometheus' default metrics_path) answers the same on both sockets.
#include <catch2/catch.hpp>

#include <filesystem>
#include <map>
#include <optional>
#include <sstream>

#include "integration/harness.hpp"

using namespace isolated::test;
using namespace std::chrono_literals;
using nlohmann::json;

namespace {

/// The value of the first sample of `name` whose labels include every `labels` pair
/// (label values here are plain: no escapes to undo).
std::optional<double> sample(const std::string& text, const std::string& name,
                             const std::map<std::string, std::string>& labels = {}) {
    std::istringstream in(text);
    for (std::string line; std::getline(in, line);) {
        if (line.empty() || line[0] == '#') continue;
        auto end = line.find_first_of("{ ");
        if (end == std::string::npos || line.compare(0, end, name) != 0 || end != name.size()) continue;
        bool match = true;
        for (const auto& [k, v] : labels)
            if (line.find(k + "=\"" + v + "\"") == std::string::npos) match = false;
        if (!match) continue;
        return std::stod(line.substr(line.rfind(' ') + 1));
    }
    return std::nullopt;
}

const json& probe_of(const json& app, const char* probe) { return app["health"][probe]; }

bool succeeded(const json& app, const char* probe, int runs) {
    const json& p = probe_of(app, probe);
    return p.is_object() && p.value("result", "") == "success" && p.value("totalSuccesses", 0) >= runs;
}

/// promtool check metrics on `text`: its exit code and everything it printed.
RunResult promtool_check(const std::string& text) { return run({"promtool", "check", "metrics"}, 60s, text); }

}  // namespace

TEST_CASE("monitoring: promtool check metrics passes a live daemon's metrics, with probe and CPU period series",
          "[integration][monitoring][cgroup]") {
    require_prerequisite(is_root(), "this test needs root");
    require_prerequisite(have_limit_controllers(), "the cpu, memory and pids cgroup controllers");
    require_prerequisite(run({"promtool", "--version"}).code == 0,
                         "promtool (Debian's prometheus package; scripts/install-deps.sh installs it)");

    // The check must be able to fail: promtool rejects what the format forbids and lints
    // what Prometheus' conventions do not allow, here a counter without _total.
    auto bad = promtool_check("# HELP isolated_restarts Restarts.\n# TYPE isolated_restarts counter\n"
                              "isolated_restarts 1\n");
    INFO("promtool on a counter without _total: exit " << bad.code << "\n" << bad.out << bad.err);
    REQUIRE(bad.code != 0);
    REQUIRE_THAT(bad.out + bad.err, Catch::Contains("_total"));

    Daemon d;
    d.write_app("web", probe_app_json("serve 80", R"(, "resources": {"cpu": "50%", "memory": "64M", "pids": 100}, )"
                                                  R"("probes": {"startup": {"tcp": {"port": 80}, "period": "1s"}, )"
                                                  R"("liveness": {"http": {"port": 80}, "period": "1s"}, )"
                                                  R"("readiness": {"exec": {"command": ["true"]}, "period": "1s"}})"));
    // A readiness probe that always runs out of its 1s: a failure that took the timeout.
    d.write_app("slow", probe_app_json("serve 80", R"(, "resources": {"cpu": "25%"}, )"
                                                   R"("probes": {"readiness": {"exec": {"command": ["sleep", "5"]}, )"
                                                   R"("timeout": "1s", "period": "2s"}})"));
    d.write_app("once", probe_app_json("exit 3", R"(, "restart": {"policy": "never"})"));
    d.start();
    d.wait_state("web", "ready", 30s);
    d.wait_state("once", "failed", 30s);
    // Usage is read from the cgroup and probes report on their own schedule: wait until
    // the daemon knows each figure checked below.
    const bool known = wait_until([&] {
        const json web = d.app("web");
        const json slow = d.app("slow");
        const json& usage = web["resources"]["usage"];
        return usage["cpuPeriods"].is_number() && usage["cpuThrottledPeriods"].is_number() &&
               usage["memoryBytes"].is_number() && usage["pids"].is_number() && succeeded(web, "startup", 1) &&
               succeeded(web, "liveness", 2) && succeeded(web, "readiness", 2) &&
               probe_of(slow, "readiness").value("totalFailures", 0) >= 2;
    }, 60s);
    INFO(d.app("web").dump() << "\n" << d.app("slow").dump());
    REQUIRE(known);

    auto metrics = d.http("GET", "/v1/metrics", "", /*read_only=*/true);
    REQUIRE(metrics.code == 200);
    const std::string& text = metrics.out;
    INFO("--- GET /v1/metrics:\n" << text);

    // promtool: parses, and no lint complaint (it prints them and exits non-zero).
    auto checked = promtool_check(text);
    INFO("promtool check metrics: exit " << checked.code << "\n" << checked.out << checked.err);
    CHECK(checked.code == 0);
    CHECK(checked.out + checked.err == "");

    // The probe counters: both results for every defined probe, summing to the runs.
    const json web = d.app("web");
    for (const char* probe : {"startup", "liveness", "readiness"}) {
        INFO("probe " << probe);
        auto ok = sample(text, "isolated_app_probe_total", {{"app", "web"}, {"probe", probe}, {"result", "success"}});
        auto failed = sample(text, "isolated_app_probe_total", {{"app", "web"}, {"probe", probe}, {"result", "failure"}});
        REQUIRE(ok);
        REQUIRE(failed);
        CHECK(*ok >= 1);
        // Counters only grow: the JSON read after the scrape has at least as many.
        CHECK(*ok <= probe_of(web, probe)["totalSuccesses"].get<double>());
        auto took = sample(text, "isolated_app_probe_duration_seconds", {{"app", "web"}, {"probe", probe}});
        REQUIRE(took);
        CHECK(*took >= 0);
        CHECK(*took <= 1.0);  // the default timeout bounds a run
    }
    CHECK(sample(text, "isolated_app_probe_total", {{"app", "slow"}, {"probe", "readiness"}, {"result", "failure"}})
              .value_or(0) >= 2);
    CHECK(sample(text, "isolated_app_probe_total", {{"app", "slow"}, {"probe", "readiness"}, {"result", "success"}}) ==
          0.0);
    // A run that timed out took its timeout.
    CHECK(sample(text, "isolated_app_probe_duration_seconds", {{"app", "slow"}, {"probe", "readiness"}}) == 1.0);
    const json slow = d.app("slow");
    CHECK(probe_of(slow, "readiness")["lastDurationSeconds"] == 1.0);
    // No series for probes an app does not have.
    CHECK_FALSE(sample(text, "isolated_app_probe_total", {{"app", "slow"}, {"probe", "liveness"}}));
    CHECK_FALSE(sample(text, "isolated_app_probe_total", {{"app", "once"}}));

    // The CPU periods beside the throttled ones, for apps with a cpu limit; no more
    // throttled periods than periods.
    for (const char* app : {"web", "slow"}) {
        INFO("app " << app);
        auto periods = sample(text, "container_cpu_cfs_periods_total", {{"app", app}});
        auto throttled = sample(text, "container_cpu_cfs_throttled_periods_total", {{"app", app}});
        REQUIRE(periods);
        REQUIRE(throttled);
        CHECK(*periods >= *throttled);
    }
    CHECK(sample(text, "container_spec_cpu_quota", {{"app", "web"}}) == 50000.0);
    CHECK(sample(text, "container_spec_memory_limit_bytes", {{"app", "web"}}) == 64.0 * 1024 * 1024);
    CHECK(sample(text, "container_threads_max", {{"app", "web"}}) == 100.0);
    CHECK(sample(text, "isolated_app_last_exit_code", {{"app", "once"}}) == 3.0);
    CHECK(sample(text, "isolated_up") == 1.0);

    // GET /metrics, Prometheus' default path, on both sockets.
    for (bool read_only : {true, false}) {
        INFO("read-only socket: " << read_only);
        auto alias = d.http("GET", "/metrics", "", read_only);
        CHECK(alias.code == 200);
        CHECK(sample(alias.out, "isolated_up") == 1.0);
        CHECK(sample(alias.out, "isolated_app_probe_total", {{"app", "web"}, {"probe", "liveness"}, {"result", "success"}})
                  .value_or(0) >= 1);
        auto linted = promtool_check(alias.out);
        CHECK(linted.code == 0);
    }
}
