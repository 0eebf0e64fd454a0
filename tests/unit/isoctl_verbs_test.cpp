// The verbs operators reach for from Docker, systemd and kubectl (issue 13, item 12):
// start|stop|restart --all, inspect, logs --since, status --watch; and events --app of an
// app that does not exist. Driven through run() with a fake daemon.
#include <catch2/catch.hpp>

#include <sstream>

#include "cli.hpp"
#include "commands/targets.hpp"
#include "inspect_view.hpp"
#include "isolated/api_json.hpp"
#include "isolated/since.hpp"

using namespace isoctl;
using isolated::WallTime;

namespace {

/// Canned answers by "METHOD TARGET"; records every request. Unknown targets are 404.
struct FakeDaemon {
    std::vector<std::string> calls;
    std::map<std::string, Response> answers;
    std::map<std::string, std::vector<std::string>> chunks;  ///< stream bodies

    void answer(const std::string& key, unsigned status, const std::string& body) {
        answers[key] = Response{status, "application/json", body};
    }
};

class FakeTransport : public Transport {
public:
    explicit FakeTransport(FakeDaemon& d) : d_(d) {}
    Response request(const Request& req) override { return answer(req); }
    Response stream(const Request& req, const std::function<void(std::string_view)>& on_data) override {
        Response r = answer(req);
        if (!r.ok()) return r;
        for (const auto& piece : d_.chunks[req.method + " " + req.target]) on_data(piece);
        return Response{r.status, r.content_type, {}};
    }

private:
    Response answer(const Request& req) {
        std::string key = req.method + " " + req.target;
        d_.calls.push_back(key);
        if (auto it = d_.answers.find(key); it != d_.answers.end()) return it->second;
        if (d_.chunks.count(key)) return Response{200, "text/plain", {}};
        return Response{404, "application/json", isolated::error_json("not_found", "no such endpoint").dump()};
    }
    FakeDaemon& d_;
};

struct Outcome {
    int code;
    std::string out, err;
    std::vector<std::chrono::milliseconds> sleeps;
};

const WallTime kNow = *isolated::parse_rfc3339("2026-11-23T19:00:00Z");

/// `interrupt_at`: the sleep with this index (0-based) is cut short by Ctrl-C.
Outcome run_cli(std::vector<std::string> args, FakeDaemon& daemon, bool tty = false, std::size_t interrupt_at = 99) {
    std::ostringstream out, err;
    Outcome o{};
    Host host{out, err};
    host.stdout_is_tty = tty;
    host.env = {{"NO_COLOR", "1"}};
    WallTime clock = kNow;
    host.now = [&] { return clock; };
    host.sleep = [&](std::chrono::milliseconds d) {
        if (o.sleeps.size() == interrupt_at) throw Interrupted();
        o.sleeps.push_back(d);
        clock += d;
    };
    host.connect = [&daemon](const std::string&) { return std::make_unique<FakeTransport>(daemon); };
    o.code = run(args, host);
    o.out = out.str();
    o.err = err.str();
    return o;
}

std::string status_json(const std::string& name, const std::string& state) {
    isolated::AppStatus s;
    s.name = name;
    s.state = *isolated::app_state_from_string(state);
    s.ready = state == "ready";
    return nlohmann::json(s).dump();
}

/// Apps listed in name order: api depends on db, web on api; cache on nothing.
void three_tier(FakeDaemon& d) {
    nlohmann::json apps = nlohmann::json::array();
    for (const char* n : {"api", "cache", "db", "web"}) apps.push_back(nlohmann::json::parse(status_json(n, "ready")));
    d.answer("GET /v1/apps", 200, nlohmann::json{{"apps", apps}}.dump());
    auto detail = [&](const std::string& name, std::vector<std::string> deps) {
        auto j = nlohmann::json::parse(status_json(name, "ready"));
        j["spec"] = {{"command", {"/bin/" + name}}, {"dependsOn", deps}};
        j["events"] = nlohmann::json::array();
        d.answer("GET /v1/apps/" + name, 200, j.dump());
    };
    detail("api", {"db"});
    detail("cache", {});
    detail("db", {});
    detail("web", {"api", "cache"});
    for (const char* n : {"api", "cache", "db", "web"})
        for (const char* action : {"start", "restart"})
            d.answer(std::string("POST /v1/apps/") + n + "/" + action, 200, status_json(n, "ready"));
    for (const char* n : {"api", "cache", "db", "web"})
        d.answer(std::string("POST /v1/apps/") + n + "/stop", 200, status_json(n, "stopped"));
}

std::vector<std::string> posts(const FakeDaemon& d) {
    std::vector<std::string> p;
    for (const auto& c : d.calls)
        if (c.rfind("POST ", 0) == 0) p.push_back(c);
    return p;
}

}  // namespace

