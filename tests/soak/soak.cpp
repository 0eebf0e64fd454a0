// isolated-soak: the soak runner (issue 18, items 1 and 2). One command, seeded and
// bounded: it runs the real daemon (the integration harness: its own netns, temp tree and
// cgroup root, cleaned up even when it fails) with apps of every kind, drives a random
// mix of app crashes, probe failures, operator commands, reloads and daemon kills
// (outside SIGKILLs and the daemon's own crash points, ISOLATED_CRASH_AT), and checks
// the invariants after every step. The first violation stops the run with the seed, the
// step and what the step did, so `isolated-soak --seed S --steps K` replays it.
//
//   isolated-soak [--seed N] [--steps N] [--max-seconds S] [--kill-every N]
//                 [--require-coverage] [--self-test] [--quiet]
//
// It is a Catch2 program (one test case, "soak") so that the harness's REQUIREs work;
// Catch's own options follow a "--" (e.g. -- -s).
#define CATCH_CONFIG_RUNNER
#include <catch2/catch.hpp>

#include <dirent.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <optional>
#include <random>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "integration/harness.hpp"
#include "support/test_env.hpp"

using namespace isolated::test;
using json = nlohmann::json;
namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

namespace {

struct Options {
    std::uint64_t seed = 1;
    long steps = 300;
    long max_seconds = 600;
    int kill_every = 7;  ///< one daemon kill every N steps (on average, the kinds cycled)
    bool require_coverage = false;
    bool self_test = false;
    bool quiet = false;
} opt;

// The daemon's crash points (daemon/sys/crash_point.hpp); docs/man/isolated.8.scd lists them.
const std::vector<std::string> kCrashPoints = {
    "launch.after-clone",  "launch.before-nft",  "launch.after-nft",          "launch.after-veth",
    "launch.before-go",    "launch.after-go",    "stop.after-signal",         "stop.before-cgroup-remove",
    "stop.before-record-remove", "reload.between-apps", "adopt.between-apps", "launch.after-keep",
};

// The image app's image: the probe helper in a one-layer OCI image (umoci, skopeo).
const std::string kImageRef = "localhost/soak-probe:1";

std::string now_ms_string(Clock::time_point t0) {
    auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - t0).count();
    char b[32];
    std::snprintf(b, sizeof b, "%7.1fs", ms / 1000.0);
    return b;
}

std::string slurp(const std::string& p) { return read_file(p); }

std::vector<pid_t> all_pids() {
    std::vector<pid_t> out;
    DIR* d = ::opendir("/proc");
    if (!d) return out;
    while (auto* e = ::readdir(d)) {
        pid_t p = std::atoi(e->d_name);
        if (p > 0) out.push_back(p);
    }
    ::closedir(d);
    return out;
}

// state letter and parent from /proc/PID/stat
bool proc_stat(pid_t pid, char& state, pid_t& ppid) {
    std::string s = slurp("/proc/" + std::to_string(pid) + "/stat");
    auto close = s.rfind(')');
    if (close == std::string::npos || close + 4 >= s.size()) return false;
    std::istringstream in(s.substr(close + 2));
    in >> state >> ppid;
    return true;
}

long count_dir(const std::string& p) {
    long n = 0;
    DIR* d = ::opendir(p.c_str());
    if (!d) return -1;
    while (auto* e = ::readdir(d))
        if (std::strcmp(e->d_name, ".") && std::strcmp(e->d_name, "..")) ++n;
    ::closedir(d);
    return n;
}

long rss_kib(pid_t pid) {
    std::istringstream in(slurp("/proc/" + std::to_string(pid) + "/status"));
    for (std::string line; std::getline(in, line);)
        if (line.rfind("VmRSS:", 0) == 0) return std::atol(line.c_str() + 6);
    return -1;
}

double slope_per_1000(const std::vector<std::pair<double, double>>& pts) {
    if (pts.size() < 3) return 0;
    double n = static_cast<double>(pts.size()), sx = 0, sy = 0, sxx = 0, sxy = 0;
    for (auto& [x, y] : pts) sx += x, sy += y, sxx += x * x, sxy += x * y;
    double den = n * sxx - sx * sx;
    return den == 0 ? 0 : 1000.0 * (n * sxy - sx * sy) / den;
}

double percentile(std::vector<double> v, double p) {
    if (v.empty()) return 0;
    std::sort(v.begin(), v.end());
    size_t i = static_cast<size_t>(p * (static_cast<double>(v.size()) - 1) + 0.5);
    return v[std::min(i, v.size() - 1)];
}

// ---- the apps -------------------------------------------------------------------------

enum class Kind { shell, serve, report };

struct AppDef {
    std::string name;
    Kind kind = Kind::shell;
    std::string network = "bridge";  // bridge, none, host, app:X
    std::vector<int> ports;          // host ports forwarded (tcp) to 80
    std::vector<std::string> depends;
    bool directory = false;  // directory rootfs
    bool image = false;      // image rootfs (kImageRef, loaded into the store by the first daemon)
    bool userns = false;
    bool memory_limit = false;
    bool liveness = false;  // an http liveness probe flipped by /opt/ctl/unhealthy
    std::string readiness;  // "", "tcp", "http", "exec"
    int generation = 0;     // changed by reloads (an env var)
    bool can_exit() const { return kind == Kind::shell; }
    bool bridged() const { return network == "bridge"; }
};

struct Violation {
    std::string what;
};
struct Leak {
    std::string what;
};

class Soak {
public:
    Soak() : rng_(opt.seed), t0_(Clock::now()) {}

    void run();
    /// Prints the figures; false when --require-coverage is not met (a crash point
    /// never reached).
    bool summary();

private:
    // setup
    void make_tree();
    std::string spec_json(const AppDef& a) const;
    void write(const AppDef& a) { d_.write_app(a.name, spec_json(a)); }
    std::string ctl(const std::string& app) const { return d_.dir() + "/ctl/" + app; }

    // daemon
    bool start_daemon(const std::string& crash_at = "");
    void kill_daemon();
    bool wait_daemon_death(std::chrono::milliseconds limit);

    // API
    std::optional<json> apps_json();
    std::map<std::string, json> app_map();
    json events_since_last();

    // steps
    std::string do_step(long step);
    std::string step_app_kill();
    std::string step_app_exit();
    std::string step_oom();
    std::string step_liveness();
    std::string step_operator();
    std::string step_reload();
    std::string step_daemon_kill(long step);
    std::string step_daemon_down_app_kill();

    // invariants
    void settle_and_check(long step);
    std::set<std::string> must_run() const;
    std::set<std::string> closure_of_stopped() const;
    void check_leaks(const std::map<std::string, json>& apps);
    void check_events(const json& events);
    void fail(const std::string& what);
    void leak(const std::string& what) {
        ++leaks_;
        fail("leak: " + what);
    }

