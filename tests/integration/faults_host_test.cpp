// Faults from the outside world (issue 18, item 3): what an operator or another program
// does to the host under a running daemon -- the bridge or the nftables table deleted
// by hand, a cgroup kept busy, an interface with the name of an app's veth, /run records
// pointing at the wrong process, a damaged image index. Each case checks the behaviour
// docs/DECISIONS.md ("Soak and fault injection") promises, and cleans up what it made
// (links in the daemon's netns, processes by PID, cgroups) even when it fails.
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>
#include <thread>

#include "integration/harness.hpp"

using namespace isolated::test;
using namespace std::chrono_literals;
using nlohmann::json;

namespace {

void require_root() { require_prerequisite(is_root(), "integration tests need root (namespaces, netns, cgroups)"); }

std::string curl(Daemon& d, int port) {
    const std::string url = "http://127.0.0.1:" + std::to_string(port) + "/";
    return d.in_netns({"curl", "-s", "--noproxy", "*", "--max-time", "3", url}).out;
}

// From inside `app` (its root is the host's, so curl is there), through the gateway
// address to a forward: the app reaches its gateway over the bridge and the table's
// DNAT answers.
std::string fetch_via_gateway(Daemon& d, const std::string& app, int port) {
    const std::string url = "http://10.100.0.1:" + std::to_string(port) + "/";
    return d.isoctl({"exec", "-T", app, "--", "curl", "-s", "--noproxy", "*", "--max-time", "3", url}, 10s).out;
}

std::string web_app(int host_port, const std::string& more = "") {
    return probe_app_json("serve 80", R"(, "network": {"ports": [{"host": )" + std::to_string(host_port) +
                                          R"(, "app": 80}]})" + more);
}

struct Running {
    int pid = 0;
    int restarts = 0;
};

Running running_of(Daemon& d, const std::string& app) {
    auto j = d.app(app);
    return {j["pid"].get<int>(), j["restarts"].get<int>()};
}

}  // namespace

TEST_CASE("faults: a bridge deleted or stripped by hand is rebuilt with the running apps' veths, apps untouched",
          "[integration][faults]") {
    require_root();
    require_prerequisite(have_tool("ip") && have_tool("curl"), "needs ip and curl");
    Daemon d;
    d.write_app("web", web_app(8080));
    d.write_app("api", web_app(8081));
    d.start();
    d.wait_state("web", "ready");
    d.wait_state("api", "ready");
    REQUIRE(wait_until([&] { return curl(d, 8080) == "hello from web\n"; }));
    REQUIRE(wait_until([&] { return curl(d, 8081) == "hello from api\n"; }));
    auto web0 = running_of(d, "web"), api0 = running_of(d, "api");

    REQUIRE(d.in_netns({"ip", "link", "del", "isolated0"}).code == 0);
    REQUIRE(wait_until([&] { return curl(d, 8080) == "hello from web\n"; }, 30s));
    CHECK(curl(d, 8081) == "hello from api\n");
    auto ports = d.in_netns({"ip", "-o", "link", "show", "master", "isolated0"}).out;
    CHECK_THAT(ports, Catch::Contains("veth-web") && Catch::Contains("veth-api"));
    CHECK(wait_until([&] { return fetch_via_gateway(d, "web", 8081).find("hello from api") != std::string::npos; },
                     30s));
    CHECK_THAT(d.daemon_log(), Catch::Contains("repaired: bridge \"isolated0\" was missing"));

    // The bridge kept, but down and without its gateway address.
    REQUIRE(d.in_netns({"ip", "addr", "flush", "dev", "isolated0"}).code == 0);
    REQUIRE(d.in_netns({"ip", "link", "set", "isolated0", "down"}).code == 0);
    REQUIRE(wait_until([&] { return d.daemon_log().find("gateway address 10.100.0.1 restored") != std::string::npos; },
                       30s));
    CHECK(wait_until([&] { return fetch_via_gateway(d, "api", 8080).find("hello from web") != std::string::npos; },
                     30s));
    CHECK(curl(d, 8080) == "hello from web\n");

    // Never restarted: the same processes, no restart counted.
    auto web1 = running_of(d, "web"), api1 = running_of(d, "api");
    CHECK(web1.pid == web0.pid);
    CHECK(web1.restarts == web0.restarts);
    CHECK(api1.pid == api0.pid);
    CHECK(api1.restarts == api0.restarts);
    CHECK(d.stop() == 0);
}

