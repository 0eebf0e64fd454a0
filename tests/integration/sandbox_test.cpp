// The sandbox, seen from inside: a static helper (tests/helpers/sandbox_probe.c) runs
// as the app, reports what it sees, and the tests assert on it.
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <sstream>
#include <vector>

#include "integration/harness.hpp"

using namespace isolated::test;
using namespace std::chrono_literals;

namespace {

void require_root() { require_prerequisite(is_root(), "sandbox tests need root"); }

std::string probe_binary() { return build_dir() + "/sandbox_probe"; }

std::string app_json(const std::string& args, const std::string& extra = "", const std::string& more_mounts = "") {
    return probe_app_json(args, extra, more_mounts);
}

// The app's report: key=value lines of its log, once "done=1" is there.
std::map<std::string, std::string> report_of(Daemon& d, const std::string& app) {
    std::string out;
    bool done = wait_until(
        [&] {
            out = d.isoctl({"logs", "-n", "500", app}).out;
            return out.find("done=1") != std::string::npos;
        },
        20s);
    INFO("logs of " << app << ":\n" << out << "\ndaemon:\n" << d.daemon_log());
    REQUIRE(done);
    std::map<std::string, std::string> kv;
    std::istringstream in(out);
    for (std::string line; std::getline(in, line);)
        if (auto eq = line.find('='); eq != std::string::npos) kv[line.substr(0, eq)] = line.substr(eq + 1);
    return kv;
}

// Mounts in the test's own namespace, except network namespaces: the test daemon's
// (bound to <test dir>/netns, which lives as long as the Daemon object) and the apps'
// kept ones (nsfs files bound under <run dir>/netns/, on a self-bound <run dir>/netns:
// a pod sandbox kept for the app's next instance, not a mount of the sandbox's root).
int mount_count() {
    std::ifstream in("/proc/self/mountinfo");
    int n = 0;
    for (std::string line; std::getline(in, line);)
        if (line.find("/netns ") == std::string::npos && line.find(" - nsfs ") == std::string::npos) ++n;
    return n;
}

}  // namespace

TEST_CASE("a sandboxed app sees its own pid namespace, root and hostname, and Docker's hardening",
          "[integration][sandbox]") {
    require_root();
    Daemon d;
    d.write_app("inside", app_json("report"));
    int mounts_before = mount_count();
    d.start();
    auto r = report_of(d, "inside");
    // PID 1 is isolated's init; the app cannot see host processes.
    CHECK(r["pid1_comm"] == "isolated-init");
    CHECK(r["pid"] == "2");
    CHECK(std::stoi(r["procs"]) <= 3);
    CHECK(r["hostname"] == "inside");
    CHECK(r["uid"] == "0");
    // Secrets are masked, the kernel's knobs are out of reach.
    CHECK(r["shadow_bytes"] == "0");
    CHECK(std::stol(r["kcore_bytes"]) <= 0);  // masked, or not built into this kernel
    CHECK(r["timer_list_bytes"] == "0");
    CHECK(std::stol(r["passwd_bytes"]) > 0);
    CHECK(r["mount"] == "EPERM");
    CHECK(r["finit_module"] == "EPERM");
    CHECK(r["add_key"] == "EPERM");  // the seccomp filter's own refusal
    CHECK(r["proc_sys_write"] == "EROFS");
    CHECK(r["sysrq_write"] != "ok");
    CHECK(r["unshare_mnt"] == "EPERM");
    // Read-only root, writable /tmp, a working /dev.
    CHECK(r["root_write"] == "EROFS");
    CHECK(r["tmp_write"] == "ok");
    CHECK(r["dev_null_write"] == "ok");
    CHECK(r["dev_ptmx"] == "ok");
    // Docker's 14 capabilities in every set, no_new_privs, a seccomp filter.
    CHECK(r["CapEff"] == "00000000a80425fb");
    CHECK(r["CapPrm"] == "00000000a80425fb");
    CHECK(r["CapBnd"] == "00000000a80425fb");
    CHECK(r["NoNewPrivs"] == "1");
    CHECK(r["Seccomp"] == "2");
    // Nothing of the daemon's leaked: only stdin, stdout, stderr (CVE-2024-21626).
    CHECK(r["fds"] == "0,1,2,");
    CHECK(r["cwd"] == "/");
    CHECK(r["home"] == "/root");
    // The init's binary cannot be written through /proc/1/exe (CVE-2019-5736).
    CHECK(r["init_exe_write"] != "ok");
    // The sandbox's mounts live in its own namespace: the host's table is unchanged.
    CHECK(mount_count() == mounts_before);
    CHECK(d.stop() == 0);
}