    // helpers
    std::vector<std::string> running_apps(const std::map<std::string, json>& apps, bool need_pid = true);
    std::string pick(const std::vector<std::string>& v) { return v[rng_() % v.size()]; }
    int rand_int(int lo, int hi) { return lo + static_cast<int>(rng_() % static_cast<unsigned>(hi - lo + 1)); }
    void note_exit_expected(const std::string& app, int n = 1) { expect_exits_[app] += n; }
    void log(const std::string& s) {
        if (!opt.quiet) std::cout << now_ms_string(t0_) << " " << s << std::endl;
    }
    std::vector<std::string> prerequisites(const std::string& app) const;
    /// The app and its prerequisites (recursively), which a start or restart starts with it.
    void mark_started_with_prerequisites(const std::string& app) {
        for (auto& n : with_prerequisites(app)) {
            op_stopped_.erase(n);
            cascade_stopped_.erase(n);
        }
    }
    std::vector<std::string> with_prerequisites(const std::string& app) const {
        std::vector<std::string> q{app};
        for (size_t i = 0; i < q.size(); ++i)
            for (auto& p : prerequisites(q[i]))
                if (std::find(q.begin(), q.end(), p) == q.end()) q.push_back(p);
        return q;
    }
    /// Apps an operation was asked for just before the daemon was killed: it may or
    /// may not have taken effect; the next daemon start reads the stop markers.
    std::vector<std::string> uncertain_;
    void resync_uncertain() {
        for (auto& a : uncertain_) {
            if (fs::exists(d_.run_dir() + "/apps/" + a + "/stopped")) {
                op_stopped_.insert(a);
            } else {
                op_stopped_.erase(a);
                cascade_stopped_.erase(a);
            }
        }
        uncertain_.clear();
    }
    std::vector<std::string> dependents(const std::string& app) const;
    void make_image();
    void load_image();

    Daemon d_;
    std::mt19937_64 rng_;
    Clock::time_point t0_;
    std::map<std::string, AppDef> defs_;        // defined (valid files)
    std::map<std::string, AppDef> pool_;        // every app the runner may define
    std::set<std::string> op_stopped_;          // stopped by the operator (must stay stopped)
    std::set<std::string> cascade_stopped_;     // stopped with a dependency (may stay stopped)
    std::string broken_;                        // an app whose file is broken right now
    long step_ = 0;
    std::string step_desc_;
    int incarnation_ = 0;
    Clock::time_point daemon_started_;
    bool measure_recovery_ = false;
    long last_seq_ = 0;
    // exit accounting of the current step: app -> exits the step made
    std::map<std::string, int> expect_exits_;
    bool exact_exits_ = true;  // false in steps whose exits cannot be counted (daemon kills)
    std::map<std::string, int> restarts_before_;
    std::map<std::string, std::string> last_exit_key_;  // app -> last exit's (at, code)
    std::map<std::string, std::set<std::string>> exit_keys_;
    std::map<std::string, std::string> last_kind_;     // app -> "exit" / "up", per incarnation
    std::set<std::string> redefined_;                  // apps whose restart count may reset
    // figures
    long daemon_kills_ = 0, app_kills_ = 0, violations_ = 0, leaks_ = 0, steps_done_ = 0;
    std::map<std::string, long> kills_by_kind_;
    std::map<std::string, long> event_types_;  // the daemons' app events, by type
    std::map<std::string, long> crash_reached_;
    std::vector<double> recovery_ms_;
    std::vector<std::pair<double, double>> rss_, fds_;
    long max_threads_ = 0;
    size_t crash_cycle_ = 0;
    int kill_kind_cycle_ = 0;
};

// ---- setup ----------------------------------------------------------------------------

void Soak::make_tree() {
    // The directory rootfs: the static helper and the mount points it needs.
    auto root = fs::path(d_.dir()) / "rootfs";
    for (auto sub : {"etc", "proc", "sys", "dev", "tmp", "opt/probe", "opt/ctl"}) fs::create_directories(root / sub);
    { std::ofstream(root / "etc/passwd") << "root:x:0:0:root:/root:/bin/sh\n"; }
    { std::ofstream(root / "etc/group") << "root:x:0:\n"; }
    for (auto f : {"etc/hosts", "etc/hostname", "etc/resolv.conf"}) std::ofstream(root / f) << "";
    fs::copy_file(build_dir() + "/sandbox_probe", root / "opt/probe/sandbox_probe");

    auto add = [&](AppDef a) { pool_[a.name] = a; };
    AppDef db;
    db.name = "db", db.kind = Kind::serve, db.ports = {15432}, db.liveness = true, db.readiness = "tcp";
    add(db);
    AppDef web;
    web.name = "web", web.ports = {18080}, web.depends = {"db"}, web.readiness = "exec";
    add(web);
    AppDef side;
    side.name = "side", side.network = "app:web";
    add(side);
    AppDef host;
    host.name = "hostnet", host.network = "host";
    add(host);
    AppDef dir;
    dir.name = "dir", dir.kind = Kind::serve, dir.directory = true, dir.ports = {18081}, dir.readiness = "http";
    add(dir);
    AppDef user;
    user.name = "userns", user.kind = Kind::report, user.directory = true, user.userns = true, user.network = "none";
    add(user);
    AppDef oom;
    oom.name = "oom", oom.memory_limit = true, oom.network = "none";
    add(oom);
    AppDef img;
    img.name = "img", img.kind = Kind::serve, img.image = true, img.ports = {18082}, img.readiness = "http";
    add(img);
    AppDef chain;
    chain.name = "chain", chain.depends = {"web"}, chain.network = "none";
    add(chain);
    for (int i = 0; i < 4; ++i) {
        AppDef dyn;
        dyn.name = "dyn" + std::to_string(i);
        if (i % 2 == 0) dyn.ports = {18100 + i};
        if (i == 3) dyn.network = "none";
        add(dyn);
    }
    for (auto& [name, a] : pool_) {
        fs::create_directories(ctl(name));
        if (name.rfind("dyn", 0) == 0 && (name == "dyn2" || name == "dyn3")) continue;  // added by reloads
        if (a.image) continue;  // defined once its image is in the store (load_image)
        defs_[name] = a;
        write(a);
    }
}

std::string Soak::spec_json(const AppDef& a) const {
    json j;
    const std::string probe = "/opt/probe/sandbox_probe";
    if (a.kind == Kind::shell) {
        // Exits with the code in /opt/ctl/exit; on /opt/ctl/oom becomes an allocator
        // (exec: the app itself is what the OOM killer kills). The test dir in the
        // command line lets the harness's teardown find it.
        std::string script = "echo started; while :; do "
                             "if [ -f /opt/ctl/exit ]; then c=$(cat /opt/ctl/exit); rm -f /opt/ctl/exit; exit $c; fi; "
                             "if [ -f /opt/ctl/oom ]; then rm -f /opt/ctl/oom; exec " +
                             probe + " alloc 512; fi; sleep 0.1; done; : " + d_.dir();
        j["command"] = {"sh", "-c", script};
    } else if (a.kind == Kind::serve) {
        j["command"] = {probe, "serve", "80", a.liveness ? "flip:/opt/ctl/unhealthy" : "200"};
    } else {
        j["command"] = {probe, "report"};
    }
    j["stop"] = {{"timeout", "2s"}};
    json mounts = json::array();
    if (!a.directory && !a.image)
        mounts.push_back({{"type", "bind"}, {"source", build_dir() + "/sandbox_probe"}, {"target", probe}, {"readonly", true}});
    mounts.push_back({{"type", "bind"}, {"source", ctl(a.name)}, {"target", "/opt/ctl"}});
    j["mounts"] = mounts;
    if (a.directory) j["rootfs"] = {{"type", "directory"}, {"path", d_.dir() + "/rootfs"}};
    if (a.image) j["rootfs"] = {{"type", "image"}, {"image", kImageRef}};
    if (a.userns) j["namespaces"] = {{"user", {{"uid", 200000}}}};
    json net = {{"mode", a.network}};
    if (!a.ports.empty()) {
        json ports = json::array();
        for (int p : a.ports) ports.push_back({{"host", p}, {"app", 80}});
        net["ports"] = ports;
    }
    j["network"] = net;
    if (!a.depends.empty()) j["dependsOn"] = a.depends;
    if (a.memory_limit) j["resources"] = {{"memory", "32M"}};
    j["restart"] = {{"policy", "always"}, {"backoff", {{"initial", "100ms"}, {"max", "400ms"}}}};
    json probes = json::object();
    if (a.liveness)
        // The initial delay leaves the runner time to remove the flip file before the
        // next instance is probed (else it fails too: two exits for one).
        probes["liveness"] = {{"http", {{"port", 80}}}, {"period", "200ms"}, {"failureThreshold", 2}, {"initialDelay", "1s"}};
    if (a.readiness == "tcp") probes["readiness"] = {{"tcp", {{"port", 80}}}, {"period", "300ms"}};
    if (a.readiness == "http") probes["readiness"] = {{"http", {{"port", 80}}}, {"period", "300ms"}};
    if (a.readiness == "exec")
        probes["readiness"] = {{"exec", {{"command", {"test", "-d", "/opt/ctl"}}}}, {"period", "1s"}};
    if (!probes.empty()) j["probes"] = probes;
    j["env"] = {{"GENERATION", std::to_string(a.generation)}};
    return j.dump(2);
}

