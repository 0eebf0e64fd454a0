// The real daemon, driven with isoctl and curl --unix-socket (issue 2).
#include <fstream>
#include <sstream>
#include <algorithm>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <atomic>
#include <catch2/catch.hpp>
#include <filesystem>
#include <thread>

#include "integration/harness.hpp"

using namespace isolated::test;
using namespace std::chrono_literals;
using nlohmann::json;

namespace {

void require_root() { require_prerequisite(is_root(), "integration tests need root (namespaces, unshare --net)"); }

}  // namespace

TEST_CASE("the daemon lists its apps over the socket, with curl and isoctl", "[integration][daemon]") {
    require_root();
    Daemon d;
    d.write_app("web", ticker(d));
    d.write_app("worker", ticker(d));
    d.start();
    d.wait_state("web", "ready");
    d.wait_state("worker", "ready");

    auto apps = d.get_json("/v1/apps");
    REQUIRE(apps["apps"].size() == 2);
    CHECK(apps["apps"][0]["name"] == "web");
    CHECK(apps["apps"][0]["state"] == "ready");
    CHECK(apps["apps"][0]["ready"] == true);
    CHECK(apps["apps"][0]["pid"].get<int>() > 0);
    CHECK(process_alive(apps["apps"][0]["pid"].get<int>()));
    CHECK(apps["apps"][0]["restarts"] == 0);
    CHECK(apps["apps"][0]["lastExit"].is_null());

    auto r = d.isoctl({"status"});
    CHECK(r.code == 0);
    CHECK_THAT(r.out, Catch::Contains("web") && Catch::Contains("worker") && Catch::Contains("ready"));
    auto js = d.isoctl({"-o", "json", "status"});
    CHECK(js.code == 0);
    CHECK(json::parse(js.out)["apps"].size() == 2);
    CHECK(d.get_json("/v1/version")["apiVersion"] == "v1");
    CHECK(d.get_json("/v1/health")["status"] == "ok");
}

TEST_CASE("an app killed with SIGKILL comes back after the backoff, with restarts and the last exit",
          "[integration][daemon]") {
    require_root();
    Daemon d;
    d.write_app("web", ticker(d));
    d.start();
    d.wait_state("web", "ready");
    int pid = d.app("web")["pid"];
    REQUIRE(::kill(pid, SIGKILL) == 0);
    REQUIRE(wait_until([&] { return d.app("web")["restarts"] == 1 && d.state("web") == "ready"; }, 10s));
    auto a = d.app("web");
    CHECK(a["pid"].get<int>() != pid);
    CHECK(a["lastExit"]["signal"] == "SIGKILL");
    CHECK(a["lastExit"]["code"] == 137);
    CHECK(a["lastExit"]["oomKilled"] == false);
    bool saw_backoff = false;
    for (auto& e : a["events"])
        if (e.value("state", "") == "backoff") saw_backoff = true;
    CHECK(saw_backoff);
}

TEST_CASE("a stop that the app ignores ends in SIGKILL after the timeout", "[integration][daemon]") {
    require_root();
    Daemon d;
    d.write_app("stubborn", R"({"command": ["sh", "-c", "trap '' TERM; echo up; while true; do sleep 0.1; done; : )" +
                                d.dir() + R"("], "stop": {"timeout": "1s"}})");
    d.start();
    d.wait_state("stubborn", "ready");
    int pid = d.app("stubborn")["pid"];
    auto t0 = std::chrono::steady_clock::now();
    auto r = d.isoctl({"stop", "stubborn"});
    auto took = std::chrono::steady_clock::now() - t0;
    INFO(r.out << r.err);
    CHECK(r.code == 0);
    CHECK(took >= 1s);
    CHECK(d.state("stubborn") == "stopped");
    auto a = d.app("stubborn");
    CHECK(a["lastExit"]["signal"] == "SIGKILL");
    CHECK(a["restarts"] == 0);
    CHECK_FALSE(process_alive(pid));
    bool saw_kill = false;
    for (auto& e : a["events"])
        if (e["type"] == "kill") saw_kill = true;
    CHECK(saw_kill);
}

