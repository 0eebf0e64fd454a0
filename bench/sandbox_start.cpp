// isolated-bench-start: start->exit latency of a sandbox running /bin/true, measured
// interleaved with the peers in one loop (so machine load hits all alike), printed as
// medians, p90 and ratios to a plain fork+exec of /bin/true.
//
//   isolated-bench-start [--rounds N] [--settle-ms MS] [--init PATH] [--compare-init PATH]
//                        [--peer NAME=COMMAND ...]
//
// --compare-init adds a row: the full sandbox with another isolated-init binary (an
// older build, say), in the same loop -- what a change of the init alone is worth.
//
// Every measured start waits --settle-ms (default 50) first: tearing a network
// namespace down is asynchronous in the kernel (cleanup_net on a workqueue; a veth takes
// ~20 ms) and holds the locks the next namespace and veth need, so back to back a start
// would pay for the previous one's teardown -- ours and the peers' alike.
//
// The run directory is on a tmpfs, as the daemon's (/run/isolated) is: under /run when
// that is one (bench/run.sh mounts a private tmpfs there; systemd hosts have one). On
// a disk filesystem every start would pay for replacing the last run's records (on an
// ext4 with `discard` and no journal, a synchronous discard per file), which the
// daemon never does. Logs and state stay on disk, where the daemon keeps them.
//
// "isolated" is the daemon's real launch path (HostRuntime::launch: plan, sealed-init
// clone(CLONE_VM|CLONE_VFORK) into new pid/mount/uts/ipc/net/cgroup namespaces, the
// whole root filesystem, credentials, capabilities, seccomp), from launch to the exit
// callback.
#include <linux/magic.h>
#include <spawn.h>
#include <sys/statfs.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <boost/asio/io_context.hpp>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "net/network.hpp"
#include "runtime/host_runtime.hpp"

extern char** environ;

namespace {

using Clock = std::chrono::steady_clock;

double run_command(const std::vector<std::string>& argv) {
    std::vector<char*> args;
    for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
    posix_spawn_file_actions_addopen(&fa, 2, "/dev/null", O_WRONLY, 0);
    auto t0 = Clock::now();
    pid_t pid;
    if (posix_spawnp(&pid, args[0], &fa, nullptr, args.data(), environ) != 0) return -1;
    int st;
    waitpid(pid, &st, 0);
    auto t1 = Clock::now();
    posix_spawn_file_actions_destroy(&fa);
    if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) return -1;
    return std::chrono::duration<double, std::micro>(t1 - t0).count();
}

struct Stats {
    double median = 0, p90 = 0;
};
Stats stats(std::vector<double> v) {
    std::sort(v.begin(), v.end());
    if (v.empty()) return {};
    return {v[v.size() / 2], v[std::min(v.size() - 1, v.size() * 9 / 10)]};
}

}  // namespace

