// isoctl's command line and verbs, driven through run() with a fake daemon.
#include <catch2/catch.hpp>

#include <cstdlib>
#include <ctime>
#include <filesystem>
#include <optional>
#include <sstream>

#include "cli.hpp"
#include "connection.hpp"
#include "isolated/api_json.hpp"
#include "support/test_env.hpp"

using namespace isoctl;

namespace {

/// Canned answers by "METHOD TARGET"; records every request. Unknown targets are 404.
struct FakeDaemon {
    struct Call {
        Request req;
        bool streamed = false;
    };
    std::vector<Call> calls;
    std::map<std::string, Response> answers;
    std::map<std::string, std::vector<std::string>> chunks;  ///< stream bodies, piece by piece
    std::vector<std::string> sockets;                        ///< paths the CLI connected to
    bool down = false;

    void answer(const std::string& key, unsigned status, const std::string& body,
                const std::string& type = "application/json") {
        answers[key] = Response{status, type, body};
    }
    std::vector<std::string> targets() const {
        std::vector<std::string> t;
        for (const auto& c : calls) t.push_back(c.req.method + " " + c.req.target);
        return t;
    }
};

class FakeTransport : public Transport {
public:
    explicit FakeTransport(FakeDaemon& d) : d_(d) {}
    Response request(const Request& req) override { return answer(req, false); }
    Response stream(const Request& req, const std::function<void(std::string_view)>& on_data) override {
        Response r = answer(req, true);
        if (!r.ok()) return r;
        for (const auto& piece : d_.chunks[req.method + " " + req.target]) on_data(piece);
        return Response{r.status, r.content_type, {}};
    }

private:
    Response answer(const Request& req, bool streamed) {
        if (d_.down) throw TransportError("cannot connect to " + d_.sockets.back() + ": No such file or directory");
        d_.calls.push_back({req, streamed});
        std::string key = req.method + " " + req.target;
        if (auto it = d_.answers.find(key); it != d_.answers.end()) return it->second;
        if (d_.chunks.count(key)) return Response{200, "text/plain", {}};
        return Response{404, "application/json",
                        isolated::error_json("not_found", "no such app \"" + req.target + "\"").dump()};
    }
    FakeDaemon& d_;
};

struct Outcome {
    int code;
    std::string out, err;
};

Outcome run_cli(std::vector<std::string> args, FakeDaemon& daemon, Environment env = {}, bool tty = false) {
    std::ostringstream out, err;
    Host host{out, err};
    host.stdout_is_tty = tty;
    host.env = std::move(env);
    host.now = [] { return *isolated::parse_rfc3339("2026-11-23T19:00:00Z"); };
    host.connect = [&daemon](const std::string& socket) {
        daemon.sockets.push_back(socket);
        return std::make_unique<FakeTransport>(daemon);
    };
    int code = run(args, host);
    return {code, out.str(), err.str()};
}

std::string status_json(const std::string& name, const std::string& state, const std::string& message = "") {
    isolated::AppStatus s;
    s.name = name;
    s.state = *isolated::app_state_from_string(state);
    s.ready = state == "ready";
    s.message = message;
    return nlohmann::json(s).dump();
}

const std::string kTwoApps = [] {
    isolated::AppStatus a, b;
    a.name = "web";
    a.state = isolated::AppState::ready;
    a.ready = true;
    a.pid = 100;
    b.name = "db";
    b.state = isolated::AppState::stopped;
    return nlohmann::json{{"apps", {a, b}}}.dump();
}();

}  // namespace

// ---- parsing --------------------------------------------------------------------------

TEST_CASE("global options may come before or after the verb", "[isoctl]") {
    for (auto args : std::vector<std::vector<std::string>>{{"-o", "json", "status", "web"},
                                                           {"status", "-o", "json", "web"},
                                                           {"status", "web", "--output=json"},
                                                           {"status", "web", "-ojson"},
                                                           {"--output", "json", "status", "web"}}) {
        Invocation inv = parse_args(args, {});
        REQUIRE(inv.verb);
        CHECK(inv.verb->name == "status");
        CHECK(inv.output == OutputFormat::json);
        CHECK(inv.args == std::vector<std::string>{"web"});
    }
    Invocation inv = parse_args({"status"}, {});
    CHECK(inv.output == OutputFormat::table);
}

