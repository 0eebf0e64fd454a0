// GET /v1/metrics: the exact exposition for a fixture of two apps, and the rules of the
// Prometheus text format 0.0.4 checked by a small parser: what promtool would reject, plus
// the rules we add (HELP and TYPE on every family, no family interleaved, no duplicate
// series), without a daemon. `promtool check metrics` itself reads a live daemon's
// exposition in tests/integration/monitoring_test.cpp.
#include <catch2/catch.hpp>

#include <cmath>
#include <map>
#include <regex>
#include <set>
#include <sstream>

#include "isolated/api_json.hpp"
#include "metrics/metrics.hpp"
#include "support/test_env.hpp"

using namespace isolated;

namespace {

WallTime at(const char* s) { return *parse_rfc3339(s); }

std::vector<AppStatus> two_apps() {
    AppStatus web;
    web.name = "web";
    web.state = AppState::ready;
    web.ready = true;
    web.pid = 4242;
    web.started_at = at("2026-11-23T19:00:00.500Z");
    web.restarts = 1;
    web.last_exit = ExitInfo{137, 9, false, at("2026-11-23T18:59:55Z"), ""};
    web.limits.cpu = 0.5;
    web.limits.memory = 268435456;
    web.limits.pids = 512;
    web.usage.cpu_seconds = 3.25;
    web.usage.memory_bytes = 14680064;
    web.usage.memory_peak_bytes = 20971520;
    web.usage.pids = 3;
    web.usage.cpu_throttled_periods = 7;
    web.usage.cpu_throttled_seconds = 0.125;
    web.usage.cpu_periods = 20;
    web.usage.log_dropped_lines = 4;
    web.usage.log_dropped_bytes = 480;
    ProbeStatus live;
    live.result = ProbeResult::success;
    live.consecutive_successes = 4;
    live.last_duration_seconds = 0.0125;
    live.total_successes = 10;
    live.total_failures = 1;
    web.health.liveness = live;
    ProbeStatus ready;
    ready.result = ProbeResult::failure;
    ready.consecutive_failures = 2;
    ready.message = "HTTP 503";
    ready.last_duration_seconds = 1;  // timed out after its 1s
    ready.total_successes = 12;
    ready.total_failures = 2;
    web.health.readiness = ready;

    AppStatus db;
    db.name = "db";
    db.state = AppState::backoff;
    db.restarts = 3;
    db.last_exit = ExitInfo{137, 9, true, at("2026-11-23T18:57:00Z"), ""};
    db.limits.memory = 536870912;
    db.health.readiness = ProbeStatus{};  // defined, no result yet
    return {web, db};
}

metrics::DaemonFacts facts() {
    metrics::DaemonFacts d;
    d.version = "0.1.0";
    d.uptime_seconds = 12.5;
    d.events_total = 42;
    return d;
}

// ---- a checker for the text format ------------------------------------------------------

struct Series {
    std::string name;
    std::map<std::string, std::string> labels;  ///< unescaped values
    double value = 0;
};

struct Parsed {
    std::vector<std::string> problems;
    std::vector<Series> series;
    std::map<std::string, std::string> types;  ///< family -> type
    std::map<std::string, std::string> helps;  ///< family -> help
};

bool is_metric_name(std::string_view s) {
    static const std::regex re("[a-zA-Z_:][a-zA-Z0-9_:]*");
    return std::regex_match(s.begin(), s.end(), re);
}
bool is_label_name(std::string_view s) {
    static const std::regex re("[a-zA-Z_][a-zA-Z0-9_]*");
    return std::regex_match(s.begin(), s.end(), re) && s.substr(0, 2) != "__";
}

std::optional<double> parse_value(const std::string& s) {
    if (s == "NaN") return std::nan("");
    if (s == "+Inf") return INFINITY;
    if (s == "-Inf") return -INFINITY;
    std::size_t used = 0;
    try {
        double v = std::stod(s, &used);
        if (used != s.size()) return std::nullopt;
        return v;
    } catch (...) {
        return std::nullopt;
    }
}

Parsed parse_exposition(const std::string& text) {
    Parsed p;
    auto problem = [&](std::size_t line_no, const std::string& what) {
        p.problems.push_back("line " + std::to_string(line_no) + ": " + what);
    };
    if (!text.empty() && text.back() != '\n') p.problems.push_back("the text does not end in a newline");

    std::set<std::string> seen_series;
    std::set<std::string> finished_families;  // families whose samples are over
    std::string current_family;
    std::istringstream in(text);
    std::string line;
    std::size_t n = 0;
    while (std::getline(in, line)) {
        ++n;
        if (line.empty()) continue;
        if (line[0] == '#') {
            std::istringstream ls(line.substr(1));
            std::string kw, name;
            ls >> kw >> name;
            if (kw != "HELP" && kw != "TYPE") continue;  // a plain comment
            if (!is_metric_name(name)) problem(n, "bad metric name in " + kw + ": " + name);
            std::string rest;
            std::getline(ls, rest);
            if (!rest.empty() && rest[0] == ' ') rest.erase(0, 1);
            if (finished_families.count(name) || (current_family != name && p.types.count(name)))
                problem(n, kw + " for " + name + " after its samples");
            auto& map = kw == "HELP" ? p.helps : p.types;
            if (map.count(name)) problem(n, kw + " given twice for " + name);
            if (kw == "TYPE") {
                static const std::set<std::string> types = {"counter", "gauge", "histogram", "summary", "untyped"};
                if (!types.count(rest)) problem(n, "unknown type \"" + rest + "\"");
                for (const auto& s : p.series)
                    if (s.name == name) problem(n, "TYPE for " + name + " after its first sample");
            } else {
                for (std::size_t i = 0; i < rest.size(); ++i)
                    if (rest[i] == '\\' && (i + 1 >= rest.size() || (rest[i + 1] != '\\' && rest[i + 1] != 'n')))
                        problem(n, "bad escape in HELP of " + name);
            }
            map[name] = rest;
            if (current_family != name) {
                if (!current_family.empty()) finished_families.insert(current_family);
                current_family = name;
            }
            continue;
        }

        // name{labels} value [timestamp]
        Series s;
        std::size_t i = 0;
        while (i < line.size() && line[i] != '{' && line[i] != ' ') ++i;
        s.name = line.substr(0, i);
        if (!is_metric_name(s.name)) problem(n, "bad metric name \"" + s.name + "\"");
        std::string key;
        if (i < line.size() && line[i] == '{') {
            ++i;
            while (i < line.size() && line[i] != '}') {
                std::size_t eq = line.find('=', i);
                if (eq == std::string::npos) {
                    problem(n, "label without =");
                    break;
                }
                std::string lname = line.substr(i, eq - i);
                if (!is_label_name(lname)) problem(n, "bad label name \"" + lname + "\"");
                i = eq + 1;
                if (i >= line.size() || line[i] != '"') {
                    problem(n, "label value not quoted");
                    break;
                }
                ++i;
                std::string value;
                bool closed = false;
                while (i < line.size()) {
                    char c = line[i++];
                    if (c == '"') {
                        closed = true;
                        break;
                    }
                    if (c == '\\') {
                        if (i >= line.size()) break;
                        char e = line[i++];
                        if (e == '\\') value += '\\';
                        else if (e == '"') value += '"';
                        else if (e == 'n') value += '\n';
                        else problem(n, std::string("bad escape \\") + e);
                    } else {
                        value += c;
                    }
                }
                if (!closed) {
                    problem(n, "unterminated label value");
                    break;
                }
                if (s.labels.count(lname)) problem(n, "label " + lname + " given twice");
                s.labels[lname] = value;
                if (i < line.size() && line[i] == ',') ++i;
            }
            if (i >= line.size() || line[i] != '}') {
                problem(n, "labels not closed");
                continue;
            }
            ++i;
        }
        if (i >= line.size() || line[i] != ' ') {
            problem(n, "no value");
            continue;
        }
        std::istringstream vs(line.substr(i + 1));
        std::string value, timestamp, extra;
        vs >> value >> timestamp >> extra;
        auto v = parse_value(value);
        if (!v) problem(n, "bad value \"" + value + "\"");
        if (!extra.empty()) problem(n, "trailing text");
        s.value = v.value_or(0);

        // The family a sample belongs to is its TYPE line's (no histograms here).
        if (s.name != current_family) problem(n, s.name + " is not under its own HELP/TYPE");
        if (!p.types.count(s.name)) problem(n, s.name + " has no TYPE");
        if (!p.helps.count(s.name)) problem(n, s.name + " has no HELP");
        if (p.types[s.name] == "counter") {
            if (s.name.size() < 6 || s.name.substr(s.name.size() - 6) != "_total")
                problem(n, "counter " + s.name + " does not end in _total");
            if (s.value < 0) problem(n, "negative counter " + s.name);
        }
        for (const auto& [k, val] : s.labels) key += k + "=" + val + "\x1f";
        if (!seen_series.insert(s.name + "\x1e" + key).second) problem(n, "duplicate series " + line);
        p.series.push_back(std::move(s));
    }
    return p;
}

std::optional<double> value_of(const Parsed& p, const std::string& name, std::map<std::string, std::string> labels) {
    for (const auto& s : p.series) {
        if (s.name != name) continue;
        bool match = true;
        for (const auto& [k, v] : labels)
            if (!s.labels.count(k) || s.labels.at(k) != v) match = false;
        if (match) return s.value;
    }
    return std::nullopt;
}

}  // namespace

