// Resources, networking and probes through the real daemon: apps are the static
// sandbox_probe helper (an HTTP server, a client, a memory hog), the daemon runs in a
// network namespace of the test's own, and clients reach its port forwards there.
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <fstream>
#include <set>
#include <sstream>
#include <thread>

#include "integration/harness.hpp"

using namespace isolated::test;
using namespace std::chrono_literals;

namespace {

void require_root() { require_prerequisite(is_root(), "these tests need root"); }

std::string probe_app(const std::string& args, const std::string& extra = "") { return probe_app_json(args, extra); }

// A command run in the daemon's network namespace (where the bridge and the forwards are).
RunResult in_daemon_netns(Daemon& d, std::vector<std::string> argv) {
    argv.insert(argv.begin(), {"nsenter", "-t", std::to_string(d.pid()), "-n", "--"});
    return run(argv);
}

bool v1_hierarchy(const std::string& ctrl) { return std::filesystem::exists("/sys/fs/cgroup/" + ctrl + "/cgroup.procs"); }

std::string app_cgroup(Daemon& d, const std::string& ctrl, const std::string& app) {
    return "/sys/fs/cgroup/" + ctrl + "/" + d.cgroup_root() + "/" + app;
}

}  // namespace

TEST_CASE("resources: limits are in force, usage is reported, an OOM kill is reported from the kernel's counter",
          "[integration][cgroup]") {
    require_root();
    require_prerequisite(v1_hierarchy("memory") || std::filesystem::exists("/sys/fs/cgroup/cgroup.controllers"),
                         "a cgroup hierarchy with the memory controller");
    Daemon d;
    d.write_app("web", probe_app("serve 80", R"(, "resources": {"cpu": "50%", "memory": "64M", "pids": 100})"));
    d.write_app("hog", probe_app("alloc 512", R"(, "resources": {"memory": "32M"}, "restart": {"policy": "never"})"));
    d.write_app("killer", probe_app("report", R"(, "restart": {"policy": "never"})"));
    d.start();
    d.wait_state("web", "ready");

    auto web = d.app("web");
    CHECK(web["resources"]["limits"]["memory"] == 64 * 1024 * 1024);
    CHECK(web["resources"]["limits"]["cpu"] == 0.5);
    CHECK(web["resources"]["limits"]["pids"] == 100);
    REQUIRE(wait_until([&] { return d.app("web")["resources"]["usage"]["memoryBytes"].is_number(); }));
    auto usage = d.app("web")["resources"]["usage"];
    CHECK(usage["memoryBytes"].get<std::uint64_t>() > 0);
    CHECK(usage["pids"].get<std::uint64_t>() >= 2);  // the init and the server
    CHECK(usage["cpuSeconds"].is_number());
    if (v1_hierarchy("memory")) {
        std::ifstream limit(app_cgroup(d, "memory", "web") + "/memory.limit_in_bytes");
        std::uint64_t bytes = 0;
        limit >> bytes;
        CHECK(bytes == 64 * 1024 * 1024);
        // Every process of the app is in its cgroup: the init and the server.
        std::ifstream procs(app_cgroup(d, "memory", "web") + "/cgroup.procs");
        int n = 0;
        for (pid_t p; procs >> p;) ++n;
        CHECK(n == 2);
    }

    // The hog is killed by the OOM killer: reported as such, with its exit.
    REQUIRE(wait_until([&] { return d.state("hog") == "failed"; }, 30s));
    auto hog = d.app("hog");
    CHECK(hog["lastExit"]["oomKilled"] == true);
    CHECK(hog["lastExit"]["signal"] == "SIGKILL");
    // A plain SIGKILL is not an OOM kill, though the exit code is the same 137.
    d.wait_state("killer", "ready");
    ::kill(d.app("killer")["pid"].get<int>(), SIGKILL);
    REQUIRE(wait_until([&] { return d.state("killer") == "failed"; }));
    CHECK(d.app("killer")["lastExit"]["oomKilled"] == false);
    CHECK(d.app("killer")["lastExit"]["code"] == 137);

    // Stopped and exited apps leave no cgroup behind.
    CHECK(d.isoctl({"stop", "web"}).code == 0);
    if (v1_hierarchy("memory")) {
        CHECK_FALSE(std::filesystem::exists(app_cgroup(d, "memory", "web")));
        CHECK_FALSE(std::filesystem::exists(app_cgroup(d, "memory", "hog")));
        CHECK_FALSE(std::filesystem::exists(app_cgroup(d, "pids", "killer")));
    }
    CHECK(d.stop() == 0);
    if (v1_hierarchy("memory")) CHECK_FALSE(std::filesystem::exists("/sys/fs/cgroup/memory/" + d.cgroup_root()));
}

