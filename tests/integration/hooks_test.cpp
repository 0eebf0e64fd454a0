// Failure hooks against the real daemon (issue 16, item 6): hooks.onFailure,
// onUnhealthy and onOOM run once per transition as host commands, with the event on
// stdin and ISOLATED_APP/ISOLATED_EVENT in their environment, as their user, in a
// cgroup of their own, killed at their timeout, while the daemon carries on. The hooks
// here are a shell script that writes what it got into the test's directory.
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>

#include "hooks/hook_process.hpp"
#include "integration/harness.hpp"

using namespace isolated::test;
using namespace std::chrono_literals;
using nlohmann::json;
namespace fs = std::filesystem;

namespace {

void require_root() { require_prerequisite(is_root(), "integration tests need root (namespaces, unshare --net)"); }

std::vector<json> events_of(Daemon& d, const std::string& app) {
    auto r = d.http("GET", "/v1/events?app=" + app);
    std::vector<json> out;
    std::istringstream in(r.out);
    for (std::string line; std::getline(in, line);)
        if (!line.empty()) out.push_back(json::parse(line));
    return out;
}

/// Messages of the app's `hook` events.
std::vector<std::string> hook_events(Daemon& d, const std::string& app) {
    std::vector<std::string> out;
    for (const auto& e : events_of(d, app))
        if (e["type"] == "hook") out.push_back(e["message"]);
    return out;
}

bool has_hook_event(Daemon& d, const std::string& app, const std::string& part) {
    for (const auto& m : hook_events(d, app))
        if (m.find(part) != std::string::npos) return true;
    return false;
}

/// The recording hook: writes its stdin, its initial environment, its ids and its
/// cgroups to OUT/<event>.<pid>.*, then OUT/<event>.<pid>.done.
std::string write_recorder(const Daemon& d) {
    std::string path = d.dir() + "/record.sh";
    write_file(path, R"(#!/bin/sh
out="$1/$ISOLATED_EVENT.$$"
cat > "$out.json"
tr '\0' '\n' < /proc/$$/environ > "$out.env"
id -u > "$out.uid"
id -g > "$out.gid"
cat /proc/$$/cgroup > "$out.cgroup"
: > "$out.done"
)");
    ::chmod(path.c_str(), 0755);
    return path;
}

/// A "hooks" member for `field` running the recorder into `out`, with `extra` members.
std::string recorder_hook(const Daemon& d, const std::string& field, const std::string& out,
                          const std::string& extra = R"(, "user": "0")") {
    return R"("hooks": {")" + field + R"(": {"command": ["/bin/sh", ")" + d.dir() + R"(/record.sh", ")" + out + R"("])" +
           extra + "}}";
}

/// The runs of the recorder for `event` that have finished: OUT/<event>.<pid> each.
std::vector<std::string> runs(const std::string& out, const std::string& event) {
    std::vector<std::string> found;
    std::error_code ec;
    for (auto& f : fs::directory_iterator(out, ec)) {
        std::string name = f.path().filename().string();
        if (name.rfind(event + ".", 0) == 0 && f.path().extension() == ".done")
            found.push_back((f.path().parent_path() / f.path().stem()).string());
    }
    std::sort(found.begin(), found.end());
    return found;
}

std::vector<std::string> lines(const std::string& text) {
    std::vector<std::string> out;
    std::istringstream in(text);
    for (std::string l; std::getline(in, l);)
        if (!l.empty()) out.push_back(l);
    std::sort(out.begin(), out.end());
    return out;
}

std::string trimmed(std::string s) {
    while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.pop_back();
    return s;
}

/// The hook's cgroup directories, in every v1 hierarchy and the unified one.
std::vector<std::string> hook_cgroups(const Daemon& d, const std::string& name) {
    std::vector<std::string> out;
    std::error_code ec;
    for (auto& h : fs::directory_iterator("/sys/fs/cgroup", ec)) {
        auto p = h.path() / d.cgroup_root() / "_hooks";
        if (!name.empty()) p /= name;
        if (fs::exists(p, ec)) out.push_back(p.string());
    }
    auto unified = fs::path("/sys/fs/cgroup") / d.cgroup_root() / "_hooks";
    if (!name.empty()) unified /= name;
    if (fs::exists(unified, ec)) out.push_back(unified.string());
    return out;
}

pid_t read_pid(const std::string& path) {
    std::ifstream f(path);
    pid_t p = 0;
    f >> p;
    return p;
}

}  // namespace