TEST_CASE("security settings: capabilities added and dropped, seccomp unconfined, a user", "[integration][sandbox]") {
    require_root();
    Daemon d;
    d.write_app("caps", app_json("report", R"(, "security": {"capabilities": {"drop": ["ALL"], "add": ["NET_ADMIN", "KILL"]}, "seccomp": "unconfined", "noNewPrivileges": false})"));
    d.write_app("nobody", app_json("report", R"(, "user": "nobody", "workdir": "/tmp")"));
    d.start();
    auto c = report_of(d, "caps");
    CHECK(c["CapEff"] == "0000000000001020");  // KILL (5) and NET_ADMIN (12)
    CHECK(c["CapBnd"] == "0000000000001020");
    CHECK(c["Seccomp"] == "0");
    CHECK(c["add_key"] == "ok");  // no filter: nothing else stops it
    CHECK(c["NoNewPrivs"] == "0");
    CHECK(c["mount"] == "EPERM");  // no CAP_SYS_ADMIN all the same
    auto n = report_of(d, "nobody");
    CHECK(n["uid"] == "65534");
    CHECK(n["CapEff"] == "0000000000000000");
    CHECK(n["CapBnd"] == "00000000a80425fb");
    CHECK(n["cwd"] == "/tmp");
    CHECK(n["home"] == "/nonexistent");
    CHECK(n["passwd_bytes"] != "-1");
}

TEST_CASE("the init reaps orphans and the app can run without it as PID 1", "[integration][sandbox]") {
    require_root();
    Daemon d;
    d.write_app("orphans", app_json("orphans 100"));
    d.write_app("noinit", app_json("report", R"(, "init": false)"));
    d.start();
    CHECK(report_of(d, "orphans")["zombies"] == "0");
    auto r = report_of(d, "noinit");
    CHECK(r["pid"] == "1");
    auto st = d.app("noinit");
    CHECK(st["pid"] == st["initPid"]);
    CHECK(d.isoctl({"stop", "noinit"}).code == 0);
    CHECK(d.state("noinit") == "stopped");
}

TEST_CASE("app:NAME joins another app's pid, ipc, uts and network namespaces", "[integration][sandbox]") {
    require_root();
    Daemon d;
    d.write_app("main", app_json("report"));
    d.write_app("side", app_json("report", R"(, "namespaces": {"pid": "app:main", "ipc": "app:main", "uts": "app:main"}, "network": {"mode": "app:main"})"));
    d.write_app("alone", app_json("report"));
    d.start();
    auto m = report_of(d, "main"), s = report_of(d, "side"), a = report_of(d, "alone");
    CHECK(s["ns_pid"] == m["ns_pid"]);
    CHECK(s["ns_net"] == m["ns_net"]);
    CHECK(s["ns_ipc"] == m["ns_ipc"]);
    CHECK(s["ns_uts"] == m["ns_uts"]);
    CHECK(s["hostname"] == "main");
    CHECK(s["ns_mnt"] != m["ns_mnt"]);
    CHECK(a["ns_pid"] != m["ns_pid"]);
    CHECK(a["ns_net"] != m["ns_net"]);
    // In main's pid namespace the side app sees main's processes too.
    CHECK(std::stoi(s["procs"]) > 3);
}

