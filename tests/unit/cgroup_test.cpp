// daemon/cgroup/ on fixture trees: parsing, detection, limit translation, every file the
// v2 and v1 drivers write and read, and the systemd driver against a fake manager on a
// socketpair (no root, no kernel cgroups).
#include <sys/socket.h>
#include <sys/stat.h>
#include <systemd/sd-bus.h>
#include <unistd.h>

#include <atomic>
#include <catch2/catch.hpp>
#include <filesystem>
#include <mutex>
#include <sstream>
#include <thread>

#include "cgroup/cgroup.hpp"
#include "cgroup/layout.hpp"
#include "cgroup/limits.hpp"
#include "cgroup/systemd_bus.hpp"
#include "support/test_env.hpp"

using namespace isolated;
using namespace isolated::cgroup;
using isolated::test::read_file;
using isolated::test::TempDir;
using isolated::test::write_file;
namespace fs = std::filesystem;

namespace {

// This machine's own layout (a hybrid host: v1 controllers, an empty cgroup2 at
// /sys/fs/cgroup/unified that lists only hugetlb), copied from /proc/self/mountinfo.
const char* kHybridMountinfo =
    "22 1 0:20 / / rw,relatime - overlay overlay rw,lowerdir=/a,upperdir=/b,workdir=/c\n"
    "30 22 0:27 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755\n"
    "31 30 0:28 / /sys/fs/cgroup/cpu rw,relatime - cgroup cgroup rw,cpu\n"
    "32 30 0:29 / /sys/fs/cgroup/cpuacct rw,relatime - cgroup cgroup rw,cpuacct\n"
    "33 30 0:30 / /sys/fs/cgroup/cpuset rw,relatime - cgroup cgroup rw,cpuset\n"
    "34 30 0:31 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory\n"
    "35 30 0:32 / /sys/fs/cgroup/devices rw,relatime - cgroup cgroup rw,devices\n"
    "36 30 0:33 / /sys/fs/cgroup/freezer rw,relatime - cgroup cgroup rw,freezer\n"
    "37 30 0:34 / /sys/fs/cgroup/blkio rw,relatime - cgroup cgroup rw,blkio\n"
    "38 30 0:35 / /sys/fs/cgroup/pids rw,relatime - cgroup cgroup rw,pids\n"
    "39 30 0:36 / /sys/fs/cgroup/systemd rw,relatime - cgroup cgroup rw,name=systemd\n"
    "40 30 0:37 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw\n";
const char* kHybridProcCgroup =
    "9:name=systemd:/\n8:pids:/\n7:blkio:/\n6:freezer:/\n5:devices:/\n"
    "4:memory:/process_api/75ece248ab8490c47c211455e7d128ea\n3:cpuset:/\n2:cpuacct:/\n1:cpu:/\n0::/\n";

// A Debian 12 / systemd 252 host: pure v2.
const char* kPureV2Mountinfo =
    "22 1 8:1 / / rw,relatime shared:1 - ext4 /dev/sda1 rw\n"
    "26 22 0:23 / /sys rw,nosuid,nodev,noexec,relatime shared:7 - sysfs sysfs rw\n"
    "29 26 0:26 / /sys/fs/cgroup rw,nosuid,nodev,noexec,relatime shared:4 - cgroup2 cgroup2 "
    "rw,nsdelegate,memory_recursiveprot\n";

// What the kernel puts in a new v2 cgroup: the core files plus those of its
// controllers. A fixture file cannot follow the parent's subtree_control as the kernel's
// does, so a child gets every controller its parent has; what the driver enables is
// checked in the parents' cgroup.subtree_control instead.
void populate_v2(const std::string& dir) {
    std::string parent = fs::path(dir).parent_path();
    std::string enabled = read_file(parent + "/cgroup.controllers");
    while (!enabled.empty() && enabled.back() == '\n') enabled.pop_back();
    write_file(dir + "/cgroup.controllers", enabled);
    for (auto f : {"cgroup.subtree_control", "cgroup.procs", "cgroup.kill"}) write_file(dir + "/" + f, "");
    write_file(dir + "/cgroup.freeze", "0\n");
    write_file(dir + "/cgroup.events", "populated 0\nfrozen 0\n");
    write_file(dir + "/cpu.stat", "usage_usec 0\nuser_usec 0\nsystem_usec 0\n");
    auto has = [&](const std::string& c) { return (" " + enabled + " ").find(" " + c + " ") != std::string::npos; };
    if (has("cpu")) {
        write_file(dir + "/cpu.max", "max 100000\n");
        write_file(dir + "/cpu.weight", "100\n");
    }
    if (has("memory")) {
        for (auto f : {"memory.max", "memory.high", "memory.swap.max"}) write_file(dir + "/" + f, "max\n");
        write_file(dir + "/memory.oom.group", "0\n");
        write_file(dir + "/memory.current", "0\n");
        write_file(dir + "/memory.events", "low 0\nhigh 0\nmax 0\noom 0\noom_kill 0\noom_group_kill 0\n");
    }
    if (has("pids")) write_file(dir + "/pids.max", "max\n");
    if (has("io")) write_file(dir + "/io.weight", "default 100\n");
}

// What the kernel puts in a new v1 cgroup (a superset: every hierarchy gets them all).
void populate_v1(const std::string& dir) {
    for (auto f : {"cgroup.procs", "tasks", "cpu.cfs_period_us", "cpu.cfs_quota_us", "memory.limit_in_bytes",
                   "memory.memsw.limit_in_bytes", "memory.soft_limit_in_bytes", "pids.max"})
        write_file(dir + "/" + f, "");
    write_file(dir + "/cpu.shares", "1024\n");
    write_file(dir + "/freezer.state", "THAWED\n");
}

struct Fixture {
    TempDir tmp{"isolated-cgroup-unit"};
    std::string cg() const { return tmp / "sys/fs/cgroup"; }