TEST_CASE("metrics: the exposition of two apps", "[metrics]") {
    const std::string expected = R"(# HELP isolated_up 1 when the isolated daemon answers.
# TYPE isolated_up gauge
isolated_up 1
# HELP isolated_build_info Version of the isolated daemon; the value is always 1.
# TYPE isolated_build_info gauge
isolated_build_info{version="0.1.0"} 1
# HELP isolated_daemon_uptime_seconds Seconds since the daemon started.
# TYPE isolated_daemon_uptime_seconds gauge
isolated_daemon_uptime_seconds 12.5
# HELP isolated_events_total Events (state changes, exits, restarts, probe results) published since the daemon started.
# TYPE isolated_events_total counter
isolated_events_total 42
# HELP isolated_apps Number of defined apps.
# TYPE isolated_apps gauge
isolated_apps 2
# HELP isolated_app_state 1 for the state the app is in, 0 for the others.
# TYPE isolated_app_state gauge
isolated_app_state{app="web",name="web",state="stopped"} 0
isolated_app_state{app="web",name="web",state="starting"} 0
isolated_app_state{app="web",name="web",state="running"} 0
isolated_app_state{app="web",name="web",state="ready"} 1
isolated_app_state{app="web",name="web",state="unhealthy"} 0
isolated_app_state{app="web",name="web",state="stopping"} 0
isolated_app_state{app="web",name="web",state="backoff"} 0
isolated_app_state{app="web",name="web",state="failed"} 0
isolated_app_state{app="db",name="db",state="stopped"} 0
isolated_app_state{app="db",name="db",state="starting"} 0
isolated_app_state{app="db",name="db",state="running"} 0
isolated_app_state{app="db",name="db",state="ready"} 0
isolated_app_state{app="db",name="db",state="unhealthy"} 0
isolated_app_state{app="db",name="db",state="stopping"} 0
isolated_app_state{app="db",name="db",state="backoff"} 1
isolated_app_state{app="db",name="db",state="failed"} 0
# HELP isolated_app_ready 1 when the app is ready (readiness passing, or running without a readiness probe).
# TYPE isolated_app_ready gauge
isolated_app_ready{app="web",name="web"} 1
isolated_app_ready{app="db",name="db"} 0
# HELP isolated_app_restarts_total Restarts isolated made on its own (after an exit or a liveness failure).
# TYPE isolated_app_restarts_total counter
isolated_app_restarts_total{app="web",name="web"} 1
isolated_app_restarts_total{app="db",name="db"} 3
# HELP isolated_app_file_rejected 1 when the app's file was rejected at the last load or reload (the app keeps its last good definition, or is failed when it never had one).
# TYPE isolated_app_file_rejected gauge
isolated_app_file_rejected{app="web",name="web"} 0
isolated_app_file_rejected{app="db",name="db"} 0
# HELP isolated_app_log_dropped_lines_total Log lines of the app's current instance that could not be written (a full or failing log dir).
# TYPE isolated_app_log_dropped_lines_total counter
isolated_app_log_dropped_lines_total{app="web",name="web"} 4
# HELP isolated_app_log_dropped_bytes_total Bytes of those lines, as CRI log records.
# TYPE isolated_app_log_dropped_bytes_total counter
isolated_app_log_dropped_bytes_total{app="web",name="web"} 480
# HELP isolated_app_last_exit_code Exit code of the app's last exit (128+signal when killed).
# TYPE isolated_app_last_exit_code gauge
isolated_app_last_exit_code{app="web",name="web"} 137
isolated_app_last_exit_code{app="db",name="db"} 137
# HELP isolated_app_last_exit_oom_killed 1 when the app's last exit was a kill by the OOM killer.
# TYPE isolated_app_last_exit_oom_killed gauge
isolated_app_last_exit_oom_killed{app="web",name="web"} 0
isolated_app_last_exit_oom_killed{app="db",name="db"} 1
# HELP isolated_app_probe_success 1 when the probe's last result is a success, 0 when a failure; absent before the first result.
# TYPE isolated_app_probe_success gauge
isolated_app_probe_success{app="web",name="web",probe="liveness"} 1
isolated_app_probe_success{app="web",name="web",probe="readiness"} 0
# HELP isolated_app_probe_consecutive_failures Failures of the probe in a row (0 after a success).
# TYPE isolated_app_probe_consecutive_failures gauge
isolated_app_probe_consecutive_failures{app="web",name="web",probe="liveness"} 0
isolated_app_probe_consecutive_failures{app="web",name="web",probe="readiness"} 2
isolated_app_probe_consecutive_failures{app="db",name="db",probe="readiness"} 0
# HELP isolated_app_probe_total Probe runs by result since the app was defined in this daemon (a warning counts as success).
# TYPE isolated_app_probe_total counter
isolated_app_probe_total{app="web",name="web",probe="liveness",result="success"} 10
isolated_app_probe_total{app="web",name="web",probe="liveness",result="failure"} 1
isolated_app_probe_total{app="web",name="web",probe="readiness",result="success"} 12
isolated_app_probe_total{app="web",name="web",probe="readiness",result="failure"} 2
isolated_app_probe_total{app="db",name="db",probe="readiness",result="success"} 0
isolated_app_probe_total{app="db",name="db",probe="readiness",result="failure"} 0
# HELP isolated_app_probe_duration_seconds How long the probe's last run took, from its start to its result (the timeout when it timed out).
# TYPE isolated_app_probe_duration_seconds gauge
isolated_app_probe_duration_seconds{app="web",name="web",probe="liveness"} 0.0125
isolated_app_probe_duration_seconds{app="web",name="web",probe="readiness"} 1
# HELP container_start_time_seconds Start time of the container since unix epoch in seconds.
# TYPE container_start_time_seconds gauge
container_start_time_seconds{app="web",name="web"} 1795460400.5
# HELP container_cpu_usage_seconds_total Cumulative cpu time consumed in seconds.
# TYPE container_cpu_usage_seconds_total counter
container_cpu_usage_seconds_total{app="web",name="web"} 3.25
# HELP container_cpu_cfs_periods_total Number of elapsed enforcement period intervals.
# TYPE container_cpu_cfs_periods_total counter
container_cpu_cfs_periods_total{app="web",name="web"} 20
# HELP container_cpu_cfs_throttled_periods_total Number of throttled period intervals.
# TYPE container_cpu_cfs_throttled_periods_total counter
container_cpu_cfs_throttled_periods_total{app="web",name="web"} 7
# HELP container_cpu_cfs_throttled_seconds_total Total time duration the container has been throttled.
# TYPE container_cpu_cfs_throttled_seconds_total counter
container_cpu_cfs_throttled_seconds_total{app="web",name="web"} 0.125
# HELP container_memory_working_set_bytes Current working set in bytes.
# TYPE container_memory_working_set_bytes gauge
container_memory_working_set_bytes{app="web",name="web"} 14680064
# HELP container_memory_max_usage_bytes Maximum memory usage recorded in bytes.
# TYPE container_memory_max_usage_bytes gauge
container_memory_max_usage_bytes{app="web",name="web"} 20971520
# HELP container_threads Number of threads running inside the container.
# TYPE container_threads gauge
container_threads{app="web",name="web"} 3
# HELP container_spec_cpu_period CPU period of the container.
# TYPE container_spec_cpu_period gauge
container_spec_cpu_period{app="web",name="web"} 100000
# HELP container_spec_cpu_quota CPU quota of the container.
# TYPE container_spec_cpu_quota gauge
container_spec_cpu_quota{app="web",name="web"} 50000
# HELP container_spec_memory_limit_bytes Memory limit for the container.
# TYPE container_spec_memory_limit_bytes gauge
container_spec_memory_limit_bytes{app="web",name="web"} 268435456
container_spec_memory_limit_bytes{app="db",name="db"} 536870912
# HELP container_threads_max Maximum number of threads allowed inside the container.
# TYPE container_threads_max gauge
container_threads_max{app="web",name="web"} 512
)";
    std::string text = metrics::render(two_apps(), facts());
    CHECK(text == expected);
    Parsed p = parse_exposition(text);
    CHECK(p.problems == std::vector<std::string>{});
}