TEST_CASE("a stop kills everything in the app's cgroup, double-forked daemons included", "[integration][cgroup]") {
    require_root();
    Daemon d;
    // The app daemonizes a sleeper (setsid + double fork) and ignores SIGTERM itself.
    d.write_app("forker", R"({"command": ["/bin/sh", "-c", "trap '' TERM; setsid sh -c 'sleep 300 & exit' ; while true; do sleep 1; done"], "stop": {"timeout": "1s"}, "namespaces": {"pid": "host"}})");
    d.start();
    d.wait_state("forker", "ready");
    std::vector<pid_t> sleepers;
    REQUIRE(wait_until([&] {
        sleepers.clear();
        // v1: the pids hierarchy; v2 (the qemu guest): the unified one.
        std::string procs_file = v1_hierarchy("pids") ? app_cgroup(d, "pids", "forker") + "/cgroup.procs"
                                                      : "/sys/fs/cgroup/" + d.cgroup_root() + "/forker/cgroup.procs";
        std::ifstream procs(procs_file);
        for (pid_t p; procs >> p;) sleepers.push_back(p);
        return sleepers.size() >= 3;
    }));
    CHECK(d.isoctl({"stop", "forker"}).code == 0);
    for (pid_t p : sleepers) CHECK_FALSE(process_alive(p));
}

TEST_CASE("bridge networking: addresses, names in /etc/hosts, port forwards from the host and from other apps",
          "[integration][net]") {
    require_root();
    Daemon d;
    d.write_app("web", probe_app("serve 80", R"(, "network": {"ports": [{"host": 8080, "app": 80}]}, "probes": {"readiness": {"http": {"port": 80}, "period": "1s"}})"));
    d.write_app("pinned", probe_app("serve 80", R"(, "network": {"address": "10.100.0.50"})"));
    // The client starts once web is ready, and fetches it by name.
    d.write_app("client", probe_app("fetch web 80", R"(, "dependsOn": ["web"])"));
    d.write_app("hairpin", probe_app("fetch 10.100.0.1 8080", R"(, "dependsOn": ["web"])"));
    d.write_app("alone", probe_app("fetch web 80", R"(, "network": {"mode": "none"})"));
    d.start();
    d.wait_state("web", "ready");
    auto web = d.app("web");
    std::string addr = web["address"];
    CHECK(addr.rfind("10.100.0.", 0) == 0);
    CHECK(d.app("pinned")["address"] == "10.100.0.50");
    auto logs_of = [&](const std::string& app) {
        std::string out;
        wait_until([&] {
            out = d.isoctl({"logs", app}).out;
            return out.find("done=1") != std::string::npos;
        });
        return out;
    };
    CHECK_THAT(logs_of("client"), Catch::Contains("fetched=hello from web"));
    CHECK_THAT(logs_of("hairpin"), Catch::Contains("fetched=hello from web"));
    CHECK_THAT(logs_of("alone"), !Catch::Contains("fetched="));
    // From the host (the daemon's namespace): localhost and the bridge address.
    auto local = in_daemon_netns(d, {"curl", "-s", "--max-time", "5", "http://127.0.0.1:8080/"});
    INFO(local.err << " code " << local.code);
    CHECK(local.out == "hello from web\n");
    auto direct = in_daemon_netns(d, {"curl", "-s", "--max-time", "5", "http://" + addr + ":80/"});
    CHECK(direct.out == "hello from web\n");
    // One nftables table holds the forward as a map element.
    auto table = in_daemon_netns(d, {"nft", "list", "table", "ip", "isolated"});
    CHECK_THAT(table.out, Catch::Contains("8080"));
    // A stopped app's forward is gone; its address stays leased to it.
    CHECK(d.isoctl({"stop", "web"}).code == 0);
    CHECK_THAT(in_daemon_netns(d, {"nft", "list", "table", "ip", "isolated"}).out, !Catch::Contains("8080"));
    CHECK(d.isoctl({"start", "web"}).code == 0);
    CHECK(d.app("web")["address"] == addr);
    // A clean shutdown removes the table and the bridge.
    pid_t daemon_pid = d.pid();
    std::string netns = "/proc/" + std::to_string(daemon_pid) + "/ns/net";
    CHECK(d.stop() == 0);
}

TEST_CASE("a port already taken on the host is a clear error at start", "[integration][net]") {
    require_root();
    Daemon d;
    d.write_app("first", probe_app("serve 80", R"(, "network": {"ports": [{"host": 8081, "app": 80}]})"));
    d.start();
    d.wait_state("first", "ready");
    // Another app asking for the same host port is rejected when it is added.
    d.write_app("second", probe_app("serve 80", R"(, "network": {"ports": [{"host": 8081, "app": 80}]})"));
    auto r = d.isoctl({"reload"});
    CHECK(r.code == 1);
    CHECK_THAT(r.err + r.out, Catch::Contains("8081"));
    CHECK(d.state("first") == "ready");
}