    void write_proc(const std::string& mountinfo, const std::string& proc_cgroup) {
        fs::create_directories(tmp / "proc/self");
        write_file(tmp / "proc/self/mountinfo", mountinfo);
        write_file(tmp / "proc/self/cgroup", proc_cgroup);
    }
    void pure_v2(const std::string& own = "/", const std::string& controllers = "cpuset cpu io memory hugetlb pids rdma misc") {
        write_proc(kPureV2Mountinfo, "0::" + own + "\n");
        fs::create_directories(cg());
        write_file(cg() + "/cgroup.controllers", controllers + "\n");
        write_file(cg() + "/cgroup.subtree_control", "");
        write_file(cg() + "/cgroup.procs", "");
        for (std::string d = own; d != "/" && !d.empty(); d = fs::path(d).parent_path()) {
            fs::create_directories(cg() + d);
        }
        // systemd's intermediate cgroups, when the daemon is deeper than the root.
        std::string cur = cg();
        std::istringstream parts(own);
        for (std::string p; std::getline(parts, p, '/');) {
            if (p.empty()) continue;
            write_file(cur + "/cgroup.subtree_control", controllers);
            cur += "/" + p;
            populate_v2(cur);
        }
    }
    void hybrid() {
        write_proc(kHybridMountinfo, kHybridProcCgroup);
        for (auto c : {"cpu", "cpuacct", "cpuset", "memory", "devices", "freezer", "blkio", "pids", "systemd", "unified"})
            fs::create_directories(cg() + "/" + c);
        write_file(cg() + "/unified/cgroup.controllers", "hugetlb\n");
    }
    ManagerOptions options(const std::string& driver = "auto") const {
        ManagerOptions o;
        o.driver = driver;
        o.fs_prefix = tmp.path();
        o.proc_self = tmp / "proc/self";
        return o;
    }
};

std::unique_ptr<Manager> must(Result<std::unique_ptr<Manager>> m) {
    if (!m) FAIL(m.error().to_string());
    return std::move(*m);
}
std::unique_ptr<AppCgroup> must(Result<std::unique_ptr<AppCgroup>> m) {
    if (!m) FAIL(m.error().to_string());
    return std::move(*m);
}
#define REQUIRE_OK(expr)                                                 \
    do {                                                                 \
        auto _r = (expr);                                                \
        if (!_r) FAIL(#expr << ": " << _r.error().to_string());          \
    } while (0)

std::string trimmed(const std::string& s) {
    auto e = s.find_last_not_of(" \n");
    return e == std::string::npos ? "" : s.substr(0, e + 1);
}

ResourcesSpec full_spec() {
    ResourcesSpec s;
    s.cpu = 0.5;
    s.cpu_weight = 200;
    s.memory = 512ull << 20;
    s.memory_high = 400ull << 20;
    s.swap = 0;
    s.pids = 100;
    s.io_weight = 300;
    return s;
}

}  // namespace

// ---- parsing ------------------------------------------------------------------------------

TEST_CASE("mountinfo parses cgroup mounts, optional fields and octal escapes", "[cgroup]") {
    auto m = parse_mountinfo(kHybridMountinfo);
    REQUIRE(m.size() == 12);
    CHECK(m[2].mount_point == "/sys/fs/cgroup/cpu");
    CHECK(m[2].fstype == "cgroup");
    CHECK(m[2].super_options == std::vector<std::string>{"rw", "cpu"});
    CHECK(m[11].fstype == "cgroup2");
    auto v2 = parse_mountinfo(kPureV2Mountinfo);
    REQUIRE(v2.size() == 3);
    CHECK(v2[2].mount_point == "/sys/fs/cgroup");  // after "shared:4"
    CHECK(v2[2].super_options.back() == "memory_recursiveprot");
    auto esc = parse_mountinfo("50 22 0:40 /a\\040b /mnt/my\\040cg rw - cgroup2 none rw\nbroken line\n");
    REQUIRE(esc.size() == 1);
    CHECK(esc[0].mount_point == "/mnt/my cg");
    CHECK(esc[0].root == "/a b");
}

TEST_CASE("/proc/self/cgroup parses v1 and v2 lines, paths with colons", "[cgroup]") {
    auto e = parse_proc_cgroup(kHybridProcCgroup);
    REQUIRE(e.size() == 10);
    CHECK(e[0].id == 9);
    CHECK(e[0].controllers == std::vector<std::string>{"name=systemd"});
    CHECK(e[5].path == "/process_api/75ece248ab8490c47c211455e7d128ea");
    CHECK(e[9].id == 0);
    CHECK(e[9].controllers.empty());
    auto c = parse_proc_cgroup("2:cpu,cpuacct:/a:b\n0::/x:y\n");
    REQUIRE(c.size() == 2);
    CHECK(c[0].controllers == std::vector<std::string>{"cpu", "cpuacct"});
    CHECK(c[0].path == "/a:b");
    CHECK(c[1].path == "/x:y");
}

TEST_CASE("stat files parse as flat keyed lines", "[cgroup]") {
    auto cpu = parse_flat_keyed("usage_usec 123\nuser_usec 100\nnr_throttled 4\nthrottled_usec 99\n");
    CHECK(cpu["usage_usec"] == 123);
    CHECK(cpu["nr_throttled"] == 4);
    auto ev = parse_flat_keyed("low 0\nhigh 2\nmax 7\noom 1\noom_kill 1\noom_group_kill 0\n");
    CHECK(ev["oom_kill"] == 1);
    CHECK(ev["max"] == 7);
    auto oc = parse_flat_keyed("oom_kill_disable 0\nunder_oom 0\noom_kill 3\n");
    CHECK(oc["oom_kill"] == 3);
    auto junk = parse_flat_keyed("a b\nc 5\n\n d 6 \n");
    CHECK(junk.count("a") == 0);
    CHECK(junk["c"] == 5);
    CHECK(junk["d"] == 6);
    CHECK(working_set(100, 30) == 70);
    CHECK(working_set(100, 300) == 0);
}

TEST_CASE("limits translate to v2 and v1 values", "[cgroup]") {
    CHECK(v2_cpu_max(0.5) == "50000 100000");
    CHECK(v2_cpu_max(1.5) == "150000 100000");
    CHECK(v2_cpu_max(0.2) == "20000 100000");
    CHECK(cpu_quota_us(0.5) == 50000);
    CHECK(cpu_quota_us(0.0001) == 1000);  // the kernel's minimum
    CHECK(parse_v2_cpu_max("50000 100000\n") == Approx(0.5));
    CHECK_FALSE(parse_v2_cpu_max("max 100000\n"));
    // systemd's scaling: the defaults map to each other.
    CHECK(weight_to_shares(100) == 1024);
    CHECK(weight_to_shares(200) == 2048);
    CHECK(weight_to_shares(1) == 10);
    CHECK(weight_to_shares(10000) == 102400);
    CHECK(shares_to_weight(1024) == 100);
    CHECK(shares_to_weight(2) == 1);
    CHECK(shares_to_weight(262144) == 10000);
    for (std::uint32_t w : {1u, 50u, 100u, 250u, 1000u, 10000u}) CHECK(shares_to_weight(weight_to_shares(w)) == w);
    CHECK(v2_limit(std::nullopt) == "max");
    CHECK(v2_limit(512) == "512");
    CHECK_FALSE(parse_v2_limit("max\n"));
    CHECK(parse_v2_limit("4096\n") == 4096u);
    CHECK_FALSE(parse_v1_limit("9223372036854771712\n"));  // v1 "unlimited"
    CHECK(parse_v1_limit("67108864\n") == 67108864u);
    CHECK(parse_i64("-1\n") == -1);
}

// ---- detection ----------------------------------------------------------------------------

TEST_CASE("detection: this machine's hybrid layout is v1, not the hugetlb-only cgroup2", "[cgroup]") {
    auto l = layout_from(kHybridMountinfo, kHybridProcCgroup, "/x", false, "hugetlb\n");
    CHECK(l.unified == "/x/sys/fs/cgroup/unified");
    CHECK(l.unified_controllers == std::set<std::string>{"hugetlb"});
    CHECK(l.v1.at("cpu") == "/x/sys/fs/cgroup/cpu");
    CHECK(l.v1.at("cpuacct") == "/x/sys/fs/cgroup/cpuacct");
    CHECK(l.v1.at("memory") == "/x/sys/fs/cgroup/memory");
    CHECK(l.v1.at("pids") == "/x/sys/fs/cgroup/pids");
    CHECK(l.v1.at("freezer") == "/x/sys/fs/cgroup/freezer");
    CHECK(l.v1.count("cpuset") == 0);
    CHECK(l.own_unified == "/");
    CHECK(auto_driver(l) == Driver::v1);
    l.systemd_booted = true;
    CHECK(auto_driver(l) == Driver::systemd);
}

TEST_CASE("detection: co-mounted cpu,cpuacct share one mount", "[cgroup]") {
    auto l = layout_from("31 30 0:28 / /sys/fs/cgroup/cpu,cpuacct rw - cgroup cgroup rw,cpu,cpuacct\n", "", "", false,
                         "");
    CHECK(l.v1.at("cpu") == "/sys/fs/cgroup/cpu,cpuacct");
    CHECK(l.v1.at("cpuacct") == "/sys/fs/cgroup/cpu,cpuacct");
    CHECK_FALSE(l.unified);
    CHECK(auto_driver(l) == Driver::v1);
}

TEST_CASE("detection: pure v2, systemd, nothing, and the daemon's own cgroup", "[cgroup]") {
    auto l = layout_from(kPureV2Mountinfo, "0::/system.slice/isolated.service\n", "", false, "cpu memory pids io\n");
    CHECK(l.unified == "/sys/fs/cgroup");
    CHECK(l.v1.empty());
    CHECK(l.own_unified == "/system.slice/isolated.service");
    CHECK(auto_driver(l) == Driver::v2);
    l.systemd_booted = true;
    CHECK(auto_driver(l) == Driver::systemd);
    CHECK(auto_driver(layout_from("22 1 8:1 / / rw - ext4 /dev/sda1 rw\n", "", "", false, "")) == Driver::none);
    // A container without a cgroup namespace sees a sub-tree at its mount.
    auto c = layout_from("29 26 0:26 /docker/abc /sys/fs/cgroup rw - cgroup2 cgroup2 rw\n", "0::/docker/abc/x\n", "",
                         false, "");
    CHECK(c.own_unified == "/x");
    CHECK(relative_to_mount("/a/b", "/a") == "/b");
    CHECK(relative_to_mount("/a", "/a") == "/");
    CHECK_FALSE(relative_to_mount("/ab", "/a"));
}

TEST_CASE("make_manager reads the injected tree and honours an explicit driver", "[cgroup]") {
    Fixture f;
    f.hybrid();
    CHECK(must(make_manager(f.options()))->driver() == Driver::v1);
    CHECK(must(make_manager(f.options("v2")))->driver() == Driver::v2);
    CHECK(must(make_manager(f.options("none")))->driver() == Driver::none);
    auto bad = make_manager(f.options("cgroupfs"));
    REQUIRE_FALSE(bad);
    CHECK_THAT(bad.error().message, Catch::Contains("cgroupfs"));

    Fixture g;
    g.pure_v2();
    CHECK(must(make_manager(g.options()))->driver() == Driver::v2);
    CHECK_FALSE(make_manager(g.options("v1")));  // no v1 hierarchy there
    // systemd is PID 1 but its bus does not answer: auto falls back to cgroupfs.
    fs::create_directories(g.tmp / "run/systemd/system");
    auto o = g.options();
    o.bus = []() -> Result<BusPtr> { return Error::os(ECONNREFUSED, "connect to the system bus"); };
    CHECK(must(make_manager(o))->driver() == Driver::v2);
    o.driver = "systemd";
    CHECK_FALSE(make_manager(o));
}

// ---- v2 driver on a fixture tree ------------------------------------------------------------

TEST_CASE("v2: prepare_daemon moves the daemon to its leaf and enables controllers", "[cgroup]") {
    Fixture f;
    f.pure_v2("/");
    auto o = f.options();
    o.after_mkdir = populate_v2;
    auto m = must(make_manager(o));
    REQUIRE(m->driver() == Driver::v2);
    REQUIRE_OK(m->prepare_daemon());
    CHECK(trimmed(read_file(f.cg() + "/isolated/_daemon/cgroup.procs")) == "0");
    CHECK(trimmed(read_file(f.cg() + "/cgroup.subtree_control")) == "+cpu +memory +pids +io");
    CHECK(trimmed(read_file(f.cg() + "/isolated/cgroup.subtree_control")) == "+cpu +memory +pids +io");
    CHECK(trimmed(read_file(f.cg() + "/isolated/_daemon/cgroup.subtree_control")) == "");
}

TEST_CASE("v2: a daemon outside the root stays, one in its delegated service cgroup moves down", "[cgroup]") {
    SECTION("elsewhere") {
        Fixture f;
        f.pure_v2("/system.slice/isolated.service");
        auto o = f.options();
        o.after_mkdir = populate_v2;
        auto m = must(make_manager(o));
        REQUIRE_OK(m->prepare_daemon());
        CHECK_FALSE(fs::exists(f.cg() + "/isolated/_daemon"));
        CHECK(fs::is_directory(f.cg() + "/isolated"));
    }
    SECTION("delegated") {
        Fixture f;
        f.pure_v2("/system.slice/isolated.service");
        auto o = f.options();
        o.root = "system.slice/isolated.service";
        o.after_mkdir = populate_v2;
        auto m = must(make_manager(o));
        REQUIRE_OK(m->prepare_daemon());
        std::string svc = f.cg() + "/system.slice/isolated.service";
        CHECK(trimmed(read_file(svc + "/_daemon/cgroup.procs")) == "0");
        CHECK(trimmed(read_file(svc + "/cgroup.subtree_control")) == "+cpu +memory +pids +io");
        auto app = must(m->create("web", {}));
        CHECK(app->describe() == svc + "/web");
    }
}

TEST_CASE("v2: create writes every limit, placement is a cgroup fd, readback matches", "[cgroup]") {
    Fixture f;
    f.pure_v2();
    auto o = f.options();
    o.after_mkdir = populate_v2;
    auto m = must(make_manager(o));
    REQUIRE_OK(m->prepare_daemon());
    auto app = must(m->create("web", full_spec()));
    std::string d = f.cg() + "/isolated/web";
    CHECK(app->describe() == d);
    CHECK(trimmed(read_file(d + "/cpu.max")) == "50000 100000");
    CHECK(trimmed(read_file(d + "/cpu.weight")) == "200");
    CHECK(trimmed(read_file(d + "/memory.max")) == "536870912");
    CHECK(trimmed(read_file(d + "/memory.high")) == "419430400");
    CHECK(trimmed(read_file(d + "/memory.swap.max")) == "0");
    CHECK(trimmed(read_file(d + "/memory.oom.group")) == "1");
    CHECK(trimmed(read_file(d + "/pids.max")) == "100");
    CHECK(trimmed(read_file(d + "/io.weight")) == "default 300");

    auto p = app->placement();
    CHECK(p.cgroup_dir_fd >= 0);
    CHECK(p.procs_fds.empty());
    CHECK_FALSE(p.attach_after_clone);
    struct stat st;
    REQUIRE(::fstat(p.cgroup_dir_fd, &st) == 0);
    CHECK(S_ISDIR(st.st_mode));

    auto lim = app->limits();
    REQUIRE(lim);
    CHECK(*lim == full_spec());

    REQUIRE_OK(app->attach(4242));
    CHECK(trimmed(read_file(d + "/cgroup.procs")) == "4242");
    REQUIRE_OK(app->kill());
    CHECK(trimmed(read_file(d + "/cgroup.kill")) == "1");

    // Counters as the kernel formats them.
    write_file(d + "/cpu.stat", "usage_usec 1500000\nuser_usec 1000000\nsystem_usec 500000\nnr_periods 10\n"
                                "nr_throttled 4\nthrottled_usec 250000\n");
    write_file(d + "/memory.current", "104857600\n");
    write_file(d + "/memory.stat", "anon 50000000\nfile 8388608\nactive_file 4194304\ninactive_file 4194304\n");
    write_file(d + "/memory.peak", "209715200\n");
    write_file(d + "/pids.current", "3\n");
    write_file(d + "/memory.events", "low 0\nhigh 0\nmax 5\noom 1\noom_kill 1\noom_group_kill 1\n");
    auto u = app->usage();
    REQUIRE(u);
    CHECK(u->cpu_seconds == Approx(1.5));
    CHECK(u->cpu_periods == 10u);
    CHECK(u->cpu_throttled_periods == 4u);
    CHECK(u->cpu_throttled_seconds == Approx(0.25));
    CHECK(u->memory_bytes == 104857600u - 4194304u);
    CHECK(u->memory_peak_bytes == 209715200u);
    CHECK(u->pids == 3u);
    auto oom = app->oom_kills();
    REQUIRE(oom);
    CHECK(*oom == 1);

    // open() finds the same cgroup (adoption).
    auto again = must(m->open("web"));
    CHECK(again->describe() == d);
    CHECK_FALSE(m->open("nope"));
}

TEST_CASE("v2: without the cpu controller cpu.stat has no periods, and usage leaves them unknown", "[cgroup]") {
    Fixture f;
    f.pure_v2("/", "memory pids");
    auto o = f.options();
    o.after_mkdir = populate_v2;
    auto m = must(make_manager(o));
    REQUIRE_OK(m->prepare_daemon());
    auto app = must(m->create("web", {}));
    std::string d = f.cg() + "/isolated/web";
    // What the kernel writes when the cpu controller is not enabled: the core's lines only.
    write_file(d + "/cpu.stat", "usage_usec 1500000\nuser_usec 1000000\nsystem_usec 500000\n");
    auto u = app->usage();
    REQUIRE(u);
    CHECK(u->cpu_seconds == Approx(1.5));
    CHECK_FALSE(u->cpu_periods);
    CHECK_FALSE(u->cpu_throttled_periods);
    CHECK_FALSE(u->cpu_throttled_seconds);
}

TEST_CASE("v2: a limit whose controller is not available is an error naming it", "[cgroup]") {
    Fixture f;
    f.pure_v2("/", "cpu memory pids");  // no io
    auto o = f.options();
    o.after_mkdir = populate_v2;
    auto m = must(make_manager(o));
    REQUIRE_OK(m->prepare_daemon());
    CHECK(trimmed(read_file(f.cg() + "/isolated/cgroup.subtree_control")) == "+cpu +memory +pids");
    ResourcesSpec s;
    s.io_weight = 500;
    auto app = m->create("web", s);
    REQUIRE_FALSE(app);
    CHECK(app.error().errno_value == ENOTSUP);
    CHECK_THAT(app.error().message, Catch::Contains("ioWeight") && Catch::Contains("io controller"));
    ResourcesSpec ok;
    ok.memory = 1 << 20;
    CHECK(m->create("db", ok));  // (a fixture dir cannot be rmdir-ed like a cgroup: another name)
    CHECK_FALSE(m->create("Bad_Name", ok));
}

// ---- v1 driver on a fixture tree ------------------------------------------------------------

TEST_CASE("v1: create writes quota, shares, memory+memsw, pids in each hierarchy", "[cgroup]") {
    Fixture f;
    f.hybrid();
    auto o = f.options();
    o.after_mkdir = populate_v1;
    auto m = must(make_manager(o));
    REQUIRE(m->driver() == Driver::v1);
    REQUIRE_OK(m->prepare_daemon());
    for (auto c : {"cpu", "cpuacct", "memory", "pids", "freezer"}) CHECK(fs::is_directory(f.cg() + "/" + c + "/isolated"));
    CHECK_FALSE(fs::exists(f.cg() + "/cpuset/isolated"));
    CHECK_FALSE(fs::exists(f.cg() + "/unified/isolated"));

    auto app = must(m->create("web", full_spec()));
    std::string cpu = f.cg() + "/cpu/isolated/web", mem = f.cg() + "/memory/isolated/web";
    CHECK(trimmed(read_file(cpu + "/cpu.cfs_period_us")) == "100000");
    CHECK(trimmed(read_file(cpu + "/cpu.cfs_quota_us")) == "50000");
    CHECK(trimmed(read_file(cpu + "/cpu.shares")) == "2048");
    CHECK(trimmed(read_file(mem + "/memory.limit_in_bytes")) == "536870912");
    CHECK(trimmed(read_file(mem + "/memory.memsw.limit_in_bytes")) == "536870912");  // swap 0
    CHECK(trimmed(read_file(mem + "/memory.soft_limit_in_bytes")) == "");  // memoryHigh: no v1 equivalent
    CHECK(trimmed(read_file(f.cg() + "/pids/isolated/web/pids.max")) == "100");

    auto p = app->placement();
    CHECK(p.cgroup_dir_fd == -1);
    CHECK(p.procs_fds.size() == 5);  // cpu, cpuacct, memory, pids, freezer are separate mounts here

    auto lim = app->limits();
    REQUIRE(lim);
    ResourcesSpec want = full_spec();
    want.memory_high.reset();  // not enforced on v1
    want.io_weight.reset();
    CHECK(*lim == want);

    write_file(f.cg() + "/cpuacct/isolated/web/cpuacct.usage", "2500000000\n");
    write_file(cpu + "/cpu.stat", "nr_periods 10\nnr_throttled 3\nthrottled_time 150000000\n");
    write_file(mem + "/memory.usage_in_bytes", "104857600\n");
    write_file(mem + "/memory.stat", "cache 8388608\ninactive_file 1\ntotal_inactive_file 4194304\n");
    write_file(mem + "/memory.max_usage_in_bytes", "209715200\n");
    write_file(mem + "/memory.oom_control", "oom_kill_disable 0\nunder_oom 0\noom_kill 2\n");
    write_file(f.cg() + "/pids/isolated/web/pids.current", "4\n");
    auto u = app->usage();
    REQUIRE(u);
    CHECK(u->cpu_seconds == Approx(2.5));
    CHECK(u->cpu_periods == 10u);
    CHECK(u->cpu_throttled_periods == 3u);
    CHECK(u->cpu_throttled_seconds == Approx(0.15));
    CHECK(u->memory_bytes == 104857600u - 4194304u);
    CHECK(u->memory_peak_bytes == 209715200u);
    CHECK(u->pids == 4u);
    CHECK(*app->oom_kills() == 2);

    REQUIRE_OK(app->attach(777));
    for (auto c : {"cpu", "cpuacct", "memory", "pids", "freezer"})
        CHECK(trimmed(read_file(f.cg() + "/" + c + "/isolated/web/cgroup.procs")) == "777");
    write_file(f.cg() + "/freezer/isolated/web/cgroup.procs", "");
    REQUIRE_OK(app->kill());  // froze, found nothing, thawed
    CHECK(trimmed(read_file(f.cg() + "/freezer/isolated/web/freezer.state")) == "THAWED");
}

// ---- systemd driver ---------------------------------------------------------------------------

TEST_CASE("systemd: scope properties carry the limits in systemd's units", "[cgroup]") {
    auto p = systemd::scope_properties("web", 42, full_spec());
    auto get = [&](const std::string& n) -> const systemd::UnitProperty* {
        for (auto& x : p)
            if (x.name == n) return &x;
        return nullptr;
    };
    CHECK(systemd::scope_name("web") == "isolated-web.scope");
    REQUIRE(get("Slice"));
    CHECK(std::get<std::string>(get("Slice")->value) == "isolated.slice");
    CHECK(std::get<std::vector<std::uint32_t>>(get("PIDs")->value) == std::vector<std::uint32_t>{42});
    CHECK(std::get<bool>(get("Delegate")->value) == true);
    CHECK(std::get<std::string>(get("CollectMode")->value) == "inactive-or-failed");
    CHECK(std::get<std::int32_t>(get("KillSignal")->value) == 9);
    CHECK(std::get<std::vector<std::string>>(get("Before")->value) == std::vector<std::string>{"isolated.service"});
    CHECK(std::get<std::uint64_t>(get("CPUQuotaPerSecUSec")->value) == 500000);
    CHECK(std::get<std::uint64_t>(get("CPUWeight")->value) == 200);
    CHECK(std::get<std::uint64_t>(get("MemoryMax")->value) == 512ull << 20);
    CHECK(std::get<std::uint64_t>(get("MemoryHigh")->value) == 400ull << 20);
    CHECK(std::get<std::uint64_t>(get("MemorySwapMax")->value) == 0);
    CHECK(std::get<std::uint64_t>(get("TasksMax")->value) == 100);
    CHECK(std::get<std::uint64_t>(get("IOWeight")->value) == 300);
    auto bare = systemd::scope_properties("db", 7, {});
    for (auto n : {"CPUQuotaPerSecUSec", "MemoryMax", "TasksMax", "IOWeight"}) {
        bool found = false;
        for (auto& x : bare) found = found || x.name == n;
        CHECK_FALSE(found);
    }
}

namespace {

// A stand-in for PID 1's org.freedesktop.systemd1.Manager on the other end of a
// socketpair: answers the calls the driver makes, creates the scope's cgroup in the
// fixture tree and sends JobRemoved like systemd does.
class FakeSystemd {
public:
    explicit FakeSystemd(std::string cgroup_mount) : mount_(std::move(cgroup_mount)) {
        REQUIRE(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds_) == 0);
        thread_ = std::thread([this] { serve(); });
    }
    ~FakeSystemd() {
        stop_ = true;
        thread_.join();  // the server bus owned and closed fds_[1]
    }
    BusFactory factory() {
        return [this]() -> Result<BusPtr> {
            sd_bus* b = nullptr;
            if (sd_bus_new(&b) < 0) return Error::msg("sd_bus_new");
            BusPtr bus(b);
            int fd = ::dup(fds_[0]);
            ::close(fds_[0]);
            if (sd_bus_set_fd(b, fd, fd) < 0 || sd_bus_start(b) < 0) return Error::msg("client start");
            return bus;
        };
    }
    std::vector<std::string> calls() {
        std::lock_guard<std::mutex> g(mu_);
        return calls_;
    }
    std::vector<systemd::UnitProperty> props() {
        std::lock_guard<std::mutex> g(mu_);
        return props_;
    }
    void add_unit(const std::string& u) {
        std::lock_guard<std::mutex> g(mu_);
        units_.insert(u);
    }

private:
    void serve() {
        sd_bus* s = nullptr;
        sd_bus_new(&s);
        sd_id128_t id;
        sd_id128_randomize(&id);
        sd_bus_set_fd(s, fds_[1], fds_[1]);
        sd_bus_set_server(s, 1, id);
        sd_bus_add_filter(s, nullptr, &FakeSystemd::on_message, this);
        sd_bus_start(s);
        while (!stop_) {
            int r = sd_bus_process(s, nullptr);
            if (r > 0) continue;
            if (r < 0) break;
            sd_bus_wait(s, 20000);
        }
        sd_bus_flush(s);
        sd_bus_close(s);
        sd_bus_unref(s);
    }