TEST_CASE("a graceful stop: SIGTERM reaches the app's process group, children included", "[integration][daemon]") {
    require_root();
    Daemon d;
    // The app has a child in its process group that would outlive a signal to the
    // app alone.
    d.write_app("family", R"({"command": ["sh", "-c", "sleep 300 & echo child $!; wait; : )" + d.dir() + R"("]})");
    d.start();
    d.wait_state("family", "ready");
    REQUIRE(wait_until([&] {
        auto r = d.isoctl({"logs", "family"});
        return r.out.find("child") != std::string::npos;
    }));
    // The app runs in its own pid namespace: $! is the child's pid in there; find its
    // host pid as the app's child.
    int app_pid = d.app("family")["pid"];
    std::ifstream children("/proc/" + std::to_string(app_pid) + "/task/" + std::to_string(app_pid) + "/children");
    int child = 0;
    children >> child;
    REQUIRE(child > 0);
    CHECK(process_alive(child));
    CHECK(d.isoctl({"stop", "family"}).code == 0);
    CHECK(wait_until([&] { return !process_alive(child); }, 2s));
}

TEST_CASE("restart through the API is not counted, start and stop are idempotent", "[integration][daemon]") {
    require_root();
    Daemon d;
    d.write_app("web", ticker(d));
    d.start();
    d.wait_state("web", "ready");
    int pid = d.app("web")["pid"];
    auto r = d.http("POST", "/v1/apps/web/restart", R"({"timeout": "2s"})");
    INFO(r.out);
    CHECK(r.code == 200);
    CHECK(json::parse(r.out)["state"] == "ready");
    auto a = d.app("web");
    CHECK(a["pid"].get<int>() != pid);
    CHECK(a["restarts"] == 0);
    CHECK(d.http("POST", "/v1/apps/web/start").code == 200);
    CHECK(d.app("web")["pid"] == a["pid"]);
    CHECK(d.http("POST", "/v1/apps/web/stop").code == 200);
    CHECK(d.http("POST", "/v1/apps/web/stop").code == 200);
    CHECK(d.state("web") == "stopped");
}

TEST_CASE("API errors: unknown app, bad body, wrong method, read-only socket", "[integration][daemon]") {
    require_root();
    Daemon d;
    d.write_app("web", ticker(d));
    d.start();
    auto nope = d.http("POST", "/v1/apps/nope/start");
    CHECK(nope.code == 404);
    CHECK(json::parse(nope.out)["error"]["code"] == "not_found");
    CHECK(d.http("POST", "/v1/apps/web/stop", "{not json").code == 400);
    CHECK(d.http("POST", "/v1/apps/web/stop", R"({"timeout": "soon"})").code == 400);
    CHECK(d.http("DELETE", "/v1/apps/web").code == 405);
    CHECK(d.http("POST", "/v1/apps/web/stop", "", /*read_only=*/true).code == 403);
    CHECK(d.http("GET", "/v1/apps", "", /*read_only=*/true).code == 200);
    CHECK(d.state("web") == "ready");
    struct stat st {};
    REQUIRE(::stat(d.socket().c_str(), &st) == 0);
    CHECK((st.st_mode & 0777) == 0660);
    REQUIRE(::stat(d.ro_socket().c_str(), &st) == 0);
    CHECK((st.st_mode & 0777) == 0666);
}

TEST_CASE("an app that cannot be executed is reported and retried with backoff", "[integration][daemon]") {
    require_root();
    Daemon d;
    d.write_app("typo", R"({"command": ["no-such-command-here"]})");
    d.write_app("nodir", R"({"command": ["true"], "workdir": "/no/such/dir"})");
    d.start();
    REQUIRE(wait_until([&] { return !d.app("typo")["lastExit"].is_null(); }));
    auto a = d.app("typo");
    CHECK(a["lastExit"]["code"] == 127);
    CHECK_THAT(a["lastExit"]["message"].get<std::string>(), Catch::Contains("no-such-command-here") &&
                                                                Catch::Contains("not found"));
    CHECK((a["state"] == "backoff" || a["state"] == "starting"));
    REQUIRE(wait_until([&] { return !d.app("nodir")["lastExit"].is_null(); }));
    CHECK_THAT(d.app("nodir")["lastExit"]["message"].get<std::string>(),
               Catch::Contains("/no/such/dir") && Catch::Contains("ENOENT"));
}

