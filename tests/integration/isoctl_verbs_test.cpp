// The verbs of issue 13 item 12 against a real daemon: logs --since, inspect,
// start/stop --all in dependency order, status --watch into a pipe; and events --app of
// an app that is not defined (item 11).
#include <catch2/catch.hpp>

#include <thread>

#include "integration/harness.hpp"
#include "isolated/api_json.hpp"
#include "isolated/units.hpp"

using namespace isolated::test;
using namespace std::chrono_literals;
using nlohmann::json;

namespace {

void require_root() { require_prerequisite(is_root(), "integration tests need root (namespaces, unshare --net)"); }

/// A shell app printing "tick N" every 0.2 s.
std::string counter(const Daemon& d, const std::string& extra = "") {
    return R"({"command": ["sh", "-c", "i=0; while true; do i=$((i+1)); echo tick $i; sleep 0.2; done; : )" + d.dir() +
           R"("], "network": {"mode": "none"}, "stop": {"timeout": "5s"})" + extra + "}";
}

/// The value of the first "KEY:" line (KEY with its indent), spaces trimmed.
std::string value_of(const std::string& tree, const std::string& key) {
    auto pos = tree.rfind(key + ":", 0) == 0 ? 0 : tree.find("\n" + key + ":");
    if (pos == std::string::npos) return "(no " + key + ")";
    if (pos) ++pos;
    pos += key.size() + 1;
    auto end = tree.find('\n', pos);
    std::string v = tree.substr(pos, end - pos);
    return v.substr(std::min(v.size(), v.find_first_not_of(' ')));
}

int tick_of(const std::string& line) { return std::stoi(line.substr(line.rfind(' ') + 1)); }

std::vector<std::string> lines_of(const std::string& text) {
    std::vector<std::string> out;
    std::size_t pos = 0;
    for (auto nl = text.find('\n'); nl != std::string::npos; pos = nl + 1, nl = text.find('\n', pos))
        out.push_back(text.substr(pos, nl - pos));
    return out;
}

}  // namespace

TEST_CASE("isoctl logs --since keeps the lines written since then, with -n and -f", "[integration][isoctl]") {
    require_root();
    Daemon d;
    d.write_app("count", counter(d));
    d.start();
    d.wait_state("count", "ready");
    REQUIRE(wait_until([&] { return d.isoctl({"logs", "count"}).out.find("tick 8\n") != std::string::npos; }));
    auto mark = std::chrono::system_clock::now();
    std::this_thread::sleep_for(1s);

    auto all = lines_of(d.isoctl({"logs", "count"}).out);
    auto since = d.isoctl({"logs", "-t", "--since", isolated::format_rfc3339(mark), "count"});
    REQUIRE(since.code == 0);
    auto recent = lines_of(since.out);
    REQUIRE(recent.size() >= 3);
    CHECK(recent.size() < all.size());
    // Each line's own time is at or after the mark; the first tick before it is left out.
    for (const auto& l : recent) CHECK(*isolated::parse_rfc3339(l.substr(0, l.find(' '))) >= mark);
    auto first = tick_of(recent.front());
    CHECK(first > 1);
    CHECK(d.isoctl({"logs", "count"}).out.find("tick " + std::to_string(first - 1) + "\n") != std::string::npos);

    // A duration: nothing is older than a minute, everything is newer than a minute ago.
    CHECK(lines_of(d.isoctl({"logs", "--since", "1m", "count"}).out).size() >= all.size());
    auto in_an_hour = std::chrono::system_clock::now() + 1h;
    CHECK(d.isoctl({"logs", "--since", std::to_string(std::chrono::system_clock::to_time_t(in_an_hour)), "count"})
              .out.empty());  // Unix seconds
    auto two = lines_of(d.isoctl({"logs", "--since", isolated::format_rfc3339(mark), "-n", "2", "count"}).out);
    REQUIRE(two.size() == 2);
    // With -f: the lines since the mark, then new ones.
    auto follow = run({build_dir() + "/isoctl", "--socket", d.socket(), "logs", "-f", "--since",
                       isolated::format_rfc3339(mark), "count"},
                      2s);
    auto followed = lines_of(follow.out);
    REQUIRE(followed.size() > recent.size());
    CHECK(tick_of(followed.front()) == first);

    auto bad = d.http("GET", "/v1/apps/count/logs?since=yesterday");
    CHECK(bad.code == 400);
}

