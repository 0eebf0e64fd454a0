// isolated-bench-forward: what a port forward costs with 10 and with 10,000 forwards in
// the daemon's nftables map. Run it ONLY in a network namespace of its own (bench/run.sh:
// `unshare --net`); it refuses to run where a bridge or table could touch the host's.
//
// Inside that namespace it builds what the daemon builds (net::Network: the bridge and
// the `ip isolated` table), launches one real bridged sandbox (HostRuntime) running
// `sandbox_probe serve 80` with the forward 18080 -> 80, and a client in a further
// network namespace of its own, joined to ours by a veth (192.168.77.2 -> .1), so its
// connections arrive through prerouting as another machine's would. Then, with the map
// filled to 10 and to 10,000 elements (the extra ones are the module's own rendering of
// forwards to an unused address), it measures
//   - connect + HTTP/1.0 request + answer + close through the forward, interleaved with
//     the same to the app's address directly (no NAT); median, p90, rate
//   - adding and removing one forward (the nftables transactions the daemon runs)
//
//   isolated-bench-forward [--rounds N] [--init PATH] [--probe PATH]
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sched.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <boost/asio/io_context.hpp>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <iostream>
#include <sstream>
#include <string>
#include <vector>

#include "net/network.hpp"
#include "net/nft_ruleset.hpp"
#include "net/nftables.hpp"
#include "runtime/host_runtime.hpp"

extern char** environ;