int main(int argc, char** argv) {
    int rounds = 100;
    int settle_ms = 50;
    std::string init = std::filesystem::path(argv[0]).parent_path() / "isolated-init";
    std::string compare_init;
    std::vector<std::pair<std::string, std::vector<std::string>>> peers;
    for (int i = 1; i < argc; ++i) {
        std::string a = argv[i];
        if (a == "--rounds" && i + 1 < argc) rounds = std::stoi(argv[++i]);
        else if (a == "--settle-ms" && i + 1 < argc) settle_ms = std::stoi(argv[++i]);
        else if (a == "--init" && i + 1 < argc) init = argv[++i];
        else if (a == "--compare-init" && i + 1 < argc) compare_init = argv[++i];
        else if (a == "--peer" && i + 1 < argc) {
            std::string spec = argv[++i];
            auto eq = spec.find('=');
            std::istringstream in(spec.substr(eq + 1));
            std::vector<std::string> cmd;
            for (std::string w; in >> w;) cmd.push_back(w);
            peers.emplace_back(spec.substr(0, eq), cmd);
        }
    }
    char tmpl[] = "/tmp/isolated-bench.XXXXXX";
    std::string dir = mkdtemp(tmpl);
    for (auto d : {"/run", "/log", "/state"}) std::filesystem::create_directories(dir + d);
    std::string run_dir = dir + "/run";
    if (struct statfs sf; ::statfs("/run", &sf) == 0 && sf.f_type == TMPFS_MAGIC) {
        char rtmpl[] = "/run/isolated-bench.XXXXXX";
        if (mkdtemp(rtmpl)) run_dir = rtmpl;
    } else {
        std::cerr << "/run is no tmpfs: the run directory is on " << run_dir << "\n";
    }

    boost::asio::io_context io;
    isolated::runtime::HostRuntimeOptions opt;
    opt.init_path = init;
    opt.run_dir = run_dir;
    opt.log_dir = dir + "/log";
    opt.state_dir = dir + "/state";
    // A second runtime with the bridge and nftables table, for the networked sandbox.
    // Only inside a network namespace of its own (bench/run.sh runs it under
    // `unshare --net`): never on the machine's own network.
    std::unique_ptr<isolated::net::Network> network;
    if (getenv("BENCH_NETWORK")) {
        isolated::net::NetworkConfig nc;
        nc.bridge = "isobench0";
        nc.state_dir = dir + "/state";
        auto n = isolated::net::Network::open(nc);
        if (n && (*n)->start()) network = std::move(*n);
        else std::cerr << "network setup failed; skipping the networked sandbox\n";
    }
    isolated::runtime::HostRuntime rt(io, opt);
    auto net_opt = opt;
    net_opt.network = network.get();
    isolated::runtime::HostRuntime rt_net(io, net_opt);
    auto cmp_opt = opt;
    if (!compare_init.empty()) cmp_opt.init_path = compare_init;
    isolated::runtime::HostRuntime rt_cmp(io, cmp_opt);
    isolated::AppSpec spec;
    spec.name = "bench";
    spec.command = {"/bin/true"};
    spec.network.mode = isolated::NetworkMode::none;
    if (getenv("BENCH_HOST_NET")) spec.network.mode = isolated::NetworkMode::host;
    if (getenv("BENCH_NO_SECCOMP")) spec.security.seccomp = isolated::SeccompMode::unconfined;

    auto sandbox_once = [&](isolated::runtime::HostRuntime& runtime, const isolated::AppSpec& app) -> double {
        bool ok = false;
        auto t0 = Clock::now();
        Clock::time_point t1;
        isolated::supervisor::InstanceCallbacks cb;
        cb.on_exit = [&](const isolated::ExitInfo& e) {
            t1 = Clock::now();
            ok = e.code == 0;
            io.stop();
        };
        auto inst = runtime.launch(app, {}, std::move(cb));
        if (!inst) {
            std::cerr << "launch: " << inst.error().to_string() << "\n";
            return -1;
        }
        io.restart();
        io.run();
        // Every start measured here is a new sandbox: what the runtime keeps for an app's
        // restarts (its network namespace, issue 19) goes, as when an app is stopped.
        runtime.release_sandbox(app.name);
        return ok ? std::chrono::duration<double, std::micro>(t1 - t0).count() : -1;
    };

    std::vector<std::pair<std::string, std::vector<std::string>>> all = {{"fork+exec /bin/true", {"/bin/true"}}};
    for (auto& p : peers) all.push_back(p);
    std::map<std::string, std::vector<double>> samples;
    std::vector<std::string> order;
    for (auto& p : all) order.push_back(p.first);
    order.insert(order.begin() + 1, "isolated sandbox (5 namespaces + root fs + seccomp)");
    isolated::AppSpec bridged = spec;
    bridged.name = "benchnet";
    bridged.network.mode = isolated::NetworkMode::bridge;
    bridged.network.ports = {{18080, 80, isolated::Protocol::tcp, ""}};
    const std::string net_name = "isolated sandbox + veth on the bridge + a port forward";
    if (network) order.insert(order.begin() + 2, net_name);
    const std::string cmp_name = "isolated sandbox, init " + compare_init;
    if (!compare_init.empty()) order.insert(order.begin() + 2, cmp_name);
    sandbox_once(rt, spec);  // warm-up: page cache, the seccomp filter cache
    auto settle = [&] { std::this_thread::sleep_for(std::chrono::milliseconds(settle_ms)); };
    for (int r = 0; r < rounds; ++r) {
        for (auto& [name, cmd] : all) {
            settle();
            if (double us = run_command(cmd); us >= 0) samples[name].push_back(us);
        }
        settle();
        if (double us = sandbox_once(rt, spec); us >= 0) samples[order[1]].push_back(us);
        if (!compare_init.empty()) {
            settle();
            if (double us = sandbox_once(rt_cmp, spec); us >= 0) samples[cmp_name].push_back(us);
        }
        if (network) {
            settle();
            if (double us = sandbox_once(rt_net, bridged); us >= 0) samples[net_name].push_back(us);
        }
    }
    // The init's memory while an app runs: what each sandbox costs beyond the app.
    std::string rss = "?", pss = "?";
    {
        isolated::AppSpec idle = spec;
        idle.name = "idle";
        idle.command = {"/bin/sleep", "60"};
        std::unique_ptr<isolated::supervisor::Instance> inst;
        isolated::supervisor::InstanceCallbacks cb;
        cb.on_started = [&] { io.stop(); };
        cb.on_exit = [&](const isolated::ExitInfo&) { io.stop(); };
        if (auto r = rt.launch(idle, {}, std::move(cb))) {
            inst = std::move(*r);
            io.restart();
            io.run();
            std::ifstream in("/proc/" + std::to_string(inst->info().init_pid) + "/smaps_rollup");
            for (std::string line; std::getline(in, line);) {
                std::istringstream l(line);
                std::string key, value;
                l >> key >> value;
                if (key == "Rss:") rss = value + " kB";
                if (key == "Pss:") pss = value + " kB";
            }
            inst->kill_all();
            io.restart();
            io.run();
        }
        rt.release_sandbox(idle.name);
    }
    rt.shutdown_cleanup();
    rt_net.shutdown_cleanup();
    if (network) (void)network->shutdown_cleanup();
    if (run_dir != dir + "/run") std::filesystem::remove_all(run_dir);
    std::filesystem::remove_all(dir);
    double base = stats(samples[order[0]]).median;
    double base90 = stats(samples[order[0]]).p90;
    std::printf("| start -> exit of `true` | runs | median | p90 | median / fork+exec | p90 / fork+exec |\n");
    std::printf("|---|---:|---:|---:|---:|---:|\n");
    for (const auto& name : order) {
        auto& v = samples[name];
        if (v.empty()) {
            std::printf("| %s | 0 | failed | | | |\n", name.c_str());
            continue;
        }
        auto s = stats(v);
        std::printf("| %s | %zu | %.2f ms | %.2f ms | %.2fx | %.2fx |\n", name.c_str(), v.size(), s.median / 1000,
                    s.p90 / 1000, s.median / base, s.p90 / base90);
    }
    std::printf("\nisolated-init while its app runs: Rss %s, Pss %s\n", rss.c_str(), pss.c_str());
    return 0;
}
