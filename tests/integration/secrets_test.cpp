// Issue 16, item 1: nothing secret leaves through the read-only socket. A real daemon,
// a real unprivileged peer (setpriv to nobody, no groups) running curl and isoctl
// against isolated-ro.sock, and root on the same socket for comparison.
#include <catch2/catch.hpp>

#include <sys/stat.h>

#include "integration/harness.hpp"

using namespace isolated::test;
using namespace std::chrono_literals;
using nlohmann::json;

namespace {

void require_root() { require_prerequisite(is_root(), "integration tests need root (namespaces, setpriv)"); }

const std::vector<std::string> kSecrets = {"argsecret-7Q", "envsecret-9Z", "probesecret-5K"};

/// Runs argv as nobody (65534) without any supplementary group: not root, not in
/// group isolated.
RunResult as_nobody(std::vector<std::string> argv, std::chrono::milliseconds timeout = 30s) {
    argv.insert(argv.begin(), {"setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", "--"});
    return run(argv, timeout);
}

/// GET PATH on the read-only socket; as nobody or as root. `max_time` ends a follow.
RunResult ro_get(const Daemon& d, const std::string& path, bool nobody, const std::string& max_time = "30") {
    std::vector<std::string> argv = {"curl", "-sS", "--max-time", max_time, "--unix-socket", d.ro_socket(),
                                     "-o", "-", "-w", "\n%{http_code}", "http://x" + path};
    return nobody ? as_nobody(argv, 60s) : run(argv, 60s);
}

void check_no_secret(const std::string& what, const std::string& text) {
    for (const auto& s : kSecrets) {
        INFO(what << " holds " << s << ":\n" << text);
        CHECK(text.find(s) == std::string::npos);
    }
}

}  // namespace

TEST_CASE("read-only socket: an unprivileged peer sees no env value, argument or probe output",
          "[integration][secrets]") {
    require_root();
    require_prerequisite(run({"setpriv", "--version"}).code == 0, "setpriv (util-linux) is needed");
    Daemon d;
    // The test's tree is mkdtemp's 0700; nobody must reach run/isolated-ro.sock, as it
    // reaches /run/isolated on a host (the daemon makes run/ 0755 itself).
    REQUIRE(::chmod(d.dir().c_str(), 0711) == 0);
    // A secret in the command's arguments, in env, in an exec probe's arguments, and an
    // exec probe that prints the env value (its output lands in messages and events).
    // The probe passes and fails by turns (two seconds each): only a change is an event.
    d.write_app("db", R"({"command": ["sh", "-c", "echo started; while true; do sleep 0.2; done; : argsecret-7Q )" +
                          d.dir() + R"("],
        "env": {"POSTGRES_PASSWORD": "envsecret-9Z", "PGUSER": "app"},
        "network": {"mode": "none"},
        "stop": {"timeout": "5s"},
        "probes": {"readiness": {"exec": {"command": ["sh", "-c", "echo probesecret-5K $POSTGRES_PASSWORD; test $(( $(date +%s) % 4 )) -lt 2"]},
                                 "period": "1s", "failureThreshold": 1}}})");
    d.start();
    d.wait_state("db", "running", 30s);
    // The probe's failure, with the secret in its output, is in the events by now.
    bool probed = wait_until([&] { return d.http("GET", "/v1/events?app=db").out.find("probesecret-5K") != std::string::npos; });
    INFO(d.http("GET", "/v1/events?app=db").out << d.daemon_log());
    REQUIRE(probed);

    // Root on the read-only socket: everything.
    auto root_detail = ro_get(d, "/v1/apps/db", false);
    REQUIRE(root_detail.out.find("\n200") != std::string::npos);
    for (const auto& s : kSecrets) CHECK(root_detail.out.find(s) != std::string::npos);
    CHECK(ro_get(d, "/v1/events", false).out.find("envsecret-9Z") != std::string::npos);
    // And the control socket has the spec as the file wrote it.
    CHECK(d.app("db")["spec"]["env"]["POSTGRES_PASSWORD"] == "envsecret-9Z");

    // nobody: every GET, none with a secret.
    for (const char* path : {"/v1/apps", "/v1/apps/db", "/v1/events", "/v1/events?app=db", "/v1/metrics",
                             "/v1/apps/envsecret-9Z", "/v1/events?app=envsecret-9Z", "/v1/apps/db/logs",
                             "/v1/version", "/v1/health"}) {
        auto r = ro_get(d, path, true);
        INFO(path << ": " << r.out << r.err);
        CHECK(r.code == 0);
        CHECK(r.out.size() > 4);
        check_no_secret(path, r.out + r.err);
    }
    auto detail_text = ro_get(d, "/v1/apps/db", true).out;
    REQUIRE(detail_text.size() > 4);
    auto detail = json::parse(detail_text.substr(0, detail_text.rfind('\n')));
    CHECK(detail["redacted"] == true);
    CHECK(detail["spec"]["env"] == json{{"PGUSER", nullptr}, {"POSTGRES_PASSWORD", nullptr}});
    CHECK(detail["spec"]["command"] == json{"sh", nullptr, nullptr});
    auto probe_message = detail["health"]["readiness"]["message"].get<std::string>();
    CHECK((probe_message.empty() || probe_message == "command exited with code 1: [output hidden]"));

    // A follow: the stored events and the ones that come while it runs (the probe
    // fails every second) until curl's --max-time.
    auto follow = ro_get(d, "/v1/events?follow=1", true, "3");
    CHECK(follow.out.find("[output hidden]") != std::string::npos);
    check_no_secret("events?follow=1", follow.out);

    // isoctl as nobody against the read-only socket: works, and shows what it may.
    auto isoctl = [&](std::vector<std::string> args) {
        std::vector<std::string> argv = {build_dir() + "/isoctl", "--socket", d.ro_socket()};
        argv.insert(argv.end(), args.begin(), args.end());
        return as_nobody(argv);
    };
    auto status = isoctl({"status", "db"});
    INFO(status.out << status.err);
    CHECK(status.code == 0);
    CHECK(status.out.find("sh (2 arguments hidden: needs root or group isolated)") != std::string::npos);
    check_no_secret("isoctl status db", status.out + status.err);
    auto table = isoctl({"status"});
    CHECK(table.code == 0);
    check_no_secret("isoctl status", table.out + table.err);
    auto inspect = isoctl({"inspect", "db"});
    INFO(inspect.out << inspect.err);
    CHECK(inspect.code == 0);
    CHECK(inspect.out.find("POSTGRES_PASSWORD") != std::string::npos);
    CHECK(inspect.err.find("hidden") != std::string::npos);
    check_no_secret("isoctl inspect db", inspect.out + inspect.err);
    auto events = isoctl({"events"});
    CHECK(events.code == 0);
    check_no_secret("isoctl events", events.out + events.err);
    // Root's isoctl on the same socket sees the arguments.
    auto root_status = run({build_dir() + "/isoctl", "--socket", d.ro_socket(), "status", "db"});
    CHECK(root_status.out.find("argsecret-7Q") != std::string::npos);
}
