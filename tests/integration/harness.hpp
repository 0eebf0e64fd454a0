// Running the real daemon for integration tests: a temp tree (apps/, run/, state/,
// log/), the daemon in a network namespace of its own (a named one the test deletes at
// the end: it can reach nothing, and restarted daemons find it again), isoctl and curl against its socket,
// and a teardown that leaves no process behind even when a test fails: it stops the
// daemon, then kills by PID whatever still runs from the test's own directory.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "support/test_env.hpp"

namespace isolated::test {

struct RunResult {
    int code = -1;  ///< exit code; 128+signal when killed; -1 when it timed out
    std::string out, err;
};

/// Runs argv (no shell), feeding `input` on stdin; kills it after `timeout`.
RunResult run(const std::vector<std::string>& argv, std::chrono::milliseconds timeout = std::chrono::seconds(30),
              const std::string& input = "", const std::map<std::string, std::string>& env = {});

/// run() that must succeed: a failure stops the test with the command and its output.
RunResult must(const std::vector<std::string>& argv, std::chrono::milliseconds timeout = std::chrono::seconds(120));

/// Starts argv (argv[0] looked up on PATH) with stdin /dev/null and stdout and stderr
/// appended to `log`; the caller ends and reaps it.
pid_t spawn_logged(std::vector<std::string> argv, const std::string& log);

/// readlink(2) of P; empty when it cannot be read.
std::string read_link(const std::string& p);
/// /proc/PID/cmdline with its NULs as spaces; empty for a process that is gone.
std::string cmdline_of(pid_t pid);

/// A program on PATH.
bool have_tool(const std::string& name);

/// The cpu, memory and pids controllers: each a v1 hierarchy, or all on cgroup2.
bool have_limit_controllers();

/// ISOLATED_TEST_SLOW=N (default 1): the daemon's start and wait_state() wait N times longer.
int slow_factor();

/// Polls `cond` every 20 ms until it holds or `timeout` passes; returns the last value.
bool wait_until(const std::function<bool()>& cond, std::chrono::milliseconds timeout = std::chrono::seconds(10));

std::string build_dir();
std::string source_dir();
bool process_alive(pid_t pid);

/// An app file running the static sandbox_probe helper (tests/helpers/) with ARGS
/// (space-separated), bind-mounted read-only at /opt/probe/sandbox_probe. EXTRA is
/// appended to the object (", \"key\": ..."), MORE_MOUNTS to the mounts array.
std::string probe_app_json(const std::string& args, const std::string& extra = "", const std::string& more_mounts = "");

/// Mount points at or under DIR/ (from /proc/self/mountinfo), e.g. kept network
/// namespaces a daemon bound under its run dir.
std::vector<std::string> mounts_under(const std::string& dir);

class Daemon;
/// A shell app that prints "started" and runs until stopped (stop timeout 5 s); the
/// test dir in its command line lets the teardown find it by PID. EXTRA is appended
/// to the object (", \"key\": ...").
std::string ticker(const Daemon& d, const std::string& extra = "");

class Daemon {
public:
    Daemon();
    ~Daemon();
    Daemon(const Daemon&) = delete;
    Daemon& operator=(const Daemon&) = delete;

    /// Writes apps/NAME.json.
    void write_app(const std::string& name, const std::string& json);
    void remove_app(const std::string& name);

    /// Starts `isolated` with the test's paths plus `extra` flags; waits for its socket.
    void start(std::vector<std::string> extra = {});
    /// start() for a daemon that may die on its way up (the soak's crash points, which
    /// can fire during adoption): false, with the daemon reaped, when it exited before
    /// its socket answered; `env` is added to the daemon's environment.
    bool start_may_die(std::vector<std::string> extra = {}, const std::map<std::string, std::string>& env = {});
    /// SIGTERM and wait (the daemon stops the apps first); returns its exit code.
    int stop(std::chrono::milliseconds timeout = std::chrono::seconds(60));
    /// SIGKILL the daemon (apps stay) and reap it.
    void kill9();
    pid_t pid() const { return pid_; }
    bool running() const { return pid_ > 0 && process_alive(pid_); }

    RunResult isoctl(std::vector<std::string> args, std::chrono::milliseconds timeout = std::chrono::seconds(60));
    /// curl --unix-socket <socket> -X METHOD http://x/PATH [-d BODY]; out = body, code = HTTP status
    RunResult http(const std::string& method, const std::string& path, const std::string& body = "",
                   bool read_only = false);
    nlohmann::json get_json(const std::string& path);
    /// GET /v1/apps/NAME
    nlohmann::json app(const std::string& name) { return get_json("/v1/apps/" + name); }
    std::string state(const std::string& name);
    /// Waits until the app is in `state`; fails the test with the app's JSON otherwise.
    void wait_state(const std::string& name, const std::string& state,
                    std::chrono::milliseconds timeout = std::chrono::seconds(15));

    const std::string& dir() const { return tmp_.path(); }
    /// --cgroup-root of this test's daemons; removed (with what is left in it) at the end.
    std::string cgroup_root() const;
    void remove_cgroups();
    std::string apps_dir() const { return tmp_ / "apps"; }
    std::string run_dir() const { return tmp_ / "run"; }
    std::string log_dir() const { return tmp_ / "log"; }
    std::string state_dir() const { return tmp_ / "state"; }
    std::string socket() const { return run_dir() + "/isolated.sock"; }
    std::string ro_socket() const { return run_dir() + "/isolated-ro.sock"; }
    /// The daemon's network namespace, bound to <dir>/netns (it outlives daemon restarts).
    std::string netns() const { return netns_; }
    /// Runs argv in the daemon's network namespace (also while no daemon runs).
    RunResult in_netns(std::vector<std::string> argv);
    /// The daemon's own output so far.
    std::string daemon_log() const;

private:
    void kill_leftovers();

    TempDir tmp_{"isolated-it"};
    pid_t pid_ = -1;
    std::string netns_;
};

}  // namespace isolated::test