namespace {

using Clock = std::chrono::steady_clock;
namespace fs = std::filesystem;

double pct(std::vector<double> v, double p) {
    if (v.empty()) return 0;
    std::sort(v.begin(), v.end());
    return v[std::min(v.size() - 1, static_cast<size_t>(p * static_cast<double>(v.size())))];
}

int run(const std::vector<std::string>& argv) {
    std::vector<char*> args;
    for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);
    pid_t pid;
    if (posix_spawnp(&pid, args[0], nullptr, nullptr, args.data(), environ) != 0) return -1;
    int st = 0;
    waitpid(pid, &st, 0);
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

// One connection: connect, send a request, read to EOF. Microseconds, or -1.
double transaction(const sockaddr_in& to) {
    auto t0 = Clock::now();
    int s = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (s < 0) return -1;
    timeval tv{2, 0};
    setsockopt(s, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    setsockopt(s, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    if (::connect(s, reinterpret_cast<const sockaddr*>(&to), sizeof to) != 0) {
        ::close(s);
        return -1;
    }
    const char req[] = "GET / HTTP/1.0\r\n\r\n";
    if (::write(s, req, sizeof req - 1) != static_cast<ssize_t>(sizeof req - 1)) {
        ::close(s);
        return -1;
    }
    char buf[1024];
    ssize_t n, total = 0;
    while ((n = ::read(s, buf, sizeof buf)) > 0) total += n;
    ::close(s);
    if (n < 0 || total < 12 || std::strncmp(buf, "HTTP/1.0 200", 12) != 0) return -1;
    return std::chrono::duration<double, std::micro>(Clock::now() - t0).count();
}

sockaddr_in addr_of(const std::string& ip, int port) {
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(static_cast<uint16_t>(port));
    inet_pton(AF_INET, ip.c_str(), &a.sin_addr);
    return a;
}

// The client, in its own network namespace: reads "IP PORT IP PORT ROUNDS" lines and
// answers with two lines of microseconds (interleaved rounds: A, B, A, B, ...).
[[noreturn]] void client_main(int cmd_fd, int out_fd) {
    FILE* in = fdopen(cmd_fd, "r");
    FILE* out = fdopen(out_fd, "w");
    char line[256];
    while (std::fgets(line, sizeof line, in)) {
        char ip_a[64], ip_b[64];
        int port_a, port_b, rounds;
        if (std::sscanf(line, "%63s %d %63s %d %d", ip_a, &port_a, ip_b, &port_b, &rounds) != 5) {
            // a shell command to configure our side (ip ...)
            line[std::strcspn(line, "\n")] = 0;
            std::fprintf(out, "%d\n", std::system(line));
            std::fflush(out);
            continue;
        }
        auto a = addr_of(ip_a, port_a), b = addr_of(ip_b, port_b);
        std::vector<double> va, vb;
        int failed = 0;
        for (int r = 0; r < rounds; ++r) {
            double x = transaction(a), y = transaction(b);
            if (x >= 0) va.push_back(x); else ++failed;
            if (y >= 0) vb.push_back(y); else ++failed;
        }
        for (auto* v : {&va, &vb}) {
            for (double x : *v) std::fprintf(out, "%.1f ", x);
            std::fprintf(out, "\n");
        }
        std::fprintf(out, "%d\n", failed);
        std::fflush(out);
    }
    _exit(0);
}

std::vector<double> parse_line(const std::string& s) {
    std::istringstream in(s);
    std::vector<double> v;
    for (double x; in >> x;) v.push_back(x);
    return v;
}

}  // namespace

int main(int argc, char** argv) {
    int rounds = 1000, edits = 50;
    std::string init = fs::path(argv[0]).parent_path() / "isolated-init";
    std::string probe = fs::path(argv[0]).parent_path() / "sandbox_probe";
    for (int i = 1; i < argc; ++i) {
        std::string a = argv[i];
        if (a == "--rounds" && i + 1 < argc) rounds = std::stoi(argv[++i]);
        else if (a == "--edits" && i + 1 < argc) edits = std::stoi(argv[++i]);
        else if (a == "--init" && i + 1 < argc) init = argv[++i];
        else if (a == "--probe" && i + 1 < argc) probe = argv[++i];
    }
    if (!getenv("BENCH_OWN_NETNS")) {
        std::cerr << "isolated-bench-forward: run it in a network namespace of its own and set BENCH_OWN_NETNS=1\n"
                     "  (bench/run.sh: unshare --net); it makes a bridge and an nftables table.\n";
        return 2;
    }
    ::signal(SIGPIPE, SIG_IGN);

    // The client first, before this process holds anything a fork should not copy.
    int cmd[2], res[2];
    if (::pipe2(cmd, O_CLOEXEC) || ::pipe2(res, O_CLOEXEC)) return 1;
    int ready[2];
    if (::pipe2(ready, O_CLOEXEC)) return 1;
    pid_t client = ::fork();
    if (client == 0) {
        ::close(cmd[1]);
        ::close(res[0]);
        ::close(ready[0]);
        if (::unshare(CLONE_NEWNET) != 0) _exit(1);
        (void)!::write(ready[1], "1", 1);
        ::close(ready[1]);
        client_main(cmd[0], res[1]);
    }
    ::close(cmd[0]);
    ::close(res[1]);
    ::close(ready[1]);
    char c;
    if (::read(ready[0], &c, 1) != 1) return 1;
    FILE* to_client = fdopen(cmd[1], "w");
    FILE* from_client = fdopen(res[0], "r");
    auto client_line = [&]() {
        std::string s;
        char buf[4096];
        while (std::fgets(buf, sizeof buf, from_client)) {
            s += buf;
            if (!s.empty() && s.back() == '\n') break;
        }
        return s;
    };
    auto client_cmd = [&](const std::string& command) {
        std::fprintf(to_client, "%s\n", command.c_str());
        std::fflush(to_client);
        return std::atoi(client_line().c_str());
    };
    int rc = 1;
    auto finish = [&]() {
        std::fclose(to_client);
        ::kill(client, SIGKILL);
        ::waitpid(client, nullptr, 0);
    };

    char tmpl[] = "/tmp/isolated-bench-fwd.XXXXXX";
    std::string dir = ::mkdtemp(tmpl);
    for (auto d : {"/run", "/log", "/state"}) fs::create_directories(dir + d);
    boost::asio::io_context io;
    isolated::net::NetworkConfig nc;
    nc.bridge = "isobench0";
    nc.state_dir = dir + "/state";
    auto opened = isolated::net::Network::open(nc);
    if (!opened || !(*opened)->start()) {
        std::cerr << "network setup failed\n";
        finish();
        return 1;
    }
    auto network = std::move(*opened);
    isolated::runtime::HostRuntimeOptions opt;
    opt.init_path = init;
    opt.run_dir = dir + "/run";
    opt.log_dir = dir + "/log";
    opt.state_dir = dir + "/state";
    opt.network = network.get();
    isolated::runtime::HostRuntime rt(io, opt);

    isolated::AppSpec spec;
    spec.name = "fwdapp";
    spec.command = {"/opt/probe/sandbox_probe", "serve", "80"};
    spec.network.mode = isolated::NetworkMode::bridge;
    spec.network.ports = {{18080, 80, isolated::Protocol::tcp, ""}};
    isolated::MountSpec m;
    m.type = isolated::MountType::bind;
    m.source = probe;
    m.target = "/opt/probe/sandbox_probe";
    m.readonly = true;
    spec.mounts.push_back(m);

    std::unique_ptr<isolated::supervisor::Instance> inst;
    bool exited = false, stopping = false;
    isolated::supervisor::InstanceCallbacks cb;
    cb.on_started = [&] { io.stop(); };
    cb.on_exit = [&](const isolated::ExitInfo& e) {
        if (!exited && !stopping) std::cerr << "app exited early: " << e.message << "\n";
        exited = true;
        io.stop();
    };
    auto launched = rt.launch(spec, {}, std::move(cb));
    if (!launched) {
        std::cerr << "launch: " << launched.error().to_string() << "\n";
        (void)network->shutdown_cleanup();
        finish();
        return 1;
    }
    inst = std::move(*launched);
    io.run();
    std::string app_ip = network->address_of("fwdapp") ? network->address_of("fwdapp")->to_string() : "";

    // The client's link: a veth from our namespace into the client's.
    std::string cpid = std::to_string(client);
    bool linked = !exited && !app_ip.empty() &&
                  run({"ip", "link", "add", "benchcl0", "type", "veth", "peer", "name", "eth0", "netns", cpid}) == 0 &&
                  run({"ip", "addr", "add", "192.168.77.1/24", "dev", "benchcl0"}) == 0 &&
                  run({"ip", "link", "set", "benchcl0", "up"}) == 0 &&
                  client_cmd("ip link set lo up && ip addr add 192.168.77.2/24 dev eth0 && ip link set eth0 up && "
                             "ip route add default via 192.168.77.1") == 0;
    // The server needs a moment to listen; wait until a direct request answers.
    auto measure = [&](int n) {
        std::fprintf(to_client, "%s 80 192.168.77.1 18080 %d\n", app_ip.c_str(), n);
        std::fflush(to_client);
        auto direct = parse_line(client_line());
        auto fwd = parse_line(client_line());
        int failed = std::atoi(client_line().c_str());
        return std::make_tuple(direct, fwd, failed);
    };
    for (int i = 0; linked && i < 40; ++i) {
        auto [d, f, failed] = measure(1);
        (void)failed;
        if (!d.empty() && !f.empty()) break;
        ::usleep(50000);
    }

    isolated::net::RulesetConfig rc_cfg;
    rc_cfg.table = nc.table;
    rc_cfg.bridge = nc.bridge;
    rc_cfg.subnet = nc.subnet;
    auto nft = isolated::net::NftContext::create();
    auto filler = [&](int from, int to) {
        std::vector<isolated::net::Forward> v;
        for (int i = from; i < to; ++i) {
            isolated::net::Forward f;
            f.app = "filler";
            f.host_port = static_cast<uint16_t>(20000 + i);
            f.app_address = *isolated::net::Ipv4::parse("10.100.0.250");
            f.app_port = 80;
            v.push_back(f);
        }
        return v;
    };
    struct Row {
        int n;
        std::vector<double> direct, fwd, add, del;
        int failed;
    };
    std::vector<Row> rows;
    int have = 1;  // the app's own forward
    for (int n : {10, 10000}) {
        if (!linked || !nft) break;
        if (auto r = nft->run(isolated::net::render_add_elements(rc_cfg, filler(have - 1, n - 1))); !r) {
            std::cerr << "filling the map: " << r.error().to_string() << "\n";
            break;
        }
        have = n;
        Row row{n, {}, {}, {}, {}, 0};
        // Adding and removing one forward: the transactions replace_forwards runs.
        auto one = filler(n + 100, n + 101);
        for (int e = 0; e < edits; ++e) {
            auto t0 = Clock::now();
            auto a = nft->run(isolated::net::render_add_elements(rc_cfg, one));
            auto t1 = Clock::now();
            auto d = nft->run(isolated::net::render_delete_elements(rc_cfg, one));
            auto t2 = Clock::now();
            if (a) row.add.push_back(std::chrono::duration<double, std::micro>(t1 - t0).count());
            if (d) row.del.push_back(std::chrono::duration<double, std::micro>(t2 - t1).count());
        }
        auto [d, f, failed] = measure(rounds);
        row.direct = d, row.fwd = f, row.failed = failed;
        rows.push_back(row);
    }
    auto listing = network->read_table();

    stopping = true;
    inst->kill_all();
    if (!exited) {
        io.restart();
        io.run();
    }
    // What the runtime kept for the app's restarts (issue 19) goes with it.
    rt.release_sandbox(spec.name);
    rt.shutdown_cleanup();
    (void)network->shutdown_cleanup();
    run({"ip", "link", "del", "benchcl0"});
    finish();
    fs::remove_all(dir);

    if (rows.size() != 2) {
        std::printf("forward benchmark failed (setup)\n");
        return 1;
    }
    std::printf("| forwards in the map | connections | no NAT: median | via forward: median | via forward: p90 | "
                "forward / no NAT (median) | forward rate / no NAT rate | add one forward (median) | remove one "
                "(median) |\n");
    std::printf("|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n");
    double base_fwd = 0;
    for (auto& r : rows) {
        double dm = pct(r.direct, 0.5), fm = pct(r.fwd, 0.5);
        double dsum = 0, fsum = 0;
        for (double x : r.direct) dsum += x;
        for (double x : r.fwd) fsum += x;
        // rate: connections per second one client gets (1 / mean time)
        double drate = r.direct.size() / dsum * 1e6, frate = r.fwd.size() / fsum * 1e6;
        if (r.n == 10) base_fwd = fm;
        std::printf("| %d | %zu | %.3f ms | %.3f ms | %.3f ms | %.2fx | %.2fx (%.0f/s vs %.0f/s) | %.2f ms | %.2f ms |\n",
                    r.n, r.fwd.size(), dm / 1000, fm / 1000, pct(r.fwd, 0.9) / 1000, fm / dm, frate / drate, frate,
                    drate, pct(r.add, 0.5) / 1000, pct(r.del, 0.5) / 1000);
        if (r.failed) std::printf("\n(%d connections failed)\n\n", r.failed);
    }
    if (rows.size() == 2 && base_fwd > 0)
        std::printf("\nVia forward, 10,000 / 10 forwards (median): %.2fx.\n", pct(rows[1].fwd, 0.5) / base_fwd);
    if (listing) std::printf("The table held %zu forward elements at the end (read back).\n", listing->forwards.size());
    rc = 0;
    return rc;
}