TEST_CASE("the --socket flag beats ISOCTL_SOCKET, which beats the default", "[isoctl]") {
    CHECK(parse_args({"status"}, {}).socket == "/run/isolated/isolated.sock");
    CHECK(parse_args({"status"}, {{"ISOCTL_SOCKET", "/tmp/env.sock"}}).socket == "/tmp/env.sock");
    CHECK(parse_args({"status"}, {{"ISOCTL_SOCKET", ""}}).socket == "/run/isolated/isolated.sock");
    CHECK(parse_args({"--socket", "/tmp/flag.sock", "status"}, {{"ISOCTL_SOCKET", "/tmp/env.sock"}}).socket ==
          "/tmp/flag.sock");
    CHECK(parse_args({"status", "--socket=/tmp/after.sock"}, {}).socket == "/tmp/after.sock");
}

TEST_CASE("the CLI connects to the socket it was given", "[isoctl]") {
    FakeDaemon d;
    d.answer("GET /v1/apps", 200, kTwoApps);
    run_cli({"status"}, d, {{"ISOCTL_SOCKET", "/tmp/env.sock"}});
    run_cli({"status", "--socket", "/tmp/flag.sock"}, d, {{"ISOCTL_SOCKET", "/tmp/env.sock"}});
    CHECK(d.sockets == std::vector<std::string>{"/tmp/env.sock", "/tmp/flag.sock"});
}

TEST_CASE("verb options: flags, values, bundles and --", "[isoctl]") {
    Invocation inv = parse_args({"logs", "-f", "-n", "20", "-t", "web"}, {});
    CHECK(inv.flag("follow"));
    CHECK(inv.flag("timestamps"));
    CHECK(inv.value("tail") == "20");
    CHECK(inv.args == std::vector<std::string>{"web"});

    inv = parse_args({"logs", "-ftn5", "web"}, {});
    CHECK(inv.flag("follow"));
    CHECK(inv.flag("timestamps"));
    CHECK(inv.value("tail") == "5");

    inv = parse_args({"logs", "--tail=7", "--follow", "web"}, {});
    CHECK(inv.value("tail") == "7");
    CHECK(inv.flag("follow"));

    inv = parse_args({"stop", "a", "b", "--timeout", "10s", "--no-wait"}, {});
    CHECK(inv.args == std::vector<std::string>{"a", "b"});
    CHECK(inv.value("timeout") == "10s");
    CHECK(inv.flag("no-wait"));

    inv = parse_args({"events", "--app", "web", "-f"}, {});
    CHECK(inv.value("app") == "web");

    inv = parse_args({"validate", "--", "-odd-name.json"}, {});
    CHECK(inv.args == std::vector<std::string>{"-odd-name.json"});
}

TEST_CASE("bad usage is exit code 2 with a hint", "[isoctl]") {
    FakeDaemon d;
    struct Case {
        std::vector<std::string> args;
        std::string message;
    };
    for (const auto& c : std::vector<Case>{
             {{"frobnicate"}, "unknown command \"frobnicate\""},
             {{"status", "--bogus"}, "unknown option --bogus for \"status\""},
             {{"-f", "logs", "web"}, "unknown option -f"},
             {{"logs"}, "missing arguments"},
             {{"logs", "a", "b"}, "too many arguments"},
             {{"start"}, "missing arguments"},
             {{"reload", "x"}, "\"reload\" takes no arguments"},
             {{"status", "-o", "yaml"}, "unknown output format \"yaml\""},
             {{"status", "--socket"}, "--socket needs a value"},
             {{"logs", "-n", "ten", "web"}, "-n: \"ten\" is not a number of lines"},
             {{"stop", "web", "--timeout", "soon"}, "--timeout: \"soon\" is not a duration"},
             {{"start", "Web"}, "\"Web\" is not an app name"},
             {{"events", "--follow=yes"}, "--follow takes no value"},
         }) {
        INFO(c.args.front() << " ... -> " << c.message);
        Outcome o = run_cli(c.args, d);
        CHECK(o.code == 2);
        CHECK(o.err.find("isoctl: " + c.message) != std::string::npos);
        CHECK(o.err.find("--help") != std::string::npos);
        CHECK(o.out.empty());
    }
    CHECK(d.calls.empty());  // nothing bad reached the daemon
}

TEST_CASE("no command prints the help to stderr with code 2", "[isoctl]") {
    FakeDaemon d;
    Outcome o = run_cli({}, d);
    CHECK(o.code == 2);
    CHECK(o.err.find("Usage: isoctl") != std::string::npos);
}

