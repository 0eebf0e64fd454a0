// Issue 16, item 1: nothing secret leaves through the read-only socket. A real daemon,
// a real unprivileged peer (setpriv to nobody, no groups) running curl and isoctl
// against isolated-ro.sock, and root on the same socket for comparison.
// Items 2 and 3: envFile and secrets reach the app (and isoctl exec), are read at every
// start, bad sources fail the start clearly, and their values reach no one else.
#include <catch2/catch.hpp>

#include <sys/stat.h>
#include <unistd.h>

#include <map>

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

// ---- envFile and secrets (issue 16, items 2 and 3) ------------------------------------

namespace {

/// A secret's source as the daemon accepts it: a regular file of root's, mode 0400
/// unless told otherwise.
void write_secret(const std::string& path, const std::string& content, mode_t mode = 0400) {
    write_file(path, content);
    REQUIRE(::chown(path.c_str(), 0, 0) == 0);
    REQUIRE(::chmod(path.c_str(), mode) == 0);
}

/// <dir>/secrets, 0700 root, as /etc/isolated/secrets is.
std::string secrets_dir(const Daemon& d) {
    std::string dir = d.dir() + "/secrets";
    REQUIRE(::mkdir(dir.c_str(), 0700) == 0);
    return dir;
}

std::string logs_of(Daemon& d, const std::string& app) { return d.isoctl({"logs", app}).out; }

}  // namespace

TEST_CASE("envFile and secrets reach the app: variables, /run/secrets with its owner and mode, "
          "CREDENTIALS_DIRECTORY, and both are read again at each start",
          "[integration][secrets]") {
    require_root();
    Daemon d;
    const std::string sdir = secrets_dir(d);
    write_secret(sdir + "/db-password", "sekret-Vx81q\n");
    const std::string envfile = d.dir() + "/app.env";
    write_file(envfile, "# the app's settings\nFILEVAR='envfile-Qz42p'\r\nSHARED=from-file\n");
    // As user daemon: the secret is its own, mode 0440 as the app file says. An optional
    // envFile that does not exist is no error.
    json app = {{"command",
                 {"sh", "-c",
                  "echo FILEVAR=$FILEVAR SHARED=$SHARED PLAIN=$PLAIN; echo CD=$CREDENTIALS_DIRECTORY; "
                  "stat -c 'OWNER %U %G %a' /run/secrets/db-password; echo CONTENT=$(cat /run/secrets/db-password); "
                  "grep ' /run/secrets ' /proc/self/mounts; echo DONE; while true; do sleep 0.2; done; : " + d.dir()}},
                {"user", "daemon"},
                {"env", {{"SHARED", "from-env"}, {"PLAIN", "plain"}}},
                {"envFile", {envfile, "-" + d.dir() + "/none.env"}},
                {"secrets", {{{"source", sdir + "/db-password"}, {"mode", "0440"}}}},
                {"network", {{"mode", "none"}}},
                {"stop", {{"timeout", "5s"}}}};
    d.write_app("show", app.dump());
    d.start();
    d.wait_state("show", "ready");
    REQUIRE(wait_until([&] { return logs_of(d, "show").find("DONE") != std::string::npos; }));
    auto out = logs_of(d, "show");
    INFO(out);
    // An envFile's variable wins over env's (systemd's EnvironmentFile= over Environment=).
    CHECK_THAT(out, Catch::Contains("FILEVAR=envfile-Qz42p SHARED=from-file PLAIN=plain"));
    CHECK_THAT(out, Catch::Contains("CD=/run/secrets"));
    CHECK_THAT(out, Catch::Contains("OWNER daemon daemon 440"));
    CHECK_THAT(out, Catch::Contains("CONTENT=sekret-Vx81q"));
    // Its own tmpfs, read-only, nosuid, nodev, noexec.
    CHECK_THAT(out, Catch::Contains(" /run/secrets tmpfs ro,nosuid,nodev,noexec,"));

    // isoctl exec enters the sandbox: the same environment, the same files.
    auto exec = d.isoctl({"exec", "show", "--", "sh", "-c", "echo $CREDENTIALS_DIRECTORY $FILEVAR; cat /run/secrets/db-password"});
    INFO(exec.out << exec.err);
    CHECK(exec.code == 0);
    CHECK(exec.out == "/run/secrets envfile-Qz42p\nsekret-Vx81q\n");

    // Changed files take effect at the next start, without a reload.
    write_file(envfile, "FILEVAR=changed-Mm3c\n");
    write_secret(sdir + "/db-password", "sekret-2nd-Pp7\n");
    auto restart = d.isoctl({"restart", "show"});
    INFO(restart.out << restart.err);
    REQUIRE(restart.code == 0);
    REQUIRE(wait_until([&] { return logs_of(d, "show").find("CONTENT=sekret-2nd-Pp7") != std::string::npos; }));
    out = logs_of(d, "show");
    CHECK_THAT(out, Catch::Contains("FILEVAR=changed-Mm3c SHARED=from-env PLAIN=plain"));
}