TEST_CASE("a directory rootfs: the overlay resets at every start, read-only stays read-only, symlinks stay inside",
          "[integration][sandbox]") {
    require_root();
    Daemon d;
    // A minimal rootfs: the static helper, an /etc, mount points, and a symlink that
    // points at the host's /etc (CVE-2021-30465 class: a mount through it must land
    // inside the rootfs).
    auto root = std::filesystem::path(d.dir()) / "rootfs";
    for (auto sub : {"etc", "proc", "sys", "dev", "tmp", "opt/probe", "inner-etc"})
        std::filesystem::create_directories(root / sub);
    { std::ofstream(root / "etc/passwd") << "root:x:0:0:root:/root:/bin/sh\n"; }
    { std::ofstream(root / "etc/group") << "root:x:0:\n"; }
    for (auto f : {"etc/hosts", "etc/hostname", "etc/resolv.conf"}) std::ofstream(root / f) << "";
    std::filesystem::copy_file(probe_binary(), root / "opt/probe/sandbox_probe");
    std::filesystem::create_directory_symlink("/inner-etc", root / "escape");
    std::string vol = std::string(d.dir()) + "/vol";
    std::filesystem::create_directories(vol);
    auto spec = [&](const std::string& args, const std::string& writable, const std::string& mounts) {
        std::string argv = R"(["/opt/probe/sandbox_probe")";
        std::istringstream in(args);
        for (std::string a; in >> a;) argv += R"(, ")" + a + R"(")";
        return R"({"command": )" + argv + R"(], "rootfs": {"type": "directory", "path": ")" + root.string() +
               R"(", "writable": ")" + writable + R"("}, "stop": {"timeout": "2s"}, "mounts": [)" + mounts + "]}";
    };
    d.write_app("ovl", spec("marker /marker", "overlay",
                            R"({"type": "bind", "source": ")" + vol + R"(", "target": "/escape/isolated-test-vol"})"));
    d.write_app("ro", spec("marker /marker", "readonly", ""));
    // With a user namespace the lower layer is an idmapped mount: root inside (uid 200000
    // outside) owns the rootfs and can write to it through the overlay.
    std::string mapped = spec("marker /marker", "overlay", "");
    mapped.insert(mapped.size() - 1, R"(, "namespaces": {"user": {"uid": 200000}})");
    d.write_app("ovl-mapped", mapped);
    d.start();
    auto m1 = report_of(d, "ovl-mapped");
    CHECK(m1["create"] == "ok");
    CHECK(d.isoctl({"restart", "ovl-mapped"}).code == 0);
    CHECK(report_of(d, "ovl-mapped")["existed"] == "0");
    auto first = report_of(d, "ovl");
    CHECK(first["existed"] == "0");
    CHECK(first["create"] == "ok");
    // The mount went to <rootfs>/inner-etc (through the overlay), never to the host's /etc.
    CHECK_FALSE(std::filesystem::exists("/etc/isolated-test-vol"));
    CHECK(d.isoctl({"restart", "ovl"}).code == 0);
    auto again = report_of(d, "ovl");
    CHECK(again["existed"] == "0");  // the upper layer was thrown away
    CHECK_FALSE(std::filesystem::exists(root / "marker"));
    auto ro = report_of(d, "ro");
    CHECK(ro["create"] == "EROFS");
}

TEST_CASE("a read-only directory rootfs gets its missing mount points in its own view and stays read-only",
          "[integration][sandbox][rootfs]") {
    require_root();
    Daemon d;
    // A bare tree: only the helper. No /proc, /sys, /dev, /etc, /tmp, /run, nor the
    // volumes' targets -- everything the sandbox mounts has to be made in the
    // sandbox's view, never in this tree.
    auto root = std::filesystem::path(d.dir()) / "bare";
    std::filesystem::create_directories(root / "opt/probe");
    std::filesystem::copy_file(probe_binary(), root / "opt/probe/sandbox_probe");
    auto listing = [&] {
        std::vector<std::string> out;
        for (auto& e : std::filesystem::recursive_directory_iterator(root)) out.push_back(e.path().string());
        std::sort(out.begin(), out.end());
        return out;
    };
    auto before = listing();
    std::string vol = std::string(d.dir()) + "/vol";
    std::filesystem::create_directories(vol);
    auto spec = [&](const std::string& args, const std::string& extra) {
        std::string argv = R"(["/opt/probe/sandbox_probe")";
        std::istringstream in(args);
        for (std::string a; in >> a;) argv += R"(, ")" + a + R"(")";
        return R"({"command": )" + argv + R"(], "rootfs": {"type": "directory", "path": ")" + root.string() +
               R"(", "writable": "readonly"}, "stop": {"timeout": "2s"}, "mounts": [{"type": "bind", "source": ")" +
               vol + R"(", "target": "/srv/data"}, {"type": "tmpfs", "target": "/scratch/deep"}])" + extra + "}";
    };
    const std::string userns = R"(, "namespaces": {"user": {"uid": 200000, "count": 65536}})";
    d.write_app("bare", spec("marker /marker", ""));
    d.write_app("bare-hosts", spec("marker /etc/hosts", ""));
    d.write_app("bare-tmp", spec("marker /tmp/m", ""));
    d.write_app("bare-vol", spec("marker /srv/data/m", ""));
    d.write_app("bare-scratch", spec("marker /scratch/deep/m", ""));
    d.write_app("bare-mapped", spec("marker /marker", userns));
    d.write_app("bare-mapped-vol", spec("marker /srv/data/mapped", userns));
    int mounts_before = mount_count();
    d.start();
    auto bare = report_of(d, "bare");
    CHECK(bare["existed"] == "0");
    CHECK(bare["create"] == "EROFS");  // still read-only for the app
    auto hosts = report_of(d, "bare-hosts");
    CHECK(hosts["existed"] == "1");
    CHECK(hosts["create"] == "EROFS");
    CHECK(report_of(d, "bare-tmp")["create"] == "ok");      // podman --read-only's writable /tmp
    CHECK(report_of(d, "bare-vol")["create"] == "ok");      // the volume, not the tree
    CHECK(report_of(d, "bare-scratch")["create"] == "ok");  // a tmpfs volume
    auto mapped = report_of(d, "bare-mapped");
    CHECK(mapped["existed"] == "0");
    CHECK(mapped["create"] == "EROFS");
    CHECK(report_of(d, "bare-mapped-vol")["create"] == "ok");
    CHECK(std::filesystem::exists(vol + "/m"));
    CHECK(std::filesystem::exists(vol + "/mapped"));
    CHECK(d.isoctl({"restart", "bare"}).code == 0);
    CHECK(report_of(d, "bare")["create"] == "EROFS");
    // Nothing was written into the host's tree.
    CHECK(listing() == before);
    CHECK(d.stop() == 0);
    CHECK(mount_count() == mounts_before);
    CHECK(listing() == before);
}

