// Issue 16, item 4: isoctl kill / POST /v1/apps/{name}/signal against a real daemon.
// Shell apps that trap SIGUSR1 and say so in their output: the main process alone gets
// it, with --all every process of the app (a child it forked too) but never the init;
// with "init": false the main process is the init pid itself; an adopted app can be
// signalled; wrong signals are 400, a stopped app 409, the read-only socket 403, and
// every delivery is an event.
#include <catch2/catch.hpp>

#include <filesystem>
#include <set>

#include "integration/harness.hpp"

using namespace isolated::test;
using namespace std::chrono_literals;
using nlohmann::json;

namespace {

void require_root() { require_prerequisite(is_root(), "integration tests need root (namespaces, unshare --net)"); }

/// A shell app whose main process and a child it forks trap SIGUSR1 and print
/// "main got USR1" / "child got USR1". The child is a subshell: its command line is the
/// main's, with the test's directory in it, for the teardown.
std::string trapper(const Daemon& d, const std::string& extra = "") {
    return R"({"command": ["sh", "-c", "trap 'echo main got USR1' USR1; )"
           R"(( trap 'echo child got USR1' USR1; echo child ready; while true; do sleep 0.2; done ) & )"
           R"(echo started; while true; do sleep 0.2; done; : )" +
           d.dir() + R"("], "network": {"mode": "none"}, "stop": {"timeout": "5s"})" + extra + "}";
}

/// How many lines of the app's output hold `text`.
int count_in_logs(Daemon& d, const std::string& app, const std::string& text) {
    auto logs = d.isoctl({"logs", app}).out;
    int n = 0;
    for (std::size_t at = logs.find(text); at != std::string::npos; at = logs.find(text, at + 1)) ++n;
    return n;
}

/// Waits until the app's output holds `text` at least `n` times.
void wait_logs(Daemon& d, const std::string& app, const std::string& text, int n = 1) {
    bool seen = wait_until([&] { return count_in_logs(d, app, text) >= n; }, 15s);
    INFO("waiting for " << n << " x \"" << text << "\" in the output of " << app << ":\n"
                        << d.isoctl({"logs", app}).out << "\nevents:\n"
                        << d.http("GET", "/v1/events?app=" + app).out);
    REQUIRE(seen);
}

/// The messages of the app's events of type "signal".
std::vector<std::string> signal_events(Daemon& d, const std::string& app) {
    std::vector<std::string> out;
    auto text = d.http("GET", "/v1/events?app=" + app).out;
    std::size_t pos = 0;
    for (auto nl = text.find('\n'); nl != std::string::npos; pos = nl + 1, nl = text.find('\n', pos)) {
        auto e = json::parse(text.substr(pos, nl - pos));
        if (e["type"] == "signal") out.push_back(e["message"].get<std::string>());
    }
    return out;
}

json body_json(const RunResult& r) {
    INFO(r.out << r.err);
    return json::parse(r.out);
}

}  // namespace