TEST_CASE("hooks: onFailure gets the failed event as JSON on stdin and ISOLATED_APP, ISOLATED_EVENT, PATH only, once per failure, in a cgroup of its own",
          "[integration][hooks]") {
    require_root();
    Daemon d;
    write_recorder(d);
    std::string out = d.dir() + "/out";
    fs::create_directories(out);
    d.write_app("web", R"({"command": ["sh", "-c", "exit 3; : )" + d.dir() + R"("], "restart": {"policy": "never"}, )" +
                           recorder_hook(d, "onFailure", out) + "}");
    d.start();
    REQUIRE(wait_until([&] { return runs(out, "failure").size() == 1; }, 20s));
    CHECK(d.state("web") == "failed");
    std::string run = runs(out, "failure")[0];

    // stdin: exactly the /v1/events item of the `failed` state event.
    json got = json::parse(read_file(run + ".json"));
    CHECK(got["app"] == "web");
    CHECK(got["type"] == "state");
    CHECK(got["state"] == "failed");
    CHECK_THAT(got["message"].get<std::string>(), Catch::Contains("exited with code 3"));
    json listed;
    for (const auto& e : events_of(d, "web"))
        if (e["seq"] == got["seq"]) listed = e;
    CHECK(got == listed);

    // Its environment is ours, not the daemon's.
    CHECK(lines(read_file(run + ".env")) ==
          std::vector<std::string>{"ISOLATED_APP=web", "ISOLATED_EVENT=failure",
                                   "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"});
    CHECK(trimmed(read_file(run + ".uid")) == "0");
    // In its own cgroup under the daemon's root: neither the app's nor the daemon's.
    std::string cg = read_file(run + ".cgroup");
    if (fs::exists("/sys/fs/cgroup/freezer/cgroup.procs") || fs::exists("/sys/fs/cgroup/cgroup.controllers"))
        CHECK_THAT(cg, Catch::Contains("/" + d.cgroup_root() + "/_hooks/web.failure"));
    CHECK_THAT(cg, !Catch::Contains("/" + d.cgroup_root() + "/web\n"));
    // Removed once the hook has ended.
    REQUIRE(wait_until([&] { return hook_cgroups(d, "web.failure").empty(); }));
    CHECK(hook_events(d, "web").empty());  // a success is a log line, not an event
    CHECK_THAT(d.daemon_log(), Catch::Contains("onFailure hook: exited with code 0"));

    // A second failure is a second run, with its own event.
    d.isoctl({"start", "web"});
    REQUIRE(wait_until([&] { return runs(out, "failure").size() == 2; }, 20s));
    std::set<json> seqs;
    for (const auto& r : runs(out, "failure")) seqs.insert(json::parse(read_file(r + ".json"))["seq"]);
    CHECK(seqs.size() == 2);
    int failed_events = 0;
    for (const auto& e : events_of(d, "web")) failed_events += e["type"] == "state" && e["state"] == "failed";
    CHECK(failed_events == 2);
    CHECK(d.stop() == 0);
    CHECK(runs(out, "failure").size() == 2);
    CHECK(hook_cgroups(d, "").empty());
}

TEST_CASE("hooks: a hook runs as its user, nobody by default", "[integration][hooks]") {
    require_root();
    Daemon d;
    write_recorder(d);
    // nobody must reach the script and write its output.
    ::chmod(d.dir().c_str(), 0711);
    std::string out = d.dir() + "/out", out2 = d.dir() + "/out2";
    for (auto& o : {out, out2}) {
        fs::create_directories(o);
        ::chmod(o.c_str(), 0777);
    }
    std::string fail_now = R"({"command": ["sh", "-c", "exit 1; : )" + d.dir() + R"("], "restart": {"policy": "never"}, )";
    d.write_app("web", fail_now + recorder_hook(d, "onFailure", out, "") + "}");
    d.write_app("db", fail_now + recorder_hook(d, "onFailure", out2, R"(, "user": "65534:0")") + "}");
    d.start();
    REQUIRE(wait_until([&] { return runs(out, "failure").size() == 1 && runs(out2, "failure").size() == 1; }, 20s));
    std::string run = runs(out, "failure")[0];
    CHECK(trimmed(read_file(run + ".uid")) == "65534");
    CHECK(trimmed(read_file(run + ".gid")) == "65534");
    std::string run2 = runs(out2, "failure")[0];
    CHECK(trimmed(read_file(run2 + ".uid")) == "65534");
    CHECK(trimmed(read_file(run2 + ".gid")) == "0");
    struct stat st {};
    REQUIRE(::stat((run + ".json").c_str(), &st) == 0);
    CHECK(st.st_uid == 65534);
}