// The same tree as the directory rootfs, as an OCI archive made with umoci and skopeo.
void Soak::make_image() {
    const std::string dir = d_.dir() + "/image";
    const std::string layout = dir + "/layout", image = layout + ":1", bundle = dir + "/bundle";
    must({"umoci", "init", "--layout", layout});
    must({"umoci", "new", "--image", image});
    must({"umoci", "unpack", "--image", image, bundle});
    fs::copy(d_.dir() + "/rootfs", bundle + "/rootfs", fs::copy_options::recursive | fs::copy_options::overwrite_existing);
    must({"umoci", "repack", "--image", image, bundle});
    must({"skopeo", "copy", "--quiet", "oci:" + image, "oci-archive:" + dir + "/soak-probe.tar:" + kImageRef});
    fs::remove_all(bundle);
}

// Loads the image (kept in the state dir by every later daemon) and defines its app.
void Soak::load_image() {
    auto r = d_.isoctl({"image", "load", d_.dir() + "/image/soak-probe.tar"});
    if (r.code != 0) fail("image load: " + r.out + r.err);
    defs_["img"] = pool_["img"];
    write(defs_["img"]);
    auto rl = d_.isoctl({"reload"});
    if (rl.code != 0) fail("reload after the image load: " + rl.out + rl.err);
}

// ---- daemon ---------------------------------------------------------------------------

bool Soak::start_daemon(const std::string& crash_at) {
    // Keep the daemon's log from growing without end over a long run: the last part is
    // what a failure needs.
    std::string log = d_.dir() + "/daemon.log";
    std::error_code ec;
    if (auto size = fs::file_size(log, ec); !ec && size > (64u << 20)) {
        std::string text = slurp(log);
        write_file(log, text.substr(text.size() - (8u << 20)));
    }
    std::map<std::string, std::string> env;
    if (!crash_at.empty()) env["ISOLATED_CRASH_AT"] = crash_at;
    daemon_started_ = Clock::now();
    ++incarnation_;
    last_seq_ = 0;
    last_kind_.clear();
    resync_uncertain();
    bool up = d_.start_may_die({}, env);
    if (!up && d_.running()) {
        // Running but not answering within the harness's bound: a violation.
        fail("daemon did not answer /v1/health after start");
    }
    return up;
}

void Soak::kill_daemon() { d_.kill9(); }

bool Soak::wait_daemon_death(std::chrono::milliseconds limit) {
    bool died = wait_until([&] { return !d_.running(); }, limit);
    if (died) d_.kill9();  // reap
    return died;
}

std::optional<json> Soak::apps_json() {
    auto r = d_.http("GET", "/v1/apps");
    if (r.code != 200) return std::nullopt;
    try {
        return json::parse(r.out);
    } catch (...) {
        return std::nullopt;
    }
}

std::map<std::string, json> Soak::app_map() {
    std::map<std::string, json> out;
    auto j = apps_json();
    if (!j) return out;
    const json& list = j->is_array() ? *j : (*j)["apps"];
    for (const auto& a : list) out[a.value("name", "")] = a;
    return out;
}

json Soak::events_since_last() {
    auto r = d_.http("GET", "/v1/events");
    json out = json::array();
    if (r.code != 200) return out;
    std::istringstream in(r.out);
    for (std::string line; std::getline(in, line);) {
        if (line.empty()) continue;
        json e;
        try {
            e = json::parse(line);
        } catch (...) {
            continue;
        }
        long seq = e.value("seq", 0L);
        if (seq <= last_seq_) continue;
        last_seq_ = seq;
        out.push_back(e);
    }
    return out;
}

std::vector<std::string> Soak::running_apps(const std::map<std::string, json>& apps, bool need_pid) {
    std::vector<std::string> out;
    for (auto& [name, a] : apps) {
        std::string st = a.value("state", "");
        bool up = st == "running" || st == "ready" || st == "unhealthy";
        if (up && (!need_pid || (a.contains("pid") && a["pid"].is_number()))) out.push_back(name);
    }
    return out;
}

std::vector<std::string> Soak::prerequisites(const std::string& app) const {
    std::vector<std::string> out;
    auto it = defs_.find(app);
    if (it == defs_.end()) return out;
    out = it->second.depends;
    if (it->second.network.rfind("app:", 0) == 0) out.push_back(it->second.network.substr(4));
    return out;
}

std::vector<std::string> Soak::dependents(const std::string& app) const {
    std::vector<std::string> out{app};
    for (size_t i = 0; i < out.size(); ++i)
        for (auto& [name, _] : defs_) {
            auto pre = prerequisites(name);
            if (std::find(pre.begin(), pre.end(), out[i]) != pre.end() &&
                std::find(out.begin(), out.end(), name) == out.end())
                out.push_back(name);
        }
    return out;
}

std::set<std::string> Soak::closure_of_stopped() const {
    std::set<std::string> out;
    for (const auto& s : op_stopped_)
        for (auto& d : dependents(s)) out.insert(d);
    for (const auto& s : cascade_stopped_)
        for (auto& d : dependents(s)) out.insert(d);
    return out;
}

std::set<std::string> Soak::must_run() const {
    std::set<std::string> out;
    auto down = closure_of_stopped();
    for (auto& [name, _] : defs_)
        if (!down.count(name)) out.insert(name);
    return out;
}

void Soak::fail(const std::string& what) {
    ++violations_;
    std::ostringstream m;
    m << "VIOLATION at step " << step_ << " (seed " << opt.seed << ", daemon #" << incarnation_ << "): " << what
      << "\n  the step: " << step_desc_ << "\n  replay: isolated-soak --seed " << opt.seed << " --steps " << step_;
    std::cout << m.str() << std::endl;
    std::string log = d_.daemon_log();
    // The whole log outlives the test dir, for the post-mortem -- except the violation
    // the self-test makes on purpose, which needs none and must leave nothing behind.
    if (!opt.self_test) {
        std::string keep = (std::getenv("TMPDIR") ? std::string(std::getenv("TMPDIR")) : std::string("/tmp")) +
                           "/isolated-soak-seed" + std::to_string(opt.seed) + "-daemon.log";
        write_file(keep, log);
        std::cout << "the daemon's whole log: " << keep << std::endl;
    }
    if (log.size() > 6000) log = log.substr(log.size() - 6000);
    std::cout << "--- the daemon's log (last lines) ---\n" << log << std::endl;
    throw Violation{m.str()};
}