TEST_CASE("help lists every verb and the exit codes", "[isoctl]") {
    FakeDaemon d;
    for (auto args : std::vector<std::vector<std::string>>{{"--help"}, {"-h"}, {"help"}}) {
        Outcome o = run_cli(args, d);
        CHECK(o.code == 0);
        for (const char* verb : {"status", "start", "stop", "restart", "reload", "logs", "events", "validate",
                                 "version", "top", "exec", "inspect"})
            CHECK(o.out.find(std::string("  ") + verb) != std::string::npos);
        CHECK(o.out.find("3    cannot reach the daemon") != std::string::npos);
        CHECK(o.out.find("4    no such app") != std::string::npos);
    }
    Outcome o = run_cli({"logs", "--help"}, d);
    CHECK(o.code == 0);
    CHECK(o.out.find("Usage: isoctl logs [-f] [-n N] [-t] [--since DUR|TIME] APP") != std::string::npos);
    CHECK(o.out.find("-f, --follow") != std::string::npos);
    CHECK(run_cli({"help", "stop"}, d).out.find("Usage: isoctl stop") != std::string::npos);
    CHECK(d.calls.empty());
}

TEST_CASE("isoctl --version prints the client version without the daemon", "[isoctl]") {
    FakeDaemon d;
    d.down = true;
    Outcome o = run_cli({"--version"}, d);
    CHECK(o.code == 0);
    CHECK(o.out == std::string("isoctl ") + ISOLATED_VERSION + "\n");
}

TEST_CASE("exec needs a command", "[isoctl]") {
    FakeDaemon d;
    Outcome exec = run_cli({"exec", "web"}, d);
    CHECK(exec.code == 2);
    CHECK(d.calls.empty());
}

// ---- verbs against a fake daemon ------------------------------------------------------

TEST_CASE("status prints the table, or the daemon's JSON", "[isoctl]") {
    FakeDaemon d;
    d.answer("GET /v1/apps", 200, kTwoApps);
    Outcome o = run_cli({"status"}, d);
    CHECK(o.code == 0);
    CHECK(o.out.rfind("NAME  ", 0) == 0);
    CHECK(o.out.find("web    ready") != std::string::npos);
    CHECK(o.out.find("\x1b[") == std::string::npos);

    Outcome tty = run_cli({"status"}, d, {}, true);
    CHECK(tty.out.find("\x1b[32mready") != std::string::npos);
    Outcome no_color = run_cli({"status"}, d, {{"NO_COLOR", "1"}}, true);
    CHECK(no_color.out.find("\x1b[") == std::string::npos);

    Outcome json = run_cli({"status", "-o", "json"}, d);
    CHECK(json.code == 0);
    auto doc = nlohmann::json::parse(json.out);
    CHECK(doc == nlohmann::json::parse(kTwoApps));
}

TEST_CASE("status APP shows details, an unknown app is code 4 but the others still show", "[isoctl]") {
    FakeDaemon d;
    auto detail = nlohmann::json::parse(status_json("web", "ready"));
    detail["spec"] = {{"command", {"/bin/web"}}};
    detail["events"] = nlohmann::json::array();
    d.answer("GET /v1/apps/web", 200, detail.dump());
    d.answer("GET /v1/apps/nope", 404, isolated::error_json("not_found", "no such app \"nope\"").dump());

    Outcome o = run_cli({"status", "web"}, d);
    CHECK(o.code == 0);
    CHECK(o.out.find("Name:         web\n") != std::string::npos);
    CHECK(o.out.find("Command:      /bin/web\n") != std::string::npos);

    o = run_cli({"status", "nope", "web"}, d);
    CHECK(o.code == 4);
    CHECK(o.err == "isoctl: no such app \"nope\"\n");
    CHECK(o.out.find("Name:         web\n") != std::string::npos);

    o = run_cli({"status", "-o", "json", "web", "web"}, d);
    CHECK(o.code == 0);
    auto arr = nlohmann::json::parse(o.out);
    REQUIRE(arr.is_array());
    CHECK(arr.size() == 2);
    CHECK(arr[0]["name"] == "web");
    CHECK(arr[0]["spec"]["command"][0] == "/bin/web");
}

