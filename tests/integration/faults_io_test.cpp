// Faults from the outside world (issue 18, item 3): a full log dir, a full or
// read-only state dir, the fd limit reached, the wall clock jumping, and a storm of API
// requests while apps churn. Each case checks what an operator would expect
// (docs/DECISIONS.md, "Soak and fault injection") and puts the world back -- unmounts,
// limits, the clock -- through RAII guards, also when a check fails.
#include <fcntl.h>
#include <sys/mount.h>
#include <sys/resource.h>
#include <sys/socket.h>
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
    // The same with "init": false, where a forked log writer does the init's part.
    d.write_app("bare", R"({"init": false, "command": ["sh", "-c", "i=0; while true; do i=$((i+1)); echo seq=$i-)" + pad +
                            R"(; if [ $((i % 20)) = 0 ]; then sleep 0.05; fi; done; : )" + d.dir() +
                            R"("], "stop": {"timeout": "2s"}, "logs": {"maxSize": "32K", "maxFiles": 3}})");
    // Leave a few K that are not a whole number of records, so a write is cut short
    // when the disk fills under it.
    fill(d.log_dir(), 10000);
    d.start();
    d.wait_state("chatty", "ready");
    d.wait_state("bare", "ready");
    const auto pid = d.app("chatty")["pid"], bare_pid = d.app("bare")["pid"];

    // Lines are dropped and counted; the count keeps growing: the init keeps draining
    // the app's output, so the app never blocks on a full pipe.
    std::uint64_t first = 0;
    REQUIRE(wait_until([&] { return (first = usage_u64(d.app("chatty"), "logDroppedLines")) > 0; }, 20s));
    REQUIRE(wait_until([&] { return usage_u64(d.app("chatty"), "logDroppedLines") > first + 100; }, 20s));
    REQUIRE(wait_until([&] { return usage_u64(d.app("bare"), "logDroppedLines") > 0; }, 20s));
    auto app = d.app("chatty");
    CHECK(app["state"] == "ready");
    CHECK(app["pid"] == pid);
    CHECK(app["restarts"] == 0);
    CHECK(usage_u64(app, "logDroppedBytes") >= usage_u64(app, "logDroppedLines") * 100);
    // The daemon's own log says so while it happens.
    CHECK(wait_until([&] { return d.daemon_log().find("[chatty] ") != std::string::npos &&
                                  d.daemon_log().find("bytes) of this instance dropped so far") != std::string::npos; },
                     15s));
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
    CHECK(d.app("bare")["pid"] == bare_pid);

    // Every record is whole: no partial write left half a record glued to the next.
    const std::regex record(R"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}Z (stdout F seq=\d+-x{100}|stderr F isolated-init: dropped \d+ log lines \(\d+ bytes\) of this app's output: the log could not be written \(.+\)))");
    std::size_t records = 0, notices = 0;
    const std::string bare_log = d.log_dir() + "/bare.log";
    for (const auto& f : {log, log + ".1", log + ".2", bare_log, bare_log + ".1", bare_log + ".2"})
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