// ---- --all --------------------------------------------------------------------------

TEST_CASE("dependency order puts what an app depends on first and keeps the order otherwise", "[isoctl]") {
    using commands::dependency_order;
    CHECK(dependency_order({"a", "b", "c"}, {}) == std::vector<std::string>{"a", "b", "c"});
    CHECK(dependency_order({"api", "cache", "db", "web"}, {{"api", {"db"}}, {"web", {"api", "cache"}}}) ==
          std::vector<std::string>{"db", "api", "cache", "web"});
    // Unknown names are left out; a cycle is cut where it closes.
    CHECK(dependency_order({"a", "b"}, {{"a", {"ghost", "b"}}, {"b", {"a"}}}) == std::vector<std::string>{"b", "a"});
}

TEST_CASE("start, stop and restart --all act on every app: dependencies first, stop dependents first", "[isoctl]") {
    FakeDaemon d;
    three_tier(d);
    Outcome o = run_cli({"start", "--all"}, d);
    CHECK(o.code == 0);
    CHECK(posts(d) == std::vector<std::string>{"POST /v1/apps/db/start", "POST /v1/apps/api/start",
                                               "POST /v1/apps/cache/start", "POST /v1/apps/web/start"});
    CHECK(o.out == "db: ready\napi: ready\ncache: ready\nweb: ready\n");

    d.calls.clear();
    o = run_cli({"stop", "--all", "--timeout", "5s"}, d);
    CHECK(o.code == 0);
    CHECK(posts(d) == std::vector<std::string>{"POST /v1/apps/web/stop", "POST /v1/apps/cache/stop",
                                               "POST /v1/apps/api/stop", "POST /v1/apps/db/stop"});
    CHECK(o.out == "web: stopped\ncache: stopped\napi: stopped\ndb: stopped\n");

    d.calls.clear();
    o = run_cli({"restart", "--all"}, d);
    CHECK(o.code == 0);
    CHECK(posts(d).front() == "POST /v1/apps/db/restart");
    CHECK(posts(d).size() == 4);
}

TEST_CASE("isoctl --all of no apps does nothing, with APP names, or neither, it is a usage error", "[isoctl]") {
    FakeDaemon d;
    d.answer("GET /v1/apps", 200, R"({"apps": []})");
    Outcome o = run_cli({"stop", "--all"}, d);
    CHECK(o.code == 0);
    CHECK(o.out.empty());

    d.calls.clear();
    for (std::vector<std::string> args : {std::vector<std::string>{"start", "--all", "web"}, {"stop"}, {"restart"}}) {
        o = run_cli(args, d);
        CHECK(o.code == 2);
        CHECK(o.err.find("--all") != std::string::npos);
    }
    CHECK(d.calls.empty());
}

// ---- inspect --------------------------------------------------------------------------

namespace {

const char* kSpec = R"({
  "command": ["/usr/sbin/nginx", "-g", "daemon off;"],
  "user": null,
  "env": {"LANG": "C.UTF-8"},
  "workdir": "/",
  "hostname": null,
  "init": true,
  "rootfs": {"type": "host"},
  "mounts": [{"type": "tmpfs", "target": "/run/nginx", "size": 16777216, "mode": null}],
  "network": {"mode": "bridge", "address": null,
              "ports": [{"host": 8080, "app": 80, "protocol": "tcp", "hostAddress": null}]},
  "resources": {"cpu": 0.5, "memory": 268435456, "pids": null},
  "restart": {"policy": "always", "backoff": {"initial": "1s", "max": "5m"}, "maxRetries": null},
  "stop": {"signal": "SIGTERM", "timeout": "30s"},
  "probes": {"liveness": null, "readiness": {"tcp": {"port": 80, "expect": ""}, "period": "10s"}, "startup": null},
  "dependsOn": [],
  "security": {"capabilities": {"add": [], "drop": []}, "seccomp": "default", "noNewPrivileges": true,
               "readonlyRootfs": null}
})";

}  // namespace