TEST_CASE("a read-only rootfs overlayfs refuses is bound as it is, and a mount point it lacks is named",
          "[integration][sandbox][rootfs]") {
    require_root();
    Daemon d;
    // Overlays stacked on the tree as deep as the kernel allows (2): one more, the
    // sandbox's, is refused, so the init binds the tree read-only instead.
    auto base = std::filesystem::path(d.dir()) / "stack";
    for (auto sub : {"tree/etc", "tree/proc", "tree/sys", "tree/dev", "tree/opt/probe"})
        std::filesystem::create_directories(base / sub);
    for (auto f : {"tree/etc/hosts", "tree/etc/hostname", "tree/etc/resolv.conf"}) std::ofstream(base / f) << "";
    std::filesystem::copy_file(probe_binary(), base / "tree/opt/probe/sandbox_probe");
    std::vector<std::string> mounted;
    struct Unmount {
        std::vector<std::string>& m;
        ~Unmount() {
            for (auto it = m.rbegin(); it != m.rend(); ++it) ::umount2(it->c_str(), MNT_DETACH);
        }
    } unmount{mounted};
    std::string lower = (base / "tree").string();
    for (int i = 0; i < 2; ++i) {
        auto l = base / ("l" + std::to_string(i));
        for (auto sub : {"u", "w", "m"}) std::filesystem::create_directories(l / sub);
        std::string opts = "lowerdir=" + lower + ",upperdir=" + (l / "u").string() + ",workdir=" + (l / "w").string();
        if (::mount("overlay", (l / "m").c_str(), "overlay", 0, opts.c_str()) < 0) break;
        mounted.push_back((l / "m").string());
        lower = (l / "m").string();
    }
    require_prerequisite(!mounted.empty(), "overlayfs");
    auto spec = [&](const std::string& args, const std::string& mounts) {
        std::string argv = R"(["/opt/probe/sandbox_probe")";
        std::istringstream in(args);
        for (std::string a; in >> a;) argv += R"(, ")" + a + R"(")";
        return R"({"command": )" + argv + R"(], "rootfs": {"type": "directory", "path": ")" + lower +
               R"(", "writable": "readonly"}, "stop": {"timeout": "2s"}, "mounts": [)" + mounts + "]}";
    };
    // Every mount point is there: it runs, read-only (no /tmp in the tree: none mounted).
    d.write_app("complete", spec("marker /marker", ""));
    // A volume's target the tree lacks: the error says what to add.
    d.write_app("lacking", spec("marker /marker", R"({"type": "tmpfs", "target": "/data/cache"})"));
    d.start();
    auto complete = report_of(d, "complete");
    CHECK(complete["create"] == "EROFS");
    REQUIRE(wait_until([&] { return d.state("lacking") == "backoff" || d.state("lacking") == "failed"; }));
    auto msg = d.app("lacking")["message"].get<std::string>();
    CHECK_THAT(msg, Catch::Contains("rootfs " + lower + " has no /data/cache") &&
                        Catch::Contains("create it there or use \"writable\": \"overlay\""));
    CHECK_FALSE(std::filesystem::exists(base / "tree/data"));
    CHECK(d.stop() == 0);
}