TEST_CASE("faults: a full state dir fails an image load cleanly and keeps the image index whole",
          "[integration][faults]") {
    require_root();
    require_prerequisite(have_tool("umoci") && have_tool("skopeo"), "umoci and skopeo build the test image");
    // A one-layer image of a few KiB, as an OCI archive.
    TempDir fx("isolated-faults-image");
    const std::string layout = fx / "layout", image = layout + ":t", bundle = fx / "b", archive = fx / "img.tar";
    must({"umoci", "init", "--layout", layout});
    must({"umoci", "new", "--image", image});
    must({"umoci", "unpack", "--image", image, bundle});
    write_file(bundle + "/rootfs/hello", "hello\n");
    must({"umoci", "repack", "--image", image, bundle});
    must({"umoci", "config", "--image", image, "--config.cmd", "/hello"});
    must({"skopeo", "copy", "--quiet", "oci:" + image, "oci-archive:" + archive + ":example.com/faults:one"});

    Daemon d;
    TmpfsGuard tmpfs(d.state_dir(), "256k");
    d.start();
    auto first = d.isoctl({"image", "load", archive});
    INFO(first.out << first.err);
    REQUIRE(first.code == 0);
    const std::string index = d.state_dir() + "/images/index.json";
    const std::string before = read_file(index);
    REQUIRE(before.find("example.com/faults:one") != std::string::npos);

    // Full: the same image under another name (its blobs are there already) fails with
    // the reason; the index is the old one, whole; nothing half-made is left.
    fill(d.state_dir(), 0);
    auto again = d.isoctl({"image", "load", archive, "--name", "example.com/faults:two"});
    CHECK(again.code != 0);
    CHECK((again.out + again.err).find("No space left on device") != std::string::npos);
    CHECK(read_file(index) == before);
    CHECK(std::filesystem::is_empty(d.state_dir() + "/images/tmp"));
    CHECK(d.http("GET", "/v1/images/example.com/faults:one").code == 200);
    CHECK(d.http("GET", "/v1/health").code == 200);

    // Space back: the same load works.
    std::filesystem::remove(d.state_dir() + "/filler");
    auto later = d.isoctl({"image", "load", archive, "--name", "example.com/faults:two"});
    INFO(later.out << later.err);
    CHECK(later.code == 0);
    const std::string after = read_file(index);
    CHECK(after.find("example.com/faults:one") != std::string::npos);
    CHECK(after.find("example.com/faults:two") != std::string::npos);
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

namespace {

// CLOCK_REALTIME moved by OFFSET until the guard goes, then put back where it would
// be had it never moved (its value at the start plus the CLOCK_MONOTONIC time since):
// also when a check fails. Every process of the machine sees the jump (time
// namespaces do not cover CLOCK_REALTIME), so each is kept to seconds; integration
// tests run one at a time (RUN_SERIAL), but builds and tests run by hand beside this
// one see it too.
class ClockJump {
public:
    explicit ClockJump(std::chrono::seconds offset) {
        ::clock_gettime(CLOCK_REALTIME, &real0_);
        ::clock_gettime(CLOCK_MONOTONIC, &mono0_);
        timespec t = real0_;
        t.tv_sec += offset.count();
        REQUIRE(::clock_settime(CLOCK_REALTIME, &t) == 0);
    }
    ~ClockJump() {
        timespec mono{};
        ::clock_gettime(CLOCK_MONOTONIC, &mono);
        long long ns = (mono.tv_sec - mono0_.tv_sec) * 1000000000LL + (mono.tv_nsec - mono0_.tv_nsec) +
                       real0_.tv_sec * 1000000000LL + real0_.tv_nsec;
        timespec t{static_cast<time_t>(ns / 1000000000LL), static_cast<long>(ns % 1000000000LL)};
        ::clock_settime(CLOCK_REALTIME, &t);
    }
    ClockJump(const ClockJump&) = delete;
    ClockJump& operator=(const ClockJump&) = delete;

private:
    timespec real0_{}, mono0_{};
};

std::uint64_t probe_runs(const json& app) {
    const auto& l = app["health"]["liveness"];
    if (!l.is_object()) return 0;
    return l.value("totalSuccesses", std::uint64_t{0}) + l.value("totalFailures", std::uint64_t{0});
}

}  // namespace

TEST_CASE("faults: wall clock jumps neither fire timers early nor stall them", "[integration][faults]") {
    require_root();
    Daemon d;
    // In backoff for 8 s after each exit (no jitter): a timer on the wall clock would
    // end it at once after a jump forward, and an hour late after one back.
    d.write_app("crasher", R"({"command": ["sh", "-c", "exit 3; : )" + d.dir() +
                               R"("], "restart": {"backoff": {"initial": "8s", "max": "8s", "jitter": 0}}})");
    // A liveness probe every 500 ms that always passes; it ignores SIGTERM, so a stop
    // waits out its timeout.
    d.write_app("probed", R"({"command": ["sh", "-c", "trap '' TERM; while true; do sleep 0.2; done; : )" + d.dir() +
                              R"("], "probes": {"liveness": {"exec": {"command": ["true"]}, "period": "500ms"}}})");
    d.write_app("steady", ticker(d));
    d.start();
    d.wait_state("probed", "ready");
    d.wait_state("steady", "ready");
    const auto steady_pid = d.app("steady")["pid"];
    d.wait_state("crasher", "backoff");
    const auto restarts0 = d.app("crasher")["restarts"].get<int>();
    auto entered = std::chrono::steady_clock::now();

    {
        ClockJump forward(std::chrono::hours(1));
        // Nothing fires early: still in the same backoff, the probes go on.
        auto runs = probe_runs(d.app("probed"));
        std::this_thread::sleep_for(2s);
        auto crasher = d.app("crasher");
        if (std::chrono::steady_clock::now() - entered < 7s) {
            CHECK(crasher["state"] == "backoff");
            CHECK(crasher["restarts"] == restarts0);
        }
        CHECK(probe_runs(d.app("probed")) > runs);
    }
    {
        ClockJump back(-std::chrono::hours(1));
        // Nothing stalls: the backoff ends on time (well within an hour), probes go on.
        auto runs = probe_runs(d.app("probed"));
        REQUIRE(wait_until([&] { return d.app("crasher")["restarts"].get<int>() > restarts0; }, 30s));
        CHECK(probe_runs(d.app("probed")) > runs);
        // The stop timeout ends on time too: the app is killed after it.
        auto r = d.http("POST", "/v1/apps/probed/stop", R"({"timeout": "1s"})");
        CHECK(r.code == 200);
    }
    // No spurious restarts.
    CHECK(d.app("steady")["pid"] == steady_pid);
    CHECK(d.app("steady")["restarts"] == 0);
    CHECK(d.app("probed")["restarts"] == 0);
    CHECK(d.state("probed") == "stopped");
    CHECK(d.stop() == 0);
}