TEST_CASE("envFile and secrets: a source that is not a root-owned regular file, or a missing envFile, fails the "
          "start with a clear message",
          "[integration][secrets]") {
    require_root();
    Daemon d;
    const std::string sdir = secrets_dir(d);
    write_secret(sdir + "/group-writable", "x-secret-1\n", 0460);
    write_secret(sdir + "/theirs", "x-secret-2\n");
    REQUIRE(::chown((sdir + "/theirs").c_str(), 65534, 65534) == 0);
    write_secret(sdir + "/real", "x-secret-3\n");
    REQUIRE(::symlink((sdir + "/real").c_str(), (sdir + "/link").c_str()) == 0);
    write_file(d.dir() + "/bad.env", "A=1\nx-secret-4-alone\n");
    auto app = [&](const json& extra) {
        json j = {{"command", {"sh", "-c", "echo started; while true; do sleep 0.2; done; : " + d.dir()}},
                  {"network", {{"mode", "none"}}},
                  {"restart", {{"policy", "never"}}},
                  {"stop", {{"timeout", "5s"}}}};
        j.update(extra);
        return j.dump();
    };
    auto secret = [&](const std::string& source) { return json{{"secrets", {{{"source", source}, {"name", "pw"}}}}}; };
    const std::map<std::string, std::pair<json, std::string>> cases = {
        {"groupwritable",
         {secret(sdir + "/group-writable"), "secret \"pw\" (" + sdir +
                                                "/group-writable): is writable by its group or by others (mode 0460; "
                                                "chmod go-w)"}},
        {"theirs",
         {secret(sdir + "/theirs"), "secret \"pw\" (" + sdir +
                                        "/theirs): is owned by uid 65534, not root (only root may decide what an "
                                        "app's secret is: chown root)"}},
        {"link",
         {secret(sdir + "/link"), "secret \"pw\" (" + sdir +
                                      "/link): is a symlink, or a directory on its path is (secrets are read without "
                                      "following symlinks: name the file itself)"}},
        {"missing",
         {secret(sdir + "/missing"), "secret \"pw\" (" + sdir + "/missing): ENOENT (No such file or directory)"}},
        {"noenv",
         {json{{"envFile", d.dir() + "/missing.env"}},
          "envFile " + d.dir() + "/missing.env: ENOENT (No such file or directory)"}},
        {"badenv",
         {json{{"envFile", d.dir() + "/bad.env"}},
          "envFile " + d.dir() + "/bad.env: line 2: no \"=\" (each line is NAME=VALUE, a comment or blank)"}},
    };
    for (const auto& [name, c] : cases) d.write_app(name, app(c.first));
    d.write_app("optional", app(json{{"envFile", "-" + d.dir() + "/missing.env"}}));
    d.start();
    for (const auto& [name, c] : cases) {
        d.wait_state(name, "failed");
        auto a = d.app(name);
        INFO(name << ": " << a.dump());
        CHECK(a["lastExit"]["message"] == c.second);
        CHECK(a["lastExit"]["code"] == 125);
    }
    d.wait_state("optional", "ready");
    // isoctl start says why.
    auto start = d.isoctl({"start", "noenv"});
    INFO(start.out << start.err);
    CHECK(start.code != 0);
    CHECK_THAT(start.out + start.err, Catch::Contains("envFile " + d.dir() + "/missing.env: ENOENT"));
    // No message, event or log line quotes what the files hold.
    std::string texts = d.http("GET", "/v1/apps").out + d.http("GET", "/v1/events").out + d.daemon_log();
    for (const char* s : {"x-secret-1", "x-secret-2", "x-secret-3", "x-secret-4"}) {
        INFO(s);
        CHECK(texts.find(s) == std::string::npos);
    }
}