// ---- steps ----------------------------------------------------------------------------

std::string Soak::step_app_kill() {
    auto apps = app_map();
    auto up = running_apps(apps);
    std::vector<std::string> candidates;
    for (auto& n : up)
        if (defs_.count(n) && n != broken_) candidates.push_back(n);
    if (candidates.empty()) return "app kill: nothing running";
    std::string app = pick(candidates);
    pid_t pid = apps[app]["pid"].get<pid_t>();
    ::kill(pid, SIGKILL);
    ++app_kills_;
    note_exit_expected(app);
    return "SIGKILL app " + app + " (pid " + std::to_string(pid) + ")";
}

std::string Soak::step_app_exit() {
    auto apps = app_map();
    std::vector<std::string> candidates;
    for (auto& n : running_apps(apps))
        if (defs_.count(n) && defs_[n].can_exit() && n != broken_) candidates.push_back(n);
    if (candidates.empty()) return "app exit: nothing running";
    std::string app = pick(candidates);
    int code = rand_int(0, 3);
    write_file(ctl(app) + "/.exit", std::to_string(code) + "\n");
    fs::rename(ctl(app) + "/.exit", ctl(app) + "/exit");
    ++app_kills_;
    note_exit_expected(app);
    // Consumed by the app at once (it polls every 100 ms).
    wait_until([&] { return !fs::exists(ctl(app) + "/exit"); }, std::chrono::seconds(5));
    return "app " + app + " exits with code " + std::to_string(code);
}

std::string Soak::step_oom() {
    auto apps = app_map();
    auto st = apps.count("oom") ? apps["oom"].value("state", "") : "";
    if (!defs_.count("oom") || (st != "running" && st != "ready")) return "oom: app not running";
    write_file(ctl("oom") + "/oom", "1\n");
    ++app_kills_;
    note_exit_expected("oom");
    wait_until([&] { return !fs::exists(ctl("oom") + "/oom"); }, std::chrono::seconds(5));
    return "app oom allocates past its 32M limit";
}

std::string Soak::step_liveness() {
    auto apps = app_map();
    auto st = apps.count("db") ? apps["db"].value("state", "") : "";
    if (!defs_.count("db") || (st != "running" && st != "ready")) return "liveness: db not running";
    auto restarts = apps["db"].value("restarts", 0);
    write_file(ctl("db") + "/unhealthy", "1\n");
    // The liveness probe (200 ms, 2 failures) restarts it: then it must be healthy again.
    // Seen as soon as the probe stops it: then the file goes, before the next instance.
    bool seen = wait_until(
        [&] {
            auto m = app_map();
            if (!m.count("db")) return false;
            std::string st = m["db"].value("state", "");
            return st == "stopping" || st == "backoff" || m["db"].value("restarts", 0) > restarts;
        },
        std::chrono::seconds(10));
    fs::remove(ctl("db") + "/unhealthy");
    ++app_kills_;
    note_exit_expected("db");
    if (!seen) fail("db's liveness probe failed for 10 s and it was not restarted");
    return "db's liveness probe fails";
}

std::string Soak::step_operator() {
    std::vector<std::string> names;
    for (auto& [n, _] : defs_)
        if (n != broken_) names.push_back(n);
    if (names.empty()) return "operator: no apps";
    std::string app = pick(names);
    int what = rand_int(0, 9);
    auto before = app_map();
    bool was_up = false;
    if (before.count(app)) {
        std::string st = before[app].value("state", "");
        was_up = st == "running" || st == "ready" || st == "unhealthy" || st == "starting";
    }
    if (what < 3) {
        auto r = d_.isoctl({"stop", app});
        // Dependents go down with it and stay down (markers); they are no longer required
        // to run until started again.
        op_stopped_.insert(app);
        auto after = app_map();
        for (auto& dep : dependents(app))
            if (dep != app && after.count(dep) && after[dep].value("state", "") == "stopped")
                cascade_stopped_.insert(dep);
        if (was_up) exact_exits_ = false;  // dependents' exits are not counted here
        return "isoctl stop " + app + " -> " + std::to_string(r.code);
    }
    if (what < 6) {
        auto r = d_.isoctl({"start", app});
        mark_started_with_prerequisites(app);
        exact_exits_ = false;
        return "isoctl start " + app + " -> " + std::to_string(r.code);
    }
    if (what < 8) {
        auto r = d_.isoctl({"restart", app});
        mark_started_with_prerequisites(app);
        exact_exits_ = false;  // joined apps may follow their peer
        return "isoctl restart " + app + " -> " + std::to_string(r.code);
    }
    // A signal the app handles by exiting (SIGTERM to the main process): an exit the
    // operator caused but did not ask the supervisor for, so it restarts and counts.
    if (!was_up || !before[app].contains("pid") || !before[app]["pid"].is_number()) return "isoctl kill: " + app + " not up";
    auto r = d_.isoctl({"kill", "--signal", "SIGKILL", app});
    if (r.code == 0) {
        note_exit_expected(app);
        ++app_kills_;
    }
    return "isoctl kill --signal SIGKILL " + app + " -> " + std::to_string(r.code);
}

std::string Soak::step_reload() {
    std::string desc;
    exact_exits_ = false;
    if (!broken_.empty() && rand_int(0, 1) == 0) {
        // Fix the broken file.
        AppDef& a = defs_.count(broken_) ? defs_[broken_] : pool_[broken_];
        write(a);
        desc = "fix the broken file of " + broken_;
        broken_.clear();
    } else {
        int what = rand_int(0, 3);
        std::vector<std::string> dyn_defined, dyn_free;
        for (auto& [n, _] : pool_)
            if (n.rfind("dyn", 0) == 0) (defs_.count(n) ? dyn_defined : dyn_free).push_back(n);
        if (what == 0 && !dyn_free.empty()) {
            auto n = pick(dyn_free);
            defs_[n] = pool_[n];
            write(defs_[n]);
            desc = "add " + n;
        } else if (what == 1 && !dyn_defined.empty()) {
            auto n = pick(dyn_defined);
            if (n == broken_) broken_.clear();
            defs_.erase(n);
            op_stopped_.erase(n);
            cascade_stopped_.erase(n);
            d_.remove_app(n);
            desc = "remove " + n;
        } else if (what == 2 && broken_.empty() && !dyn_defined.empty()) {
            auto n = pick(dyn_defined);
            broken_ = n;
            write_file(d_.apps_dir() + "/" + n + ".json", "{\"command\": [\"sh\", \"-c\"], \"restart\": {\"policy\": 7}");
            desc = "break the file of " + n;
        } else {
            std::vector<std::string> names;
            for (auto& [n, _] : defs_)
                if (n != broken_) names.push_back(n);
            auto n = pick(names);
            ++defs_[n].generation;
            pool_[n] = defs_[n];
            redefined_.insert(n);
            write(defs_[n]);
            desc = "change " + n + " (generation " + std::to_string(defs_[n].generation) + ")";
        }
    }
    auto r = d_.isoctl({"reload"});
    return "reload: " + desc + " -> " + std::to_string(r.code);
}