namespace {

// A small HTTP/1.1 client over a Unix socket with keep-alive: what the API storm needs
// without 10,000 curl processes. Enough of HTTP for the daemon's answers:
// Content-Length, chunked bodies, bodiless 304s, and Connection: close.
struct Reply {
    int status = 0;
    std::map<std::string, std::string> headers;  // names in lower case
    std::string body;
    std::string error;  // set when the exchange itself failed
};

class Client {
public:
    explicit Client(std::string path) : path_(std::move(path)) {}
    ~Client() { close(); }
    Client(const Client&) = delete;
    Client& operator=(const Client&) = delete;

    Reply request(const std::string& method, const std::string& target,
                  const std::vector<std::pair<std::string, std::string>>& headers = {}) {
        Reply r;
        if (fd_ < 0 && !connect(r.error)) return r;
        std::string req = method + " " + target + " HTTP/1.1\r\nHost: x\r\n";
        for (const auto& [k, v] : headers) req += k + ": " + v + "\r\n";
        if (method == "POST") req += "Content-Length: 0\r\n";
        req += "\r\n";
        if (!send_all(req)) {
            r.error = "send: " + std::string(std::strerror(errno));
            close();
            return r;
        }
        if (!read_reply(r)) close();
        if (!r.error.empty()) close();
        auto c = r.headers.find("connection");
        if (c != r.headers.end() && c->second == "close") close();
        return r;
    }

private:
    bool connect(std::string& error) {
        fd_ = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        sockaddr_un sa{};
        sa.sun_family = AF_UNIX;
        std::strncpy(sa.sun_path, path_.c_str(), sizeof sa.sun_path - 1);
        timeval tv{60, 0};
        ::setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
        if (fd_ < 0 || ::connect(fd_, reinterpret_cast<sockaddr*>(&sa), sizeof sa) != 0) {
            error = "connect: " + std::string(std::strerror(errno));
            close();
            return false;
        }
        buf_.clear();
        return true;
    }
    void close() {
        if (fd_ >= 0) ::close(fd_);
        fd_ = -1;
        buf_.clear();
    }
    bool send_all(const std::string& s) {
        for (std::size_t off = 0; off < s.size();) {
            ssize_t n = ::send(fd_, s.data() + off, s.size() - off, MSG_NOSIGNAL);
            if (n <= 0) return false;
            off += static_cast<std::size_t>(n);
        }
        return true;
    }
    bool fill() {
        char tmp[65536];
        ssize_t n = ::recv(fd_, tmp, sizeof tmp, 0);
        if (n <= 0) return false;
        buf_.append(tmp, static_cast<std::size_t>(n));
        return true;
    }
    bool read_until(const std::string& delim, std::size_t& at) {
        while ((at = buf_.find(delim)) == std::string::npos)
            if (!fill()) return false;
        return true;
    }
    bool read_n(std::size_t n) {
        while (buf_.size() < n)
            if (!fill()) return false;
        return true;
    }
    bool read_reply(Reply& r) {
        std::size_t end;
        if (!read_until("\r\n\r\n", end)) return r.error = "no reply header", false;
        std::istringstream head(buf_.substr(0, end));
        buf_.erase(0, end + 4);
        std::string line;
        std::getline(head, line);
        if (line.rfind("HTTP/1.1 ", 0) != 0 || line.size() < 12) return r.error = "bad status line: " + line, false;
        r.status = std::atoi(line.c_str() + 9);
        while (std::getline(head, line)) {
            if (!line.empty() && line.back() == '\r') line.pop_back();
            auto colon = line.find(':');
            if (colon == std::string::npos) return r.error = "bad header: " + line, false;
            std::string k = line.substr(0, colon), v = line.substr(colon + 1);
            for (auto& c : k) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
            while (!v.empty() && v.front() == ' ') v.erase(0, 1);
            r.headers[k] = v;
        }
        if (r.status == 304 || r.status == 204) return true;
        if (r.headers.count("transfer-encoding")) {
            for (;;) {
                std::size_t eol;
                if (!read_until("\r\n", eol)) return r.error = "cut chunk", false;
                std::size_t size = std::stoul(buf_.substr(0, eol), nullptr, 16);
                buf_.erase(0, eol + 2);
                if (!read_n(size + 2)) return r.error = "cut chunk", false;
                r.body += buf_.substr(0, size);
                buf_.erase(0, size + 2);
                if (size == 0) return true;
            }
        }
        if (r.headers.count("content-length")) {
            std::size_t n = std::stoul(r.headers["content-length"]);
            if (!read_n(n)) return r.error = "cut body", false;
            r.body = buf_.substr(0, n);
            buf_.erase(0, n);
            return true;
        }
        while (fill()) {
        }
        r.body = std::move(buf_);
        buf_.clear();
        close();
        return true;
    }

