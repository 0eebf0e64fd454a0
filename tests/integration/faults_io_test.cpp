// Faults from the outside world (issue 18, item 3): a full log dir, a full or
// read-only state dir, the fd limit reached, the wall clock jumping, and a storm of API
// requests while apps churn. Each case checks what an operator would expect
// (docs/DECISIONS.md, "Soak and fault injection") and puts the world back -- unmounts,
// limits, the clock -- through RAII guards, also when a check fails.
#include <fcntl.h>
#include <signal.h>
#include <sys/mount.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <atomic>
#include <catch2/catch.hpp>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <mutex>
#include <random>
#include <regex>
#include <set>
#include <sstream>
#include <thread>

#include "integration/harness.hpp"

using namespace isolated::test;
using namespace std::chrono_literals;
using nlohmann::json;

namespace {

void require_root() { require_prerequisite(is_root(), "integration tests need root (namespaces, cgroups)"); }

// A tmpfs of SIZE over DIR until the guard goes (lazily: an init may still hold a log
// file open on it; the mount goes with its last user).
class TmpfsGuard {
public:
    TmpfsGuard(std::string dir, const std::string& size) : dir_(std::move(dir)) {
        std::string opts = "size=" + size + ",mode=0755";
        REQUIRE(::mount("tmpfs", dir_.c_str(), "tmpfs", MS_NOSUID | MS_NODEV, opts.c_str()) == 0);
    }
    ~TmpfsGuard() { ::umount2(dir_.c_str(), MNT_DETACH); }
    TmpfsGuard(const TmpfsGuard&) = delete;
    TmpfsGuard& operator=(const TmpfsGuard&) = delete;

private:
    std::string dir_;
};

// Fills the file system of DIR with DIR/filler until at most LEAVE bytes are free.
void fill(const std::string& dir, std::size_t leave) {
    int fd = ::open((dir + "/filler").c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    REQUIRE(fd >= 0);
    std::string block(4096, 'f');
    for (;;) {
        auto space = std::filesystem::space(dir);
        if (space.available <= leave) break;
        std::size_t n = std::min<std::size_t>(block.size(), space.available - leave);
        if (::write(fd, block.data(), n) <= 0) break;
    }
    ::close(fd);
}

std::uint64_t usage_u64(const json& app, const char* key) {
    const auto& u = app["resources"]["usage"];
    return u.contains(key) && u[key].is_number() ? u[key].get<std::uint64_t>() : 0;
}

std::vector<std::string> lines_of(const std::string& path) {
    std::ifstream f(path);
    std::vector<std::string> out;
    for (std::string l; std::getline(f, l);) out.push_back(l);
    return out;
}

}  // namespace

TEST_CASE("faults: a full log dir drops log lines with a count, the app runs on and the log stays whole",
          "[integration][faults]") {
    require_root();
    Daemon d;
    TmpfsGuard tmpfs(d.log_dir(), "256k");
    // About 400 lines a second of 120 bytes as written; the app's log rotates at 32K
    // into 3 files, which fit the tmpfs once it has room again.
    const std::string pad(100, 'x');
    d.write_app("chatty", R"({"command": ["sh", "-c", "i=0; while true; do i=$((i+1)); echo seq=$i-)" + pad +
                              R"(; if [ $((i % 20)) = 0 ]; then sleep 0.05; fi; done; : )" + d.dir() +
                              R"("], "stop": {"timeout": "2s"}, "logs": {"maxSize": "32K", "maxFiles": 3}})");
    // Leave a few K that are not a whole number of records, so a write is cut short
    // when the disk fills under it.
    fill(d.log_dir(), 10000);
    d.start();
    d.wait_state("chatty", "ready");
    const auto pid = d.app("chatty")["pid"];

    // Lines are dropped and counted; the count keeps growing: the init keeps draining
    // the app's output, so the app never blocks on a full pipe.
    std::uint64_t first = 0;
    REQUIRE(wait_until([&] { return (first = usage_u64(d.app("chatty"), "logDroppedLines")) > 0; }, 20s));
    REQUIRE(wait_until([&] { return usage_u64(d.app("chatty"), "logDroppedLines") > first + 100; }, 20s));
    auto app = d.app("chatty");
    CHECK(app["state"] == "ready");
    CHECK(app["pid"] == pid);
    CHECK(app["restarts"] == 0);
    CHECK(usage_u64(app, "logDroppedBytes") >= usage_u64(app, "logDroppedLines") * 100);
    auto metrics = d.http("GET", "/v1/metrics").out;
    CHECK(metrics.find("isolated_app_log_dropped_lines_total{app=\"chatty\"") != std::string::npos);
    CHECK(metrics.find("isolated_app_log_dropped_bytes_total{app=\"chatty\"") != std::string::npos);

    // Space comes back: one record says what was lost, then the app's lines again, and
    // rotation works.
    std::filesystem::remove(d.log_dir() + "/filler");
    const std::string log = d.log_dir() + "/chatty.log";
    auto has_notice = [&] {
        for (const auto& f : {log, log + ".1", log + ".2"})
            for (const auto& l : lines_of(f))
                if (l.find(" stderr F isolated-init: dropped ") != std::string::npos) return true;
        return false;
    };
    REQUIRE(wait_until(has_notice, 20s));
    REQUIRE(wait_until([&] { return std::filesystem::exists(log + ".2"); }, 30s));
    CHECK(d.app("chatty")["pid"] == pid);

    // Every record is whole: no partial write left half a record glued to the next.
    const std::regex record(R"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}Z (stdout F seq=\d+-x{100}|stderr F isolated-init: dropped \d+ log lines \(\d+ bytes\) of this app's output: the log could not be written \(.+\)))");
    std::size_t records = 0, notices = 0;
    for (const auto& f : {log, log + ".1", log + ".2"})
        for (const auto& l : lines_of(f)) {
            INFO(f << ": " << l);
            CHECK(std::regex_match(l, record));
            ++records;
            notices += l.find("isolated-init: dropped") != std::string::npos;
        }
    CHECK(records > 100);
    CHECK(notices >= 1);
    auto logs = d.isoctl({"logs", "-n", "5", "chatty"});
    CHECK(logs.code == 0);
    CHECK(logs.out.find("seq=") != std::string::npos);
    CHECK(d.stop() == 0);
}