std::string Soak::step_daemon_down_app_kill() {
    auto apps = app_map();
    std::vector<std::string> candidates;
    for (auto& n : running_apps(apps))
        if (defs_.count(n) && n != broken_ && !defs_[n].userns) candidates.push_back(n);
    kill_daemon();
    ++daemon_kills_;
    ++kills_by_kind_["outside SIGKILL, then an app killed while no daemon runs"];
    std::string desc = "SIGKILL the daemon, ";
    if (!candidates.empty()) {
        std::string app = pick(candidates);
        pid_t pid = apps[app]["pid"].get<pid_t>();
        ::kill(pid, SIGKILL);
        ++app_kills_;
        // Its init records the exit; the next daemon must report it, once.
        desc += "SIGKILL app " + app + " while no daemon runs";
        note_exit_expected(app);
    }
    measure_recovery_ = true;
    if (!start_daemon()) fail("a new daemon died on its way up (no crash point was set)");
    return desc + ", new daemon";
}

std::string Soak::step_daemon_kill(long step) {
    (void)step;
    exact_exits_ = false;
    ++daemon_kills_;
    // crash point, outside kill, crash point, an app killed while no daemon runs
    static const int kinds[] = {0, 1, 0, 2};
    int kind = kinds[kill_kind_cycle_++ % 4];
    if (kind == 2) {
        exact_exits_ = true;
        --daemon_kills_;
        return step_daemon_down_app_kill();
    }
    if (kind == 1) {
        // An outside SIGKILL a random moment after an operation was asked for.
        std::vector<std::string> names;
        for (auto& [n, _] : defs_)
            if (n != broken_) names.push_back(n);
        std::string app = pick(names);
        int op = rand_int(0, 2);
        std::vector<std::string> argv = {build_dir() + "/isoctl", "--socket", d_.socket()};
        if (op == 0) argv.insert(argv.end(), {"restart", app});
        if (op == 1) argv.insert(argv.end(), {"reload"});
        if (op == 2) argv.insert(argv.end(), {"restart", "dir"});
        // Whether the request took effect before the kill is not known: the stop
        // markers, the daemon's record of the operator's intent, say.
        if (op != 1) uncertain_ = with_prerequisites(op == 2 ? "dir" : app);
        pid_t c = spawn_logged(argv, d_.dir() + "/isoctl-async.log");
        int delay = rand_int(0, 400);
        std::this_thread::sleep_for(std::chrono::milliseconds(delay));
        kill_daemon();
        ::waitpid(c, nullptr, 0);
        ++kills_by_kind_["outside SIGKILL after an operation"];
        measure_recovery_ = true;
        if (!start_daemon()) fail("a new daemon died on its way up (no crash point was set)");
        return "SIGKILL the daemon " + std::to_string(delay) + " ms after '" + argv[3] +
               (argv.size() > 4 ? " " + argv[4] : "") + "', new daemon";
    }
    // A crash point: the next daemon dies there.
    std::string point = kCrashPoints[crash_cycle_++ % kCrashPoints.size()];
    // Adoption passes the point once per running app: any of the first three.
    int nth = point == "adopt.between-apps" ? rand_int(1, 3) : 1;
    std::string armed = point + ":" + std::to_string(nth);
    kill_daemon();
    std::string desc = "restart the daemon with ISOLATED_CRASH_AT=" + armed;
    bool up = start_daemon(armed);
    if (up) {
        // The operation that passes the point.
        std::vector<std::string> argv = {build_dir() + "/isoctl", "--socket", d_.socket()};
        std::string target;
        if (point.rfind("launch.", 0) == 0) {
            target = rand_int(0, 1) ? "dir" : "db";
            argv.insert(argv.end(), {"restart", target});
        } else if (point.rfind("stop.", 0) == 0) {
            // A running app, so that the restart passes its stop.
            std::vector<std::string> up;
            auto apps = app_map();
            for (auto& n : running_apps(apps))
                if (defs_.count(n) && n != broken_) up.push_back(n);
            target = up.empty() ? "dir" : pick(up);
            argv.insert(argv.end(), {"restart", target});
        } else if (point == "reload.between-apps") {
            std::vector<std::string> names;
            for (auto& [n, _] : defs_)
                if (n != broken_ && n != "side" && n != "userns") names.push_back(n);
            for (int i = 0; i < 2 && !names.empty(); ++i) {
                auto n = pick(names);
                ++defs_[n].generation;
                pool_[n] = defs_[n];
                redefined_.insert(n);
                write(defs_[n]);
            }
            argv.insert(argv.end(), {"reload"});
        } else {
            // adopt.between-apps is passed by the start itself; a restart of the daemon
            // passes it again.
            kill_daemon();
            start_daemon(armed);
            argv.clear();
        }
        if (!target.empty()) uncertain_ = with_prerequisites(target);
        if (!argv.empty() && d_.running()) {
            pid_t c = spawn_logged(argv, d_.dir() + "/isoctl-async.log");
            wait_daemon_death(std::chrono::seconds(15));
            ::kill(c, SIGKILL);
            ::waitpid(c, nullptr, 0);
        }
        desc += argv.empty() ? "" : ", then '" + argv[3] + (argv.size() > 4 ? " " + argv[4] : "") + "'";
    }
    // The log is one file over the whole run: count only this daemon's line.
    static std::map<std::string, size_t> seen_lines;
    size_t lines = 0;
    {
        std::string log = d_.daemon_log();
        std::string needle = "crash point " + point + " reached";
        for (size_t p = log.find(needle); p != std::string::npos; p = log.find(needle, p + 1)) ++lines;
    }
    const bool reached = lines > seen_lines[point];
    seen_lines[point] = lines;
    if (d_.running()) {
        // Not reached (the operation took another path): an outside kill instead.
        kill_daemon();
        desc += " (not reached; outside SIGKILL)";
        ++kills_by_kind_["outside SIGKILL (crash point not reached)"];
    } else if (reached) {
        ++crash_reached_[point];
        ++kills_by_kind_["crash point " + point];
        desc += " (died there)";
    } else {
        fail("the daemon died with ISOLATED_CRASH_AT=" + armed + " but not at that point");
    }
    measure_recovery_ = true;
    if (!start_daemon()) fail("a new daemon died on its way up (no crash point was set)");
    return desc + ", new daemon";
}

std::string Soak::do_step(long step) {
    expect_exits_.clear();
    exact_exits_ = true;
    if (opt.kill_every > 0 && step % opt.kill_every == 0) return step_daemon_kill(step);
    int r = rand_int(0, 99);
    if (r < 22) return step_app_kill();
    if (r < 36) return step_app_exit();
    if (r < 42) return step_oom();
    if (r < 50) return step_liveness();
    if (r < 78) return step_operator();
    return step_reload();
}

// ---- invariants -----------------------------------------------------------------------