TEST_CASE("volumes: a bind volume keeps data across restarts, tmpfs volumes, bad volumes fail clearly",
          "[integration][sandbox]") {
    require_root();
    Daemon d;
    std::string data = std::string(d.dir()) + "/data";
    d.write_app("keeper", app_json("persist /data/count", "",
                                   R"(, {"type": "bind", "source": ")" + data + R"(", "target": "/data", "create": true})"));
    d.write_app("missing", app_json("report", "",
                                    R"(, {"type": "bind", "source": "/nonexistent/isolated-test", "target": "/data"})"));
    d.write_app("scratch", app_json("persist /scratch/count", "",
                                    R"(, {"type": "tmpfs", "target": "/scratch", "size": "1M"})"));
    int mounts_before = mount_count();
    d.start();
    CHECK(report_of(d, "keeper")["lines"] == "1");
    CHECK(d.isoctl({"restart", "keeper"}).code == 0);
    CHECK(report_of(d, "keeper")["lines"] == "2");
    CHECK(report_of(d, "scratch")["lines"] == "1");
    CHECK(d.isoctl({"restart", "scratch"}).code == 0);
    CHECK(report_of(d, "scratch")["lines"] == "1");
    REQUIRE(wait_until([&] { return d.state("missing") == "backoff"; }));
    auto st = d.app("missing");
    CHECK_THAT(st["message"].get<std::string>(), Catch::Contains("/nonexistent/isolated-test"));
    CHECK(mount_count() == mounts_before);
}

TEST_CASE("a mount that fails inside the sandbox names the step and the errno and leaves nothing mounted",
          "[integration][sandbox]") {
    require_root();
    Daemon d;
    // A tmpfs volume whose target lies in a read-only bind volume that lacks it: its
    // mount point cannot be created, so the sandbox fails while it is being built.
    auto root = std::filesystem::path(d.dir()) / "rootfs";
    for (auto sub : {"etc", "proc", "sys", "dev", "opt/probe"}) std::filesystem::create_directories(root / sub);
    for (auto f : {"etc/hosts", "etc/hostname", "etc/resolv.conf", "etc/passwd", "etc/group"})
        std::ofstream(root / f) << "";
    std::filesystem::copy_file(probe_binary(), root / "opt/probe/sandbox_probe");
    auto vol = std::filesystem::path(d.dir()) / "ro-vol";
    std::filesystem::create_directories(vol);
    d.write_app("broken", R"({"command": ["/opt/probe/sandbox_probe"], "rootfs": {"type": "directory", "path": ")" +
                              root.string() + R"(", "writable": "readonly"}, "mounts": [{"type": "bind", "source": ")" +
                              vol.string() + R"(", "target": "/vol", "readonly": true}, {"type": "tmpfs", "target": "/vol/new/dir"}]})");
    int mounts_before = mount_count();
    d.start();
    REQUIRE(wait_until([&] { return d.state("broken") == "backoff"; }));
    auto msg = d.app("broken")["message"].get<std::string>();
    CHECK_THAT(msg, Catch::Contains("/vol/new/dir") && Catch::Contains("EROFS"));
    CHECK_FALSE(std::filesystem::exists(vol / "new"));
    // The events (NDJSON) carry the same words.
    auto events = d.http("GET", "/v1/events").out;
    CHECK_THAT(events, Catch::Contains("\"app\":\"broken\"") && Catch::Contains("/vol/new/dir: EROFS"));
    CHECK(mount_count() == mounts_before);
    auto status = d.isoctl({"status", "broken"});
    CHECK_THAT(status.out, Catch::Contains("EROFS"));
}