    std::string path_;
    int fd_ = -1;
    std::string buf_;
};

// The daemon's open fds, threads and resident memory (KiB).
struct ProcUse {
    std::size_t fds = 0, threads = 0, rss_kib = 0;
};

ProcUse proc_use(pid_t pid) {
    ProcUse u;
    std::error_code ec;
    for (auto it = std::filesystem::directory_iterator("/proc/" + std::to_string(pid) + "/fd", ec);
         it != std::filesystem::directory_iterator(); it.increment(ec))
        ++u.fds;
    std::ifstream st("/proc/" + std::to_string(pid) + "/status");
    for (std::string l; std::getline(st, l);) {
        if (l.rfind("Threads:", 0) == 0) u.threads = std::stoul(l.substr(8));
        if (l.rfind("VmRSS:", 0) == 0) u.rss_kib = std::stoul(l.substr(6));
    }
    return u;
}

// The sandbox inits of DIR's daemon (as the harness finds them: the init binary, its
// log dir fd into DIR).
std::size_t inits_of(const std::string& dir) {
    std::size_t n = 0;
    std::error_code ec;
    for (auto it = std::filesystem::directory_iterator("/proc", ec); it != std::filesystem::directory_iterator();
         it.increment(ec)) {
        const std::string p = it->path().string();
        if (read_file(p + "/cmdline").rfind("isolated-init", std::string::npos) == std::string::npos) continue;
        if (std::filesystem::read_symlink(p + "/fd/5", ec).string().rfind(dir, 0) == 0) ++n;
    }
    return n;
}

}  // namespace

