// Crash safety of the files isolated reads back (issue 18, item 4): each is written by
// replace (temp in the same directory + rename, fsync'd where it must survive a power
// cut), so a reader sees the old or the new file -- but a disk fault, a host crash
// before the data reached the disk, or a hand edit can still leave one cut short. Here
// each kind, as a real daemon wrote it, is cut at byte offsets and a new daemon is
// started on the same dirs while the apps run on: it must start and answer, warn about
// the damaged file, never adopt a wrong process, and end with every app running
// exactly once.
//
// Runtime: each offset is one daemon start plus the apps' adoption or restart, about
// 0.15 s here. The leases file and the exit record (~100 bytes) are swept at every
// offset; an instance record is ~1.2 KiB (the app's spec), so the sweep takes every
// offset of its first kHead bytes (the framing, the ids and pids adoption checks, the
// start of the spec), then kStrided offsets evenly spread over the rest, and the last
// two (the closing brace, the final newline): ~600 starts, about 1.5 minutes for the
// four cases on an idle 2-core machine (every offset: 3 minutes).
// ISOLATED_CRASHSAFE_EVERY_OFFSET=1 takes every offset (the long variant).
#include <signal.h>
#include <sys/types.h>

#include <catch2/catch.hpp>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>

#include "integration/harness.hpp"

using namespace isolated::test;
using namespace std::chrono_literals;
using nlohmann::json;

namespace {

constexpr std::size_t kHead = 512;
constexpr std::size_t kStrided = 64;

void require_root() { require_prerequisite(is_root(), "integration tests need root (namespaces, cgroups)"); }

// A shell app whose script names the test dir and the app: instances() finds it by that.
std::string app_json(const Daemon& d, const std::string& name) {
    return R"({"command": ["sh", "-c", "echo started; while true; do sleep 0.2; done; : )" + d.dir() + " " + name +
           R"("], "stop": {"timeout": "5s"}, "restart": {"policy": "always", "backoff": {"initial": "100ms"}}})";
}

std::string slurp(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    std::ostringstream s;
    s << in.rdbuf();
    return s.str();
}

pid_t parent_of(pid_t pid) {
    std::string stat = slurp("/proc/" + std::to_string(pid) + "/stat");
    auto close = stat.rfind(')');
    if (close == std::string::npos) return 0;
    std::istringstream rest(stat.substr(close + 2));
    std::string state;
    pid_t ppid = 0;
    rest >> state >> ppid;
    return ppid;
}

// The app's running instances: processes whose command line carries its marker, less
// a fork of one that has not exec'd `sleep` yet (its parent carries the marker too).
std::vector<pid_t> instances(const Daemon& d, const std::string& name) {
    const std::string marker = ": " + d.dir() + " " + name + std::string(1, '\0');
    std::set<pid_t> found;
    for (const auto& e : std::filesystem::directory_iterator("/proc")) {
        const std::string n = e.path().filename();
        if (n.find_first_not_of("0123456789") != std::string::npos) continue;
        if (slurp(e.path().string() + "/cmdline").find(marker) != std::string::npos) found.insert(std::stoi(n));
    }
    std::vector<pid_t> out;
    for (pid_t p : found)
        if (!found.count(parent_of(p))) out.push_back(p);
    return out;
}

std::vector<std::size_t> offsets(std::size_t size) {
    std::set<std::size_t> out;
    const char* every = std::getenv("ISOLATED_CRASHSAFE_EVERY_OFFSET");
    if (every && std::string(every) == "1") {
        for (std::size_t o = 0; o < size; ++o) out.insert(o);
    } else {
        for (std::size_t o = 0; o < std::min(size, kHead); ++o) out.insert(o);
        if (size > kHead) {
            const std::size_t step = std::max<std::size_t>(1, (size - kHead) / kStrided);
            for (std::size_t o = kHead; o < size; o += step) out.insert(o);
            out.insert(size - 1);
            if (size >= 2) out.insert(size - 2);
        }
    }
    return {out.begin(), out.end()};
}

// Cuts the file at `path` to its first `offset` bytes (never past its end), in place:
// what a crash could leave. Returns what is left.
std::string cut(const std::string& path, std::size_t offset) {
    std::string full = slurp(path);
    REQUIRE_FALSE(full.empty());
    std::string left = full.substr(0, std::min(offset, full.size() - 1));
    std::ofstream(path, std::ios::binary | std::ios::trunc) << left;
    return left;
}

void require_running_once(Daemon& d, const std::string& name) {
    d.wait_state(name, "ready");
    const int pid = d.app(name)["pid"];
    // A replaced instance may take a moment to be reaped by whoever inherited it.
    bool once = wait_until([&] { return instances(d, name) == std::vector<pid_t>{pid}; });
    INFO("instances of " << name << ": " << instances(d, name).size() << ", status pid " << pid);
    REQUIRE(once);
}

void start_and_check_api(Daemon& d) {
    d.start();
    auto r = d.http("GET", "/v1/apps");
    INFO(r.out);
    REQUIRE(r.code == 200);
    auto body = json::parse(r.out, nullptr, false);
    REQUIRE(body.is_object());
    REQUIRE(body["apps"].is_array());
}

}  // namespace