TEST_CASE("a bad app file is reported and never stops the other apps", "[integration][daemon]") {
    require_root();
    Daemon d;
    d.write_app("good", ticker(d));
    d.write_app("bad", R"({
  "command": ["true"],
  "resources": {"memory": "12Q"}
})");
    d.start();
    d.wait_state("good", "ready");
    // Listed, failed, with the file's error (not only in the daemon log).
    auto bad = d.app("bad");
    CHECK(bad["state"] == "failed");
    CHECK_THAT(bad["fileErrors"][0].get<std::string>(), Catch::Contains("bad.json:3: resources.memory"));
    CHECK_THAT(d.daemon_log(), Catch::Contains("bad.json:3: resources.memory"));
}

TEST_CASE("reload applies exactly the difference and keeps a bad file's app on its last good definition",
          "[integration][daemon][reload]") {
    require_root();
    Daemon d;
    d.write_app("keep", ticker(d));
    d.write_app("change", ticker(d));
    d.write_app("drop", ticker(d));
    d.write_app("bad", ticker(d));
    d.start();
    for (auto n : {"keep", "change", "drop", "bad"}) d.wait_state(n, "ready");
    int keep_pid = d.app("keep")["pid"], change_pid = d.app("change")["pid"], bad_pid = d.app("bad")["pid"];
    int drop_pid = d.app("drop")["pid"];

    d.write_app("change", ticker(d, R"(, "env": {"VERSION": "2"})"));
    d.remove_app("drop");
    d.write_app("bad", R"({"command": "not an array"})");
    d.write_app("added", ticker(d));
    auto r = d.http("POST", "/v1/reload");
    INFO(r.out);
    REQUIRE(r.code == 200);
    auto rep = json::parse(r.out);
    CHECK(rep["added"] == json::array({"added"}));
    CHECK(rep["changed"] == json::array({"change"}));
    CHECK(rep["removed"] == json::array({"drop"}));
    CHECK(rep["unchanged"] == json::array({"keep"}));
    REQUIRE(rep["rejected"].size() == 1);
    CHECK(rep["rejected"][0]["name"] == "bad");
    CHECK_THAT(rep["rejected"][0]["errors"][0].get<std::string>(), Catch::Contains("bad.json:1: command"));

    d.wait_state("added", "ready");
    d.wait_state("change", "ready");
    REQUIRE(wait_until([&] { return d.http("GET", "/v1/apps/drop").code == 404; }));
    CHECK(d.app("keep")["pid"] == keep_pid);
    CHECK(d.app("bad")["pid"] == bad_pid);
    CHECK(d.app("change")["pid"] != change_pid);
    CHECK(d.app("change")["spec"]["env"]["VERSION"] == "2");
    CHECK(d.app("change")["restarts"] == 0);
    CHECK_FALSE(process_alive(drop_pid));

    // isoctl reload reports rejections with exit code 1; SIGHUP reloads too.
    auto ir = d.isoctl({"reload"});
    CHECK(ir.code == 1);
    CHECK_THAT(ir.out + ir.err, Catch::Contains("bad"));
    d.write_app("viahup", ticker(d));
    ::kill(d.pid(), SIGHUP);
    d.wait_state("viahup", "ready");
}