    static int on_message(sd_bus_message* m, void* self, sd_bus_error*) {
        return static_cast<FakeSystemd*>(self)->handle(m);
    }

    void job_done(sd_bus_message* m, const std::string& unit) {
        std::string job = "/org/freedesktop/systemd1/job/" + std::to_string(++job_id_);
        sd_bus_reply_method_return(m, "o", job.c_str());
        sd_bus_emit_signal(sd_bus_message_get_bus(m), "/org/freedesktop/systemd1", "org.freedesktop.systemd1.Manager",
                           "JobRemoved", "uoss", job_id_, job.c_str(), unit.c_str(), "done");
    }

    int handle(sd_bus_message* m) {
        if (sd_bus_message_is_method_call(m, nullptr, nullptr) <= 0) return 0;
        std::string member = sd_bus_message_get_member(m);
        std::lock_guard<std::mutex> g(mu_);
        calls_.push_back(member);
        const char* name = nullptr;
        if (member == "StartTransientUnit") {
            const char* mode = nullptr;
            sd_bus_message_read(m, "ss", &name, &mode);
            calls_.back() += std::string(" ") + name + " " + mode;
            read_props(m);
            units_.insert(name);
            std::string dir = mount_ + "/isolated.slice";
            fs::create_directories(dir);
            write_file(dir + "/cgroup.controllers", "cpu memory pids io");
            fs::create_directories(dir + "/" + name);
            populate_v2(dir + "/" + name);
            job_done(m, name);
        } else if (member == "StopUnit") {
            const char* mode = nullptr;
            sd_bus_message_read(m, "ss", &name, &mode);
            calls_.back() += std::string(" ") + name;
            if (!units_.count(name)) {
                sd_bus_reply_method_errorf(m, "org.freedesktop.systemd1.NoSuchUnit", "Unit %s not loaded.", name);
            } else {
                units_.erase(name);
                fs::remove_all(mount_ + "/isolated.slice/" + name);
                job_done(m, name);
            }
        } else if (member == "GetUnit") {
            sd_bus_message_read(m, "s", &name);
            calls_.back() += std::string(" ") + name;
            if (!units_.count(name))
                sd_bus_reply_method_errorf(m, "org.freedesktop.systemd1.NoSuchUnit", "Unit %s not loaded.", name);
            else {
                std::string path = "/org/freedesktop/systemd1/unit/u" + std::to_string(paths_.size());
                paths_[path] = name;
                sd_bus_reply_method_return(m, "o", path.c_str());
            }
        } else if (member == "Get") {
            const char *iface, *prop;
            sd_bus_message_read(m, "ss", &iface, &prop);
            calls_.back() += std::string(" ") + prop;
            std::string unit = paths_[sd_bus_message_get_path(m)];
            sd_bus_reply_method_return(m, "v", "s", ("/isolated.slice/" + unit).c_str());
        } else if (member == "KillUnit") {
            const char* whom;
            int sig;
            sd_bus_message_read(m, "ssi", &name, &whom, &sig);
            calls_.back() += std::string(" ") + name + " " + whom + " " + std::to_string(sig);
            sd_bus_reply_method_return(m, "");
        } else if (member == "ResetFailedUnit") {
            sd_bus_reply_method_return(m, "");
        } else if (member == "ListUnitsByPatterns") {
            sd_bus_message* reply = nullptr;
            sd_bus_message_new_method_return(m, &reply);
            sd_bus_message_open_container(reply, 'a', "(ssssssouso)");
            for (auto& u : units_)
                sd_bus_message_append(reply, "(ssssssouso)", u.c_str(), "", "loaded", "active", "running", "",
                                      "/org/freedesktop/systemd1/unit/x", 0u, "", "/");
            sd_bus_message_close_container(reply);
            sd_bus_send(nullptr, reply, nullptr);
            sd_bus_message_unref(reply);
        } else {
            sd_bus_reply_method_errorf(m, SD_BUS_ERROR_UNKNOWN_METHOD, "no %s", member.c_str());
        }
        return 1;
    }