TEST_CASE("hooks: a hanging hook is killed at its timeout with all it started and its cgroup, while the API and other apps carry on",
          "[integration][hooks]") {
    require_root();
    Daemon d;
    std::string dir = d.dir();
    d.write_app("bad", R"({"command": ["sh", "-c", "exit 3; : )" + dir + R"("], "restart": {"policy": "never"},
        "hooks": {"onFailure": {"command": ["/bin/sh", "-c", "sleep 1000 & echo $! > )" + dir +
                           R"(/sleep.pid; echo $$ > )" + dir + R"(/hook.pid; wait; : )" + dir +
                           R"("], "timeout": "15s", "user": "0"}}})");
    d.write_app("crash", R"({"command": ["sh", "-c", "sleep 0.2; exit 1; : )" + dir + R"("],
        "restart": {"policy": "always", "backoff": {"initial": "100ms", "max": "200ms"}}})");
    d.start();
    REQUIRE(wait_until([&] { return read_pid(dir + "/hook.pid") > 0 && read_pid(dir + "/sleep.pid") > 0; }, 20s));
    pid_t hook = read_pid(dir + "/hook.pid"), sleeper = read_pid(dir + "/sleep.pid");
    REQUIRE(process_alive(hook));
    CHECK(hook_cgroups(d, "bad.failure").size() >= 1);

    // While it hangs the daemon serves the API and keeps restarting another app.
    int before = d.app("crash")["restarts"];
    CHECK(d.isoctl({"status"}).code == 0);
    CHECK(d.http("GET", "/v1/apps").code == 200);
    REQUIRE(wait_until([&] { return d.app("crash")["restarts"].get<int>() >= before + 2; }, 10s));
    CHECK(process_alive(hook));  // still hanging: the restarts happened meanwhile

    // At its timeout: killed, all of it, and said so.
    REQUIRE(wait_until([&] { return has_hook_event(d, "bad", "onFailure hook killed after 15s"); }, 40s));
    CHECK(wait_until([&] { return !process_alive(hook) && !process_alive(sleeper); }));
    CHECK(wait_until([&] { return hook_cgroups(d, "bad.failure").empty(); }));
    CHECK(d.isoctl({"status"}).code == 0);
}

TEST_CASE("hooks: onOOM fires for an app killed over its memory limit", "[integration][hooks][cgroup]") {
    require_root();
    require_prerequisite(fs::exists("/sys/fs/cgroup/memory/cgroup.procs") ||
                             fs::exists("/sys/fs/cgroup/cgroup.controllers"),
                         "a cgroup hierarchy with the memory controller");
    Daemon d;
    write_recorder(d);
    std::string out = d.dir() + "/out";
    fs::create_directories(out);
    d.write_app("hog", probe_app_json("alloc 512", R"(, "resources": {"memory": "32M"}, "restart": {"policy": "never"}, )" +
                                                       recorder_hook(d, "onOOM", out)));
    d.start();
    REQUIRE(wait_until([&] { return runs(out, "oom").size() == 1; }, 30s));
    std::string run = runs(out, "oom")[0];
    json got = json::parse(read_file(run + ".json"));
    CHECK(got["app"] == "hog");
    CHECK(got["type"] == "oom");
    CHECK_THAT(got["message"].get<std::string>(), Catch::Contains("memory limit 32M"));
    CHECK(got["exit"]["oomKilled"] == true);
    CHECK_THAT(read_file(run + ".env"), Catch::Contains("ISOLATED_EVENT=oom") && Catch::Contains("ISOLATED_APP=hog"));
    CHECK(runs(out, "failure").empty());  // only the hook configured runs
    CHECK(d.stop() == 0);
    CHECK(runs(out, "oom").size() == 1);
}