TEST_CASE("metrics: a rejected app file is a series of its own", "[metrics][issue13]") {
    auto apps = two_apps();
    apps[1].file_errors = {"apps/db.json:3: command: must be a list"};
    Parsed p = parse_exposition(metrics::render(apps, facts()));
    CHECK(value_of(p, "isolated_app_file_rejected", {{"app", "db"}, {"name", "db"}}) == 1.0);
    CHECK(value_of(p, "isolated_app_file_rejected", {{"app", "web"}, {"name", "web"}}) == 0.0);
}

TEST_CASE("metrics: the exposition follows the text format rules", "[metrics]") {
    auto apps = two_apps();
    Parsed p = parse_exposition(metrics::render(apps, facts()));
    REQUIRE(p.problems == std::vector<std::string>{});
    // Every family has HELP and TYPE, once (the parser reports repeats).
    for (const auto& s : p.series) {
        CHECK(p.types.count(s.name) == 1);
        CHECK(p.helps.count(s.name) == 1);
        // Every per-app series carries both app labels, equal.
        if (s.labels.count("app")) CHECK(s.labels.at("app") == s.labels.at("name"));
    }
    // The state gauge is one-hot per app.
    for (const auto& a : apps) {
        double sum = 0;
        for (const auto& s : p.series)
            if (s.name == "isolated_app_state" && s.labels.at("app") == a.name) sum += s.value;
        CHECK(sum == 1);
    }
}