TEST_CASE("faults: an nftables table deleted or edited by hand is rebuilt with every running app's forwards",
          "[integration][faults]") {
    require_root();
    require_prerequisite(have_tool("nft") && have_tool("curl"), "needs nft and curl");
    Daemon d;
    d.write_app("web", web_app(8080));
    d.write_app("api", web_app(8081));
    d.start();
    d.wait_state("web", "ready");
    d.wait_state("api", "ready");
    REQUIRE(wait_until([&] { return curl(d, 8080) == "hello from web\n"; }));
    REQUIRE(wait_until([&] { return curl(d, 8081) == "hello from api\n"; }));
    auto web0 = running_of(d, "web"), api0 = running_of(d, "api");
    // Nothing to repair in a table as the daemon made it (address-bound and UDP
    // forwards included): more than one check period passes without a repair.
    d.write_app("more", probe_app_json("serve 80", R"(, "network": {"ports": [{"host": 8082, "app": 80, )"
                                                   R"("hostAddress": "127.0.0.1"}, {"host": 5353, "protocol": "udp"}]})"));
    REQUIRE(d.isoctl({"reload"}).code == 0);
    d.wait_state("more", "ready");
    REQUIRE(wait_until([&] { return curl(d, 8082) == "hello from more\n"; }));
    std::this_thread::sleep_for(6s);
    CHECK_THAT(d.daemon_log(), !Catch::Contains("repaired"));

    REQUIRE(d.in_netns({"nft", "delete", "table", "ip", "isolated"}).code == 0);
    REQUIRE(wait_until([&] { return curl(d, 8080) == "hello from web\n"; }, 30s));
    CHECK(curl(d, 8081) == "hello from api\n");
    CHECK_THAT(d.daemon_log(), Catch::Contains("nftables table \"isolated\" was missing: rebuilt with 4 forwards"));
    CHECK(curl(d, 8082) == "hello from more\n");

    // One forward element deleted: the table is rebuilt with it.
    REQUIRE(d.in_netns({"nft", "delete", "element", "ip", "isolated", "fwd_tcp", "{ 8081 }"}).code == 0);
    REQUIRE(wait_until([&] { return curl(d, 8081) == "hello from api\n"; }, 30s));

    // One rule gone (the localhost forwards need the prerouting/output jumps).
    REQUIRE(d.in_netns({"nft", "flush", "chain", "ip", "isolated", "output"}).code == 0);
    REQUIRE(wait_until([&] { return curl(d, 8080) == "hello from web\n"; }, 30s));
    CHECK(wait_until([&] { return fetch_via_gateway(d, "web", 8081).find("hello from api") != std::string::npos; },
                     30s));

    auto web1 = running_of(d, "web"), api1 = running_of(d, "api");
    CHECK(web1.pid == web0.pid);
    CHECK(web1.restarts == web0.restarts);
    CHECK(api1.pid == api0.pid);
    CHECK(api1.restarts == api0.restarts);
    // A stopped app's forward is not brought back by the next repair.
    CHECK(d.isoctl({"stop", "api"}).code == 0);
    REQUIRE(d.in_netns({"nft", "delete", "table", "ip", "isolated"}).code == 0);
    REQUIRE(wait_until([&] { return curl(d, 8080) == "hello from web\n"; }, 30s));
    CHECK_THAT(d.in_netns({"nft", "list", "table", "ip", "isolated"}).out, !Catch::Contains("8081"));
    CHECK(d.stop() == 0);
}