namespace {

// Retries every second or two, so a recovery shows without a long backoff.
const std::string kQuickRetry = R"(, "restart": {"backoff": {"initial": "500ms", "max": "2s"}})";

std::string last_exit_message(const json& app) {
    return app.contains("lastExit") && app["lastExit"].is_object() ? app["lastExit"].value("message", "") : "";
}

// Every file of DIR (not below), name -> content.
std::map<std::string, std::string> files_of(const std::string& dir) {
    std::map<std::string, std::string> out;
    for (const auto& e : std::filesystem::directory_iterator(dir))
        if (e.is_regular_file()) out[e.path().filename().string()] = read_file(e.path().string());
    return out;
}

// DIR made read-only in place by a read-only bind mount over it, until the guard goes.
class ReadOnlyGuard {
public:
    explicit ReadOnlyGuard(std::string dir) : dir_(std::move(dir)) {
        REQUIRE(::mount(dir_.c_str(), dir_.c_str(), nullptr, MS_BIND, nullptr) == 0);
        mounted_ = true;
        REQUIRE(::mount(nullptr, dir_.c_str(), nullptr, MS_REMOUNT | MS_BIND | MS_RDONLY, nullptr) == 0);
    }
    ~ReadOnlyGuard() { undo(); }
    void undo() {
        if (mounted_) ::umount2(dir_.c_str(), MNT_DETACH);
        mounted_ = false;
    }
    ReadOnlyGuard(const ReadOnlyGuard&) = delete;
    ReadOnlyGuard& operator=(const ReadOnlyGuard&) = delete;

private:
    std::string dir_;
    bool mounted_ = false;
};

}  // namespace