TEST_CASE("faults: ten thousand rapid API requests while apps churn get well-formed answers and leak nothing",
          "[integration][faults]") {
    require_root();
    Daemon d;
    d.write_app("steady", ticker(d));
    const std::vector<std::string> churn = {"churn1", "churn2", "churn3"};
    const std::vector<std::string> crashers = {"crash1", "crash2"};
    for (const auto& a : churn) d.write_app(a, ticker(d));
    for (const auto& a : crashers)
        d.write_app(a, R"({"command": ["sh", "-c", "sleep 0.3; exit 1; : )" + d.dir() +
                           R"("], "restart": {"backoff": {"initial": "100ms", "max": "300ms"}}})");
    d.start();
    d.wait_state("steady", "ready");
    const auto steady_pid = d.app("steady")["pid"];
    auto quiesce = [&] {
        for (const auto& a : churn) CHECK(d.http("POST", "/v1/apps/" + a + "/stop").code == 200);
        for (const auto& a : crashers) CHECK(d.http("POST", "/v1/apps/" + a + "/stop").code == 200);
    };
    // Warm up (the daemon's caches and allocator), then take the baseline at rest.
    quiesce();
    {
        Client c(d.socket());
        for (int i = 0; i < 300; ++i) (void)c.request("GET", i % 2 ? "/v1/apps" : "/v1/metrics");
    }
    std::this_thread::sleep_for(1s);
    const ProcUse base = proc_use(d.pid());
    for (const auto& a : churn) d.http("POST", "/v1/apps/" + a + "/start?wait=0");
    for (const auto& a : crashers) d.http("POST", "/v1/apps/" + a + "/start?wait=0");

    constexpr int kClients = 8, kEach = 1250;
    std::atomic<int> done{0}, not_modified{0}, accepted{0}, forbidden{0};
    std::mutex mu;
    std::vector<std::string> problems;
    auto problem = [&](const std::string& p) {
        std::lock_guard lock(mu);
        if (problems.size() < 20) problems.push_back(p);
    };
    std::vector<std::thread> threads;
    for (int t = 0; t < kClients; ++t)
        threads.emplace_back([&, t] {
            const bool ro = t % 2 == 1;
            Client c(ro ? d.ro_socket() : d.socket());
            std::string etag_list, etag_metrics;
            std::mt19937 rng(static_cast<unsigned>(t));
            const std::vector<std::string> names = {"steady", "churn1", "churn2", "churn3", "crash1", "crash2"};
            for (int i = 0; i < kEach; ++i, ++done) {
                std::string method = "GET", target;
                std::vector<std::pair<std::string, std::string>> hdrs;
                std::set<int> ok = {200};
                enum { json_body, ndjson, text, none } kind = json_body;
                switch (rng() % 10) {
                    case 0: target = "/v1/apps"; break;
                    case 1:
                        target = "/v1/apps";
                        if (!etag_list.empty()) hdrs.push_back({"If-None-Match", etag_list});
                        ok = {200, 304};
                        break;
                    case 2: case 3: target = "/v1/apps/" + names[rng() % names.size()]; break;
                    case 4: target = "/v1/events"; kind = ndjson; break;
                    case 5:
                        target = "/v1/metrics";
                        kind = text;
                        if (!etag_metrics.empty()) hdrs.push_back({"If-None-Match", etag_metrics});
                        ok = {200, 304};
                        break;
                    case 6: target = "/v1/health"; break;
                    default: {
                        static const char* verbs[] = {"start", "stop", "restart"};
                        method = "POST";
                        target = "/v1/apps/" + churn[rng() % churn.size()] + "/" + verbs[rng() % 3] + "?wait=0";
                        ok = ro ? std::set<int>{403} : std::set<int>{202, 409};
                    }
                }
                Reply r = c.request(method, target, hdrs);
                const std::string what = method + " " + target + (ro ? " (ro)" : "");
                if (!r.error.empty()) {
                    problem(what + ": " + r.error);
                    continue;
                }
                if (!ok.count(r.status)) {
                    problem(what + ": status " + std::to_string(r.status) + " " + r.body);
                    continue;
                }
                not_modified += r.status == 304;
                accepted += r.status == 202;
                forbidden += r.status == 403;
                if (r.status == 304) {
                    if (!r.body.empty()) problem(what + ": a 304 with a body");
                    continue;
                }
                if (target == "/v1/apps") etag_list = r.headers["etag"];
                if (target == "/v1/metrics") etag_metrics = r.headers["etag"];
                if (r.status >= 400) kind = json_body;  // {"error": ...}
                try {
                    if (kind == json_body) {
                        auto j = json::parse(r.body);
                        if (r.status >= 400 && !j.contains("error")) problem(what + ": an error without \"error\"");
                    } else if (kind == ndjson) {
                        std::istringstream in(r.body);
                        for (std::string l; std::getline(in, l);)
                            if (json::parse(l).is_discarded()) problem(what + ": a bad line");
                    } else if (r.body.find("\nisolated_up 1\n") == std::string::npos) {
                        problem(what + ": metrics without isolated_up");
                    }
                } catch (const std::exception& e) {
                    problem(what + ": not JSON (" + e.what() + "): " + r.body.substr(0, 200));
                }
            }
        });
    for (auto& th : threads) th.join();
    CHECK(done == kClients * kEach);
    // The mix was what it says: 304s, control calls that went through, refused ones.
    INFO("304: " << not_modified << ", 202: " << accepted << ", 403: " << forbidden);
    CHECK(not_modified > 0);
    CHECK(accepted > 0);
    CHECK(forbidden > 0);
    CHECK(problems.empty());
    for (const auto& p : problems) FAIL_CHECK(p);

    // Consistent afterwards: every churned app can be started and runs once; stopped,
    // it leaves nothing; the steady one was never touched.
    for (const auto& a : churn) {
        auto r = d.http("POST", "/v1/apps/" + a + "/start");
        INFO(a << ": " << r.out);
        CHECK(r.code == 200);
        CHECK(d.state(a) == "ready");
    }
    quiesce();
    for (const auto& a : churn) {
        auto app = d.app(a);
        CHECK(app["state"] == "stopped");
        CHECK(app["pid"].is_null());
    }
    for (const auto& a : crashers) CHECK(d.state(a) == "stopped");
    CHECK(d.app("steady")["pid"] == steady_pid);
    CHECK(d.app("steady")["restarts"] == 0);
    // One sandbox is left, the steady app's: no instance outlived its app's stop.
    CHECK(wait_until([&] { return inits_of(d.dir()) == 1; }));
    // Back to the baseline: the same fds and threads once the last connections are
    // gone, and memory within a margin (allocator arenas, the event log's ring).
    ProcUse after;
    bool flat = wait_until([&] {
        after = proc_use(d.pid());
        return after.fds <= base.fds && after.threads <= base.threads;
    });
    INFO("fds " << base.fds << " -> " << after.fds << ", threads " << base.threads << " -> " << after.threads
                << ", RSS " << base.rss_kib << " KiB -> " << after.rss_kib << " KiB");
    CHECK(flat);
    CHECK(after.rss_kib <= base.rss_kib + 16 * 1024);
    WARN("API storm: fds " << base.fds << " -> " << after.fds << ", threads " << base.threads << " -> "
                           << after.threads << ", RSS " << base.rss_kib << " KiB -> " << after.rss_kib << " KiB");
    CHECK(d.stop() == 0);
}