TEST_CASE("hooks: onUnhealthy fires when the liveness probe fails", "[integration][hooks][probes]") {
    require_root();
    Daemon d;
    write_recorder(d);
    std::string out = d.dir() + "/out";
    fs::create_directories(out);
    d.write_app("web", ticker(d, R"(, "restart": {"policy": "never"},
        "probes": {"liveness": {"exec": {"command": ["false"]}, "period": "1s", "failureThreshold": 1}}, )" +
                                     recorder_hook(d, "onUnhealthy", out)));
    d.start();
    REQUIRE(wait_until([&] { return runs(out, "unhealthy").size() == 1; }, 30s));
    std::string run = runs(out, "unhealthy")[0];
    json got = json::parse(read_file(run + ".json"));
    CHECK(got["app"] == "web");
    CHECK(got["type"] == "probe");
    CHECK_THAT(got["message"].get<std::string>(), Catch::Contains("liveness probe failed"));
    CHECK_THAT(read_file(run + ".env"), Catch::Contains("ISOLATED_EVENT=unhealthy"));
    d.wait_state("web", "failed");  // restart never: the liveness failure fails it
    CHECK(d.stop() == 0);
    CHECK(runs(out, "unhealthy").size() == 1);
}

TEST_CASE("hooks: a hook that cannot run, exits non-zero or dies by a signal is an event of the app",
          "[integration][hooks]") {
    require_root();
    Daemon d;
    std::string fail_now = R"({"command": ["sh", "-c", "exit 1; : )" + d.dir() + R"("], "restart": {"policy": "never"}, )";
    auto hook = [&](const std::string& body) { return fail_now + R"("hooks": {"onFailure": )" + body + "}}"; };
    d.write_app("nouser", hook(R"({"command": ["/bin/true"], "user": "no-such-user-here"})"));
    d.write_app("noexec", hook(R"({"command": ["/nonexistent/hook"], "user": "0"})"));
    d.write_app("three", hook(R"({"command": ["/bin/sh", "-c", "echo about to fail; exit 3"], "user": "0"})"));
    d.write_app("signal", hook(R"({"command": ["/bin/sh", "-c", "kill -USR1 $$"], "user": "0"})"));
    d.start();
    CHECK(wait_until([&] { return has_hook_event(d, "nouser", "onFailure hook could not be run: user \"no-such-user-here\" does not exist"); }, 20s));
    CHECK(wait_until([&] { return has_hook_event(d, "noexec", "onFailure hook could not be run: exec \"/nonexistent/hook\": ENOENT"); }, 20s));
    CHECK(wait_until([&] { return has_hook_event(d, "three", "onFailure hook exited with code 3"); }, 20s));
    CHECK(wait_until([&] { return has_hook_event(d, "signal", "onFailure hook killed by SIGUSR1"); }, 20s));
    // Its output is in the daemon's log, prefixed with the app and the hook.
    CHECK_THAT(d.daemon_log(), Catch::Contains("[three] onFailure hook: about to fail"));
    CHECK(d.stop() == 0);
    CHECK(hook_cgroups(d, "").empty());
}

TEST_CASE("hooks: a hook still running is not started again, and stopping the daemon kills it and removes its cgroup",
          "[integration][hooks]") {
    require_root();
    Daemon d;
    std::string dir = d.dir();
    d.write_app("bad", R"({"command": ["sh", "-c", "exit 3; : )" + dir + R"("], "restart": {"policy": "never"},
        "hooks": {"onFailure": {"command": ["/bin/sh", "-c", "echo $$ > )" + dir + R"(/hook.pid; sleep 1000; : )" + dir +
                           R"("], "timeout": "1h", "user": "0"}}})");
    d.start();
    REQUIRE(wait_until([&] { return read_pid(dir + "/hook.pid") > 0; }, 20s));
    pid_t hook = read_pid(dir + "/hook.pid");
    d.isoctl({"start", "bad"});  // fails again while the first hook runs
    REQUIRE(wait_until([&] { return has_hook_event(d, "bad", "is still running"); }, 20s));
    CHECK(process_alive(hook));
    CHECK(hook_events(d, "bad").size() == 1);
    CHECK(hook_cgroups(d, "bad.failure").size() >= 1);

    CHECK(d.stop() == 0);
    CHECK_FALSE(process_alive(hook));
    CHECK(hook_cgroups(d, "").empty());
    CHECK_THAT(d.daemon_log(), Catch::Contains("onFailure hook: killed: the daemon is stopping"));
}