namespace {

// A `sleep` of the test's own, killed by PID at the end whatever happens.
class Sleeper {
public:
    Sleeper() {
        pid_ = ::fork();
        if (pid_ == 0) {
            ::execlp("sleep", "sleep", "300", static_cast<char*>(nullptr));
            ::_exit(127);
        }
        REQUIRE(pid_ > 0);
    }
    ~Sleeper() {
        if (pid_ > 0 && !reaped_) {
            ::kill(pid_, SIGKILL);
            ::waitpid(pid_, nullptr, 0);
        }
    }
    Sleeper(const Sleeper&) = delete;
    Sleeper& operator=(const Sleeper&) = delete;
    pid_t pid() const { return pid_; }
    /// Alive and not a zombie (it is our child: reaped here once it ended).
    bool alive() {
        if (reaped_) return false;
        if (::waitpid(pid_, nullptr, WNOHANG) == pid_) reaped_ = true;
        return !reaped_;
    }

private:
    pid_t pid_ = -1;
    bool reaped_ = false;
};

std::string slurp(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    return std::string((std::istreambuf_iterator<char>(in)), {});
}

// Field 22 of /proc/PID/stat: the start time in clock ticks, as the daemon records it.
std::uint64_t start_time(pid_t pid) {
    std::string stat = slurp("/proc/" + std::to_string(pid) + "/stat");
    auto close = stat.rfind(')');
    REQUIRE(close != std::string::npos);
    std::istringstream rest(stat.substr(close + 2));
    std::string field;
    for (int i = 3; i < 22; ++i) rest >> field;
    std::uint64_t t = 0;
    rest >> t;
    return t;
}

const std::vector<std::string> kV1Hierarchies = {"cpu", "cpuacct", "memory", "pids", "freezer"};

// The app's cgroup directory in every v1 hierarchy that has one.
std::vector<std::string> app_cgroups(const Daemon& d, const std::string& app) {
    std::vector<std::string> out;
    for (auto& h : kV1Hierarchies) {
        std::string dir = "/sys/fs/cgroup/" + h + "/" + d.cgroup_root() + "/" + app;
        if (std::filesystem::is_directory(dir)) out.push_back(dir);
    }
    return out;
}

bool have_v1_freezer() { return std::filesystem::exists("/sys/fs/cgroup/freezer/cgroup.procs"); }

// A child cgroup of the app's in the v1 freezer hierarchy, frozen with a process of the
// test's own in it: what another tool freezing part of the app leaves. A SIGKILL stays
// pending until it is thawed, so the app's cgroup cannot be removed meanwhile. Thawed,
// its process killed and its directory removed at the end whatever happens.
class FrozenChild {
public:
    FrozenChild(const Daemon& d, const std::string& app, Sleeper& sleeper)
        : dir_("/sys/fs/cgroup/freezer/" + d.cgroup_root() + "/" + app + "/held"), sleeper_(sleeper) {
        REQUIRE(std::filesystem::create_directory(dir_));
        std::ofstream(dir_ + "/cgroup.procs") << sleeper.pid() << "\n";
        REQUIRE_THAT(slurp(dir_ + "/cgroup.procs"), Catch::Contains(std::to_string(sleeper.pid())));
        std::ofstream(dir_ + "/freezer.state") << "FROZEN\n";
        REQUIRE(wait_until([&] { return slurp(dir_ + "/freezer.state").rfind("FROZEN", 0) == 0; }));
    }
    ~FrozenChild() { release(); }
    void release() {
        if (std::filesystem::exists(dir_)) std::ofstream(dir_ + "/freezer.state") << "THAWED\n";
        ::kill(sleeper_.pid(), SIGKILL);
        wait_until([&] { return !sleeper_.alive(); });
        ::rmdir(dir_.c_str());
    }
    const std::string& dir() const { return dir_; }

private:
    std::string dir_;
    Sleeper& sleeper_;
};

}  // namespace

TEST_CASE("faults: a process moved into an app's cgroup by hand is killed with the app, as systemd's control-group",
          "[integration][faults]") {
    require_root();
    require_prerequisite(have_limit_controllers(), "needs the cpu, memory and pids cgroup controllers");
    Daemon d;
    d.write_app("web", ticker(d));
    d.start();
    d.wait_state("web", "ready");
    Sleeper stray;
    auto dirs = app_cgroups(d, "web");
    REQUIRE_FALSE(dirs.empty());
    for (auto& dir : dirs) std::ofstream(dir + "/cgroup.procs") << stray.pid() << "\n";
    REQUIRE(stray.alive());

    REQUIRE(d.isoctl({"stop", "web"}).code == 0);
    d.wait_state("web", "stopped");
    CHECK(wait_until([&] { return !stray.alive(); }));
    CHECK(wait_until([&] { return app_cgroups(d, "web").empty(); }));
    CHECK(d.isoctl({"start", "web"}).code == 0);
    d.wait_state("web", "ready");
    CHECK(d.stop() == 0);
    CHECK(app_cgroups(d, "web").empty());
}