TEST_CASE("start/stop/restart: one request per app in order, one line per app", "[isoctl]") {
    FakeDaemon d;
    d.answer("POST /v1/apps/db/start", 200, status_json("db", "ready"));
    d.answer("POST /v1/apps/web/start", 200, status_json("web", "running", "waiting for readiness"));
    Outcome o = run_cli({"start", "db", "web"}, d);
    CHECK(o.code == 0);
    CHECK(o.out == "db: ready\nweb: running (waiting for readiness)\n");
    CHECK(d.targets() == std::vector<std::string>{"POST /v1/apps/db/start", "POST /v1/apps/web/start"});
    CHECK(d.calls[0].req.body.empty());
    CHECK(d.calls[0].req.timeout >= std::chrono::minutes(5));

    d.calls.clear();
    d.answer("POST /v1/apps/web/stop", 200, status_json("web", "stopped"));
    o = run_cli({"stop", "--timeout", "10s", "web"}, d);
    CHECK(o.out == "web: stopped\n");
    REQUIRE(d.calls.size() == 1);
    CHECK(nlohmann::json::parse(d.calls[0].req.body) == nlohmann::json{{"timeout", "10s"}});

    d.calls.clear();
    d.answer("POST /v1/apps/web/restart?wait=0", 200, status_json("web", "starting"));
    o = run_cli({"restart", "web", "--no-wait"}, d);
    CHECK(o.code == 0);
    CHECK(o.out == "web: starting\n");

    d.calls.clear();
    o = run_cli({"-o", "json", "start", "db"}, d);
    auto arr = nlohmann::json::parse(o.out);
    CHECK(arr.is_array());
    CHECK(arr[0]["state"] == "ready");
}

TEST_CASE("an action failing on one app goes on with the others, first failure's code", "[isoctl]") {
    FakeDaemon d;
    d.answer("POST /v1/apps/a/start", 500,
             isolated::error_json("internal", "exec \"/bin/nope\": ENOENT (No such file or directory)").dump());
    d.answer("POST /v1/apps/c/start", 200, status_json("c", "ready"));
    Outcome o = run_cli({"start", "a", "b", "c"}, d);
    CHECK(o.code == 1);
    CHECK(o.out == "c: ready\n");
    CHECK(o.err.find("isoctl: a: exec \"/bin/nope\": ENOENT") != std::string::npos);
    CHECK(o.err.find("isoctl: no such app") != std::string::npos);  // b, a 404 from the fake
    CHECK(d.calls.size() == 3);
}

TEST_CASE("a daemon error prints its message, 404 is code 4, others 1", "[isoctl]") {
    FakeDaemon d;
    d.answer("POST /v1/apps/web/stop", 409, isolated::error_json("conflict", "web is being deleted").dump());
    Outcome o = run_cli({"stop", "web"}, d);
    CHECK(o.code == 1);
    CHECK(o.err == "isoctl: web is being deleted\n");

    d.answer("POST /v1/apps/web/start", 403,
             isolated::error_json("forbidden", "read-only socket: only GET is allowed").dump());
    o = run_cli({"start", "web"}, d);
    CHECK(o.code == 1);
    CHECK(o.err == "isoctl: web: read-only socket: only GET is allowed\n");

    o = run_cli({"logs", "ghost"}, d);
    CHECK(o.code == 4);

    d.answer("GET /v1/apps", 500, "not json at all", "text/plain");
    o = run_cli({"status"}, d);
    CHECK(o.code == 1);
    CHECK(o.err == "isoctl: the daemon answered HTTP 500: not json at all\n");

    d.answer("GET /v1/apps", 200, "{\"apps\": 5}");
    o = run_cli({"status"}, d);
    CHECK(o.code == 1);
    CHECK(o.err.find("isoctl: unexpected answer from the daemon") == 0);
}

TEST_CASE("an unreachable daemon is code 3 with the transport's message", "[isoctl]") {
    FakeDaemon d;
    d.down = true;
    for (auto args : std::vector<std::vector<std::string>>{
             {"status"}, {"start", "a", "b"}, {"status", "web"}, {"logs", "-f", "web"}, {"reload"}}) {
        Outcome o = run_cli(args, d);
        CHECK(o.code == 3);
        CHECK(o.err == "isoctl: cannot connect to /run/isolated/isolated.sock: No such file or directory\n");
    }
}