namespace {

// The daemon's soft RLIMIT_NOFILE set to LIMIT until the guard goes, then put back.
// The hard limit stays: raising it again would need CAP_SYS_RESOURCE, which a
// container may not have.
class FdLimit {
public:
    FdLimit(pid_t pid, rlim_t limit) : pid_(pid) {
        REQUIRE(::prlimit(pid_, RLIMIT_NOFILE, nullptr, &old_) == 0);
        rlimit lower{limit, old_.rlim_max};
        REQUIRE(::prlimit(pid_, RLIMIT_NOFILE, &lower, nullptr) == 0);
    }
    ~FdLimit() { restore(); }
    void restore() {
        if (pid_ > 0) CHECK(::prlimit(pid_, RLIMIT_NOFILE, &old_, nullptr) == 0);
        pid_ = -1;
    }
    FdLimit(const FdLimit&) = delete;
    FdLimit& operator=(const FdLimit&) = delete;

private:
    pid_t pid_;
    rlimit old_{};
};

// User plus system CPU time of PID so far, in seconds.
double cpu_seconds(pid_t pid) {
    std::string stat = read_file("/proc/" + std::to_string(pid) + "/stat");
    std::istringstream in(stat.substr(stat.rfind(')') + 2));
    std::string field;
    unsigned long long utime = 0, stime = 0;
    for (int i = 3; i <= 15 && in >> field; ++i) {
        if (i == 14) utime = std::stoull(field);
        if (i == 15) stime = std::stoull(field);
    }
    return static_cast<double>(utime + stime) / static_cast<double>(::sysconf(_SC_CLK_TCK));
}

}  // namespace

