// isoctl's presentation: tables, human units, and the views of API documents.
#include <catch2/catch.hpp>

#include <cstdlib>
#include <ctime>

#include "isolated/api_json.hpp"
#include "output.hpp"
#include "views.hpp"

using namespace isoctl;
using namespace std::chrono_literals;
using isolated::parse_rfc3339;

namespace {

WallTime at(const char* rfc3339) { return *parse_rfc3339(rfc3339); }

// Local-time formatting must not depend on the machine running the tests.
struct UtcZone {
    UtcZone() {
        setenv("TZ", "UTC", 1);
        tzset();
    }
};

bool has_trailing_space(const std::string& text) {
    std::size_t pos = 0;
    while ((pos = text.find('\n', pos)) != std::string::npos) {
        if (pos > 0 && text[pos - 1] == ' ') return true;
        ++pos;
    }
    return false;
}

// now = 2026-11-23T19:00:00Z
const char* kSampleApps = R"({"apps": [
  {"name": "nginx", "state": "ready", "ready": true, "pid": 4242, "initPid": 4240,
   "startedAt": "2026-11-23T16:50:00.000Z", "restarts": 0, "lastExit": null,
   "address": "10.88.0.2", "ports": [{"host": 8080, "app": 80, "protocol": "tcp"}],
   "health": {"startup": null, "liveness": null,
              "readiness": {"result": "success", "consecutiveSuccesses": 12, "consecutiveFailures": 0,
                            "message": "", "lastProbeAt": "2026-11-23T18:59:55.000Z"}},
   "resources": {"limits": {"cpu": 0.5, "memory": 536870912, "pids": 512},
                 "usage": {"cpuSeconds": 12.5, "memoryBytes": 47185920, "pids": 3}},
   "message": "", "nextRestartAt": null},
  {"name": "postgres", "state": "backoff", "ready": false, "pid": null, "initPid": null,
   "startedAt": null, "restarts": 3,
   "lastExit": {"code": 137, "signal": "SIGKILL", "oomKilled": true, "at": "2026-11-23T18:57:00.000Z"},
   "address": null, "ports": [{"host": 5432, "app": 5432, "protocol": "tcp"}],
   "health": {"startup": null, "liveness": null, "readiness": null},
   "resources": {"limits": {"memory": 1073741824}, "usage": {}},
   "message": "", "nextRestartAt": "2026-11-23T19:00:08.000Z"},
  {"name": "vsftpd", "state": "stopped", "ready": false, "pid": null, "initPid": null,
   "startedAt": "2026-11-23T12:00:00.000Z", "restarts": 0,
   "lastExit": {"code": 0, "signal": null, "oomKilled": false, "at": "2026-11-23T17:00:00.000Z"},
   "address": null, "ports": [], "health": {}, "resources": {"limits": {}, "usage": {}},
   "message": "", "nextRestartAt": null}
]})";

std::vector<isolated::AppStatus> sample_apps() {
    return nlohmann::json::parse(kSampleApps).at("apps").get<std::vector<isolated::AppStatus>>();
}

}  // namespace

TEST_CASE("display width counts code points and truncation ends in an ellipsis", "[isoctl]") {
    CHECK(display_width("abc") == 3);
    CHECK(display_width("a…") == 2);
    CHECK(display_width("") == 0);
    CHECK(truncate_text("short", 10) == "short");
    CHECK(truncate_text("exactly10!", 10) == "exactly10!");
    CHECK(truncate_text("this is too long", 10) == "this is t…");
    CHECK(display_width(truncate_text("this is too long", 10)) == 10);
    CHECK(truncate_text("anything", 0) == "anything");
    CHECK(truncate_text("ééééé", 3) == "éé…");
}

TEST_CASE("tables align columns, truncate, and leave no trailing spaces", "[isoctl]") {
    Table t({{"NAME"}, {"STATE"}, {"NOTE", 8}});
    t.add_row({"a", "ready", "x"});
    t.add_row({"longer-name", "stopped", "a note that is long"});
    t.add_row({"b", "ready", ""});
    std::string expected =
        "NAME          STATE     NOTE\n"
        "a             ready     x\n"
        "longer-name   stopped   a note …\n"
        "b             ready\n";
    CHECK(t.render(false) == expected);
    CHECK_FALSE(has_trailing_space(t.render(false)));
}

TEST_CASE("table colour wraps the text only and never shifts the columns", "[isoctl]") {
    Table t({{"NAME"}, {"STATE"}, {"X"}});
    t.add_row({"a", Cell("ready", Color::green), "1"});
    std::string coloured = t.render(true);
    CHECK(coloured == "NAME   STATE   X\na      \x1b[32mready\x1b[0m   1\n");
    CHECK(t.render(false) == "NAME   STATE   X\na      ready   1\n");
}