TEST_CASE("crashsafe: an instance record cut at any offset is never adopted, the app runs once",
          "[integration][crashsafe]") {
    require_root();
    Daemon d;
    d.write_app("a", app_json(d, "a"));
    d.write_app("b", app_json(d, "b"));
    d.start();
    d.wait_state("a", "ready");
    d.wait_state("b", "ready");
    const std::string record = d.run_dir() + "/apps/a/instance.json";
    const auto sizes = slurp(record).size();
    for (std::size_t offset : offsets(sizes)) {
        INFO("instance.json of " << sizes << " bytes cut at offset " << offset);
        const int a_pid = d.app("a")["pid"], b_pid = d.app("b")["pid"];
        d.kill9();
        std::string left = cut(record, offset);
        // Only the final newline gone: the record is whole, and adopting is right.
        const bool whole = json::accept(left);
        const auto log_at = d.daemon_log().size();
        start_and_check_api(d);
        require_running_once(d, "a");
        require_running_once(d, "b");
        const std::string log = d.daemon_log().substr(log_at);
        INFO("daemon log:\n" << log);
        REQUIRE(d.app("b")["pid"] == b_pid);  // its record is intact: adopted
        if (whole) {
            REQUIRE(d.app("a")["pid"] == a_pid);
        } else {
            REQUIRE(log.find("instance record " + record) != std::string::npos);
            REQUIRE(log.find("not adopted") != std::string::npos);
            // The instance the record described is gone (its cgroup was killed), not
            // running next to the new one.
            REQUIRE(d.app("a")["pid"] != a_pid);
            REQUIRE(wait_until([&] { return !process_alive(a_pid); }));
        }
    }
    CHECK(d.stop() == 0);
}

TEST_CASE("crashsafe: a leases file cut at any offset is set aside, running apps keep their addresses",
          "[integration][crashsafe]") {
    require_root();
    Daemon d;
    d.write_app("a", app_json(d, "a"));
    d.write_app("b", app_json(d, "b"));
    d.start();
    d.wait_state("a", "ready");
    d.wait_state("b", "ready");
    const std::string a_addr = d.app("a")["address"], b_addr = d.app("b")["address"];
    REQUIRE_FALSE(a_addr.empty());
    REQUIRE(a_addr != b_addr);
    const std::string leases = d.state_dir() + "/leases.json";
    const auto sizes = slurp(leases).size();
    for (std::size_t offset : offsets(sizes)) {
        INFO("leases.json of " << sizes << " bytes cut at offset " << offset);
        const int a_pid = d.app("a")["pid"], b_pid = d.app("b")["pid"];
        d.kill9();
        const bool whole = json::accept(cut(leases, offset));
        const auto log_at = d.daemon_log().size();
        start_and_check_api(d);
        require_running_once(d, "a");
        require_running_once(d, "b");
        const std::string log = d.daemon_log().substr(log_at);
        INFO("daemon log:\n" << log);
        if (!whole) REQUIRE(log.find("leases file \"" + leases + "\" is damaged") != std::string::npos);
        // Both adopted, with the addresses they have; and the leases written back hold
        // them, so no later start hands one to another app.
        REQUIRE(d.app("a")["pid"] == a_pid);
        REQUIRE(d.app("b")["pid"] == b_pid);
        REQUIRE(d.app("a")["address"] == a_addr);
        REQUIRE(d.app("b")["address"] == b_addr);
        json saved = json::parse(slurp(leases), nullptr, false);
        INFO(slurp(leases));
        REQUIRE(saved.is_object());
        REQUIRE(saved["leases"]["a"] == a_addr);
        REQUIRE(saved["leases"]["b"] == b_addr);
    }
    CHECK(d.stop() == 0);
}

TEST_CASE("crashsafe: an exit record cut at any offset is never read as another exit, the app restarts once",
          "[integration][crashsafe]") {
    require_root();
    Daemon d;
    d.write_app("a", app_json(d, "a"));
    d.start();
    d.wait_state("a", "ready");
    const std::string record = d.run_dir() + "/apps/a/exit";
    // The record exists only once the app ended while no daemon watched: each round
    // makes one, by killing the app's main process (its init records the exit and ends).
    auto exit_while_down = [&] {
        auto a = d.app("a");
        const int pid = a["pid"], init = a["initPid"];
        d.kill9();
        ::kill(pid, SIGKILL);
        REQUIRE(wait_until([&] { return !process_alive(pid) && !process_alive(init); }));
        REQUIRE(std::filesystem::exists(record));
        return pid;
    };
    exit_while_down();
    const auto sizes = slurp(record).size();
    start_and_check_api(d);
    require_running_once(d, "a");
    for (std::size_t offset : offsets(sizes)) {
        INFO("exit record of " << sizes << " bytes cut at offset " << offset);
        const int old_pid = exit_while_down();
        cut(record, offset);
        const auto log_at = d.daemon_log().size();
        start_and_check_api(d);
        require_running_once(d, "a");
        const std::string log = d.daemon_log().substr(log_at);
        INFO("daemon log:\n" << log);
        // Every cut lacks at least the final newline: never a whole record.
        REQUIRE(log.find("exit record " + record + " is damaged") != std::string::npos);
        REQUIRE(d.app("a")["pid"] != old_pid);
    }
    CHECK(d.stop() == 0);
}

TEST_CASE("crashsafe: a stop marker is read by its existence, so a cut one still keeps the app stopped",
          "[integration][crashsafe]") {
    require_root();
    Daemon d;
    d.write_app("a", app_json(d, "a"));
    d.start();
    d.wait_state("a", "ready");
    REQUIRE(d.isoctl({"stop", "a"}).code == 0);
    d.kill9();
    const std::string marker = d.run_dir() + "/apps/a/stopped";
    REQUIRE(std::filesystem::exists(marker));
    std::ofstream(marker, std::ios::trunc).close();
    start_and_check_api(d);
    CHECK(d.state("a") == "stopped");
    CHECK(instances(d, "a").empty());
    CHECK(d.stop() == 0);
}