TEST_CASE("kill: the main process gets the signal, --all every process of the app but the init",
          "[integration][signal]") {
    require_root();
    Daemon d;
    d.write_app("sig", trapper(d));
    d.start();
    d.wait_state("sig", "ready");
    wait_logs(d, "sig", "child ready");
    auto before = d.app("sig");
    const int pid = before["pid"], init_pid = before["initPid"];

    // The main process only: the child hears nothing.
    auto one = d.isoctl({"kill", "-s", "USR1", "sig"});
    INFO(one.out << one.err);
    REQUIRE(one.code == 0);
    CHECK(one.out == "sig: SIGUSR1 sent to the main process (pid " + std::to_string(pid) + ")\n");
    wait_logs(d, "sig", "main got USR1");
    CHECK(count_in_logs(d, "sig", "child got USR1") == 0);

    // kill(1)'s shorthand, and every process: the main one and the child it forked (and
    // their sleeps), each once -- the init is left out, or it would pass the signal on to
    // the app's process group a second time.
    auto all = d.http("POST", "/v1/apps/sig/signal", R"({"signal": "SIGUSR1", "all": true})");
    REQUIRE(all.code == 200);
    auto answer = body_json(all);
    CHECK(answer["signal"] == "SIGUSR1");
    CHECK(answer["all"] == true);
    CHECK(answer["mainPid"] == pid);
    std::set<int> pids;
    for (const auto& p : answer["pids"]) pids.insert(p.get<int>());
    CHECK(answer["pids"][0] == pid);  // main first
    CHECK(pids.count(pid) == 1);
    CHECK(pids.count(init_pid) == 0);
    CHECK(answer["processes"].get<int>() >= 2);
    CHECK(answer["processes"].get<std::size_t>() == pids.size());
    wait_logs(d, "sig", "child got USR1");
    wait_logs(d, "sig", "main got USR1", 2);
    // The isoctl form of it.
    auto all_isoctl = d.isoctl({"kill", "-USR1", "--all", "sig"});
    INFO(all_isoctl.out << all_isoctl.err);
    CHECK(all_isoctl.code == 0);
    CHECK(all_isoctl.out.find("sig: SIGUSR1 sent to ") == 0);
    CHECK(all_isoctl.out.find(" processes (pids " + std::to_string(pid)) != std::string::npos);
    wait_logs(d, "sig", "child got USR1", 2);

    // Nothing restarted, nothing changed but what the app printed.
    auto after = d.app("sig");
    CHECK(after["pid"] == pid);
    CHECK(after["initPid"] == init_pid);
    CHECK(after["restarts"] == 0);
    CHECK(after["state"] == "ready");

    // Each delivery is an event.
    auto events = signal_events(d, "sig");
    INFO(json(events).dump());
    REQUIRE(events.size() == 3);
    CHECK(events[0] == "SIGUSR1 sent to the main process (pid " + std::to_string(pid) + ")");
    CHECK(events[1].find("SIGUSR1 sent to every process of the app: ") == 0);
    // And the default is SIGTERM, as kill(1): the shell ends, the policy restarts it.
    auto term = d.isoctl({"kill", "sig"});
    INFO(term.out << term.err);
    CHECK(term.code == 0);
    CHECK(term.out == "sig: SIGTERM sent to the main process (pid " + std::to_string(pid) + ")\n");
    REQUIRE(wait_until([&] { return d.app("sig")["restarts"].get<int>() >= 1; }, 30s));
    CHECK(d.stop() == 0);
}

TEST_CASE("kill: wrong signals are 400 through isoctl too, a stopped app is 409, the read-only socket 403",
          "[integration][signal]") {
    require_root();
    Daemon d;
    d.write_app("sig", trapper(d));
    d.write_app("idle", ticker(d, R"(, "network": {"mode": "none"}, "autostart": false)"));
    d.start();
    d.wait_state("sig", "ready");

    auto lower = d.isoctl({"kill", "-s", "usr1", "sig"});
    CHECK(lower.code == 1);
    CHECK(lower.err == "isoctl: signal: \"usr1\" is not a signal (did you mean \"USR1\"?)\n");
    auto bogus = d.isoctl({"kill", "-s", "SIGBOGUS", "sig", "idle"});
    CHECK(bogus.code == 1);
    CHECK(bogus.err == "isoctl: signal: \"SIGBOGUS\" is not a signal (use a name such as \"SIGTERM\" or \"TERM\", or "
                       "a number)\n");
    auto number = d.http("POST", "/v1/apps/sig/signal", R"({"signal": 99})");
    CHECK(number.code == 400);
    CHECK(body_json(number)["error"]["message"] == "signal: 99 is not a signal number (1 to 64)");
    CHECK(d.http("POST", "/v1/apps/sig/signal", R"({"signal": "HUP", "who": "all"})").code == 400);
    CHECK(d.http("POST", "/v1/apps/sig/signal", "").code == 400);

    auto stopped = d.isoctl({"kill", "-s", "HUP", "idle"});
    CHECK(stopped.code == 1);
    CHECK(stopped.err == "isoctl: idle is stopped, not running\n");
    auto conflict = d.http("POST", "/v1/apps/idle/signal", R"({"signal": "HUP"})");
    CHECK(conflict.code == 409);
    CHECK(body_json(conflict)["error"]["code"] == "conflict");

    auto unknown = d.isoctl({"kill", "-s", "HUP", "nope"});
    CHECK(unknown.code == 4);
    CHECK(d.http("POST", "/v1/apps/nope/signal", R"({"signal": "HUP"})").code == 404);

    auto ro = d.http("POST", "/v1/apps/sig/signal", R"({"signal": "USR1"})", /* read_only= */ true);
    CHECK(ro.code == 403);
    CHECK(body_json(ro)["error"]["message"] ==
          "the read-only socket answers GET only; use the control socket (isolated.sock)");

    // None of it reached an app.
    CHECK(signal_events(d, "sig").empty());
    CHECK(count_in_logs(d, "sig", "got USR1") == 0);
    CHECK(d.app("sig")["restarts"] == 0);
    CHECK(d.stop() == 0);
}