TEST_CASE("metrics: unknown values leave their series out", "[metrics]") {
    Parsed p = parse_exposition(metrics::render(two_apps(), facts()));
    // db runs nothing: no usage, no start time; its readiness has no result yet.
    CHECK_FALSE(value_of(p, "container_cpu_usage_seconds_total", {{"app", "db"}}));
    CHECK_FALSE(value_of(p, "container_memory_working_set_bytes", {{"app", "db"}}));
    CHECK_FALSE(value_of(p, "container_start_time_seconds", {{"app", "db"}}));
    CHECK_FALSE(value_of(p, "isolated_app_probe_success", {{"app", "db"}}));
    CHECK_FALSE(value_of(p, "isolated_app_probe_duration_seconds", {{"app", "db"}}));
    CHECK(value_of(p, "isolated_app_probe_consecutive_failures", {{"app", "db"}, {"probe", "readiness"}}) == 0);
    CHECK_FALSE(value_of(p, "container_cpu_cfs_periods_total", {{"app", "db"}}));
    // Log lines dropped: only where some were.
    CHECK(value_of(p, "isolated_app_log_dropped_lines_total", {{"app", "web"}}) == 4);
    CHECK(value_of(p, "isolated_app_log_dropped_bytes_total", {{"app", "web"}}) == 480);
    CHECK_FALSE(value_of(p, "isolated_app_log_dropped_lines_total", {{"app", "db"}}));
    // No cpu or pids limit: no quota, period or max.
    CHECK_FALSE(value_of(p, "container_spec_cpu_quota", {{"app", "db"}}));
    CHECK_FALSE(value_of(p, "container_spec_cpu_period", {{"app", "db"}}));
    CHECK_FALSE(value_of(p, "container_threads_max", {{"app", "db"}}));

    // An app without a last exit has no exit series; no apps leaves only the daemon's.
    AppStatus fresh;
    fresh.name = "fresh";
    p = parse_exposition(metrics::render({fresh}, facts()));
    CHECK(p.problems.empty());
    CHECK_FALSE(value_of(p, "isolated_app_last_exit_code", {}));
    CHECK_FALSE(value_of(p, "isolated_app_last_exit_oom_killed", {}));
    CHECK(p.types.count("isolated_app_last_exit_code") == 0);  // no samples, no header

    p = parse_exposition(metrics::render({}, facts()));
    CHECK(p.problems.empty());
    std::set<std::string> families;
    for (const auto& s : p.series) families.insert(s.name);
    CHECK(families == std::set<std::string>{"isolated_up", "isolated_build_info", "isolated_daemon_uptime_seconds",
                                            "isolated_events_total", "isolated_apps"});
}