TEST_CASE("probes: readiness by exec inside the sandbox, liveness failure restarts the app",
          "[integration][probe]") {
    require_root();
    Daemon d;
    d.write_app("gated", probe_app("serve 80", R"(, "probes": {"readiness": {"exec": {"command": ["/usr/bin/test", "-f", "/tmp/ready"]}, "period": "1s"}})"));
    d.write_app("sick", probe_app("serve 80 flip:/tmp/sick", R"(, "probes": {"liveness": {"http": {"port": 80}, "period": "1s", "failureThreshold": 2}}, "restart": {"backoff": {"initial": "500ms"}})"));
    d.start();
    d.wait_state("sick", "ready");
    REQUIRE(wait_until([&] { return d.state("gated") == "running"; }));
    std::this_thread::sleep_for(1500ms);
    CHECK(d.state("gated") == "running");  // not ready: /tmp/ready is missing in its sandbox
    CHECK(d.isoctl({"exec", "-T", "gated", "--", "/bin/touch", "/tmp/ready"}).code == 0);
    d.wait_state("gated", "ready");
    CHECK(d.app("gated")["health"]["readiness"]["result"] == "success");

    // Liveness: the server answers 500 once /tmp/sick exists; the app is restarted,
    // and its fresh /tmp has no /tmp/sick.
    CHECK(d.app("sick")["restarts"] == 0);
    CHECK(d.isoctl({"exec", "-T", "sick", "--", "/bin/touch", "/tmp/sick"}).code == 0);
    REQUIRE(wait_until([&] { return d.app("sick")["restarts"] == 1; }, 20s));
    d.wait_state("sick", "ready");
    auto events = d.http("GET", "/v1/events?app=sick").out;
    CHECK_THAT(events, Catch::Contains("liveness probe failed"));
}

TEST_CASE("exec probes and isoctl exec run in the app's cgroup", "[integration][cgroup][exec]") {
    require_root();
    Daemon d;
    // The probe records where it ran. Inside the app's cgroup namespace (rooted at the
    // app's cgroup) a process of the app sees "/" in every hierarchy; one outside the
    // app's cgroup would see a path with "..".
    d.write_app("cg", probe_app("serve 80", R"(, "resources": {"pids": 50}, "probes": {"liveness": {"exec": {"command": ["/bin/sh", "-c", "cat /proc/self/cgroup > /tmp/probe-cgroup"]}, "period": "1s"}})"));
    d.start();
    d.wait_state("cg", "ready");
    auto all_root = [](const std::string& text) {
        std::istringstream in(text);
        int lines = 0;
        for (std::string line; std::getline(in, line);) {
            if (line.empty()) continue;
            ++lines;
            if (line.size() < 2 || line.substr(line.size() - 2) != ":/") return false;
        }
        return lines > 0;
    };
    auto exec = d.isoctl({"exec", "-T", "cg", "--", "cat", "/proc/self/cgroup"});
    INFO(exec.out << exec.err);
    CHECK(exec.code == 0);
    CHECK(all_root(exec.out));
    std::string probe;
    REQUIRE(wait_until([&] {
        probe = d.isoctl({"exec", "-T", "cg", "--", "cat", "/tmp/probe-cgroup"}).out;
        return !probe.empty();
    }));
    INFO(probe);
    CHECK(all_root(probe));
}

