// isoctl top: the pure parts (CPU % from two samples, rows, the table, the JSON) and the
// refresh loop driven through run() with a fake daemon whose answers change per poll, a
// manual clock and a sleeper that advances it (and plays Ctrl-C).
#include <catch2/catch.hpp>

#include <deque>
#include <sstream>

#include "cli.hpp"
#include "isolated/api_json.hpp"
#include "views.hpp"

using namespace isoctl;
using namespace std::chrono_literals;
using isolated::AppState;
using isolated::AppStatus;

namespace {

WallTime at(const char* rfc3339) { return *isolated::parse_rfc3339(rfc3339); }

AppStatus app(const std::string& name, AppState state, std::optional<double> cpu, std::optional<std::uint64_t> mem,
              std::optional<std::uint64_t> limit = std::nullopt, std::optional<std::uint64_t> pids = std::nullopt) {
    AppStatus a;
    a.name = name;
    a.state = state;
    a.usage.cpu_seconds = cpu;
    a.usage.memory_bytes = mem;
    a.limits.memory = limit;
    a.usage.pids = pids;
    if (cpu) {
        a.pid = 100;
        a.started_at = at("2026-11-23T18:00:00Z");
    }
    return a;
}

std::string apps_json(const std::vector<AppStatus>& apps) { return nlohmann::json{{"apps", apps}}.dump(); }

/// GET /v1/apps answers from a queue, the last one repeated; records the targets.
struct FakeDaemon {
    std::deque<std::string> bodies;
    std::vector<std::string> targets;
};

class FakeTransport : public Transport {
public:
    explicit FakeTransport(FakeDaemon& d) : d_(d) {}
    Response request(const Request& req) override {
        d_.targets.push_back(req.method + " " + req.target);
        if (req.target != "/v1/apps") return Response{404, "application/json", "{}"};
        std::string body = d_.bodies.front();
        if (d_.bodies.size() > 1) d_.bodies.pop_front();
        return Response{200, "application/json", body};
    }
    Response stream(const Request& req, const std::function<void(std::string_view)>&) override { return request(req); }

private:
    FakeDaemon& d_;
};

struct Outcome {
    int code;
    std::string out, err;
    std::vector<std::chrono::milliseconds> sleeps;
};

/// `interrupt_after`: the sleep with this index (0-based) is cut short by Ctrl-C.
Outcome run_top(std::vector<std::string> args, FakeDaemon& daemon, bool tty = false, std::size_t interrupt_after = 99) {
    std::ostringstream out, err;
    Outcome o{};
    Host host{out, err};
    host.stdout_is_tty = tty;
    host.env = {{"NO_COLOR", "1"}};
    WallTime clock = at("2026-11-23T19:00:00Z");
    host.now = [&] { return clock; };
    host.sleep = [&](std::chrono::milliseconds d) {
        if (o.sleeps.size() == interrupt_after) throw Interrupted();
        o.sleeps.push_back(d);
        clock += d;
    };
    host.connect = [&daemon](const std::string&) { return std::make_unique<FakeTransport>(daemon); };
    o.code = run(args, host);
    o.out = out.str();
    o.err = err.str();
    return o;
}

// Three polls: web burns 0.5 core, then 1.5 cores; db is stopped.
FakeDaemon three_polls() {
    FakeDaemon d;
    d.bodies = {apps_json({app("web", AppState::ready, 10.0, 12ull << 20, 512ull << 20, 3),
                           app("db", AppState::stopped, std::nullopt, std::nullopt)}),
                apps_json({app("web", AppState::ready, 10.5, 13ull << 20, 512ull << 20, 4),
                           app("db", AppState::stopped, std::nullopt, std::nullopt)}),
                apps_json({app("web", AppState::ready, 13.5, 14ull << 20, 512ull << 20, 4),
                           app("db", AppState::stopped, std::nullopt, std::nullopt)})};
    return d;
}

}  // namespace

// ---- pure parts --------------------------------------------------------------------------

TEST_CASE("top: CPU % is CPU seconds over wall seconds, as docker stats", "[isoctl][top]") {
    CHECK(cpu_percent(10.0, 10.5, 1s) == Approx(50.0));
    CHECK(cpu_percent(10.0, 14.0, 2s) == Approx(200.0));  // two cores busy
    CHECK(cpu_percent(10.0, 10.0, 2s) == Approx(0.0));
    CHECK_FALSE(cpu_percent(std::nullopt, 10.0, 1s));
    CHECK_FALSE(cpu_percent(10.0, std::nullopt, 1s));
    CHECK_FALSE(cpu_percent(10.0, 11.0, 0s));   // no time between the samples
    CHECK_FALSE(cpu_percent(10.0, 11.0, -1s));  // the clock went back
    CHECK_FALSE(cpu_percent(10.0, 2.0, 1s));    // a new cgroup started from zero
}