TEST_CASE("reload lists the changes, rejected files are code 1 with diagnostics on stderr", "[isoctl]") {
    FakeDaemon d;
    isolated::ReloadReport ok;
    ok.added = {"web"};
    ok.unchanged = {"db"};
    d.answer("POST /v1/reload", 200, nlohmann::json(ok).dump());
    Outcome o = run_cli({"reload"}, d);
    CHECK(o.code == 0);
    CHECK(o.out == "added: web\n");
    CHECK(o.err.empty());

    isolated::ReloadReport bad = ok;
    bad.rejected = {{"broken", {"/etc/isolated/apps/broken.json:7: resources.memory: \"12Q\" is not a size"}}};
    d.answer("POST /v1/reload", 200, nlohmann::json(bad).dump());
    o = run_cli({"reload"}, d);
    CHECK(o.code == 1);
    CHECK(o.out == "added: web\nrejected: broken\n");
    CHECK(o.err == "/etc/isolated/apps/broken.json:7: resources.memory: \"12Q\" is not a size\n");

    o = run_cli({"reload", "-o", "json"}, d);
    CHECK(o.code == 1);
    CHECK(nlohmann::json::parse(o.out)["rejected"][0]["name"] == "broken");
}

TEST_CASE("logs stream the body through with the query built from the options", "[isoctl]") {
    FakeDaemon d;
    d.chunks["GET /v1/apps/web/logs"] = {"line 1\nli", "ne 2\n"};
    d.chunks["GET /v1/apps/web/logs?tail=20&follow=1&timestamps=1"] = {"x\n"};
    d.chunks["GET /v1/apps/web/logs?follow=1"] = {"y\n"};
    Outcome o = run_cli({"logs", "web"}, d);
    CHECK(o.code == 0);
    CHECK(o.out == "line 1\nline 2\n");
    o = run_cli({"logs", "-f", "-n", "20", "-t", "web"}, d);
    CHECK(o.out == "x\n");
    CHECK(d.calls.back().streamed);
    CHECK(d.calls.back().req.timeout.count() == 0);  // a follower waits as long as it takes
    o = run_cli({"logs", "-n", "all", "-f", "web"}, d);
    CHECK(o.out == "y\n");
}

TEST_CASE("events: human lines from NDJSON split anywhere, or NDJSON as is", "[isoctl]") {
    setenv("TZ", "UTC", 1);
    tzset();
    FakeDaemon d;
    std::string l1 =
        R"({"seq":1,"time":"2026-11-23T19:01:02.000Z","app":"web","type":"state","message":"","state":"ready"})";
    std::string l2 = R"({"seq":2,"time":"2026-11-23T19:01:03.000Z","app":"db","type":"exit","message":"exited 1"})";
    d.chunks["GET /v1/events?follow=1&app=web"] = {l1.substr(0, 10), l1.substr(10) + "\n" + l2.substr(0, 5),
                                                   l2.substr(5) + "\n"};
    Outcome o = run_cli({"events", "-f", "--app", "web"}, d);
    CHECK(o.code == 0);
    CHECK(o.out ==
          "2026-11-23 19:01:02  web           state     ready\n"
          "2026-11-23 19:01:03  db            exit      exited 1\n");

    d.chunks["GET /v1/events"] = {l1 + "\n", l2};  // last line without its newline
    o = run_cli({"events", "-o", "json"}, d);
    CHECK(o.out == l1 + "\n" + l2);
    o = run_cli({"events"}, d);
    CHECK(o.out.find("db            exit      exited 1\n") != std::string::npos);
}

TEST_CASE("version shows both sides, and only the client when the daemon is away", "[isoctl]") {
    FakeDaemon d;
    d.answer("GET /v1/version", 200, R"({"version":"0.1.0","apiVersion":"v1","cgroupDriver":"v2"})");
    Outcome o = run_cli({"version"}, d);
    CHECK(o.code == 0);
    CHECK(o.out == std::string("isoctl ") + ISOLATED_VERSION + "\nisolated 0.1.0 (API v1, cgroup driver v2)\n");

    o = run_cli({"version", "-o", "json"}, d);
    auto j = nlohmann::json::parse(o.out);
    CHECK(j["client"]["version"] == ISOLATED_VERSION);
    CHECK(j["daemon"]["cgroupDriver"] == "v2");

    d.down = true;
    o = run_cli({"version"}, d);
    CHECK(o.code == 0);
    CHECK(o.out == std::string("isoctl ") + ISOLATED_VERSION + "\n");
    CHECK(o.err.find("isoctl: daemon version unknown: cannot connect") == 0);
}