TEST_CASE("an init step that fails is named by its own code: no journald to send the output to",
          "[integration][sandbox]") {
    require_root();
    // The init connects to journald's socket before it builds the sandbox; where none
    // listens, the launch fails at that step (STEP_JOURNAL), not as a log file's.
    const char* journal = "/run/systemd/journal/socket";
    if (::access(journal, F_OK) == 0) {
        WARN("journald runs on this host: its socket cannot be made to fail here");
        return;
    }
    Daemon d;
    d.write_app("quiet", probe_app_json("report"));
    d.start({"--log-driver", "journald"});
    REQUIRE(wait_until([&] { return d.state("quiet") == "backoff" || d.state("quiet") == "failed"; }));
    auto msg = d.app("quiet")["message"].get<std::string>();
    CHECK_THAT(msg, Catch::Contains(std::string("connect to journald's socket \"") + journal + "\": ENOENT"));
    CHECK_THAT(msg, !Catch::Contains("open log file"));
    CHECK(d.stop() == 0);
}

TEST_CASE("isoctl exec runs a command inside the app's sandbox, with a pty when asked", "[integration][sandbox][exec]") {
    require_root();
    Daemon d;
    d.write_app("web", app_json("report", R"(, "user": "nobody")"));
    d.start();
    auto inside = report_of(d, "web");
    auto code = d.isoctl({"exec", "web", "--", "sh", "-c", "exit 7"});
    CHECK(code.code == 7);
    auto id = d.isoctl({"exec", "web", "--", "sh", "-c", "id -u; hostname; readlink /proc/self/ns/pid /proc/self/ns/net; grep -E '^(CapEff|NoNewPrivs|Seccomp):' /proc/self/status"});
    CHECK(id.code == 0);
    CHECK_THAT(id.out, Catch::Contains("65534\nweb\n" + inside["ns_pid"] + "\n" + inside["ns_net"] + "\n"));
    CHECK_THAT(id.out, Catch::Contains("CapEff:\t0000000000000000"));
    CHECK_THAT(id.out, Catch::Contains("NoNewPrivs:\t1"));
    CHECK_THAT(id.out, Catch::Contains("Seccomp:\t2"));
    auto missing = d.isoctl({"exec", "web", "--", "no-such-command"});
    CHECK(missing.code == 127);
    auto unknown = d.isoctl({"exec", "nosuchapp", "--", "true"});
    CHECK(unknown.code == 4);
    // With a terminal (script(1) gives isoctl one), the command gets its own pty from
    // the sandbox's devpts.
    auto tty = run({"script", "-qec",
                    build_dir() + "/isoctl --socket " + d.socket() + " exec web -- sh -c 'tty; exit 3'", "/dev/null"});
    CHECK_THAT(tty.out, Catch::Contains("/dev/pts/0"));
    CHECK(tty.code == 3);
}

TEST_CASE("namespaces.user: root inside is an unprivileged uid outside, volumes work through idmapped mounts",
          "[integration][sandbox][userns]") {
    require_root();
    Daemon d;
    const std::string userns = R"("namespaces": {"user": {"uid": 200000, "count": 65536}})";
    // A volume the host's root owns (0755): only an idmapped mount lets the app's root,
    // uid 200000 outside, write there -- and what it writes is root's on disk.
    std::string data = std::string(d.dir()) + "/data";
    std::filesystem::create_directories(data);
    ::chmod(data.c_str(), 0755);
    d.write_app("mapped", app_json("report", ", " + userns));
    d.write_app("keeper", app_json("persist /data/count", ", " + userns,
                                   R"(, {"type": "bind", "source": ")" + data + R"(", "target": "/data"})"));
    // Port 80 as root inside: the netns belongs to the host's user namespace, so the
    // app holds no CAP_NET_BIND_SERVICE there; low ports are opened to it instead.
    d.write_app("web", app_json("serve 80", ", " + userns + R"(, "probes": {"readiness": {"tcp": {"port": 80}, "period": "1s"}})"));
    // Ids the namespace does not have.
    d.write_app("outside", app_json("report", R"(, "user": "nobody", "namespaces": {"user": {"uid": 300000, "count": 1000}})"));
    d.start();

    auto r = report_of(d, "mapped");
    CHECK(r["uid"] == "0");
    CHECK(r["uid_map"] == "0 200000 65536");
    CHECK(r["passwd_owner"] == "0");             // the host's root-owned files are root's inside (idmapped)
    CHECK(r["CapEff"] == "00000000a80425fb");    // Docker's set, held in the app's own namespace only
    CHECK(r["mount"] == "EPERM");
    CHECK(r["unshare_mnt"] == "EPERM");
    CHECK(r["tmp_write"] == "ok");
    CHECK(r["shadow_bytes"] == "0");
    // Outside, the app's processes run as uid 200000.
    auto pid = d.app("mapped")["pid"].get<int>();
    std::ifstream status("/proc/" + std::to_string(pid) + "/status");
    std::string line, uid_line;
    while (std::getline(status, line))
        if (line.rfind("Uid:", 0) == 0) uid_line = line;
    CHECK(uid_line == "Uid:\t200000\t200000\t200000\t200000");

    CHECK(report_of(d, "keeper")["lines"] == "1");
    CHECK(d.isoctl({"restart", "keeper"}).code == 0);
    CHECK(report_of(d, "keeper")["lines"] == "2");
    struct stat st{};
    REQUIRE(::stat((data + "/count").c_str(), &st) == 0);
    CHECK(st.st_uid == 0);  // root inside writes as the volume's owner, not as uid 200000

    REQUIRE(wait_until([&] { return d.state("web") == "ready"; }, 20s));  // the probe reaches it too

    REQUIRE(wait_until([&] { return d.state("outside") == "backoff" || d.state("outside") == "failed"; }));
    CHECK_THAT(d.app("outside")["message"].get<std::string>(), Catch::Contains("outside the user namespace"));

    // isoctl exec enters the app's user namespace too.
    auto id = d.isoctl({"exec", "mapped", "--", "sh", "-c", "id -u; cat /proc/self/uid_map"});
    CHECK(id.code == 0);
    CHECK_THAT(id.out, Catch::StartsWith("0\n") && Catch::Contains("200000"));
    CHECK(d.stop() == 0);
}