TEST_CASE("inspect fills in the defaults that depend on the rest of the definition", "[isoctl]") {
    auto spec = nlohmann::ordered_json::parse(kSpec);
    auto d = effective_definition(spec, "web");
    CHECK(d["user"] == "root");
    CHECK(d["hostname"] == "web");
    CHECK(d["security"]["readonlyRootfs"] == true);
    CHECK(d["resources"]["pids"].is_null());  // no limit stays "not set"
    CHECK(d.begin().key() == "command");      // the file's order
    spec["rootfs"] = {{"type", "directory"}, {"path", "/srv/rootfs"}, {"writable", "overlay"}};
    spec["user"] = "www-data";
    spec["hostname"] = "front";
    d = effective_definition(spec, "web");
    CHECK(d["security"]["readonlyRootfs"] == false);
    CHECK(d["user"] == "www-data");
    CHECK(d["hostname"] == "front");
}

TEST_CASE("inspect prints a key: value tree, or the effective definition as JSON", "[isoctl]") {
    FakeDaemon d;
    auto detail = nlohmann::json::parse(status_json("web", "ready"));
    detail["spec"] = nlohmann::json::parse(kSpec);
    d.answer("GET /v1/apps/web", 200, detail.dump());
    Outcome o = run_cli({"inspect", "web"}, d);
    CHECK(o.code == 0);
    CHECK(o.out ==
          "command:   /usr/sbin/nginx -g 'daemon off;'\n"
          "user:      root\n"
          "env:\n"
          "  LANG: C.UTF-8\n"
          "workdir:   /\n"
          "hostname:  web\n"
          "init:      true\n"
          "rootfs:\n"
          "  type: host\n"
          "mounts:\n"
          "  - type:   tmpfs\n"
          "    target: /run/nginx\n"
          "    size:   16M\n"
          "    mode:   -\n"
          "network:\n"
          "  mode:    bridge\n"
          "  address: -\n"
          "  ports:\n"
          "    - host:        8080\n"
          "      app:         80\n"
          "      protocol:    tcp\n"
          "      hostAddress: -\n"
          "resources:\n"
          "  cpu:    50%\n"
          "  memory: 256M\n"
          "  pids:   -\n"
          "restart:\n"
          "  policy:     always\n"
          "  backoff:\n"
          "    initial: 1s\n"
          "    max:     5m\n"
          "  maxRetries: -\n"
          "stop:\n"
          "  signal:  SIGTERM\n"
          "  timeout: 30s\n"
          "probes:\n"
          "  liveness:  -\n"
          "  readiness:\n"
          "    tcp:\n"
          "      port:   80\n"
          "      expect: \"\"\n"
          "    period: 10s\n"
          "  startup:   -\n"
          "dependsOn: -\n"
          "security:\n"
          "  capabilities:\n"
          "    add:  -\n"
          "    drop: -\n"
          "  seccomp:         default\n"
          "  noNewPrivileges: true\n"
          "  readonlyRootfs:  true\n");

    o = run_cli({"inspect", "web", "-o", "json"}, d);
    CHECK(o.code == 0);
    auto j = nlohmann::json::parse(o.out);
    CHECK(j == nlohmann::json(effective_definition(nlohmann::ordered_json::parse(kSpec), "web")));
    CHECK(o.out.find("\"command\"") < o.out.find("\"user\""));

    o = run_cli({"inspect", "nope"}, d);
    CHECK(o.code == 4);
    CHECK(run_cli({"inspect"}, d).code == 2);
}

// ---- logs --since ----------------------------------------------------------------------