// ---- validate (no daemon) -------------------------------------------------------------

TEST_CASE("validate checks a directory without the daemon", "[isoctl]") {
    isolated::test::TempDir dir("isoctl-validate");
    FakeDaemon d;
    d.down = true;  // must not be needed
    // Programs every host has: a missing one is a warning on stderr (see below).
    isolated::test::write_file(dir / "web.json", R"({"command": ["/bin/sh"]})");
    isolated::test::write_file(dir / "db.json", "{\n  // comments are fine\n  \"command\": [\"sh\"]\n}\n");

    Outcome o = run_cli({"validate", dir.path()}, d);
    CHECK(o.code == 0);
    CHECK(o.out == "2 apps OK\n");
    CHECK(o.err.empty());

    isolated::test::write_file(dir / "bad.json",
                               "{\n  \"command\": [\"/bin/x\"],\n  \"resources\": {\"memory\": \"12Q\"}\n}\n");
    o = run_cli({"validate", dir.path()}, d);
    CHECK(o.code == 1);
    CHECK(o.out == "3 apps, 1 rejected\n");
    CHECK(o.err.find("bad.json:3: resources.memory") != std::string::npos);

    o = run_cli({"validate", "-o", "json", dir.path()}, d);
    CHECK(o.code == 1);
    auto j = nlohmann::json::parse(o.out);
    CHECK(j["valid"] == nlohmann::json({"db", "web"}));
    CHECK(j["rejected"][0]["name"] == "bad");

    // One file.
    o = run_cli({"validate", dir / "web.json"}, d);
    CHECK(o.code == 0);
    CHECK(o.out == "1 app OK\n");
    o = run_cli({"validate", dir / "bad.json"}, d);
    CHECK(o.code == 1);
    CHECK(o.out == "1 app, 1 rejected\n");

    CHECK(d.calls.empty());
}

TEST_CASE("validate warns about what a start on this host would fail on, --strict makes it an error",
          "[isoctl]") {
    isolated::test::TempDir dir("isoctl-validate");
    FakeDaemon d;
    d.down = true;
    isolated::test::write_file(dir / "ok.json", R"({"command": ["/bin/sh"]})");
    isolated::test::write_file(dir / "web.json", "{\n  \"command\": [\"/bin/sh\"],\n  \"mounts\": [{\"type\": \"bind\", "
                                                 "\"source\": \"" + dir / "nope" + "\", \"target\": \"/data\"}]\n}\n");
    Outcome o = run_cli({"validate", dir.path()}, d);
    CHECK(o.code == 0);
    CHECK(o.out == "2 apps OK\n");
    CHECK(o.err == "warning: " + dir / "web.json:3: mounts[0].source: \"" + dir / "nope" +
                       "\" does not exist (create it, or add \"create\": true)\n");
    o = run_cli({"validate", "-o", "json", dir.path()}, d);
    CHECK(o.code == 0);
    auto j = nlohmann::json::parse(o.out);
    CHECK(j["valid"] == nlohmann::json({"ok", "web"}));
    CHECK(j["warnings"][0]["name"] == "web");
    CHECK(j["warnings"][0]["warnings"].size() == 1);

    o = run_cli({"validate", "--strict", dir.path()}, d);
    CHECK(o.code == 1);
    CHECK(o.out == "2 apps, 1 rejected\n");
    CHECK(o.err == dir / "web.json:3: mounts[0].source: \"" + dir / "nope" +
                       "\" does not exist (create it, or add \"create\": true)\n");
    o = run_cli({"validate", "--strict", dir / "web.json"}, d);
    CHECK(o.code == 1);
    o = run_cli({"validate", "--strict", dir / "ok.json"}, d);
    CHECK(o.code == 0);
    CHECK(d.calls.empty());
}