TEST_CASE("colour only on a terminal without NO_COLOR", "[isoctl]") {
    CHECK(want_color(true, nullptr, "xterm"));
    CHECK_FALSE(want_color(false, nullptr, "xterm"));
    CHECK_FALSE(want_color(true, "1", "xterm"));
    CHECK_FALSE(want_color(true, nullptr, "dumb"));
    CHECK(want_color(true, "", nullptr));  // NO_COLOR set but empty does not count
    CHECK(colorize("x", Color::red, false) == "x");
}

TEST_CASE("human durations are precise when short and coarse when long", "[isoctl]") {
    CHECK(human_duration(0ms) == "0s");
    CHECK(human_duration(5s) == "5s");
    CHECK(human_duration(119s) == "119s");
    CHECK(human_duration(3min) == "3m");
    CHECK(human_duration(59min + 59s) == "59m");
    CHECK(human_duration(2h) == "2h");
    CHECK(human_duration(2h + 10min + 30s) == "2h10m");
    CHECK(human_duration(9h + 59min) == "9h59m");
    CHECK(human_duration(10h + 5min) == "10h");
    CHECK(human_duration(47h) == "47h");
    CHECK(human_duration(96h) == "4d");
    CHECK(human_duration(-5s) == "0s");
}

TEST_CASE("relative times say ago or in", "[isoctl]") {
    WallTime now = at("2026-11-23T19:00:00Z");
    CHECK(relative_time(now - 3min, now) == "3m ago");
    CHECK(relative_time(now + 5s, now) == "in 5s");
    CHECK(relative_time(now, now) == "0s ago");
    CHECK(relative_time(now + 500ms, now) == "0s ago");  // clock skew is not the future
}

TEST_CASE("local times print as date and time", "[isoctl]") {
    UtcZone utc;
    CHECK(format_local_time(at("2026-11-23T19:01:02.500Z")) == "2026-11-23 19:01:02");
}

TEST_CASE("byte sizes print like docker stats", "[isoctl]") {
    CHECK(human_bytes(0) == "0B");
    CHECK(human_bytes(512) == "512B");
    CHECK(human_bytes(1024) == "1KiB");
    CHECK(human_bytes(1536) == "1.5KiB");
    CHECK(human_bytes(12 * 1024 * 1024 + 512 * 1024) == "12.5MiB");
    CHECK(human_bytes(512ull << 20) == "512MiB");
    CHECK(human_bytes(2087354106ull) == "1.944GiB");
    CHECK(human_bytes(3ull << 40) == "3TiB");
}

TEST_CASE("exits are described the way operators say them", "[isoctl]") {
    isolated::ExitInfo e;
    CHECK(describe_exit(e) == "exited 0");
    e.code = 1;
    CHECK(describe_exit(e) == "exited 1");
    e.code = 137;
    e.signal = 9;
    CHECK(describe_exit(e) == "killed SIGKILL");
    e.oom_killed = true;
    CHECK(describe_exit(e) == "oom-killed");
    isolated::ExitInfo never_ran;
    never_ran.code = 127;
    never_ran.message = "exec \"/usr/bin/x\": ENOENT";
    CHECK(describe_exit(never_ran) == "exec failed");
}

TEST_CASE("exits are labelled by what happened, not by whether they carry a message", "[isoctl]") {
    // An OOM kill carries the runtime's explanation; it is still an OOM kill.
    isolated::ExitInfo oom;
    oom.code = 137;
    oom.signal = 9;
    oom.oom_killed = true;
    oom.message = "killed by the OOM killer (memory limit)";
    CHECK(describe_exit(oom) == "oom-killed");
    CHECK(isolated::exit_reason(oom) == "oomKilled");
    isolated::ExitInfo port_clash;
    port_clash.code = 125;
    port_clash.message = "port forward 8080/tcp: host port already used";
    CHECK(describe_exit(port_clash) == "launch failed");
    CHECK(isolated::exit_reason(port_clash) == "launchFailed");
    isolated::ExitInfo lost;
    lost.code = 1;
    lost.message = "the sandbox's init ended without recording the app's exit";
    CHECK(describe_exit(lost) == "exited 1");
    isolated::ExitInfo self127;  // `sh -c nonexistent` exits 127 by itself
    self127.code = 127;
    CHECK(describe_exit(self127) == "exited 127");
    CHECK(isolated::exit_reason(self127) == "exited");
    isolated::ExitInfo unknown;
    unknown.code = -1;
    unknown.message = "status unknown";
    CHECK(describe_exit(unknown) == "unknown");
}