TEST_CASE("faults: a full state dir fails what must be saved with a clear error, corrupts nothing and recovers",
          "[integration][faults]") {
    require_root();
    Daemon d;
    TmpfsGuard tmpfs(d.state_dir(), "256k");
    d.write_app("steady", ticker(d));
    d.start();
    d.wait_state("steady", "ready");
    const auto pid = d.app("steady")["pid"];
    const auto before = files_of(d.state_dir());
    REQUIRE(before.count("leases.json"));
    REQUIRE(before.at("leases.json").find("\"steady\"") != std::string::npos);

    fill(d.state_dir(), 0);
    // A new bridged app needs a lease, which must be on disk before it is handed out:
    // its start fails with the reason, and it is retried (backoff).
    d.write_app("newbie", ticker(d, kQuickRetry));
    CHECK(d.http("POST", "/v1/reload").code == 200);
    REQUIRE(wait_until([&] { return last_exit_message(d.app("newbie")).find("No space left on device") != std::string::npos; },
                       20s));
    auto newbie = d.app("newbie");
    CHECK(newbie["state"] != "running");
    // The rest runs on and the daemon answers; the old file is whole, no temp left.
    CHECK(d.http("GET", "/v1/health").code == 200);
    CHECK(d.app("steady")["state"] == "ready");
    CHECK(d.app("steady")["pid"] == pid);
    auto during = files_of(d.state_dir());
    CHECK(during.at("leases.json") == before.at("leases.json"));
    CHECK(!during.count("leases.json.tmp"));

    // Space comes back: the next retry saves the lease and the app runs.
    std::filesystem::remove(d.state_dir() + "/filler");
    d.wait_state("newbie", "ready", 60s);
    auto leases = json::parse(read_file(d.state_dir() + "/leases.json"));
    CHECK(leases["leases"].contains("newbie"));
    CHECK(leases["leases"].contains("steady"));
    CHECK(d.app("steady")["pid"] == pid);
    CHECK(d.stop() == 0);
}

TEST_CASE("faults: a read-only state dir degrades the daemon instead of stopping it, at run time and at start",
          "[integration][faults]") {
    require_root();
    Daemon d;
    d.write_app("steady", ticker(d));
    d.start();
    d.wait_state("steady", "ready");
    const auto pid = d.app("steady")["pid"];
    const auto leases_before = read_file(d.state_dir() + "/leases.json");

    ReadOnlyGuard ro(d.state_dir());
    // While it runs: what needs a new lease fails with the reason; the rest runs on.
    d.write_app("newbie", ticker(d, kQuickRetry));
    CHECK(d.http("POST", "/v1/reload").code == 200);
    REQUIRE(wait_until([&] { return last_exit_message(d.app("newbie")).find("Read-only file system") != std::string::npos; },
                       20s));
    CHECK(d.http("GET", "/v1/health").code == 200);
    CHECK(d.app("steady")["pid"] == pid);

    // A daemon started on it (here after a crash: the apps ran on) starts, says what
    // it cannot save, and adopts the apps.
    d.kill9();
    d.start();
    CHECK(d.daemon_log().find("is read-only") != std::string::npos);
    d.wait_state("steady", "ready");
    CHECK(d.app("steady")["pid"] == pid);
    REQUIRE(wait_until([&] { return last_exit_message(d.app("newbie")).find("Read-only file system") != std::string::npos; },
                       20s));
    CHECK(read_file(d.state_dir() + "/leases.json") == leases_before);

    // Writable again: the next retry of the new app works.
    ro.undo();
    d.wait_state("newbie", "ready", 60s);
    CHECK(d.app("steady")["pid"] == pid);
    CHECK(d.stop() == 0);
}