TEST_CASE("top: rows take CPU from the same run of the app only", "[isoctl][top]") {
    UsageSample before{at("2026-11-23T19:00:00Z"),
                       {app("web", AppState::ready, 10.0, 1000, 4000, 2), app("db", AppState::ready, 5.0, 10)}};
    UsageSample now{at("2026-11-23T19:00:02Z"),
                    {app("web", AppState::ready, 11.0, 3000, 4000, 2), app("db", AppState::ready, 6.0, 10),
                     app("new", AppState::running, 0.5, 10)}};
    now.apps[1].started_at = at("2026-11-23T19:00:01Z");  // db restarted in between
    now.apps[1].restarts = 1;

    auto rows = top_rows(&before, now);
    REQUIRE(rows.size() == 3);
    CHECK(rows[0].name == "web");
    CHECK(rows[0].cpu_percent == Approx(50.0));
    CHECK(rows[0].memory_bytes == 3000u);
    CHECK(rows[0].memory_limit_bytes == 4000u);
    CHECK(rows[0].memory_percent == Approx(75.0));
    CHECK(rows[0].pids == 2u);
    CHECK_FALSE(rows[1].cpu_percent);  // another run: its counter is not comparable
    CHECK(rows[1].restarts == 1);
    CHECK_FALSE(rows[1].memory_percent);  // no limit
    CHECK_FALSE(rows[2].cpu_percent);     // not in the first sample
    CHECK_FALSE(top_rows(nullptr, now)[0].cpu_percent);

    // Named apps in the order given; names the daemon does not list are left out.
    auto named = top_rows(&before, now, {"new", "gone", "web"});
    REQUIRE(named.size() == 2);
    CHECK(named[0].name == "new");
    CHECK(named[1].name == "web");
}

TEST_CASE("top: percentages have two decimals", "[isoctl][top]") {
    CHECK(format_percent(0) == "0.00%");
    CHECK(format_percent(12.345) == "12.35%");
    CHECK(format_percent(150) == "150.00%");
}

TEST_CASE("top: the table shows usage against limits, and - for what is not known", "[isoctl][top]") {
    TopRow web{"web", AppState::ready, 12.5, 13ull << 20, 512ull << 20, 2.5390625, 4, 0};
    TopRow batch{"batch", AppState::running, 0.0, 1536, std::nullopt, std::nullopt, 1, 2};
    TopRow db{"db", AppState::backoff, std::nullopt, std::nullopt, 1ull << 30, std::nullopt, std::nullopt, 3};
    std::string expected =
        "NAME    STATE     CPU %    MEM USAGE / LIMIT   MEM %   PIDS   RESTARTS\n"
        "web     ready     12.50%   13MiB / 512MiB      2.54%   4      0\n"
        "batch   running   0.00%    1.5KiB / -          -       1      2\n"
        "db      backoff   -        -                   -       -      3\n";
    CHECK(render_top_table({web, batch, db}, false) == expected);
    CHECK(render_top_table({}, false) == "NAME   STATE   CPU %   MEM USAGE / LIMIT   MEM %   PIDS   RESTARTS\n");
    CHECK(render_top_table({web}, true).find("\x1b[32mready\x1b[0m") != std::string::npos);
}

TEST_CASE("top: the JSON snapshot has every column, null when not known", "[isoctl][top]") {
    TopRow web{"web", AppState::ready, 50.0, 3000, 4000, 75.0, 2, 1};
    TopRow db{"db", AppState::stopped, std::nullopt, std::nullopt, std::nullopt, std::nullopt, std::nullopt, 0};
    auto j = top_json({web, db});
    CHECK(j == nlohmann::json::parse(R"({"apps": [
        {"name": "web", "state": "ready", "cpuPercent": 50.0, "memoryBytes": 3000, "memoryLimitBytes": 4000,
         "memoryPercent": 75.0, "pids": 2, "restarts": 1},
        {"name": "db", "state": "stopped", "cpuPercent": null, "memoryBytes": null, "memoryLimitBytes": null,
         "memoryPercent": null, "pids": null, "restarts": 0}]})"));
}

// ---- the verb ----------------------------------------------------------------------------

TEST_CASE("top --no-stream polls twice a second apart and prints one table", "[isoctl][top]") {
    FakeDaemon d = three_polls();
    Outcome o = run_top({"top", "--no-stream"}, d);
    CHECK(o.code == 0);
    CHECK(o.err == "");
    CHECK(o.sleeps == std::vector<std::chrono::milliseconds>{1s});
    CHECK(d.targets == std::vector<std::string>{"GET /v1/apps", "GET /v1/apps"});
    CHECK(o.out ==
          "NAME   STATE     CPU %    MEM USAGE / LIMIT   MEM %   PIDS   RESTARTS\n"
          "web    ready     50.00%   13MiB / 512MiB      2.54%   4      0\n"
          "db     stopped   -        -                   -       -      0\n");
}