    void read_props(sd_bus_message* m) {
        props_.clear();
        sd_bus_message_enter_container(m, 'a', "(sv)");
        while (sd_bus_message_enter_container(m, 'r', "sv") > 0) {
            const char* n;
            sd_bus_message_read(m, "s", &n);
            const char* contents = nullptr;
            sd_bus_message_peek_type(m, nullptr, &contents);
            std::string type = contents;
            sd_bus_message_enter_container(m, 'v', contents);
            systemd::UnitProperty p{n, false};
            if (type == "b") {
                int b;
                sd_bus_message_read(m, "b", &b);
                p.value = b != 0;
            } else if (type == "t") {
                std::uint64_t t;
                sd_bus_message_read(m, "t", &t);
                p.value = t;
            } else if (type == "i") {
                std::int32_t i;
                sd_bus_message_read(m, "i", &i);
                p.value = i;
            } else if (type == "s") {
                const char* s;
                sd_bus_message_read(m, "s", &s);
                p.value = std::string(s);
            } else if (type == "au") {
                const void* data;
                size_t size;
                sd_bus_message_read_array(m, 'u', &data, &size);
                auto* u = static_cast<const std::uint32_t*>(data);
                p.value = std::vector<std::uint32_t>(u, u + size / sizeof(std::uint32_t));
            } else if (type == "as") {
                std::vector<std::string> strs;
                sd_bus_message_enter_container(m, 'a', "s");
                const char* str;
                while (sd_bus_message_read(m, "s", &str) > 0) strs.push_back(str);
                sd_bus_message_exit_container(m);
                p.value = strs;
            }
            sd_bus_message_exit_container(m);
            sd_bus_message_exit_container(m);
            props_.push_back(p);
        }
        sd_bus_message_exit_container(m);
    }