TEST_CASE("validate checks pinned addresses against the subnet of the daemon's settings file", "[isoctl]") {
    isolated::test::TempDir dir("isoctl-validate");
    FakeDaemon d;
    std::filesystem::create_directories(dir / "apps");
    isolated::test::write_file(dir / "apps/web.json",
                               "{\n  \"command\": [\"/bin/sh\"],\n  \"network\": {\"address\": \"10.200.0.5\"}\n}\n");
    isolated::test::write_file(dir / "isolated.conf", "# settings\nbridge = br9\nsubnet = 10.200.0.0/16  # ours\n");
    Outcome o = run_cli({"validate", "--config", dir / "isolated.conf", dir / "apps"}, d);
    CHECK(o.code == 0);
    CHECK(o.err.empty());

    isolated::test::write_file(dir / "default.conf", "# subnet = 10.200.0.0/16\n");  // commented out: the default
    o = run_cli({"validate", "--config", dir / "default.conf", dir / "apps"}, d);
    CHECK(o.code == 1);
    CHECK(o.err == dir / "apps/web.json:3: network.address: 10.200.0.5 is outside the subnet 10.100.0.0/24 of the "
                          "bridge (setting subnet)\n");
    o = run_cli({"validate", "--config", dir / "default.conf", dir / "apps/web.json"}, d);
    CHECK(o.code == 1);
    CHECK(o.out == "1 app, 1 rejected\n");

    o = run_cli({"validate", "--config", dir / "missing.conf", dir / "apps"}, d);
    CHECK(o.code == 1);
    CHECK(o.err.find("cannot read " + dir / "missing.conf") != std::string::npos);
}

TEST_CASE("validate runs the cross-file checks on a directory", "[isoctl]") {
    isolated::test::TempDir dir("isoctl-validate");
    FakeDaemon d;
    isolated::test::write_file(dir / "a.json", R"({"command": ["/bin/a"], "dependsOn": ["ghost"]})");
    Outcome o = run_cli({"validate", dir.path()}, d);
    CHECK(o.code == 1);
    CHECK(o.out == "1 app, 1 rejected\n");
    CHECK(o.err.find("ghost") != std::string::npos);
}

TEST_CASE("validate of a missing path fails with code 1", "[isoctl]") {
    isolated::test::TempDir dir("isoctl-validate");
    FakeDaemon d;
    Outcome o = run_cli({"validate", dir / "nope"}, d);
    CHECK(o.code == 1);
    CHECK(o.err == "isoctl: cannot read " + (dir / "nope") + ": No such file or directory\n");
}

// ---- isoctl kill (issue 16, item 4) -----------------------------------------------------

TEST_CASE("kill: -s SIGNAL, --signal, kill(1)'s -HUP and -9, SIGTERM by default", "[isoctl][signal]") {
    struct Case {
        std::vector<std::string> args;
        std::optional<std::string> signal;
        bool all;
        std::vector<std::string> apps;
    };
    for (const auto& c : std::vector<Case>{
             {{"kill", "nginx"}, std::nullopt, false, {"nginx"}},
             {{"kill", "-s", "HUP", "nginx"}, "HUP", false, {"nginx"}},
             {{"kill", "-sHUP", "nginx"}, "HUP", false, {"nginx"}},
             {{"kill", "--signal", "SIGHUP", "nginx"}, "SIGHUP", false, {"nginx"}},
             {{"kill", "--signal=1", "nginx"}, "1", false, {"nginx"}},
             {{"kill", "-HUP", "nginx"}, "HUP", false, {"nginx"}},
             {{"kill", "-SIGUSR1", "--all", "web", "db"}, "SIGUSR1", true, {"web", "db"}},
             {{"kill", "-9", "web"}, "9", false, {"web"}},
             {{"kill", "web", "-USR2"}, "USR2", false, {"web"}},
             {{"kill", "--all", "-s", "TERM", "web"}, "TERM", true, {"web"}},
         }) {
        INFO((c.args.size() > 1 ? c.args[1] : std::string()));
        Invocation inv = parse_args(c.args, {});
        REQUIRE(inv.verb);
        CHECK(inv.verb->name == "kill");
        CHECK(inv.value("signal") == c.signal);
        CHECK(inv.flag("all") == c.all);
        CHECK(inv.args == c.apps);
    }
    // The shorthand is kill's alone, and never hides an option: -h is still help,
    // -o still the output format; other verbs refuse it.
    CHECK(parse_args({"kill", "-h"}, {}).help);
    CHECK(parse_args({"kill", "-o", "json", "web"}, {}).output == OutputFormat::json);
    CHECK_THROWS_AS(parse_args({"stop", "-HUP", "web"}, {}), UsageError);
    // After "--" it is an argument (and then not an app name).
    CHECK(parse_args({"kill", "--", "-HUP"}, {}).args == std::vector<std::string>{"-HUP"});
}