TEST_CASE("top refreshes every interval until Ctrl-C, which exits 130", "[isoctl][top]") {
    FakeDaemon d = three_polls();
    Outcome o = run_top({"top"}, d, false, 2);
    CHECK(o.code == 130);
    CHECK(o.err == "");
    CHECK(o.sleeps == std::vector<std::chrono::milliseconds>{1s, 2s});
    // Not a terminal: one table after another, a blank line between them.
    CHECK(o.out ==
          "NAME   STATE     CPU %    MEM USAGE / LIMIT   MEM %   PIDS   RESTARTS\n"
          "web    ready     50.00%   13MiB / 512MiB      2.54%   4      0\n"
          "db     stopped   -        -                   -       -      0\n"
          "\n"
          "NAME   STATE     CPU %     MEM USAGE / LIMIT   MEM %   PIDS   RESTARTS\n"
          "web    ready     150.00%   14MiB / 512MiB      2.73%   4      0\n"
          "db     stopped   -         -                   -       -      0\n");
    CHECK(o.out.find('\x1b') == std::string::npos);
}

TEST_CASE("top on a terminal redraws in place", "[isoctl][top]") {
    FakeDaemon d = three_polls();
    Outcome o = run_top({"top", "web"}, d, true, 2);
    CHECK(o.code == 130);
    const std::string clear = "\x1b[2J\x1b[H";
    CHECK(o.out.rfind(clear, 0) == 0);
    std::size_t frames = 0;
    for (std::size_t pos = 0; (pos = o.out.find(clear, pos)) != std::string::npos; pos += clear.size()) ++frames;
    CHECK(frames == 2);
    CHECK(o.out.find("db ") == std::string::npos);  // only the app asked for
    // --no-stream on a terminal prints plainly.
    FakeDaemon d2 = three_polls();
    CHECK(run_top({"top", "--no-stream"}, d2, true).out.find('\x1b') == std::string::npos);
}

TEST_CASE("top -o json prints one snapshot", "[isoctl][top]") {
    FakeDaemon d = three_polls();
    Outcome o = run_top({"top", "-o", "json", "web"}, d);
    CHECK(o.code == 0);
    CHECK(o.sleeps.size() == 1);
    auto j = nlohmann::json::parse(o.out);
    REQUIRE(j["apps"].size() == 1);
    CHECK(j["apps"][0]["name"] == "web");
    CHECK(j["apps"][0]["cpuPercent"].get<double>() == Approx(50.0));
    CHECK(j["apps"][0]["memoryLimitBytes"] == (512ull << 20));
}

TEST_CASE("top --interval takes durations or seconds", "[isoctl][top]") {
    FakeDaemon d = three_polls();
    CHECK(run_top({"top", "--interval", "500ms"}, d, false, 2).sleeps ==
          std::vector<std::chrono::milliseconds>{500ms, 500ms});  // the first window is at most the interval
    d = three_polls();
    CHECK(run_top({"top", "--interval=5"}, d, false, 2).sleeps == std::vector<std::chrono::milliseconds>{1s, 5s});
    for (const char* bad : {"0", "0s", "fast", "-1s", ""}) {
        d = three_polls();
        Outcome o = run_top({"top", "--interval", bad}, d);
        CHECK(o.code == 2);
        CHECK(o.err.find("--interval") != std::string::npos);
        CHECK(d.targets.empty());
    }
}

TEST_CASE("top of an unknown app exits 4, a bad name 2", "[isoctl][top]") {
    FakeDaemon d = three_polls();
    Outcome o = run_top({"top", "web", "nosuch"}, d);
    CHECK(o.code == 4);
    CHECK(o.err == "isoctl: no app named \"nosuch\"\n");
    CHECK(o.out == "");
    d = three_polls();
    CHECK(run_top({"top", "Bad_Name"}, d).code == 2);
    CHECK(d.targets.empty());
}

TEST_CASE("top --help describes the columns and options", "[isoctl][top]") {
    FakeDaemon d;
    Outcome o = run_top({"top", "--help"}, d);
    CHECK(o.code == 0);
    CHECK(o.out.find("Usage: isoctl top [APP...] [--interval DUR] [--no-stream]") != std::string::npos);
    CHECK(o.out.find("NAME STATE CPU % MEM USAGE / LIMIT MEM % PIDS RESTARTS") != std::string::npos);
    CHECK(o.out.find("--interval DUR") != std::string::npos);
    CHECK(o.out.find("--no-stream") != std::string::npos);
    CHECK(o.out.find("not yet available") == std::string::npos);
}
