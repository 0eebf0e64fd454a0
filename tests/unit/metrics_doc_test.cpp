// docs/API.md names exactly the metrics the daemon exports: its metrics table lists
// every family the renderer writes (with its type) and nothing else, the Usage table's
// cAdvisor column names exported families, and any other metric name it mentions is
// said not to be exported. So the doc cannot drift from daemon/metrics/metrics.cpp.
#include <catch2/catch.hpp>

#include <map>
#include <regex>
#include <set>
#include <sstream>

#include "isolated/api_json.hpp"
#include "metrics/metrics.hpp"
#include "support/test_env.hpp"

using namespace isolated;

namespace {

/// Apps that make every family appear: a running app with limits, usage, a last exit
/// and probe results.
std::vector<AppStatus> everything() {
    AppStatus web;
    web.name = "web";
    web.state = AppState::ready;
    web.ready = true;
    web.pid = 4242;
    web.started_at = *parse_rfc3339("2026-11-23T19:00:00Z");
    web.restarts = 1;
    web.last_exit = ExitInfo{137, 9, true, *parse_rfc3339("2026-11-23T18:59:55Z"), ""};
    web.limits.cpu = 0.5;
    web.limits.memory = 268435456;
    web.limits.pids = 512;
    web.usage.cpu_seconds = 3.25;
    web.usage.memory_bytes = 14680064;
    web.usage.memory_peak_bytes = 20971520;
    web.usage.pids = 3;
    web.usage.cpu_throttled_periods = 7;
    web.usage.cpu_throttled_seconds = 0.125;
    ProbeStatus p;
    p.result = ProbeResult::success;
    web.health.liveness = p;
    web.health.readiness = p;
    web.health.startup = p;
    return {web};
}

/// family -> type, from the "# TYPE" lines.
std::map<std::string, std::string> exported() {
    std::map<std::string, std::string> out;
    std::istringstream in(metrics::render(everything(), metrics::DaemonFacts{"1.0", 1, 1}));
    std::string line;
    while (std::getline(in, line)) {
        std::istringstream words(line);
        std::string hash, kw, name, type;
        words >> hash >> kw >> name >> type;
        if (hash == "#" && kw == "TYPE") out[name] = type;
    }
    return out;
}

std::string section(const std::string& doc, const std::string& heading) {
    auto start = doc.find("\n" + heading + "\n");
    REQUIRE(start != std::string::npos);
    auto end = doc.find("\n### ", start + heading.size() + 2);
    return doc.substr(start, end == std::string::npos ? std::string::npos : end - start);
}

}  // namespace

TEST_CASE("docs/API.md lists exactly the metrics the daemon exports", "[metrics][docs]") {
    const std::string doc = test::read_file(std::string(ISOLATED_SOURCE_DIR) + "/docs/API.md");
    REQUIRE_FALSE(doc.empty());
    const auto families = exported();
    REQUIRE(families.size() > 20);

    // The metrics table: "| `name` | type | labels | value |".
    std::map<std::string, std::string> documented;
    static const std::regex row(R"(^\| `([a-z_]+)` \| ([a-z]+) \|)");
    std::istringstream metrics_section(section(doc, "### GET /v1/metrics"));
    std::string line;
    while (std::getline(metrics_section, line)) {
        std::smatch m;
        if (std::regex_search(line, m, row)) documented[m[1]] = m[2];
    }
    for (const auto& [name, type] : families) {
        INFO("exported, so documented: " << name);
        CHECK(documented.count(name) == 1);
        if (documented.count(name)) CHECK(documented[name] == type);
    }
    for (const auto& [name, type] : documented) {
        INFO("documented, so exported: " << name);
        CHECK(families.count(name) == 1);
    }

    // The Usage table's cAdvisor column.
    static const std::regex usage_row(R"(^\| `[a-zA-Z]+` \| [^|]+ \| `([a-z_]+)`)");
    std::istringstream usage(section(doc, "### Usage"));
    int usage_rows = 0;
    while (std::getline(usage, line)) {
        std::smatch m;
        if (!std::regex_search(line, m, usage_row)) continue;
        ++usage_rows;
        INFO("Usage table names " << m[1]);
        CHECK(families.count(m[1]) == 1);
    }
    CHECK(usage_rows >= 6);

    // Anywhere else: a metric name that is not exported is said to be so.
    static const std::regex name_re(R"(`((?:isolated|container)_[a-z_]+)`)");
    std::istringstream all(doc);
    while (std::getline(all, line)) {
        for (std::sregex_iterator it(line.begin(), line.end(), name_re), end; it != end; ++it) {
            std::string name = (*it)[1];
            if (families.count(name)) continue;
            INFO("line names a metric the daemon does not export: " << line);
            CHECK((line.find("not exported") != std::string::npos ||
                   line.find("does not collect") != std::string::npos));
        }
    }
}