namespace {

// One line of /proc/PID/mountinfo, reduced to what the sandbox decides: where, what,
// its per-mount flags, its propagation.
struct MountLine {
    std::string root, target, fstype;
    std::set<std::string> flags;  // of ro rw nosuid nodev noexec
    bool shared = false;
};

std::vector<MountLine> mount_table(int pid) {
    std::ifstream in("/proc/" + std::to_string(pid) + "/mountinfo");
    std::vector<MountLine> out;
    for (std::string line; std::getline(in, line);) {
        std::istringstream f(line);
        std::vector<std::string> w;
        for (std::string s; f >> s;) w.push_back(s);
        auto dash = std::find(w.begin(), w.end(), "-");
        if (w.size() < 7 || dash == w.end() || dash + 1 == w.end()) continue;
        MountLine m;
        m.root = w[3];
        m.target = w[4];
        m.fstype = *(dash + 1);
        std::istringstream opts(w[5]);
        for (std::string o; std::getline(opts, o, ',');)
            if (o == "ro" || o == "rw" || o == "nosuid" || o == "nodev" || o == "noexec") m.flags.insert(o);
        for (auto it = w.begin() + 6; it != dash; ++it) m.shared = m.shared || it->rfind("shared:", 0) == 0;
        out.push_back(std::move(m));
    }
    return out;
}

bool under(const std::string& path, const std::string& dir) {
    return path == dir || (path.size() > dir.size() && path.compare(0, dir.size(), dir) == 0 && path[dir.size()] == '/');
}

}  // namespace