TEST_CASE("faults: an app cgroup that stays busy is named in a warning, left, and removed once it can be",
          "[integration][faults]") {
    require_root();
    require_prerequisite(have_v1_freezer(), "needs the v1 freezer hierarchy");
    Daemon d;
    d.write_app("web", ticker(d, R"(, "restart": {"policy": "never"})"));
    d.write_app("other", ticker(d));
    d.start();
    d.wait_state("web", "ready");
    d.wait_state("other", "ready");
    const int other_pid = d.app("other")["pid"];
    Sleeper held;
    FrozenChild frozen(d, "web", held);

    // The stop completes; the cgroup it cannot remove is named.
    REQUIRE(d.isoctl({"stop", "web"}).code == 0);
    d.wait_state("web", "stopped");
    CHECK(wait_until([&] { return d.daemon_log().find("not removed: cgroup busy") != std::string::npos; }));
    CHECK_THAT(d.daemon_log(), Catch::Contains(frozen.dir()));
    CHECK(held.alive());  // frozen, its SIGKILL pending
    // Only the busy hierarchy keeps it: the others were removed.
    CHECK(app_cgroups(d, "web") == std::vector<std::string>{"/sys/fs/cgroup/freezer/" + d.cgroup_root() + "/web"});

    // A daemon start goes on past it: other stale cgroups are removed, it is named.
    d.kill9();
    const std::string stale = "/sys/fs/cgroup/pids/" + d.cgroup_root() + "/zstale";
    REQUIRE(std::filesystem::create_directory(stale));
    const auto log_at = d.daemon_log().size();
    d.start();
    d.wait_state("other", "ready");
    CHECK(d.app("other")["pid"] == other_pid);
    INFO(d.daemon_log().substr(log_at));
    CHECK_FALSE(std::filesystem::exists(stale));
    CHECK_THAT(d.daemon_log().substr(log_at), Catch::Contains("stale app cgroups left in place") &&
                                                  Catch::Contains(frozen.dir()));
    CHECK(d.state("web") == "stopped");  // stopped by the operator: stays so

    // A start while it is busy fails clearly instead of reusing it.
    auto busy = d.isoctl({"start", "web"});
    INFO(busy.out << busy.err << d.app("web").dump());
    CHECK(wait_until([&] { return d.app("web").dump().find("busy") != std::string::npos; }));
    CHECK(d.state("web") != "ready");

    // Once whatever held it is gone, the next start removes the old cgroup and runs.
    frozen.release();
    CHECK_FALSE(held.alive());
    auto again = d.isoctl({"start", "web"});
    INFO(again.out << again.err);
    CHECK(again.code == 0);
    d.wait_state("web", "ready");
    CHECK_FALSE(std::filesystem::exists(frozen.dir()));
    CHECK(d.app("other")["pid"] == other_pid);  // untouched throughout
    CHECK(d.stop() == 0);
    CHECK(app_cgroups(d, "web").empty());
}

namespace {

// Links made by hand in the daemon's netns, deleted at the end whatever happens.
struct HandLinks {
    Daemon& d;
    std::vector<std::string> names;
    ~HandLinks() {
        for (auto& n : names) d.in_netns({"ip", "link", "del", n});
    }
};

bool link_exists(Daemon& d, const std::string& name) { return d.in_netns({"ip", "link", "show", name}).code == 0; }

}  // namespace