    std::string mount_;
    int fds_[2];
    std::thread thread_;
    std::atomic<bool> stop_{false};
    std::mutex mu_;
    std::vector<std::string> calls_;
    std::vector<systemd::UnitProperty> props_;
    std::set<std::string> units_;
    std::map<std::string, std::string> paths_;  // unit object path -> unit name
    std::uint32_t job_id_ = 0;
};

}  // namespace

TEST_CASE("systemd: a scope is started over the bus with the limits, then used through its cgroup", "[cgroup]") {
    Fixture f;
    f.pure_v2("/system.slice/isolated.service");
    fs::create_directories(f.tmp / "run/systemd/system");
    FakeSystemd fake(f.cg());
    auto o = f.options();
    o.bus = fake.factory();
    o.systemd_job_timeout = std::chrono::seconds(5);
    auto m = must(make_manager(o));
    REQUIRE(m->driver() == Driver::systemd);
    REQUIRE_OK(m->prepare_daemon());

    auto app = must(m->create("web", full_spec()));
    CHECK(app->placement().attach_after_clone);
    CHECK(app->placement().cgroup_dir_fd == -1);
    REQUIRE_OK(app->attach(4242));
    auto calls = fake.calls();
    CHECK(std::find(calls.begin(), calls.end(), "StartTransientUnit isolated-web.scope fail") != calls.end());
    CHECK(fake.props() == systemd::scope_properties("web", 4242, full_spec()));

    // From now on the scope's cgroup is used directly.
    std::string d = f.cg() + "/isolated.slice/isolated-web.scope";
    CHECK_THAT(app->describe(), Catch::Contains("isolated.slice/isolated-web.scope") && Catch::Contains(d));
    auto p = app->placement();
    CHECK_FALSE(p.attach_after_clone);
    CHECK(p.cgroup_dir_fd >= 0);
    write_file(d + "/memory.events", "oom 1\noom_kill 1\n");
    CHECK(*app->oom_kills() == 1);
    REQUIRE_OK(app->attach(4343));
    CHECK(trimmed(read_file(d + "/cgroup.procs")) == "4343");
    REQUIRE_OK(app->kill());
    CHECK(trimmed(read_file(d + "/cgroup.kill")) == "1");

    // Adoption finds it; reconcile stops scopes of apps that are gone.
    auto adopted = must(m->open("web"));
    CHECK(adopted->placement().cgroup_dir_fd >= 0);
    CHECK_FALSE(m->open("db"));
    fake.add_unit("isolated-old.scope");
    auto removed = m->reconcile({"web"});
    REQUIRE(removed);
    CHECK(*removed == std::vector<std::string>{"old"});

    REQUIRE_OK(app->remove());
    calls = fake.calls();
    CHECK(std::find(calls.begin(), calls.end(), "StopUnit isolated-web.scope") != calls.end());
    CHECK_FALSE(fs::exists(d));

    // A leftover scope with the same name is stopped before the new one starts.
    auto again = must(m->create("web", {}));
    REQUIRE_OK(again->attach(5000));
    fake.add_unit("isolated-web.scope");
    auto third = must(m->create("web", {}));
    calls = fake.calls();
    CHECK(calls.back() == "ResetFailedUnit");
    CHECK(std::count(calls.begin(), calls.end(), "StopUnit isolated-web.scope") == 2);
}