TEST_CASE("kill: with init false the main process is the init pid, and the log writer is left out",
          "[integration][signal]") {
    require_root();
    Daemon d;
    d.write_app("bare", trapper(d, R"(, "init": false)"));
    d.start();
    d.wait_state("bare", "ready");
    wait_logs(d, "bare", "child ready");
    auto app = d.app("bare");
    const int pid = app["pid"];
    CHECK(app["initPid"] == pid);

    // PID 1 of its namespace: the kernel delivers only what it has a handler for, and the
    // shell has one for SIGUSR1.
    auto one = d.http("POST", "/v1/apps/bare/signal", R"({"signal": "USR1"})");
    REQUIRE(one.code == 200);
    CHECK(body_json(one)["mainPid"] == pid);
    wait_logs(d, "bare", "main got USR1");

    auto all = d.http("POST", "/v1/apps/bare/signal", R"({"signal": "10", "all": true})");
    REQUIRE(all.code == 200);
    auto answer = body_json(all);
    CHECK(answer["pids"][0] == pid);
    for (const auto& p : answer["pids"]) {
        std::error_code ec;
        std::string exe = std::filesystem::read_symlink("/proc/" + std::to_string(p.get<int>()) + "/exe", ec);
        INFO("pid " << p << " runs " << exe);
        CHECK(exe.find("isolated-init") == std::string::npos);
    }
    wait_logs(d, "bare", "child got USR1");
    // The output still flows: the log writer was not touched.
    wait_logs(d, "bare", "main got USR1", 2);
    CHECK(d.app("bare")["restarts"] == 0);
    CHECK(d.stop() == 0);
}

TEST_CASE("kill: an adopted app is signalled through the same checks after a daemon restart",
          "[integration][signal][adoption]") {
    require_root();
    Daemon d;
    d.write_app("sig", trapper(d));
    d.start();
    d.wait_state("sig", "ready");
    wait_logs(d, "sig", "child ready");
    const int pid = d.app("sig")["pid"];

    d.kill9();
    d.start();
    d.wait_state("sig", "ready");
    REQUIRE(d.app("sig")["pid"] == pid);  // adopted, not restarted

    auto one = d.isoctl({"kill", "-s", "SIGUSR1", "sig"});
    INFO(one.out << one.err);
    CHECK(one.code == 0);
    CHECK(one.out == "sig: SIGUSR1 sent to the main process (pid " + std::to_string(pid) + ")\n");
    wait_logs(d, "sig", "main got USR1");
    auto all = d.isoctl({"kill", "-s", "SIGUSR1", "--all", "sig"});
    CHECK(all.code == 0);
    wait_logs(d, "sig", "child got USR1");
    CHECK(signal_events(d, "sig").size() == 2);
    CHECK(d.stop() == 0);
}