namespace {

/// A cgroup as the systemd driver hands it out before its scope exists: the process
/// must be attached after the clone, and may not run its program before.
class AttachAfterClone final : public isolated::cgroup::AppCgroup {
public:
    AttachAfterClone(std::string marker, bool fail) : marker_(std::move(marker)), fail_(fail) {}
    const std::string& app() const override { return name_; }
    std::string describe() const override { return "attach-after-clone"; }
    isolated::cgroup::Placement placement() const override {
        isolated::cgroup::Placement p;
        p.attach_after_clone = attached == 0;
        return p;
    }
    std::vector<std::string> procs_files() const override { return {}; }
    isolated::Status attach(pid_t pid) override {
        if (fail_) return isolated::Error::os(EIO, "StartTransientUnit");
        attached = pid;
        write_file(marker_, std::to_string(pid) + "\n");
        return {};
    }
    isolated::Status kill() override { return {}; }
    isolated::Result<std::vector<pid_t>> pids() const override { return std::vector<pid_t>{}; }
    isolated::Result<isolated::ResourceUsage> usage() const override { return isolated::ResourceUsage{}; }
    isolated::Result<std::uint64_t> oom_kills() const override { return std::uint64_t{0}; }
    isolated::Result<isolated::ResourcesSpec> limits() const override { return isolated::ResourcesSpec{}; }
    isolated::Status remove() override { return {}; }

    pid_t attached = 0;

private:
    std::string name_ = "web.failure", marker_;
    bool fail_;
};

/// Waits for the spawned process and returns its exit code (128+N for a signal).
int wait_exit(isolated::hooks::HookProcess& p) {
    siginfo_t si{};
    REQUIRE(::waitid(static_cast<idtype_t>(P_PIDFD), static_cast<id_t>(p.pidfd.get()), &si, WEXITED) == 0);
    return si.si_code == CLD_EXITED ? si.si_status : 128 + si.si_status;
}

}  // namespace

TEST_CASE("hooks: the spawn enters the cgroup first, waits to be attached where it must, and reports a failed exec",
          "[integration][hooks]") {
    require_root();
    using namespace isolated::hooks;
    TempDir tmp("isolated-hook-spawn");
    std::string marker = tmp / "attached", out = tmp / "out";
    isolated::unique_fd devnull(::open("/dev/null", O_RDWR | O_CLOEXEC));
    REQUIRE(devnull);
    auto creds = resolve_user("0");
    REQUIRE(creds);
    HookLaunch l;
    l.env = {"PATH=/usr/bin:/bin"};
    l.creds = *creds;
    l.stdin_fd = devnull.get();
    l.output_fd = devnull.get();

    SECTION("systemd's way: the program runs only once the daemon has attached it") {
        AttachAfterClone cg(marker, false);
        l.cgroup = &cg;
        // What the program sees first is the attach's marker, with its own pid.
        l.argv = {"/bin/sh", "-c", "cat " + marker + " > " + out + " && echo $$ >> " + out};
        auto p = spawn(l);
        REQUIRE(p);
        CHECK(cg.attached == p->pid);
        CHECK(wait_exit(*p) == 0);
        CHECK_FALSE(spawn_failure(p->report.get(), l.argv[0]));
        CHECK(lines(read_file(out)) == std::vector<std::string>{std::to_string(p->pid), std::to_string(p->pid)});
    }
    SECTION("systemd's way: an attach that fails leaves no process") {
        AttachAfterClone cg(marker, true);
        l.cgroup = &cg;
        l.argv = {"/bin/sh", "-c", "touch " + out};
        auto p = spawn(l);
        REQUIRE_FALSE(p);
        CHECK_THAT(p.error().to_string(), Catch::Contains("StartTransientUnit"));
        CHECK_FALSE(fs::exists(out));
    }
    SECTION("the vfork way: a program that cannot be exec'd says so, with errno") {
        l.argv = {"/nonexistent/hook"};
        auto p = spawn(l);
        REQUIRE(p);
        CHECK(wait_exit(*p) == 127);
        auto why = spawn_failure(p->report.get(), l.argv[0]);
        REQUIRE(why);
        CHECK_THAT(*why, Catch::StartsWith("exec \"/nonexistent/hook\": ENOENT"));
    }
    SECTION("as another user: uid, gid and the supplementary groups all change") {
        l.creds.uid = 65534;
        l.creds.gid = 65534;
        l.creds.groups = {65534};
        l.argv = {"/bin/sh", "-c", "id -u > " + out + "; id -g >> " + out + "; id -G >> " + out};
        ::chmod(tmp.path().c_str(), 0777);  // nobody writes the answer
        auto p = spawn(l);
        REQUIRE(p);
        CHECK(wait_exit(*p) == 0);
        CHECK(read_file(out) == "65534\n65534\n65534\n");
    }
}