TEST_CASE("faults: an interface with an app's veth name is never touched unless it is a stale veth of ours",
          "[integration][faults]") {
    require_root();
    require_prerequisite(have_tool("ip"), "needs ip");
    Daemon d;
    d.write_app("web", ticker(d, R"(, "autostart": false, "restart": {"policy": "never"})"));
    d.write_app("other", ticker(d));
    d.start();
    d.wait_state("other", "ready");
    const int other_pid = d.app("other")["pid"];
    HandLinks links{d, {"veth-web", "vw-peer"}};

    // Someone else's interface of that name and another type (a bridge: this kernel has
    // no dummy module): the start fails naming it, and it survives.
    REQUIRE(d.in_netns({"ip", "link", "add", "veth-web", "type", "bridge"}).code == 0);
    auto clash = d.isoctl({"start", "web"});
    INFO(clash.out << clash.err);
    CHECK(wait_until([&] {
        return d.app("web").dump().find("interface \\\"veth-web\\\" already exists and is not isolated's") !=
               std::string::npos;
    }));
    CHECK(d.state("web") != "ready");
    CHECK_THAT(d.in_netns({"ip", "-d", "link", "show", "veth-web"}).out, Catch::Contains("bridge"));
    CHECK(d.app("other")["pid"] == other_pid);

    // A veth of that name not on our bridge is not ours either.
    REQUIRE(d.in_netns({"ip", "link", "del", "veth-web"}).code == 0);
    REQUIRE(d.in_netns({"ip", "link", "add", "veth-web", "type", "veth", "peer", "name", "vw-peer"}).code == 0);
    d.isoctl({"start", "web"});
    CHECK(wait_until([&] { return d.app("web").dump().find("not isolated's") != std::string::npos; }));
    CHECK(d.state("web") != "ready");
    CHECK(link_exists(d, "vw-peer"));

    // The same veth on our bridge with no app running it: a stale one of ours, replaced.
    REQUIRE(d.in_netns({"ip", "link", "set", "veth-web", "master", "isolated0"}).code == 0);
    auto started = d.isoctl({"start", "web"});
    INFO(started.out << started.err);
    CHECK(started.code == 0);
    d.wait_state("web", "ready");
    CHECK_FALSE(link_exists(d, "vw-peer"));  // went with the stale veth
    CHECK_THAT(d.in_netns({"ip", "-o", "link", "show", "master", "isolated0"}).out, Catch::Contains("veth-web"));
    CHECK(d.app("other")["pid"] == other_pid);
    CHECK(d.stop() == 0);
}

TEST_CASE("faults: a /run record naming another live process with its start time is never adopted nor signalled",
          "[integration][faults]") {
    require_root();
    Daemon d;
    d.write_app("app", ticker(d));
    d.start();
    d.wait_state("app", "ready");
    const int pid0 = d.app("app")["pid"];
    const std::string rec_path = d.run_dir() + "/apps/app/instance.json";
    Sleeper other;
    const auto other_start = start_time(other.pid());

    SECTION("init and main process both another's: the app starts fresh, the old instance is gone") {
        d.kill9();
        json rec = json::parse(std::ifstream(rec_path));
        rec["initPid"] = other.pid();
        rec["initStart"] = other_start;
        rec["pid"] = other.pid();
        rec["pidStart"] = other_start;
        std::ofstream(rec_path) << rec.dump();
        const auto log_at = d.daemon_log().size();
        d.start();
        d.wait_state("app", "ready");
        CHECK(d.app("app")["pid"] != pid0);
        CHECK(d.app("app")["pid"] != other.pid());
        CHECK_THAT(d.daemon_log().substr(log_at), Catch::Contains("is not in the app's cgroup; not adopted"));
        CHECK(wait_until([&] { return !process_alive(pid0); }));  // never twice
        CHECK(other.alive());
        CHECK(d.isoctl({"kill", "-s", "TERM", "app"}).code == 0);
        CHECK(other.alive());
    }
    SECTION("only the main process another's: the app is adopted, the other process is never signalled") {
        d.kill9();
        json rec = json::parse(std::ifstream(rec_path));
        rec["pid"] = other.pid();
        rec["pidStart"] = other_start;
        std::ofstream(rec_path) << rec.dump();
        const auto log_at = d.daemon_log().size();
        d.start();
        d.wait_state("app", "ready");
        CHECK_THAT(d.daemon_log().substr(log_at), Catch::Contains("named by the instance record is not the app's"));
        CHECK(d.app("app")["pid"] == pid0);  // adopted, shown with its own main process
        CHECK(d.app("app")["restarts"] == 0);
        auto killed = d.isoctl({"kill", "-s", "TERM", "app"});
        INFO(killed.out << killed.err);
        CHECK(killed.code == 0);
        CHECK(wait_until([&] { return !process_alive(pid0); }));  // the app's own got it
        CHECK(other.alive());
    }
    CHECK(d.stop() == 0);
    CHECK(other.alive());
}