// ---- hooks (issue 16, item 6) -------------------------------------------------------------------

TEST_CASE("hooks: hook cgroup names are <app>.<kind>, never app names", "[cgroup][hooks]") {
    CHECK(is_hook_name("web.failure"));
    CHECK(is_hook_name("my-db.oom"));
    CHECK_FALSE(is_hook_name("web"));
    CHECK_FALSE(is_hook_name(".failure"));
    CHECK_FALSE(is_hook_name("web."));
    CHECK_FALSE(is_hook_name("web.on-failure"));
    CHECK_FALSE(is_hook_name("web.failure.x"));
    CHECK_FALSE(is_hook_name("_hooks"));
    CHECK_FALSE(is_app_name("web.failure"));
    CHECK_FALSE(is_app_name(kHooksDir));
}

TEST_CASE("hooks: v1 and v2 put a hook's cgroup in <root>/_hooks, which reconcile leaves to the hooks",
          "[cgroup][hooks]") {
    SECTION("v1") {
        Fixture f;
        f.hybrid();
        auto o = f.options();
        o.after_mkdir = populate_v1;
        auto m = must(make_manager(o));
        REQUIRE_OK(m->prepare_daemon());
        CHECK_FALSE(m->create_hook("web"));
        auto h = must(m->create_hook("web.failure"));
        for (auto c : {"cpu", "cpuacct", "memory", "pids", "freezer"})
            CHECK(fs::is_directory(f.cg() + "/" + c + "/isolated/_hooks/web.failure"));
        CHECK(h->placement().procs_fds.size() == 5);  // entered from the child, as an init enters its app's
        CHECK(trimmed(read_file(f.cg() + "/memory/isolated/_hooks/web.failure/memory.limit_in_bytes")) == "");  // no limits
        auto gone = m->reconcile({});
        REQUIRE(gone);
        CHECK(gone->empty());
        CHECK(fs::is_directory(f.cg() + "/freezer/isolated/_hooks/web.failure"));
        REQUIRE_OK(h->attach(4242));
        CHECK(trimmed(read_file(f.cg() + "/freezer/isolated/_hooks/web.failure/cgroup.procs")) == "4242");
    }
    SECTION("v2") {
        Fixture f;
        f.pure_v2();
        auto o = f.options("v2");
        o.after_mkdir = populate_v2;
        auto m = must(make_manager(o));
        REQUIRE_OK(m->prepare_daemon());
        auto h = must(m->create_hook("db.oom"));
        std::string dir = f.cg() + "/isolated/_hooks/db.oom";
        CHECK(fs::is_directory(dir));
        CHECK(h->placement().cgroup_dir_fd >= 0);
        CHECK(trimmed(read_file(f.cg() + "/isolated/_hooks/cgroup.subtree_control")) == "");  // no controllers below
        auto gone = m->reconcile({});
        REQUIRE(gone);
        CHECK(gone->empty());
        CHECK(fs::is_directory(dir));
        REQUIRE_OK(h->kill());
        CHECK(trimmed(read_file(dir + "/cgroup.kill")) == "1");
    }
}