TEST_CASE("envFile and secrets: no value reaches an unprivileged peer, the run and state dirs or the daemon's log",
          "[integration][secrets]") {
    require_root();
    require_prerequisite(run({"setpriv", "--version"}).code == 0, "setpriv (util-linux) is needed");
    require_prerequisite(::access("/usr/bin/python3", X_OK) == 0, "python3 is needed");
    Daemon d;
    REQUIRE(::chmod(d.dir().c_str(), 0711) == 0);  // nobody reaches run/isolated-ro.sock (see above)
    const std::string sdir = secrets_dir(d);
    write_secret(sdir + "/db-password", "sekret-Vx81q\n");
    write_file(d.dir() + "/app.env", "FILEVAR=envfile-Qz42p\n");
    const std::vector<std::string> values = {"envfile-Qz42p", "sekret-Vx81q"};
    // A TCP server whose banner is both values: its readiness probe expects another one,
    // and the probe's message quotes the banner it got -- a text the daemon makes that
    // holds the values, as root sees it, and must not hold them for nobody.
    const std::string server =
        "import os, socket\n"
        "s = socket.socket()\n"
        "s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)\n"
        "s.bind(('127.0.0.1', 7001))\n"
        "s.listen(8)\n"
        "banner = (os.environ['FILEVAR'] + ' ' + open('/run/secrets/db-password').read()).encode()\n"
        "print('started', flush=True)\n"
        "while True:\n"
        "    c, _ = s.accept()\n"
        "    c.sendall(banner)\n"
        "    c.close()\n";
    json app = {{"command", {"/usr/bin/python3", "-c", server, d.dir()}},
                {"env", {{"APP_TOKEN", "envvalue-Kp93m"}}},
                {"envFile", d.dir() + "/app.env"},
                {"secrets", {{{"source", sdir + "/db-password"}}}},
                {"network", {{"mode", "none"}}},
                {"stop", {{"timeout", "5s"}}},
                {"probes",
                 {{"readiness",
                   {{"tcp", {{"port", 7001}, {"expect", "OK"}}}, {"period", "1s"}, {"failureThreshold", 1}}}}}};
    d.write_app("banner", app.dump());
    d.start();
    auto readiness_message = [&](bool nobody) {
        auto r = ro_get(d, "/v1/apps/banner", nobody);
        auto body = r.out.substr(0, r.out.rfind('\n'));
        auto j = json::parse(body, nullptr, false);
        if (j.is_discarded() || !j["health"]["readiness"].is_object()) return std::string();
        return j["health"]["readiness"]["message"].get<std::string>();
    };
    auto check_nobody_sees_none = [&](const std::string& when) {
        // Root on the read-only socket has the banner in the probe's message...
        REQUIRE(wait_until([&] { return readiness_message(false).find("envfile-Qz42p") != std::string::npos; }, 30s));
        CHECK(readiness_message(false).find("sekret-Vx81q") != std::string::npos);
        // ...nobody has it scrubbed, and nothing anywhere else.
        auto scrubbed = readiness_message(true);
        INFO(when << ": " << scrubbed);
        CHECK_THAT(scrubbed, Catch::Contains("[redacted]"));
        for (const char* path : {"/v1/apps", "/v1/apps/banner", "/v1/events", "/v1/events?app=banner",
                                 "/v1/metrics", "/v1/apps/banner/logs"}) {
            auto r = ro_get(d, path, true);
            INFO(when << " " << path << ": " << r.out << r.err);
            CHECK(r.code == 0);
            CHECK(r.out.size() > 4);
            for (const auto& v : values) CHECK(r.out.find(v) == std::string::npos);
        }
        auto follow = ro_get(d, "/v1/events?follow=1", true, "2");
        for (const auto& v : values) CHECK(follow.out.find(v) == std::string::npos);
    };
    check_nobody_sees_none("launched");

    // Nothing under the run and state dirs holds a value: not for nobody, not for root.
    // (grep finds them where they are: in the test's own secrets dir.)
    std::vector<std::string> grep = {"grep", "-r", "-l", "-s", "-F", "-D", "skip"};
    for (const auto& v : values) grep.insert(grep.end(), {"-e", v});
    auto grep_in = [&](std::vector<std::string> dirs, bool nobody) {
        std::vector<std::string> argv = grep;
        argv.insert(argv.end(), dirs.begin(), dirs.end());
        return nobody ? as_nobody(argv) : run(argv);
    };
    CHECK(grep_in({sdir, d.dir() + "/app.env"}, false).out != "");
    for (bool nobody : {true, false}) {
        auto found = grep_in({d.run_dir(), d.state_dir()}, nobody);
        INFO((nobody ? "nobody: " : "root: ") << found.out << found.err);
        CHECK(found.out.empty());
    }
    // Nor the daemon's own output.
    for (const auto& v : values) CHECK(d.daemon_log().find(v) == std::string::npos);
    // The app file's own env values are in instance.json (a new daemon adopts by it),
    // which is root's alone: nobody finds them anywhere under the run or state dirs.
    auto env_value = [&](bool nobody) {
        std::vector<std::string> argv = {"grep", "-r", "-l", "-s", "-F", "-D", "skip", "-e", "envvalue-Kp93m",
                                         d.run_dir(), d.state_dir()};
        return nobody ? as_nobody(argv) : run(argv);
    };
    CHECK(env_value(false).out.find("instance.json") != std::string::npos);
    CHECK(env_value(true).out.empty());

    // A new daemon adopts the app: it reads the files again, so its redaction knows them.
    d.kill9();
    d.start();
    check_nobody_sees_none("adopted");
    for (bool nobody : {true, false}) CHECK(grep_in({d.run_dir(), d.state_dir()}, nobody).out.empty());
    for (const auto& v : values) CHECK(d.daemon_log().find(v) == std::string::npos);
}