TEST_CASE("since: a duration back from now, RFC 3339 with any offset, or Unix seconds", "[isoctl]") {
    using isolated::parse_since;
    using namespace std::chrono_literals;
    CHECK(parse_since("10m", kNow) == kNow - 10min);
    CHECK(parse_since("1h30m", kNow) == kNow - 90min);
    CHECK(parse_since("2026-11-23T18:00:00Z", kNow) == kNow - 1h);
    CHECK(parse_since("2026-11-23T19:30:00.250+01:00", kNow) == kNow - 30min + 250ms);
    CHECK(parse_since("2026-11-23T14:00:00-05:00", kNow) == kNow);
    CHECK(parse_since("2026-11-23 19:00:00Z", kNow) == kNow);
    CHECK(parse_since("1795460400", kNow) == kNow);
    CHECK(parse_since("1795460400.5", kNow) == kNow + 500ms);
    for (const char* bad : {"", "-10m", "yesterday", "2026-11-23", "2026-11-23T19:00:00", "2026-11-23T19:00:00+1",
                            "1795460400.", "1e9", "2026-11-23T19:00:00+25:00"})
        CHECK_FALSE(parse_since(bad, kNow));
    // A bare number is Unix seconds, as docker takes it.
    CHECK(parse_since("10", kNow) == WallTime(std::chrono::seconds(10)));
}

TEST_CASE("logs --since sends the time as UTC, with tail and follow as docker logs", "[isoctl]") {
    FakeDaemon d;
    d.chunks["GET /v1/apps/web/logs?tail=5&since=2026-11-23T18:50:00.000Z"] = {"a\n"};
    d.chunks["GET /v1/apps/web/logs?since=2026-11-23T17:00:00.000Z&follow=1"] = {"b\n"};
    Outcome o = run_cli({"logs", "--since", "10m", "-n", "5", "web"}, d);
    CHECK(o.code == 0);
    CHECK(o.out == "a\n");
    o = run_cli({"logs", "-f", "--since=2026-11-23T18:00:00+01:00", "web"}, d);
    CHECK(o.code == 0);
    CHECK(o.out == "b\n");

    d.calls.clear();
    o = run_cli({"logs", "--since", "last tuesday", "web"}, d);
    CHECK(o.code == 2);
    CHECK(o.err.find("--since: \"last tuesday\" is not a duration") != std::string::npos);
    CHECK(d.calls.empty());
}

// ---- status --watch --------------------------------------------------------------------

TEST_CASE("status --watch shows the table every interval until Ctrl-C", "[isoctl]") {
    FakeDaemon d;
    d.answer("GET /v1/apps", 200, nlohmann::json{{"apps", {nlohmann::json::parse(status_json("web", "ready"))}}}.dump());
    Outcome o = run_cli({"status", "--watch", "--interval", "5"}, d, /* tty= */ false, /* interrupt_at= */ 2);
    CHECK(o.code == 130);
    CHECK(o.sleeps == std::vector<std::chrono::milliseconds>{std::chrono::seconds(5), std::chrono::seconds(5)});
    CHECK(d.calls == std::vector<std::string>(3, "GET /v1/apps"));
    // Not a terminal: one table after another, a blank line between them.
    std::string table = o.out.substr(0, o.out.find("\n\n") + 1);
    CHECK(table.rfind("NAME", 0) == 0);
    CHECK(o.out == table + "\n" + table + "\n" + table);

    // On a terminal: clear and home before each table, as top and watch(1) redraw.
    o = run_cli({"status", "-w"}, d, /* tty= */ true, /* interrupt_at= */ 1);
    CHECK(o.code == 130);
    CHECK(o.sleeps == std::vector<std::chrono::milliseconds>{std::chrono::seconds(2)});
    CHECK(o.out == "\x1b[2J\x1b[H" + table + "\x1b[2J\x1b[H" + table);

    // Details of named apps are watched too.
    auto detail = nlohmann::json::parse(status_json("web", "ready"));
    detail["events"] = nlohmann::json::array();
    d.answer("GET /v1/apps/web", 200, detail.dump());
    o = run_cli({"status", "--watch", "web"}, d, false, 1);
    CHECK(o.code == 130);
    CHECK(o.out.find("State:") != std::string::npos);

    CHECK(run_cli({"status", "--interval", "5"}, d).code == 2);  // --interval without --watch
    CHECK(run_cli({"status", "-w", "--interval", "0s"}, d).code == 2);
}

// ---- events --app of an unknown app ----------------------------------------------------

TEST_CASE("events --app of an app the daemon does not have says so, exit 4", "[isoctl]") {
    FakeDaemon d;
    d.answer("GET /v1/events?app=nope", 404, isolated::error_json("not_found", "no app named \"nope\"").dump());
    Outcome o = run_cli({"events", "--app", "nope"}, d);
    CHECK(o.code == 4);
    CHECK(o.err == "isoctl: no app named \"nope\"\n");
    CHECK(o.out.empty());
}