TEST_CASE("hooks: under systemd a hook runs in the scope isolated-<app>.<kind>.scope, which remove_hooks stops",
          "[cgroup][hooks]") {
    Fixture f;
    f.pure_v2("/system.slice/isolated.service");
    fs::create_directories(f.tmp / "run/systemd/system");
    FakeSystemd fake(f.cg());
    auto o = f.options();
    o.bus = fake.factory();
    o.systemd_job_timeout = std::chrono::seconds(5);
    auto m = must(make_manager(o));
    REQUIRE(m->driver() == Driver::systemd);

    auto h = must(m->create_hook("web.failure"));
    CHECK(h->placement().attach_after_clone);
    REQUIRE_OK(h->attach(4242));
    auto calls = fake.calls();
    CHECK(std::find(calls.begin(), calls.end(), "StartTransientUnit isolated-web.failure.scope fail") != calls.end());
    CHECK(fake.props() == systemd::scope_properties("web.failure", 4242, {}));
    CHECK(std::get<std::string>(fake.props()[0].value) == "isolated hook web.failure");
    CHECK(fs::is_directory(f.cg() + "/isolated.slice/isolated-web.failure.scope"));

    // Not an app's scope: reconcile leaves it; remove_hooks stops it (and only hooks).
    fake.add_unit("isolated-web.scope");
    auto gone = m->reconcile({"web"});
    REQUIRE(gone);
    CHECK(gone->empty());
    auto removed = m->remove_hooks();
    REQUIRE(removed);
    CHECK(*removed == std::vector<std::string>{"web.failure"});
    calls = fake.calls();
    CHECK(std::find(calls.begin(), calls.end(), "StopUnit isolated-web.failure.scope") != calls.end());
    CHECK(std::find(calls.begin(), calls.end(), "StopUnit isolated-web.scope") == calls.end());
}