TEST_CASE("secrets in a user namespace: the app's user owns them inside, the mapped ids outside",
          "[integration][secrets][userns]") {
    require_root();
    Daemon d;
    const std::string sdir = secrets_dir(d);
    write_secret(sdir + "/token", "tok-Rr55w");
    json app = {{"command",
                 {"sh", "-c",
                  "stat -c 'OWNER %u %g %a' /run/secrets/token; echo CONTENT=$(cat /run/secrets/token); "
                  "while true; do sleep 0.2; done; : " + d.dir()}},
                {"user", "daemon"},
                {"namespaces", {{"user", {{"uid", 200000}, {"count", 65536}}}}},
                {"secrets", {{{"source", sdir + "/token"}}}},
                {"network", {{"mode", "none"}}},
                {"stop", {{"timeout", "5s"}}}};
    d.write_app("mapped", app.dump());
    d.start();
    d.wait_state("mapped", "ready");
    REQUIRE(wait_until([&] { return logs_of(d, "mapped").find("CONTENT=") != std::string::npos; }));
    auto out = logs_of(d, "mapped");
    INFO(out);
    CHECK_THAT(out, Catch::Contains("OWNER 1 1 400"));  // daemon:daemon inside
    CHECK_THAT(out, Catch::Contains("CONTENT=tok-Rr55w"));
    // Through the app's root from the host: uid 200000 + 1.
    auto pid = d.app("mapped")["pid"].get<int>();
    struct stat st {};
    REQUIRE(::stat(("/proc/" + std::to_string(pid) + "/root/run/secrets/token").c_str(), &st) == 0);
    CHECK(st.st_uid == 200001);
    CHECK(st.st_gid == 200001);
    CHECK((st.st_mode & 07777) == 0400);
}