TEST_CASE("dependsOn orders starts and the shutdown stops dependents first", "[integration][daemon]") {
    require_root();
    Daemon d;
    d.write_app("db", R"({"command": ["sh", "-c", "sleep 0.5; echo db up; while true; do sleep 0.2; done; : )" +
                          d.dir() + R"("]})");
    d.write_app("web", ticker(d, R"(, "dependsOn": ["db"])"));
    d.start();
    d.wait_state("web", "ready");
    auto db = d.app("db"), web = d.app("web");
    CHECK(db["startedAt"].get<std::string>() <= web["startedAt"].get<std::string>());
    CHECK(d.stop() == 0);
    // The daemon logged web's stop before db's.
    auto log = d.daemon_log();
    auto web_stop = log.find("[web] stopping"), db_stop = log.find("[db] stopping");
    REQUIRE(web_stop != std::string::npos);
    REQUIRE(db_stop != std::string::npos);
    CHECK(web_stop < db_stop);
    CHECK_FALSE(process_alive(db["pid"].get<int>()));
    CHECK_FALSE(process_alive(web["pid"].get<int>()));
}

TEST_CASE("app output goes to rotated log files, readable with tail and follow", "[integration][daemon][logs]") {
    require_root();
    Daemon d;
    d.write_app("chatty", R"({"command": ["sh", "-c", "i=0; while [ $i -lt 3000 ]; do echo line-$i-xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx; echo err-$i >&2; i=$((i+1)); done; while true; do sleep 1; done; : )" +
                              d.dir() + R"("]})");
    d.start({"--log-max-size", "64K", "--log-max-files", "3"});
    // stdout and stderr are separate pipes read in turns, a pipeful at a time: the last
    // line of one stream may come up to a batch before the end. Wait for both.
    REQUIRE(wait_until(
        [&] {
            auto out = d.isoctl({"logs", "-n", "2500", "chatty"}).out;
            return out.find("err-2999\n") != std::string::npos && out.find("line-2999-x") != std::string::npos;
        },
        std::chrono::seconds(30)));
    // Rotation kept at most 3 files of about 64K each.
    int files = 0;
    for (auto& e : std::filesystem::directory_iterator(d.log_dir()))
        if (e.path().filename().string().rfind("chatty.log", 0) == 0) {
            ++files;
            CHECK(std::filesystem::file_size(e.path()) <= 64 * 1024);
        }
    CHECK(files == 3);
    auto tail = d.isoctl({"logs", "-n", "4", "chatty"});
    CHECK(tail.code == 0);
    // The init reads the two pipes in turns, so the streams interleave in batches: the
    // last 4 lines are 4 of the last lines, and both streams' last lines are kept.
    CHECK(std::count(tail.out.begin(), tail.out.end(), '\n') == 4);
    CHECK(tail.out.find("-2999") != std::string::npos);
    auto more = d.isoctl({"logs", "-n", "2500", "chatty"}).out;
    CHECK(more.find("line-2999-x") != std::string::npos);
    CHECK(more.find("err-2999\n") != std::string::npos);

    // follow: a line written after the follow started arrives.
    d.write_app("echo", R"({"command": ["sh", "-c", "echo first; sleep 1.5; echo second; sleep 300; : )" + d.dir() +
                            R"("]})");
    d.http("POST", "/v1/reload");
    d.wait_state("echo", "ready");
    auto f = run({"curl", "-sS", "-N", "--max-time", "4", "--unix-socket", d.socket(),
                  "http://x/v1/apps/echo/logs?follow=1"},
                 10s);
    CHECK_THAT(f.out, Catch::Contains("first\n") && Catch::Contains("second\n"));
}

namespace {
// The names of APP's log files in DIR ("app.log", "app.log.1", ...), sorted.
std::vector<std::string> log_files(const std::string& dir, const std::string& app) {
    std::vector<std::string> out;
    for (auto& e : std::filesystem::directory_iterator(dir)) {
        auto name = e.path().filename().string();
        if (name == app + ".log" || name.rfind(app + ".log.", 0) == 0) out.push_back(name);
    }
    std::sort(out.begin(), out.end());
    return out;
}
}  // namespace