TEST_CASE("GET /v1/metrics of a real daemon parses with the Prometheus project's text-format parser",
          "[integration][cgroup][metrics]") {
    require_root();
    require_prerequisite(std::filesystem::exists("/usr/lib/python3/dist-packages/prometheus_client/parser.py"),
                         "python3-prometheus-client (scripts/install-deps.sh installs it)");
    Daemon d;
    d.write_app("web", probe_app("serve 80", R"(, "resources": {"cpu": "50%", "memory": "64M", "pids": 100}, "probes": {"readiness": {"http": {"port": 80}, "period": "1s"}})"));
    d.write_app("once", probe_app("exit 3", R"(, "restart": {"policy": "never"})"));
    d.start();
    d.wait_state("web", "ready");
    d.wait_state("once", "failed");
    REQUIRE(wait_until([&] { return d.app("web")["resources"]["usage"]["cpuSeconds"].is_number(); }));
    auto text = d.http("GET", "/v1/metrics", "", /*read_only=*/true);
    REQUIRE(text.code == 200);
    // prometheus_client.parser raises on anything the format forbids; print one line a
    // sample: "family type name{labels} value".
    auto parsed = run({"/usr/bin/python3", "-c",
                       "import sys\n"
                       "from prometheus_client.parser import text_string_to_metric_families as parse\n"
                       "for f in parse(sys.stdin.read()):\n"
                       "    for s in f.samples:\n"
                       "        labels = ','.join(k + '=' + v for k, v in sorted(s.labels.items()))\n"
                       "        print(f.name, f.type, s.name + '{' + labels + '}', s.value)\n"},
                      std::chrono::seconds(30), text.out);
    INFO(text.out << "\n---\n" << parsed.err);
    REQUIRE(parsed.code == 0);
    auto has = [&](const std::string& needle) { return parsed.out.find(needle) != std::string::npos; };
    INFO(parsed.out);
    CHECK(has("container_cpu_usage_seconds counter container_cpu_usage_seconds_total{app=web,name=web}"));
    CHECK(has("container_memory_working_set_bytes gauge container_memory_working_set_bytes{app=web,name=web}"));
    CHECK(has("container_spec_memory_limit_bytes{app=web,name=web} 67108864.0"));
    CHECK(has("isolated_app_ready{app=web,name=web} 1.0"));
    CHECK(has("isolated_app_last_exit_code{app=once,name=once} 3.0"));
    CHECK(has("isolated_app_probe_success"));
}

TEST_CASE("1000 start/stop/crash cycles leave no veth, netns, nftables element, lease or cgroup behind",
          "[integration][net][cgroup][leaks]") {
    require_root();
    Daemon d;
    d.write_app("cycler", probe_app("serve 80", R"(, "network": {"ports": [{"host": 9090, "app": 80}]}, "resources": {"pids": 64}, "restart": {"backoff": {"initial": "100ms", "max": "100ms"}})"));
    d.write_app("steady", probe_app("serve 80", R"(, "network": {"ports": [{"host": 9091, "app": 80}]})"));
    d.start();
    d.wait_state("cycler", "ready");
    d.wait_state("steady", "ready");
    auto count = [&](std::vector<std::string> argv, const std::string& needle) {
        auto out = in_daemon_netns(d, argv).out;
        int n = 0;
        for (std::size_t p = out.find(needle); p != std::string::npos; p = out.find(needle, p + 1)) ++n;
        return n;
    };
    auto netns_count = [] {
        std::set<std::string> ns;
        for (auto& e : std::filesystem::directory_iterator("/proc")) {
            std::error_code ec;
            auto l = std::filesystem::read_symlink(e.path() / "ns/net", ec);
            if (!ec) ns.insert(l.string());
        }
        return ns.size();
    };
    auto snapshot = [&] {
        return std::vector<std::size_t>{
            static_cast<std::size_t>(count({"ip", "-o", "link"}, "veth")),
            static_cast<std::size_t>(count({"nft", "list", "table", "ip", "isolated"}, ": 10.100.0.")),
            netns_count(),
        };
    };
    auto before = snapshot();
    const int cycles = 1000;
    for (int i = 0; i < cycles; ++i) {
        if (i % 10 == 9) {
            // A crash: the app dies, the daemon restarts it after the backoff.
            int pid = d.app("cycler")["pid"];
            int restarts = d.app("cycler")["restarts"];
            ::kill(pid, SIGKILL);
            REQUIRE(wait_until([&] {
                auto a = d.app("cycler");
                return a["restarts"] == restarts + 1 && a["state"] == "ready";
            }));
        } else {
            REQUIRE(d.http("POST", "/v1/apps/cycler/stop").code == 200);
            // wait=0, then poll: a waiting start would add its 1 s settle to every cycle.
            REQUIRE(d.http("POST", "/v1/apps/cycler/start?wait=0").code == 202);
            REQUIRE(wait_until([&] { return d.state("cycler") == "ready"; }));
        }
    }
    d.wait_state("cycler", "ready");
    // The kernel tears network namespaces down asynchronously.
    CHECK(wait_until([&] { return snapshot() == before; }, 30s));
    INFO("veths, nft elements, netns before: " << before[0] << " " << before[1] << " " << before[2]);
    auto after = snapshot();
    INFO("after: " << after[0] << " " << after[1] << " " << after[2]);
    CHECK(after == before);
    // One lease per app, whatever happened.
    auto leases = nlohmann::json::parse(std::ifstream(d.state_dir() + "/leases.json"));
    CHECK(leases["leases"].size() == 2);
    if (std::filesystem::exists("/sys/fs/cgroup/pids/cgroup.procs")) {
        int dirs = 0;
        for (auto& e : std::filesystem::directory_iterator("/sys/fs/cgroup/pids/" + d.cgroup_root()))
            if (e.is_directory()) ++dirs;
        CHECK(dirs == 2);
    }
    CHECK(d.stop() == 0);
}