TEST_CASE("metrics: a warning probe result counts as success", "[metrics]") {
    auto apps = two_apps();
    apps[0].health.liveness->result = ProbeResult::warning;
    Parsed p = parse_exposition(metrics::render(apps, facts()));
    CHECK(value_of(p, "isolated_app_probe_success", {{"app", "web"}, {"probe", "liveness"}}) == 1);
}

TEST_CASE("metrics: probe runs are counted by result from 0, and the last run's duration is shown", "[metrics]") {
    auto apps = two_apps();
    apps[0].health.liveness->result = ProbeResult::warning;  // counted as a success by the worker
    apps[1].health.startup = ProbeStatus{};                   // defined, never run
    Parsed p = parse_exposition(metrics::render(apps, facts()));
    REQUIRE(p.problems.empty());
    CHECK(p.types.at("isolated_app_probe_total") == "counter");
    CHECK(p.types.at("isolated_app_probe_duration_seconds") == "gauge");
    auto total = [&](const char* app, const char* probe, const char* result) {
        return value_of(p, "isolated_app_probe_total", {{"app", app}, {"probe", probe}, {"result", result}});
    };
    CHECK(total("web", "liveness", "success") == 10);
    CHECK(total("web", "liveness", "failure") == 1);
    CHECK(total("web", "readiness", "failure") == 2);
    // A probe that never ran has both series at 0 and no duration; one not defined has none.
    CHECK(total("db", "startup", "success") == 0);
    CHECK(total("db", "startup", "failure") == 0);
    CHECK_FALSE(value_of(p, "isolated_app_probe_duration_seconds", {{"app", "db"}, {"probe", "startup"}}));
    CHECK_FALSE(total("db", "liveness", "success"));
    CHECK_FALSE(total("web", "startup", "success"));
    CHECK(value_of(p, "isolated_app_probe_duration_seconds", {{"app", "web"}, {"probe", "readiness"}}) == 1.0);
    // No other result label.
    for (const auto& s : p.series)
        if (s.name == "isolated_app_probe_total")
            CHECK((s.labels.at("result") == "success" || s.labels.at("result") == "failure"));
}