void Soak::check_events(const json& events) {
    // Exactly once: per app, an exit follows an instance that was up (adopted or started)
    // in this daemon, or is the first word of this daemon about an instance that ended
    // while none ran; and no exit (its time and status) is told twice, by any daemon.
    std::map<std::string, int> exits;
    for (const auto& e : events) {
        std::string app = e.value("app", ""), type = e.value("type", "");
        if (app.empty()) continue;
        ++event_types_[type];
        if (type == "exit") {
            ++exits[app];
            if (last_kind_[app] == "exit") fail("app " + app + ": two exits in a row without a start in between");
            last_kind_[app] = "exit";
            std::string key = e["exit"].dump();
            if (!exit_keys_[app].insert(key).second) fail("app " + app + ": the exit " + key + " was reported twice");
        } else if (type == "adopt" || (type == "state" && e.value("state", "") == "running") ||
                   (type == "state" && e.value("state", "") == "ready")) {
            last_kind_[app] = "up";
        }
    }
    if (!exact_exits_) return;
    for (auto& [app, n] : expect_exits_) {
        if (!defs_.count(app)) continue;
        if (exits[app] != n)
            fail("app " + app + ": " + std::to_string(n) + " exit(s) made, " + std::to_string(exits[app]) +
                 " reported (events)");
    }
    for (auto& [app, n] : exits)
        if (!expect_exits_.count(app) && !closure_of_stopped().count(app)) {
            // An exit nobody made: only joined apps following their peer and
            // dependents may have one.
            bool follower = false;
            for (auto& [made, _] : expect_exits_)
                for (auto& dep : dependents(made))
                    if (dep == app) follower = true;
            if (!follower) fail("app " + app + ": " + std::to_string(n) + " exit(s) reported that no step made");
        }
}

void Soak::settle_and_check(long step) {
    (void)step;
    if (!d_.running()) fail("the daemon is not running");
    // Settle: every app that must run is up (or in backoff... and then up), every app the
    // operator stopped is stopped, nobody is between states.
    std::map<std::string, json> apps;
    std::string why;
    auto want = must_run();
    auto settled = [&] {
        apps = app_map();
        if (apps.empty() && !defs_.empty()) return why = "GET /v1/apps failed", false;
        for (auto& name : want) {
            if (name == broken_ && !apps.count(name)) continue;
            if (!apps.count(name)) return why = name + " is not listed", false;
            std::string st = apps[name].value("state", "");
            if (st != "running" && st != "ready") return why = name + " is " + st + ": " + apps[name].value("message", ""), false;
        }
        for (auto& name : op_stopped_) {
            if (!apps.count(name)) continue;
            std::string st = apps[name].value("state", "");
            // A daemon that starts while the file of an app without an instance is
            // broken never accepted it: listed as failed (its file rejected), not run.
            if (st != "stopped" && !(name == broken_ && st == "failed"))
                return why = name + " (stopped by the operator) is " + st, false;
        }
        // The exits the step made are seen (the daemon notices an exit a moment later).
        if (exact_exits_)
            for (auto& [name, n] : expect_exits_)
                if (apps.count(name) && restarts_before_.count(name) && !redefined_.count(name) &&
                    apps[name].value("restarts", 0) < restarts_before_[name] + n)
                    return why = name + ": its exit is not counted in restarts", false;
        auto down = closure_of_stopped();
        for (auto& [name, a] : apps) {
            std::string st = a.value("state", "");
            // An app whose dependency the operator stopped may wait for it.
            if (st == "starting" && down.count(name) && !(a.contains("initPid") && a["initPid"].is_number()))
                continue;
            if (st == "starting" || st == "stopping") return why = name + " is " + st, false;
        }
        return true;
    };
    bool ok = wait_until(settled, std::chrono::seconds(30));
    if (measure_recovery_) {
        measure_recovery_ = false;
        if (ok)
            recovery_ms_.push_back(
                std::chrono::duration<double, std::milli>(Clock::now() - daemon_started_).count());
    }
    if (!ok) fail("not settled within 30 s: " + why);
    // Operator-stopped apps must have no instance.
    for (auto& name : op_stopped_)
        if (apps.count(name) && apps[name].contains("initPid") && apps[name]["initPid"].is_number())
            fail(name + " was stopped by the operator but has an instance");
    // Apps not defined must not be running.
    for (auto& [name, a] : apps)
        if (!defs_.count(name) && a.contains("initPid") && a["initPid"].is_number())
            fail(name + " runs, but no app file defines it");

    // Restart counts: each restart the daemon made for an exit the step made (only
    // grows, unless a reload redefined the app).
    for (auto& [name, a] : apps) {
        int r = a.value("restarts", 0);
        // A broken file's app that a new daemon never accepted starts its count over.
        if (name == broken_) continue;
        if (restarts_before_.count(name) && !redefined_.count(name) && r < restarts_before_[name])
            fail(name + ": restarts went down from " + std::to_string(restarts_before_[name]) + " to " +
                 std::to_string(r));
        if (exact_exits_ && expect_exits_.count(name) && restarts_before_.count(name) && !redefined_.count(name) &&
            r != restarts_before_[name] + expect_exits_[name])
            fail(name + ": " + std::to_string(expect_exits_[name]) + " exit(s) made, restarts went from " +
                 std::to_string(restarts_before_[name]) + " to " + std::to_string(r));
    }
    redefined_.clear();

    check_events(events_since_last());
    // The kernel tears a network namespace (and its veth) down a moment after its last
    // process is gone: a leak is what is still there after a grace period.
    std::string problem;
    bool clean = wait_until(
        [&] {
            try {
                check_leaks(app_map());
                return true;
            } catch (const Leak& l) {
                problem = l.what;
                return false;
            }
        },
        std::chrono::seconds(10));
    if (!clean) leak(problem);
    restarts_before_.clear();
    for (auto& [name, a] : apps) restarts_before_[name] = a.value("restarts", 0);
}