TEST_CASE("an app's logs settings override the daemon's and a lowered maxFiles drops old rotations",
          "[integration][daemon][logs]") {
    require_root();
    Daemon d;
    // 6000 lines of about 90 bytes as written: over 500K, more than either limit keeps.
    const std::string chatty = R"(["sh", "-c", "i=0; while [ $i -lt 6000 ]; do echo line-$i-xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx; i=$((i+1)); done; echo done; while true; do sleep 1; done; : )" +
                               d.dir() + R"("])";
    d.write_app("own", R"({"command": )" + chatty + R"(, "logs": {"maxSize": "64K", "maxFiles": 4}})");
    d.write_app("default", R"({"command": )" + chatty + R"(})");
    d.start({"--log-max-size", "128K", "--log-max-files", "2"});
    for (const char* app : {"own", "default"})
        REQUIRE(wait_until([&] { return d.isoctl({"logs", "-n", "1", app}).out.find("done") != std::string::npos; },
                           std::chrono::seconds(30)));

    // The app's own limits: 4 files of at most 64K; the other app keeps the daemon's.
    CHECK(log_files(d.log_dir(), "own") == std::vector<std::string>{"own.log", "own.log.1", "own.log.2", "own.log.3"});
    for (const auto& f : log_files(d.log_dir(), "own"))
        CHECK(std::filesystem::file_size(d.log_dir() + "/" + f) <= 64 * 1024);
    CHECK(log_files(d.log_dir(), "default") == std::vector<std::string>{"default.log", "default.log.1"});
    for (const auto& f : log_files(d.log_dir(), "default"))
        CHECK(std::filesystem::file_size(d.log_dir() + "/" + f) <= 128 * 1024);
    // isoctl logs reads every rotation the app keeps, back to the oldest (own.log.3),
    // not only as many files as the daemon-wide setting says.
    std::string oldest;
    {
        std::ifstream f(d.log_dir() + "/own.log.3");
        std::getline(f, oldest);
    }
    auto at = oldest.find("line-");
    REQUIRE(at != std::string::npos);
    std::string first_line = oldest.substr(at, oldest.find('-', at + 5) - at + 1);  // "line-N-"
    auto all = d.isoctl({"logs", "own"}).out;
    CHECK(("\n" + all).find("\n" + first_line) != std::string::npos);
    CHECK(all.find("done\n") != std::string::npos);

    // Lower maxFiles: a changed logs section is applied without a restart, and at the
    // next start the rotations beyond the new limit are gone.
    auto pid = d.app("own")["initPid"];
    d.write_app("own", R"({"command": )" + chatty + R"(, "logs": {"maxSize": "64K", "maxFiles": 2}})");
    d.http("POST", "/v1/reload");
    CHECK(d.app("own")["initPid"] == pid);
    CHECK(log_files(d.log_dir(), "own").size() == 4);
    CHECK(d.isoctl({"restart", "own"}).code == 0);
    CHECK(log_files(d.log_dir(), "own") == std::vector<std::string>{"own.log", "own.log.1"});
}

TEST_CASE("events stream as NDJSON and follow new ones", "[integration][daemon][events]") {
    require_root();
    Daemon d;
    d.write_app("web", ticker(d));
    d.start();
    d.wait_state("web", "ready");
    auto all = d.http("GET", "/v1/events");
    REQUIRE(all.code == 200);
    int lines = 0;
    for (size_t p = 0; (p = all.out.find('\n', p)) != std::string::npos; ++p) ++lines;
    CHECK(lines >= 2);
    std::thread killer([&] {
        std::this_thread::sleep_for(500ms);
        d.http("POST", "/v1/apps/web/restart");
    });
    auto f = run({"curl", "-sS", "-N", "--max-time", "3", "--unix-socket", d.socket(),
                  "http://x/v1/events?follow=1&app=web"},
                 10s);
    killer.join();
    CHECK_THAT(f.out, Catch::Contains("\"stopping\"") && Catch::Contains("\"exit\""));
    auto ev = d.isoctl({"events"}, 5s);
    CHECK(ev.code == 0);
}