TEST_CASE("metrics: label values are escaped and read back the same", "[metrics]") {
    CHECK(metrics::escape_label(R"(a\b"c)") == R"(a\\b\"c)");
    CHECK(metrics::escape_label("x\ny") == "x\\ny");
    CHECK(metrics::escape_label("plain-1.0") == "plain-1.0");

    auto d = facts();
    d.version = "1.0 \"beta\"\nC:\\build";
    Parsed p = parse_exposition(metrics::render({}, d));
    REQUIRE(p.problems.empty());
    CHECK(value_of(p, "isolated_build_info", {{"version", d.version}}) == 1);
}

TEST_CASE("metrics: the checker catches what the format forbids", "[metrics]") {
    auto problems = [](const std::string& text) { return parse_exposition(text).problems.size(); };
    CHECK(problems("# HELP a_total x\n# TYPE a_total counter\na_total 1\n") == 0);
    CHECK(problems("a 1\n") > 0);                                                        // no HELP/TYPE
    CHECK(problems("# HELP a x\n# TYPE a gauge\n# TYPE a gauge\na 1\n") > 0);            // TYPE twice
    CHECK(problems("# HELP a x\n# TYPE a gauge\na 1\na 2\n") > 0);                       // duplicate series
    CHECK(problems("# HELP a x\n# TYPE a gauge\na{l=\"1\"} 1\na{l=\"2\"} 2\n") == 0);
    CHECK(problems("# HELP a x\n# TYPE a gauge\na{l=\"x\\q\"} 1\n") > 0);                // bad escape
    CHECK(problems("# HELP a x\n# TYPE a gauge\na{l=\"x\"} one\n") > 0);                 // bad value
    CHECK(problems("# HELP a x\n# TYPE a counter\na 1\n") > 0);                          // counter without _total
    CHECK(problems("# HELP a x\n# TYPE a gauge\n# HELP b x\n# TYPE b gauge\nb 1\na 1\n") > 0);  // interleaved
    CHECK(problems("# HELP a x\n# TYPE a gauge\na 1") > 0);                               // no final newline
}

TEST_CASE("metrics: values print as the shortest text that reads back", "[metrics]") {
    CHECK(metrics::format_value(0) == "0");
    CHECK(metrics::format_value(3.25) == "3.25");
    CHECK(metrics::format_value(0.1) == "0.1");
    CHECK(metrics::format_value(1795460400.5) == "1795460400.5");
    CHECK(metrics::format_value(std::nan("")) == "NaN");
    CHECK(metrics::format_value(INFINITY) == "+Inf");
    CHECK(metrics::format_value(-INFINITY) == "-Inf");
}

// ---- docs/API.md names exactly the metrics the daemon exports ----------------------------
// Its metrics table lists every family the renderer writes (with its type) and nothing
// else, the Usage table's cAdvisor column names exported families, and any other metric
// name it mentions is said not to be exported: the doc cannot drift from metrics.cpp.

namespace {

/// family -> type, from the "# TYPE" lines.
std::map<std::string, std::string> exported() {
    std::map<std::string, std::string> out;
    // With an image store, whose two families only a daemon with one has.
    auto d = facts();
    d.images = 2;
    d.image_store_bytes = 123456;
    std::istringstream in(metrics::render(two_apps(), d));
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