TEST_CASE("faults: the fd limit reached neither spins the daemon nor leaks, and everything recovers",
          "[integration][faults]") {
    require_root();
    Daemon d;
    d.write_app("steady", ticker(d));
    d.write_app("late", ticker(d, kQuickRetry));
    d.start();
    d.wait_state("steady", "ready");
    d.wait_state("late", "ready");
    const auto steady_pid = d.app("steady")["pid"];
    CHECK(d.http("POST", "/v1/apps/late/stop").code == 200);
    // A connection the daemon has already accepted, to talk to it while it cannot
    // accept another.
    Client control(d.socket());
    REQUIRE(control.request("GET", "/v1/health").status == 200);
    std::this_thread::sleep_for(500ms);
    const ProcUse base = proc_use(d.pid());

    {
        FdLimit limit(d.pid(), base.fds + 4);
        // More clients than fds: the first few are accepted and hold theirs
        // (keep-alive), the rest wait in the backlog while accept() fails with EMFILE.
        std::vector<std::unique_ptr<Client>> flood;
        std::vector<std::thread> waiting;
        for (int i = 0; i < 32; ++i) flood.push_back(std::make_unique<Client>(d.socket()));
        std::atomic<int> answered{0};
        for (auto& c : flood)
            waiting.emplace_back([&answered, cl = c.get()] {
                if (cl->request("GET", "/v1/health").status == 200) ++answered;
            });
        std::this_thread::sleep_for(1s);
        // The loop does not spin on the failing accept(): over 2 s it uses a fraction
        // of a core (a spinning loop uses all of one).
        double cpu0 = cpu_seconds(d.pid());
        std::this_thread::sleep_for(2s);
        double used = cpu_seconds(d.pid()) - cpu0;
        CHECK(used < 0.5);
        CHECK(d.daemon_log().find("Too many open files") != std::string::npos);

        // A start that needs fds fails with the reason and backs off; the app that runs
        // runs on.
        auto r = control.request("POST", "/v1/apps/late/start?wait=0");
        CHECK(r.error.empty());
        CHECK((r.status == 202 || r.status == 409));
        REQUIRE(wait_until([&] {
            auto reply = control.request("GET", "/v1/apps/late");
            if (reply.status != 200) return false;
            auto app = json::parse(reply.body);
            return last_exit_message(app).find("Too many open files") != std::string::npos;
        }, 20s));
        auto steady = control.request("GET", "/v1/apps/steady");
        CHECK(json::parse(steady.body)["pid"] == steady_pid);

        // The limit back up: the waiting clients get their answers, the start works.
        limit.restore();
        for (auto& th : waiting) th.join();
        CHECK(answered == 32);
    }
    d.wait_state("late", "ready", 30s);
    CHECK(d.app("steady")["pid"] == steady_pid);
    CHECK(d.http("POST", "/v1/apps/late/stop").code == 200);
    // Nothing leaked: the daemon holds the fds it held before.
    ProcUse after;
    bool flat = wait_until([&] { return (after = proc_use(d.pid())).fds <= base.fds; });
    INFO("fds " << base.fds << " -> " << after.fds);
    CHECK(flat);

    // A start that runs out at every step of the launch in turn (1, 2, ... fds free):
    // each fails with the reason or succeeds, and none leaves an fd behind.
    int failed = 0, started = 0;
    std::string sweep;
    for (rlim_t spare = 1; spare <= 24 && started < 2; ++spare) {
        INFO("spare fds: " << spare);
        {
            FdLimit limit(d.pid(), base.fds + spare);
            (void)control.request("POST", "/v1/apps/late/start?wait=0");
            std::string outcome;
            wait_until([&] {
                auto reply = control.request("GET", "/v1/apps/late");
                if (reply.status != 200) return false;
                auto app = json::parse(reply.body, nullptr, false);
                if (app.is_discarded()) return false;
                if (app["state"] == "ready") return (outcome = "ready"), true;
                if (app["state"] == "backoff") return (outcome = last_exit_message(app)), true;
                return false;
            }, 20s);
            INFO("outcome: " << outcome);
            CHECK(!outcome.empty());
            sweep += std::to_string(spare) + ": " + outcome + "\n";
            if (outcome == "ready") {
                ++started;
            } else {
                ++failed;
                CHECK(outcome.find("Too many open files") != std::string::npos);
            }
        }
        CHECK(control.request("POST", "/v1/apps/late/stop").status == 200);
        flat = wait_until([&] { return (after = proc_use(d.pid())).fds <= base.fds; });
        INFO("fds " << base.fds << " -> " << after.fds);
        CHECK(flat);
    }
    WARN("fd sweep, spare fds: outcome\n" << sweep);
    CHECK(failed > 0);
    CHECK(started > 0);
    CHECK(d.app("steady")["pid"] == steady_pid);
    d.wait_state("steady", "ready");
    CHECK(d.stop() == 0);
}