TEST_CASE("ports print as host->app/protocol", "[isoctl]") {
    isolated::PortSpec web{8080, 80, isolated::Protocol::tcp, ""};
    isolated::PortSpec dns{5353, 53, isolated::Protocol::udp, "127.0.0.1"};
    CHECK(format_port(web) == "8080->80/tcp");
    CHECK(format_port(dns) == "127.0.0.1:5353->53/udp");
    CHECK(format_ports({web, dns}) == "8080->80/tcp, 127.0.0.1:5353->53/udp");
    CHECK(format_ports({}) == "");
    CHECK(format_cpu(0.5) == "50%");
    CHECK(format_cpu(1.5) == "150%");
}

TEST_CASE("the status table from a GET /v1/apps document", "[isoctl]") {
    std::string table = render_status_table(sample_apps(), at("2026-11-23T19:00:00Z"), false);
    std::string expected =
        "NAME       STATE     READY   PID    UPTIME   RESTARTS   LAST-EXIT             ADDRESS     PORTS\n"
        "nginx      ready     yes     4242   2h10m    0          -                     10.88.0.2   8080->80/tcp\n"
        "postgres   backoff   no      -      -        3          oom-killed (3m ago)   -           5432->5432/tcp\n"
        "vsftpd     stopped   no      -      -        0          exited 0 (2h ago)     -           -\n";
    CHECK(table == expected);
    CHECK_FALSE(has_trailing_space(table));
}

TEST_CASE("the status table colours states on a terminal", "[isoctl]") {
    std::string table = render_status_table(sample_apps(), at("2026-11-23T19:00:00Z"), true);
    CHECK(table.find("\x1b[32mready\x1b[0m") != std::string::npos);
    CHECK(table.find("\x1b[31mbackoff\x1b[0m") != std::string::npos);
}

TEST_CASE("the status table of no apps is its header", "[isoctl]") {
    CHECK(render_status_table({}, WallTime{}, false) ==
          "NAME   STATE   READY   PID   UPTIME   RESTARTS   LAST-EXIT   ADDRESS   PORTS\n");
}

TEST_CASE("the detail view shows health, limits, usage and recent events", "[isoctl]") {
    UtcZone utc;
    auto doc = nlohmann::json::parse(kSampleApps).at("apps").at(0);
    doc["spec"] = {{"command", {"/usr/sbin/nginx", "-g", "daemon off;"}}};
    doc["events"] = nlohmann::json::array(
        {{{"seq", 1}, {"time", "2026-11-23T16:50:00.000Z"}, {"app", "nginx"}, {"type", "state"}, {"message", ""},
          {"state", "running"}},
         {{"seq", 2}, {"time", "2026-11-23T16:50:01.000Z"}, {"app", "nginx"}, {"type", "probe"},
          {"message", "readiness probe succeeded"}}});
    std::string view = render_app_detail(detail_from_json(doc), at("2026-11-23T19:00:00Z"), false);
    std::string expected =
        "Name:         nginx\n"
        "State:        ready\n"
        "Ready:        yes\n"
        "Command:      /usr/sbin/nginx -g 'daemon off;'\n"
        "PID:          4242 (init 4240)\n"
        "Started:      2026-11-23 16:50:00 (2h10m ago)\n"
        "Restarts:     0\n"
        "Last exit:    -\n"
        "Address:      10.88.0.2\n"
        "Ports:        8080->80/tcp\n"
        "Health:\n"
        "  readiness:  success (12 in a row, last 5s ago)\n"
        "Limits:       cpu 50%, memory 512MiB, pids 512\n"
        "Usage:        cpu 12.50s, memory 45MiB / 512MiB, pids 3 / 512\n"
        "Events:\n"
        "  2026-11-23 16:50:00  state     running\n"
        "  2026-11-23 16:50:01  probe     readiness probe succeeded\n";
    CHECK(view == expected);
    CHECK_FALSE(has_trailing_space(view));

    // Log lines the init dropped (a full log dir) are shown when there are any.
    doc["resources"]["usage"]["logDroppedLines"] = 12;
    doc["resources"]["usage"]["logDroppedBytes"] = 3 * 1024 * 1024;
    view = render_app_detail(detail_from_json(doc), at("2026-11-23T19:00:00Z"), false);
    CHECK(view.find("Usage:        cpu 12.50s, memory 45MiB / 512MiB, pids 3 / 512, log lines dropped 12 (3MiB)\n") !=
          std::string::npos);
}