TEST_CASE("kill: one request per app with the signal in the body, one line per app", "[isoctl][signal]") {
    FakeDaemon d;
    d.answer("POST /v1/apps/nginx/signal", 200,
             R"({"all":false,"app":"nginx","mainPid":4242,"pids":[4242],"processes":1,"signal":"SIGHUP"})");
    d.answer("POST /v1/apps/web/signal", 200,
             R"({"all":true,"app":"web","mainPid":10,"pids":[10,11,12],"processes":3,"signal":"SIGHUP"})");
    Outcome o = run_cli({"kill", "-HUP", "nginx"}, d);
    CHECK(o.code == 0);
    CHECK(o.out == "nginx: SIGHUP sent to the main process (pid 4242)\n");
    REQUIRE(d.calls.size() == 1);
    CHECK(d.calls[0].req.method == "POST");
    CHECK(nlohmann::json::parse(d.calls[0].req.body) == nlohmann::json{{"signal", "HUP"}, {"all", false}});

    d.calls.clear();
    o = run_cli({"kill", "nginx"}, d);
    CHECK(nlohmann::json::parse(d.calls.at(0).req.body) == nlohmann::json{{"signal", "SIGTERM"}, {"all", false}});

    d.calls.clear();
    o = run_cli({"kill", "--all", "-s", "1", "web"}, d);
    CHECK(o.out == "web: SIGHUP sent to 3 processes (pids 10, 11, 12)\n");
    CHECK(nlohmann::json::parse(d.calls.at(0).req.body) == nlohmann::json{{"signal", "1"}, {"all", true}});

    d.calls.clear();
    o = run_cli({"-o", "json", "kill", "-s", "HUP", "nginx", "web"}, d);
    auto arr = nlohmann::json::parse(o.out);
    REQUIRE(arr.size() == 2);
    CHECK(arr[0]["mainPid"] == 4242);
    CHECK(arr[1]["processes"] == 3);
}

TEST_CASE("kill: a wrong signal is said once with exit 1, a stopped app 1, an unknown app 4", "[isoctl][signal]") {
    FakeDaemon d;
    const std::string bad = isolated::error_json("bad_request", R"(signal: "hup" is not a signal (did you mean "HUP"?))").dump();
    d.answer("POST /v1/apps/a/signal", 400, bad);
    d.answer("POST /v1/apps/b/signal", 400, bad);
    Outcome o = run_cli({"kill", "-s", "hup", "a", "b"}, d);
    CHECK(o.code == 1);
    CHECK(o.err == "isoctl: signal: \"hup\" is not a signal (did you mean \"HUP\"?)\n");
    CHECK(d.calls.size() == 1);

    d.calls.clear();
    d.answer("POST /v1/apps/db/signal", 409, isolated::error_json("conflict", "db is stopped, not running").dump());
    d.answer("POST /v1/apps/web/signal", 200,
             R"({"all":false,"app":"web","mainPid":7,"pids":[7],"processes":1,"signal":"SIGTERM"})");
    o = run_cli({"kill", "db", "ghost", "web"}, d);
    CHECK(o.code == 1);  // the first failure's code
    CHECK(o.err.find("isoctl: db is stopped, not running\n") != std::string::npos);
    CHECK(o.err.find("ghost") != std::string::npos);  // the fake daemon's 404
    CHECK(o.out == "web: SIGTERM sent to the main process (pid 7)\n");
    CHECK(d.calls.size() == 3);

    o = run_cli({"kill", "ghost"}, d);
    CHECK(o.code == 4);
}

TEST_CASE("kill: usage errors reach no daemon", "[isoctl][signal]") {
    FakeDaemon d;
    for (const auto& [args, message] : std::vector<std::pair<std::vector<std::string>, std::string>>{
             {{"kill"}, "missing arguments"},
             {{"kill", "--all"}, "missing arguments: give APP names (--all means every process of each APP)"},
             {{"kill", "-s"}, "-s needs a value"},
             {{"kill", "-s", "", "web"}, "-s needs a signal"},
             {{"kill", "Web"}, "\"Web\" is not an app name"},
             {{"kill", "-x", "web"}, "unknown option -x for \"kill\""},
         }) {
        INFO(message);
        Outcome o = run_cli(args, d);
        CHECK(o.code == 2);
        CHECK(o.err.find("isoctl: " + message) != std::string::npos);
    }
    CHECK(d.calls.empty());
}