void Soak::check_leaks(const std::map<std::string, json>& apps) {
    std::set<std::string> running;  // apps with an instance per the API
    std::map<std::string, pid_t> init_of;
    for (auto& [name, a] : apps)
        if (a.contains("initPid") && a["initPid"].is_number()) {
            running.insert(name);
            init_of[name] = a["initPid"].get<pid_t>();
        }

    // At most one instance: the inits of this test (the init binary, a run dir of ours on
    // fd 5), by app.
    const std::string init_exe = build_dir() + "/isolated-init";
    const std::string run_apps = d_.run_dir() + "/apps/";
    std::map<std::string, std::vector<pid_t>> inits;
    const pid_t daemon = d_.pid();
    std::vector<pid_t> zombies;
    for (pid_t p : all_pids()) {
        char state = 0;
        pid_t ppid = 0;
        if (!proc_stat(p, state, ppid)) continue;
        std::string exe = read_link("/proc/" + std::to_string(p) + "/exe");
        bool is_init = exe == init_exe || exe.rfind("/memfd:isolated-init", 0) == 0;
        if (state == 'Z' && (ppid == daemon || std::count_if(init_of.begin(), init_of.end(), [&](auto& kv) {
                                 return kv.second == ppid;
                             })))
            zombies.push_back(p);
        if (!is_init) continue;
        if (cmdline_of(p).find("--exec") != std::string::npos) continue;
        std::string fd5 = read_link("/proc/" + std::to_string(p) + "/fd/5");
        if (fd5.rfind(run_apps, 0) != 0) continue;
        inits[fd5.substr(run_apps.size())].push_back(p);
    }
    for (auto& [app, pids] : inits) {
        if (pids.size() > 1) throw Leak{"app " + app + " has " + std::to_string(pids.size()) + " inits (instances)"};
        if (!running.count(app)) throw Leak{"app " + app + " has an init (pid " + std::to_string(pids[0]) + ") but no instance per the API"};
        if (init_of[app] != pids[0]) throw Leak{"app " + app + ": init pid " + std::to_string(pids[0]) + ", the API says " + std::to_string(init_of[app])};
    }
    if (!zombies.empty()) {
        std::this_thread::sleep_for(std::chrono::milliseconds(1000));
        for (pid_t z : zombies) {
            char state = 0;
            pid_t ppid = 0;
            if (proc_stat(z, state, ppid) && state == 'Z') throw Leak{"zombie process " + std::to_string(z) + " (parent " + std::to_string(ppid) + ")"};
        }
    }

    // Cgroups, every hierarchy: only apps with an instance have one.
    for (auto& hier : fs::directory_iterator("/sys/fs/cgroup")) {
        fs::path root = hier.path() / d_.cgroup_root();
        std::error_code ec;
        if (!fs::is_directory(root, ec)) continue;
        for (auto& c : fs::directory_iterator(root, ec)) {
            if (!c.is_directory()) continue;
            std::string name = c.path().filename();
            if (!running.count(name)) throw Leak{"cgroup " + c.path().string() + " left for an app without an instance"};
        }
    }

    // Kept pod sandboxes (issue 19): the network namespaces bound under <run>/netns/.
    // One is legitimate only for a defined bridged or "none" app that runs or will run
    // again (backoff, starting): for a stopped, failed or removed app it is a leak.
    std::set<std::string> may_keep, kept;
    for (auto& [name, a] : apps) {
        const std::string state = a.value("state", "");
        if (defs_.count(name) && (defs_[name].bridged() || defs_[name].network == "none") && state != "stopped" &&
            state != "failed")
            may_keep.insert(name);
    }
    {
        std::error_code ec;
        for (auto& e : fs::directory_iterator(d_.run_dir() + "/netns", ec)) kept.insert(e.path().filename());
        for (auto& e : fs::directory_iterator(d_.run_dir() + "/apps", ec))
            if (fs::exists(e.path() / "sandbox.json")) kept.insert(e.path().filename());
    }
    for (auto& name : kept)
        if (!may_keep.count(name))
            throw Leak{"kept sandbox of " + name + " (state " +
                       (apps.count(name) ? apps.at(name).value("state", "?") : std::string("removed")) + ")"};
    // What has a veth and forwards: the running apps and those between two instances.
    std::set<std::string> holding = running;
    holding.insert(kept.begin(), kept.end());

    // Veths and bridge ports in the daemon's netns: one per bridged app holding one.
    size_t bridged_running = 0;
    std::map<std::string, int> forwards;  // expected map elements
    size_t expected_ports = 0;
    for (auto& name : holding)
        if (defs_.count(name) && defs_[name].bridged()) {
            ++bridged_running;
            expected_ports += defs_[name].ports.size();
        }
    auto links = d_.in_netns({"ip", "-o", "link", "show", "type", "veth"});
    size_t veths = 0, ports = 0;
    {
        std::istringstream in(links.out);
        for (std::string line; std::getline(in, line);) {
            ++veths;
            if (line.find("master ") != std::string::npos) ++ports;
        }
    }
    if (veths != bridged_running)
        throw Leak{std::to_string(veths) + " veths in the daemon's netns, " + std::to_string(bridged_running) +
             " bridged apps run:\n" + links.out};
    if (ports != bridged_running)
        throw Leak{std::to_string(ports) + " bridge ports, " + std::to_string(bridged_running) + " bridged apps run"};

    // nft: the forwards' map elements are those of the running apps, the rules constant.
    auto nft = d_.in_netns({"nft", "-j", "list", "ruleset"});
    size_t elems = 0, rules = 0;
    try {
        auto doc = json::parse(nft.out);
        for (auto& item : doc["nftables"]) {
            if (item.contains("map") && item["map"].contains("elem")) elems += item["map"]["elem"].size();
            if (item.contains("set") && item["set"].contains("elem")) elems += item["set"]["elem"].size();
            if (item.contains("rule")) ++rules;
        }
    } catch (...) {
        throw Leak{"nft -j list ruleset is not JSON: " + nft.out + nft.err};
    }
    static size_t per_port = 0, baseline_rules = 0;
    if (expected_ports > 0 && per_port == 0 && elems % expected_ports == 0) per_port = elems / expected_ports;
    if (per_port && elems != per_port * expected_ports)
        throw Leak{std::to_string(elems) + " nft map elements, " + std::to_string(per_port * expected_ports) +
             " expected for the running apps' " + std::to_string(expected_ports) + " forwards"};
    if (baseline_rules == 0) baseline_rules = rules;
    if (rules != baseline_rules) throw Leak{std::to_string(rules) + " nft rules, " + std::to_string(baseline_rules) + " at start"};

    // Address leases: the defined bridged apps (accepted), no more.
    try {
        auto leases = json::parse(slurp(d_.state_dir() + "/leases.json"));
        for (auto& [app, _] : leases["leases"].items())
            if (!defs_.count(app) || !defs_[app].bridged()) {
                if (app == broken_) continue;
                throw Leak{"address lease of " + app + ", which is not a defined bridged app"};
            }
    } catch (const Violation&) {
        throw;
    } catch (...) {
        throw Leak{"state/leases.json is not readable JSON"};
    }

    // Mounts under the test dir: the daemon's netns file, and the kept sandboxes'
    // directory with the legitimate ones in it.
    {
        long n = 0;
        std::string lines;
        const std::string kept_dir = d_.run_dir() + "/netns";
        for (const auto& m : mounts_under(d_.dir())) {
            if (m == d_.dir() + "/netns" || m == kept_dir) continue;
            if (m.rfind(kept_dir + "/", 0) == 0 && may_keep.count(m.substr(kept_dir.size() + 1))) continue;
            ++n, lines += m + "\n";
        }
        if (n > 0) throw Leak{std::to_string(n) + " mounts left under the test dir:\n" + lines};
    }

    // Network namespaces held by the apps' processes: one per running bridged or
    // "none" app (joined apps share their peer's; host ones have the daemon's).
    {
        std::set<std::string> ns;
        std::string daemon_ns = read_link("/proc/" + std::to_string(daemon) + "/ns/net");
        size_t want = 0;
        for (auto& name : running)
            if (defs_.count(name) && (defs_[name].bridged() || defs_[name].network == "none")) ++want;
        for (auto& hier : {std::string("/sys/fs/cgroup/pids/"), std::string("/sys/fs/cgroup/unified/"),
                           std::string("/sys/fs/cgroup/")}) {
            std::string root = hier + d_.cgroup_root();
            std::error_code ec;
            if (!fs::is_directory(root, ec)) continue;
            for (auto it = fs::recursive_directory_iterator(root, ec); it != fs::recursive_directory_iterator(); it.increment(ec)) {
                if (it->path().filename() != "cgroup.procs") continue;
                std::istringstream procs(slurp(it->path()));
                for (pid_t p; procs >> p;) {
                    std::string n = read_link("/proc/" + std::to_string(p) + "/ns/net");
                    if (!n.empty() && n != daemon_ns) ns.insert(n);
                }
            }
            break;
        }
        if (ns.size() > want)
            throw Leak{std::to_string(ns.size()) + " network namespaces held by app processes, " + std::to_string(want) +
                 " running apps have one of their own"};
    }

    // Overlay upper dirs and run-dir records: only apps that exist / run.
    {
        std::error_code ec;
        for (auto& e : fs::directory_iterator(d_.state_dir() + "/overlay", ec)) {
            std::string name = e.path().filename();
            if (!defs_.count(name) && name != broken_) throw Leak{"overlay dir " + e.path().string() + " of an app that does not exist"};
        }
        for (auto& e : fs::directory_iterator(d_.run_dir() + "/apps", ec)) {
            std::string name = e.path().filename();
            if (fs::exists(e.path() / "instance.json") && !running.count(name))
                throw Leak{"instance record " + (e.path() / "instance.json").string() + " of an app without an instance"};
        }
    }

    // The daemon's fds and threads.
    long fds = count_dir("/proc/" + std::to_string(daemon) + "/fd");
    long threads = count_dir("/proc/" + std::to_string(daemon) + "/task");
    long rss = rss_kib(daemon);
    max_threads_ = std::max(max_threads_, threads);
    if (threads > 16) throw Leak{"the daemon has " + std::to_string(threads) + " threads"};
    if (fds > 64 + 8 * static_cast<long>(defs_.size()))
        throw Leak{"the daemon has " + std::to_string(fds) + " open fds"};
    if (step_ > 30) {
        rss_.push_back({static_cast<double>(step_), static_cast<double>(rss)});
        fds_.push_back({static_cast<double>(step_), static_cast<double>(fds)});
    }
}