namespace {

// An OCI archive of a busybox image whose /marker says which image it is.
struct MarkedImage {
    TempDir dir{"isolated-faults-img"};
    std::string archive = dir / "oci.tar";
    std::string ref;

    MarkedImage(const std::string& ref_, const std::string& marker) : ref(ref_) {
        namespace fs = std::filesystem;
        const std::string layout = dir / "layout", image = layout + ":1", bundle = dir / "bundle";
        must({"umoci", "init", "--layout", layout});
        must({"umoci", "new", "--image", image});
        must({"umoci", "unpack", "--image", image, bundle});
        const std::string r = bundle + "/rootfs";
        fs::create_directories(r + "/bin");
        fs::copy_file("/bin/busybox", r + "/bin/busybox");
        fs::permissions(r + "/bin/busybox", fs::perms(0755));
        for (const char* applet : {"sh", "cat", "sleep"}) fs::create_symlink("busybox", r + "/bin/" + applet);
        std::ofstream(r + "/marker") << marker << "\n";
        must({"umoci", "repack", "--image", image, bundle});
        must({"umoci", "config", "--image", image, "--config.entrypoint", "/bin/sh", "--config.cmd", "-c",
              "--config.cmd", "cat /marker; while true; do sleep 1; done", "--config.env", "PATH=/bin"});
        must({"skopeo", "copy", "--quiet", "oci:" + image, "oci-archive:" + archive + ":" + ref});
    }
};

std::string image_app(const std::string& ref, bool autostart) {
    return R"({"rootfs": {"type": "image", "image": ")" + ref + R"("}, "network": {"mode": "none"}, "autostart": )" +
           (autostart ? "true" : "false") + R"(, "restart": {"policy": "never"}, "stop": {"timeout": "5s"}})";
}

// As crashsafe_test.cpp: every offset of the first 512 bytes, 64 strided ones beyond
// and the last two; ISOLATED_CRASHSAFE_EVERY_OFFSET=1 takes every one.
std::vector<std::size_t> offsets(std::size_t size) {
    std::set<std::size_t> out;
    const char* every = std::getenv("ISOLATED_CRASHSAFE_EVERY_OFFSET");
    const std::size_t head = every && std::string(every) == "1" ? size : std::min<std::size_t>(size, 512);
    for (std::size_t o = 0; o < head; ++o) out.insert(o);
    if (size > head) {
        const std::size_t step = std::max<std::size_t>(1, (size - head) / 64);
        for (std::size_t o = head; o < size; o += step) out.insert(o);
        out.insert(size - 1);
        if (size >= 2) out.insert(size - 2);
    }
    return {out.begin(), out.end()};
}

}  // namespace