TEST_CASE("the detail view of an app in backoff shows its last exit and next restart", "[isoctl]") {
    UtcZone utc;
    auto doc = nlohmann::json::parse(kSampleApps).at("apps").at(1);
    std::string view = render_app_detail(detail_from_json(doc), at("2026-11-23T19:00:00Z"), false);
    CHECK(view.find("State:        backoff\n") != std::string::npos);
    CHECK(view.find("PID:          -\n") != std::string::npos);
    CHECK(view.find("Last exit:    oom-killed (SIGKILL), 2026-11-23 18:57:00 (3m ago)\n") != std::string::npos);
    CHECK(view.find("Next restart: in 8s\n") != std::string::npos);
    CHECK(view.find("Health:       no probes\n") != std::string::npos);
    CHECK(view.find("Usage:        -\n") != std::string::npos);
    CHECK(view.find("Events:       none\n") != std::string::npos);
}

TEST_CASE("the detail view says how many arguments the read-only socket hid", "[isoctl][secrets]") {
    auto doc = nlohmann::json::parse(kSampleApps).at("apps").at(0);
    doc["spec"] = {{"command", {"/usr/sbin/nginx", nullptr, nullptr}}, {"env", {{"TOKEN", nullptr}}}};
    doc["redacted"] = true;
    std::string view = render_app_detail(detail_from_json(doc), at("2026-11-23T19:00:00Z"), false);
    CHECK(view.find("Command:      /usr/sbin/nginx (2 arguments hidden: needs root or group isolated)\n") !=
          std::string::npos);
    doc["spec"]["command"] = {"/usr/sbin/nginx", nullptr};
    view = render_app_detail(detail_from_json(doc), at("2026-11-23T19:00:00Z"), false);
    CHECK(view.find("(1 argument hidden: needs root or group isolated)") != std::string::npos);
}

TEST_CASE("probe failures show their count in a row and message", "[isoctl]") {
    auto doc = nlohmann::json::parse(kSampleApps).at("apps").at(0);
    doc["state"] = "unhealthy";
    doc["health"]["readiness"] = {{"result", "failure"}, {"consecutiveSuccesses", 0}, {"consecutiveFailures", 3},
                                  {"message", "connect 10.88.0.2:80: connection refused"}, {"lastProbeAt", nullptr}};
    std::string view = render_app_detail(detail_from_json(doc), at("2026-11-23T19:00:00Z"), false);
    CHECK(view.find("  readiness:  failure (3 in a row): connect 10.88.0.2:80: connection refused\n") !=
          std::string::npos);
}

TEST_CASE("event lines are TIME APP TYPE MESSAGE", "[isoctl]") {
    UtcZone utc;
    isolated::AppEvent e;
    e.time = at("2026-11-23T19:01:02Z");
    e.app = "web";
    e.type = "state";
    e.state = "ready";
    CHECK(format_event_line(e) == "2026-11-23 19:01:02  web           state     ready");
    e.message = "running";  // a bare state word as message adds nothing
    CHECK(format_event_line(e) == "2026-11-23 19:01:02  web           state     ready");
    e.message = "readiness probe passed";
    CHECK(format_event_line(e) == "2026-11-23 19:01:02  web           state     ready: readiness probe passed");
    isolated::AppEvent exit;
    exit.time = e.time;
    exit.app = "db";
    exit.type = "exit";
    exit.exit = isolated::ExitInfo{1, 0, false, e.time, ""};
    CHECK(format_event_line(exit) == "2026-11-23 19:01:02  db            exit      exited 1");
    isolated::AppEvent reload;
    reload.time = e.time;
    reload.type = "reload";
    reload.message = "1 added";
    CHECK(format_event_line(reload) == "2026-11-23 19:01:02  -             reload    1 added");
}

TEST_CASE("a status message that only repeats a state is not shown", "[isoctl]") {
    isolated::AppStatus s;
    s.state = isolated::AppState::ready;
    s.message = "running";
    CHECK(status_message(s) == "");
    s.message = "waiting for db to be ready";
    CHECK(status_message(s) == "waiting for db to be ready");
}

TEST_CASE("the reload summary lists what changed", "[isoctl]") {
    isolated::ReloadReport r;
    CHECK(render_reload_summary(r) == "no changes (0 unchanged)\n");
    r.unchanged = {"a", "b"};
    CHECK(render_reload_summary(r) == "no changes (2 unchanged)\n");
    r.added = {"web", "db"};
    r.removed = {"old"};
    r.rejected = {{"bad", {"apps/bad.json:7: resources.memory: \"12Q\" is not a size"}}};
    CHECK(render_reload_summary(r) == "added: web, db\nremoved: old\nrejected: bad\n");
}

TEST_CASE("commands are shown as a shell would take them", "[isoctl]") {
    CHECK(shell_join({"/usr/sbin/nginx", "-g", "daemon off;"}) == "/usr/sbin/nginx -g 'daemon off;'");
    CHECK(shell_join({"sh", "-c", "it's"}) == "sh -c 'it'\\''s'");
    CHECK(shell_join({"x", ""}) == "x ''");
}