// The whole mount table of a representative app (host root, a read-only and a writable
// volume, a tmpfs volume, a secret): every mount the init makes, with its type and
// flags, and the host's trees read-only all the way down. It pins the result of the
// mount steps, however the init gets there (issue 19 batched and cached them).
TEST_CASE("the mount table of a sandbox: every mount, its type and its flags", "[integration][sandbox][mounts]") {
    require_root();
    Daemon d;
    std::string data = d.dir() + "/data", conf = d.dir() + "/conf";
    std::filesystem::create_directories(data);
    std::filesystem::create_directories(conf);
    REQUIRE(::mkdir((d.dir() + "/secrets").c_str(), 0700) == 0);
    { std::ofstream(d.dir() + "/secrets/token") << "s3cret"; }
    REQUIRE(::chmod((d.dir() + "/secrets/token").c_str(), 0400) == 0);
    d.write_app("table", R"({"command": ["sleep", "infinity"], "stop": {"timeout": "2s"}, "mounts": [)"
                         R"({"type": "bind", "source": ")" + data + R"(", "target": "/data"},)"
                         R"({"type": "bind", "source": ")" + conf + R"(", "target": "/srv/conf", "readonly": true},)"
                         R"({"type": "tmpfs", "target": "/scratch", "size": "1M"}],)"
                         R"("secrets": [{"source": ")" + d.dir() + R"(/secrets/token"}]})");
    d.start();
    d.wait_state("table", "ready");
    int pid = d.app("table")["pid"];
    auto table = mount_table(pid);
    std::ostringstream dump;
    for (const auto& m : table) {
        dump << m.target << " " << m.fstype << " " << m.root;
        for (const auto& f : m.flags) dump << " " << f;
        dump << (m.shared ? " shared" : "") << "\n";
    }
    INFO("mount table of the app:\n" << dump.str() << "\ndaemon:\n" << d.daemon_log());
    REQUIRE(!table.empty());
    // Nothing propagates to or from the host.
    for (const auto& m : table) CHECK_FALSE(m.shared);
    auto find = [&](const std::string& target) -> const MountLine* {
        const MountLine* last = nullptr;  // the top one when mounts stack
        for (const auto& m : table)
            if (m.target == target) last = &m;
        return last;
    };
    using Flags = std::set<std::string>;
    struct Want {
        std::string target, fstype;
        Flags flags;
    };
    const std::vector<Want> want = {
        {"/", "tmpfs", {"ro", "nosuid", "nodev"}},
        {"/tmp", "tmpfs", {"rw", "nosuid", "nodev"}},
        {"/run", "tmpfs", {"rw", "nosuid", "nodev"}},
        {"/var", "tmpfs", {"rw", "nosuid", "nodev"}},
        {"/proc", "proc", {"rw", "nosuid", "nodev", "noexec"}},
        {"/sys", "sysfs", {"ro", "nosuid", "nodev", "noexec"}},
        {"/dev", "tmpfs", {"rw", "nosuid"}},
        {"/dev/pts", "devpts", {"rw", "nosuid", "noexec"}},
        {"/dev/shm", "tmpfs", {"rw", "nosuid", "nodev", "noexec"}},
        {"/dev/mqueue", "mqueue", {"rw", "nosuid", "nodev", "noexec"}},
        {"/scratch", "tmpfs", {"rw", "nosuid", "nodev"}},
        {"/run/secrets", "tmpfs", {"ro", "nosuid", "nodev", "noexec"}},
    };
    for (const auto& w : want) {
        INFO("mount point " << w.target);
        auto* m = find(w.target);
        REQUIRE(m);
        CHECK(m->fstype == w.fstype);
        CHECK(m->flags == w.flags);
    }
    // Binds: the volumes as asked, the files the daemon prepared read-only.
    for (const char* t : {"/etc/hosts", "/etc/hostname", "/etc/resolv.conf", "/srv/conf"}) {
        INFO(t);
        auto* m = find(t);
        REQUIRE(m);
        CHECK(m->flags.count("ro"));
    }
    REQUIRE(find("/data"));
    CHECK(find("/data")->flags.count("rw"));
    // The host's trees, with everything mounted below them on the host, read-only --
    // but for the masks (binds of /dev/null over secrets), which hide rather than guard.
    for (const char* tree : {"/usr", "/etc"}) {
        REQUIRE(find(tree));
        for (const auto& m : table)
            if (under(m.target, tree) && m.root != "/null" && m.target != "/etc/hosts" &&
                m.target != "/etc/hostname" && m.target != "/etc/resolv.conf") {
                INFO(m.target);
                CHECK(m.flags.count("ro"));
            }
    }
    // Masked: the host's secrets under /etc, the kernel's files and directories.
    for (const char* p : {"/etc/shadow", "/etc/gshadow", "/etc/ssl/private", "/proc/kcore", "/proc/keys",
                          "/proc/timer_list", "/proc/sched_debug", "/proc/acpi", "/proc/scsi", "/sys/firmware"}) {
        std::string host = p;
        if (!std::filesystem::exists(host)) continue;
        INFO("masked " << p);
        auto* m = find(p);
        REQUIRE(m);
        if (std::filesystem::is_directory(host)) {
            CHECK(m->fstype == "tmpfs");
            CHECK(m->flags.count("ro"));
        } else {
            CHECK(m->root == "/null");
        }
    }
    // The kernel's knobs: read-only binds of themselves.
    for (const char* p : {"/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger"}) {
        if (!std::filesystem::exists(std::string(p))) continue;
        INFO("read-only " << p);
        auto* m = find(p);
        REQUIRE(m);
        CHECK(m->fstype == "proc");
        CHECK(m->flags.count("ro"));
    }
    CHECK(d.stop() == 0);
}