bool Soak::summary() {
    double secs = std::chrono::duration<double>(Clock::now() - t0_).count();
    std::ostringstream o;
    o << "\n==== isolated-soak summary (seed " << opt.seed << ") ====\n";
    o << "steps: " << steps_done_ << " in " << static_cast<long>(secs) << " s ("
      << (secs > 0 ? steps_done_ / secs : 0) << " steps/s)\n";
    o << "daemon kills: " << daemon_kills_ << "\n";
    for (auto& [k, n] : kills_by_kind_) o << "  " << n << "  " << k << "\n";
    o << "app kills (SIGKILL, exit codes, OOM, liveness, isoctl kill): " << app_kills_ << "\n";
    o << "app events seen:";
    for (auto& [t, n] : event_types_) o << " " << t << "=" << n;
    o << "\n";
    o << "violations: " << violations_ << "\n";
    o << "leaks: " << leaks_ << "\n";
    char b[256];
    std::snprintf(b, sizeof b, "daemon RSS slope: %+.1f KiB per 1000 steps; fd slope: %+.2f per 1000 steps (%zu samples)\n",
                  slope_per_1000(rss_), slope_per_1000(fds_), rss_.size());
    o << b;
    o << "daemon threads (max seen): " << max_threads_ << "\n";
    std::snprintf(b, sizeof b, "recovery (daemon start -> every expected app up), %zu samples: median %.0f ms, p99 %.0f ms\n",
                  recovery_ms_.size(), percentile(recovery_ms_, 0.5), percentile(recovery_ms_, 0.99));
    o << b;
    bool covered = true;
    o << "crash points reached:";
    for (auto& p : kCrashPoints) {
        o << " " << p << "=" << crash_reached_[p];
        if (crash_reached_[p] == 0) covered = false;
    }
    o << "\n";
    std::cout << o.str() << std::flush;
    if (opt.require_coverage && !covered) std::cout << "coverage: some crash point was never reached\n";
    return covered;
}

// ---- the run --------------------------------------------------------------------------

void Soak::run() {
    require_prerequisite(is_root(), "needs root");
    require_prerequisite(have_tool("nft") && have_tool("ip") && have_tool("curl"), "needs nft, ip and curl");
    require_prerequisite(have_tool("umoci") && have_tool("skopeo"), "the image app needs umoci and skopeo");
    make_tree();
    make_image();
    std::cout << "isolated-soak: seed " << opt.seed << ", " << opt.steps << " steps, at most " << opt.max_seconds
              << " s, a daemon kill every " << opt.kill_every << " steps; dir " << d_.dir() << std::endl;
    measure_recovery_ = false;
    if (!start_daemon()) fail("the first daemon did not start");
    load_image();
    step_desc_ = "start";
    settle_and_check(0);
    const auto deadline = t0_ + std::chrono::seconds(opt.max_seconds);
    for (step_ = 1; step_ <= opt.steps && Clock::now() < deadline; ++step_) {
        step_desc_ = "(choosing)";
        step_desc_ = do_step(step_);
        log("step " + std::to_string(step_) + ": " + step_desc_);
        if (opt.self_test && step_ == 3) {
            // A deliberate leak: a veth in the daemon's netns that no app owns. The
            // check must report it (the self-test passes only if it does).
            d_.in_netns({"ip", "link", "add", "soak-leak0", "type", "veth", "peer", "name", "soak-leak1"});
            step_desc_ += " + SELF-TEST: a veth pair added by hand";
        }
        settle_and_check(step_);
        ++steps_done_;
        if (step_ % 250 == 0) {
            // Progress, also with --quiet: a long run's figures so far.
            double secs = std::chrono::duration<double>(Clock::now() - t0_).count();
            char b[256];
            std::snprintf(b, sizeof b, "progress: step %ld, %ld daemon kills, %ld app kills, %.0f s (%.2f steps/s), %zu recoveries median %.0f ms",
                          step_, daemon_kills_, app_kills_, secs, step_ / secs, recovery_ms_.size(),
                          percentile(recovery_ms_, 0.5));
            std::cout << b << std::endl;
        }
    }
    // The end: a clean stop of the daemon stops every app, and nothing it bound under
    // its run dir (kept network namespaces, their directory) may stay.
    step_desc_ = "daemon stop at the end";
    if (d_.running()) {
        int code = d_.stop();
        if (code != 0) fail("the daemon's clean stop exited with " + std::to_string(code));
        auto left = mounts_under(d_.run_dir());
        if (!left.empty()) leak("mounts under the run dir after the daemon stopped: " + left.front());
    }
}

}  // namespace

TEST_CASE("soak", "[soak]") {
    Soak soak;
    std::string violation;
    try {
        soak.run();
    } catch (const Violation& v) {
        violation = v.what;
    }
    bool covered = soak.summary();
    if (opt.self_test) {
        // The self-test leaks a veth on purpose: the run passes only if that was caught.
        INFO("--self-test: the leaked veth pair must be reported as a violation");
        CHECK(violation.find("veths in the daemon's netns") != std::string::npos);
        return;
    }
    INFO(violation);
    CHECK(violation.empty());
    if (opt.require_coverage) CHECK(covered);
}

int main(int argc, char** argv) {
    std::vector<char*> catch_args{argv[0]};
    for (int i = 1; i < argc; ++i) {
        std::string a = argv[i];
        auto next = [&]() -> std::string {
            if (i + 1 >= argc) {
                std::cerr << "isolated-soak: " << a << " needs a value\n";
                std::exit(2);
            }
            return argv[++i];
        };
        if (a == "--seed") opt.seed = std::stoull(next());
        else if (a == "--steps") opt.steps = std::stol(next());
        else if (a == "--max-seconds") opt.max_seconds = std::stol(next());
        else if (a == "--kill-every") opt.kill_every = std::stoi(next());
        else if (a == "--require-coverage") opt.require_coverage = true;
        else if (a == "--self-test") opt.self_test = true;
        else if (a == "--quiet") opt.quiet = true;
        else if (a == "--") {
            for (++i; i < argc; ++i) catch_args.push_back(argv[i]);
        } else if (a == "--help" || a == "-h") {
            std::cout << "usage: isolated-soak [--seed N] [--steps N] [--max-seconds S] [--kill-every N]\n"
                         "                     [--require-coverage] [--self-test] [--quiet] [-- catch options]\n";
            return 0;
        } else {
            std::cerr << "isolated-soak: unknown option " << a << "\n";
            return 2;
        }
    }
    return Catch::Session().run(static_cast<int>(catch_args.size()), catch_args.data());
}