TEST_CASE("50 concurrent clients and a stuck one are all served", "[integration][daemon][api]") {
    require_root();
    Daemon d;
    for (int i = 0; i < 5; ++i) d.write_app("app" + std::to_string(i), ticker(d));
    d.start();
    // A client that connects, sends half a request and stalls.
    int stuck = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    std::strncpy(addr.sun_path, d.socket().c_str(), sizeof addr.sun_path - 1);
    REQUIRE(::connect(stuck, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0);
    const char* half = "GET /v1/apps HTTP/1.1\r\nHost: x\r\n";
    REQUIRE(::write(stuck, half, std::strlen(half)) > 0);

    std::atomic<int> ok{0};
    std::vector<std::thread> clients;
    auto t0 = std::chrono::steady_clock::now();
    for (int i = 0; i < 50; ++i)
        clients.emplace_back([&, i] {
            auto r = i % 2 ? d.http("GET", "/v1/apps") : d.isoctl({"-o", "json", "status"});
            if (r.code == 200 || (i % 2 == 0 && r.code == 0)) ++ok;
        });
    for (auto& t : clients) t.join();
    CHECK(ok == 50);
    CHECK(std::chrono::steady_clock::now() - t0 < 30s);
    ::close(stuck);
}

TEST_CASE("isoctl says what to do when the daemon is not running", "[integration][isoctl]") {
    require_root();
    TempDir t;
    auto r = run({build_dir() + "/isoctl", "--socket", t / "nope.sock", "status"});
    CHECK(r.code == 3);
    CHECK_THAT(r.err, Catch::Contains("is isolated running?"));
}

TEST_CASE("isoctl validate checks a directory offline", "[integration][isoctl]") {
    require_root();
    TempDir t;
    std::filesystem::create_directories(t / "apps");
    write_file(t / "apps/web.json", R"({"command": ["nginx"], "dependsOn": ["db"]})");
    write_file(t / "apps/db.json", R"({"command": ["postgres"], "dependsOn": ["web"]})");
    write_file(t / "apps/ok.json", R"({"command": ["true"]})");
    auto r = run({build_dir() + "/isoctl", "validate", t / "apps"});
    CHECK(r.code == 1);
    CHECK_THAT(r.err, Catch::Contains("cycle"));
    std::filesystem::remove(t / "apps/db.json");
    std::filesystem::remove(t / "apps/web.json");
    auto ok = run({build_dir() + "/isoctl", "validate", t / "apps"});
    CHECK(ok.code == 0);
}

TEST_CASE("SIGTERM stops every app and the daemon exits 0, leaving nothing running", "[integration][daemon]") {
    require_root();
    Daemon d;
    d.write_app("a", ticker(d));
    d.write_app("b", ticker(d));
    d.start();
    d.wait_state("a", "ready");
    d.wait_state("b", "ready");
    int pa = d.app("a")["pid"], pb = d.app("b")["pid"];
    int ia = d.app("a")["initPid"];
    CHECK(d.stop() == 0);
    CHECK_FALSE(process_alive(pa));
    CHECK_FALSE(process_alive(pb));
    CHECK_FALSE(process_alive(ia));
    CHECK_FALSE(std::filesystem::exists(d.socket()));
}

TEST_CASE("apps keep running and logging while the daemon is killed", "[integration][daemon]") {
    require_root();
    Daemon d;
    d.write_app("chatty", R"({"command": ["sh", "-c", "i=0; while true; do echo tick-$i; i=$((i+1)); sleep 0.05; done; : )" +
                              d.dir() + R"("]})");
    d.start();
    d.wait_state("chatty", "ready");
    int pid = d.app("chatty")["pid"];
    d.kill9();
    auto size0 = std::filesystem::file_size(d.log_dir() + "/chatty.log");
    std::this_thread::sleep_for(1s);
    CHECK(process_alive(pid));
    // The init, not the daemon, owns the output: logging goes on without it.
    CHECK(std::filesystem::file_size(d.log_dir() + "/chatty.log") > size0);
}