TEST_CASE("isoctl inspect shows the effective definition, -o json is an app file validate accepts",
          "[integration][isoctl]") {
    require_root();
    Daemon d;
    d.write_app("web", counter(d, R"(, "resources": {"pids": 64})"));
    d.start();
    auto r = d.isoctl({"inspect", "web"});
    REQUIRE(r.code == 0);
    CHECK(r.out.rfind("command:", 0) == 0);
    CHECK(value_of(r.out, "user") == "root");
    CHECK(value_of(r.out, "hostname") == "web");
    CHECK(value_of(r.out, "  readonlyRootfs") == "true");
    CHECK(value_of(r.out, "  pids") == "64");
    CHECK(value_of(r.out, "  timeout") == "5s");

    auto j = d.isoctl({"inspect", "web", "-o", "json"});
    REQUIRE(j.code == 0);
    auto def = json::parse(j.out);
    CHECK(def["user"] == "root");
    CHECK(def["hostname"] == "web");
    CHECK(def["restart"]["backoff"]["max"] == "5m");
    write_file(d.dir() + "/copy.json", j.out);
    auto v = run({build_dir() + "/isoctl", "validate", d.dir() + "/copy.json"});
    CHECK(v.code == 0);
    CHECK(d.isoctl({"inspect", "nope"}).code == 4);
}

TEST_CASE("isoctl start and stop --all go by dependsOn, events --app of no such app is exit 4",
          "[integration][isoctl]") {
    require_root();
    Daemon d;
    d.write_app("a-front", counter(d, R"(, "dependsOn": ["b-back"])"));
    d.write_app("b-back", counter(d));
    d.write_app("c-solo", counter(d));
    d.start();
    for (const char* app : {"a-front", "b-back", "c-solo"}) d.wait_state(app, "ready");

    auto stop = d.isoctl({"stop", "--all"});
    CHECK(stop.code == 0);
    // Dependents first: a-front before b-back.
    CHECK(stop.out == "c-solo: stopped\na-front: stopped\nb-back: stopped\n");
    for (const char* app : {"a-front", "b-back", "c-solo"}) CHECK(d.state(app) == "stopped");

    auto start = d.isoctl({"start", "--all"});
    CHECK(start.code == 0);
    auto started = lines_of(start.out);
    REQUIRE(started.size() == 3);
    CHECK(started[0].rfind("b-back: ", 0) == 0);
    CHECK(started[1].rfind("a-front: ", 0) == 0);
    CHECK(started[2].rfind("c-solo: ", 0) == 0);
    for (const char* app : {"a-front", "b-back", "c-solo"}) d.wait_state(app, "ready");

    CHECK(d.isoctl({"stop", "--all", "c-solo"}).code == 2);

    auto events = d.isoctl({"events", "--app", "nope"});
    CHECK(events.code == 4);
    CHECK(events.err.find("no app named \"nope\"") != std::string::npos);
    CHECK(d.http("GET", "/v1/events?app=nope").code == 404);
    CHECK(d.isoctl({"events", "--app", "c-solo"}).code == 0);
}

TEST_CASE("isoctl status --watch into a pipe prints one table after another", "[integration][isoctl]") {
    require_root();
    Daemon d;
    d.write_app("web", counter(d));
    d.start();
    d.wait_state("web", "ready");
    auto r = run({build_dir() + "/isoctl", "--socket", d.socket(), "status", "--watch", "--interval", "300ms"}, 1s);
    CHECK(r.code == -1);  // still watching when the test's timeout killed it
    auto tables = 0;
    for (std::size_t pos = 0; (pos = r.out.find("NAME ", pos)) != std::string::npos; ++pos) ++tables;
    CHECK(tables >= 2);
    CHECK(r.out.find("\x1b[") == std::string::npos);  // no screen control into a pipe
    CHECK(r.out.find("\n\nNAME ") != std::string::npos);
}