TEST_CASE("faults: an image index cut at any offset is set aside with a warning, and no app runs a wrong image",
          "[integration][faults][crashsafe]") {
    require_root();
    require_prerequisite(have_tool("umoci") && have_tool("skopeo"), "needs umoci and skopeo (scripts/install-deps.sh)");
    require_prerequisite(std::filesystem::exists("/bin/busybox"), "needs busybox-static (/bin/busybox)");
    MarkedImage a("example.com/faults-a:1", "image-a"), b("example.com/faults-b:1", "image-b");
    Daemon d;
    d.write_app("img", image_app(a.ref, false));
    d.write_app("running", image_app(b.ref, false));
    d.start();
    for (auto* img : {&a, &b}) {
        auto load = d.isoctl({"image", "load", img->archive}, 120s);
        INFO(load.out << load.err);
        REQUIRE(load.code == 0);
    }
    REQUIRE(d.isoctl({"start", "img"}).code == 0);
    REQUIRE(d.isoctl({"start", "running"}).code == 0);
    d.wait_state("img", "ready", 30s);
    d.wait_state("running", "ready", 30s);
    REQUIRE(wait_until([&] { return d.isoctl({"logs", "img"}).out.find("image-a") != std::string::npos; }));
    REQUIRE(d.isoctl({"stop", "img"}).code == 0);
    const int running_pid = d.app("running")["pid"];

    const std::string index = d.state_dir() + "/images/index.json", aside = index + ".bad";
    const std::string full = slurp(index);
    REQUIRE(json::accept(full));
    const auto all = offsets(full.size());
    d.kill9();
    for (std::size_t i = 0; i < all.size(); ++i) {
        const std::size_t offset = all[i];
        INFO("index.json of " << full.size() << " bytes cut at offset " << offset);
        std::filesystem::remove(aside);
        const std::string left = full.substr(0, std::min(offset, full.size() - 1));
        std::ofstream(index, std::ios::binary | std::ios::trunc) << left;
        const bool whole = json::accept(left);  // only the final newline gone
        const auto log_at = d.daemon_log().size();
        d.start();
        const std::string log = d.daemon_log().substr(log_at);
        INFO("daemon log:\n" << log);
        auto images = d.get_json("/v1/images");
        REQUIRE(images["images"].is_array());
        if (whole) {
            REQUIRE(images["images"].size() == 2);
        } else {
            REQUIRE(log.find("images: " + index + " is damaged: moved to " + aside) != std::string::npos);
            REQUIRE(slurp(aside) == left);  // set aside as it was, for the operator
            REQUIRE(images["images"].empty());
        }
        // The running image app is adopted, never restarted on another tree.
        d.wait_state("running", "ready");
        REQUIRE(d.app("running")["pid"] == running_pid);
        // A start of the stopped one (a few offsets: each costs a launch) runs its own
        // image or fails naming it -- never another image's tree.
        if (i % 97 == 0 || i + 1 == all.size()) {
            const auto logs_at = d.isoctl({"logs", "img"}).out.size();
            d.isoctl({"start", "img"});
            if (whole) {
                d.wait_state("img", "ready", 30s);
                REQUIRE(wait_until([&] {
                    return d.isoctl({"logs", "img"}).out.substr(logs_at).find("image-a") != std::string::npos;
                }));
            } else {
                // Fails naming its image as missing from the store.
                const std::string missing = "image \"" + a.ref + "\" is not in the store";
                REQUIRE(wait_until([&] {
                    auto j = d.app("img");
                    return j["lastExit"].is_object() &&
                           j["lastExit"].value("message", "").find(missing) != std::string::npos;
                }));
                INFO(d.app("img").dump());
                REQUIRE(d.state("img") != "ready");
            }
            CHECK_THAT(d.isoctl({"logs", "img"}).out.substr(logs_at), !Catch::Contains("image-b"));
            d.isoctl({"stop", "img"});
        }
        // Back to the whole index for the next cut.
        d.kill9();
        std::ofstream(index, std::ios::binary | std::ios::trunc) << full;
    }
    d.start();
    CHECK(d.get_json("/v1/images")["images"].size() == 2);
    CHECK(d.stop() == 0);
}

TEST_CASE("faults: with over 1,000 forwards a deleted table is still rebuilt at the next check",
          "[integration][faults]") {
    require_root();
    require_prerequisite(have_tool("nft") && have_tool("curl"), "needs nft and curl");
    Daemon d;
    // 1,001 forwards: above the count where the contents are compared once a minute,
    // the table's existence is still checked every time.
    std::string ports = R"({"host": 8080, "app": 80})";
    for (int p = 20000; p < 21000; ++p) ports += R"(, {"host": )" + std::to_string(p) + R"(, "app": 80})";
    d.write_app("many", probe_app_json("serve 80", R"(, "network": {"ports": [)" + ports + "]}"));
    d.start();
    d.wait_state("many", "ready", 30s);
    REQUIRE(wait_until([&] { return curl(d, 20999) == "hello from many\n"; }));
    const int pid = d.app("many")["pid"];
    REQUIRE(d.in_netns({"nft", "delete", "table", "ip", "isolated"}).code == 0);
    REQUIRE(wait_until([&] { return curl(d, 20999) == "hello from many\n"; }, 30s));
    CHECK(curl(d, 8080) == "hello from many\n");
    CHECK_THAT(d.daemon_log(), Catch::Contains("was missing: rebuilt with 1001 forwards"));
    CHECK(d.app("many")["pid"] == pid);
    CHECK(d.stop() == 0);
}
