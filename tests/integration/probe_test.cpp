// daemon/probe on a real io_context against real servers inside a network namespace
// the test creates: HTTP (status classes, redirects, headers, timeouts, https), TCP
// (connect, banners), exec (exit codes, output, timeout kill), and ProbeManager with
// many probes. Needs root (setns/unshare). Nothing is left behind: the netns lives as
// long as the test holds an fd to it, server threads are joined, exec children reaped.
#include <catch2/catch.hpp>

#include <fcntl.h>
#include <net/if.h>
#include <netinet/in.h>
#include <poll.h>
#include <sched.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <csignal>
#include <cstring>
#include <functional>
#include <mutex>
#include <random>
#include <sys/wait.h>
#include <thread>

#include <boost/asio/io_context.hpp>

#include "host/asio_clock.hpp"
#include "integration/harness.hpp"
#include "isolated/unique_fd.hpp"
#include "probe/exec_prober.hpp"
#include "probe/host_exec_runner.hpp"
#include "probe/http_prober.hpp"
#include "probe/probe_manager.hpp"
#include "probe/tcp_prober.hpp"
#include "support/test_env.hpp"
#include "sys/netns.hpp"

using namespace isolated;
using namespace isolated::probe;
using namespace std::chrono_literals;
using isolated::test::TempDir;

namespace {

void need_root() { test::require_prerequisite(test::is_root(), "probe tests need root (network namespaces)"); }

/// A fresh network namespace with loopback up, made on a short-lived thread
/// (unshare(CLONE_NEWNET) changes only the calling thread) and kept alive by an fd.
class TestNetns {
public:
    TestNetns() {
        std::string error;
        std::thread t([&] {
            if (::unshare(CLONE_NEWNET) != 0) {
                error = std::string("unshare: ") + std::strerror(errno);
                return;
            }
            fd_.reset(::open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC));
            int s = ::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
            ifreq ifr{};
            std::strncpy(ifr.ifr_name, "lo", IFNAMSIZ - 1);
            if (::ioctl(s, SIOCGIFFLAGS, &ifr) == 0) {
                ifr.ifr_flags |= IFF_UP;
                if (::ioctl(s, SIOCSIFFLAGS, &ifr) != 0) error = std::string("lo up: ") + std::strerror(errno);
            } else {
                error = std::string("lo flags: ") + std::strerror(errno);
            }
            ::close(s);
        });
        t.join();
        REQUIRE(error.empty());
        REQUIRE(fd_.valid());
    }
    int fd() const { return fd_.get(); }

private:
    unique_fd fd_;
};

/// A listening TCP socket on 127.0.0.1:port inside `netns`.
unique_fd listen_in(int netns, std::uint16_t port, int backlog = 512) {
    unique_fd s;
    std::thread t([&] {  // a thread of its own: setns without touching the test thread's netns
        if (::setns(netns, CLONE_NEWNET) != 0) return;
        s.reset(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
        int one = 1;
        ::setsockopt(s.get(), SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
        sockaddr_in a{};
        a.sin_family = AF_INET;
        a.sin_port = htons(port);
        a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        if (::bind(s.get(), reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 || ::listen(s.get(), backlog) != 0) s.reset();
    });
    t.join();
    REQUIRE(s.valid());
    return s;
}

/// One accepted connection, handled on the server's thread.
struct Conn {
    int fd;
    std::function<void(const std::string&)> record;
    bool hold = false;  ///< keep it open (unanswered) until the server stops

    /// Reads up to the end of the request head ("" if the peer closed first).
    std::string read_head() {
        std::string got;
        char buf[2048];
        while (got.find("\r\n\r\n") == std::string::npos) {
            pollfd p{fd, POLLIN, 0};
            if (::poll(&p, 1, 5000) <= 0) break;
            ssize_t n = ::read(fd, buf, sizeof buf);
            if (n <= 0) break;
            got.append(buf, static_cast<std::size_t>(n));
        }
        if (record) record(got);
        return got;
    }
    void send(const std::string& data) {
        std::size_t off = 0;
        while (off < data.size()) {
            ssize_t n = ::send(fd, data.data() + off, data.size() - off, MSG_NOSIGNAL);
            if (n <= 0) return;
            off += static_cast<std::size_t>(n);
        }
    }
};

/// A scriptable server: a thread that accepts and hands each connection to `handler`.
class Server {
public:
    Server(int netns, std::uint16_t port, std::function<void(Conn&)> handler)
        : listener_(listen_in(netns, port)), handler_(std::move(handler)) {
        int p[2];
        REQUIRE(::pipe2(p, O_CLOEXEC) == 0);
        wake_r_.reset(p[0]);
        wake_w_.reset(p[1]);
        thread_ = std::thread([this] { loop(); });
    }
    ~Server() {
        char c = 0;
        (void)!::write(wake_w_.get(), &c, 1);
        thread_.join();
    }
    int connections() const { return connections_; }
    std::vector<std::string> requests() {
        std::lock_guard<std::mutex> l(mu_);
        return requests_;
    }
    void record(const std::string& head) {
        std::lock_guard<std::mutex> l(mu_);
        requests_.push_back(head);
    }

private:
    void loop() {
        std::vector<unique_fd> held;
        for (;;) {
            pollfd p[2] = {{listener_.get(), POLLIN, 0}, {wake_r_.get(), POLLIN, 0}};
            if (::poll(p, 2, -1) < 0) continue;
            if (p[1].revents) return;
            unique_fd c(::accept4(listener_.get(), nullptr, nullptr, SOCK_CLOEXEC));
            if (!c) continue;
            ++connections_;
            Conn conn{c.get(), [this](const std::string& h) { record(h); }};
            handler_(conn);
            if (conn.hold) held.push_back(std::move(c));
        }
    }

    unique_fd listener_, wake_r_, wake_w_;
    std::function<void(Conn&)> handler_;
    std::atomic<int> connections_{0};
    std::mutex mu_;
    std::vector<std::string> requests_;
    std::thread thread_;
};

std::string response(int status, const std::string& extra_headers = "", const std::string& body = "ok") {
    return "HTTP/1.1 " + std::to_string(status) + " X\r\nContent-Length: " + std::to_string(body.size()) +
           "\r\nConnection: close\r\n" + extra_headers + "\r\n" + body;
}

/// The request path of a request head.
std::string path_of(const std::string& head) {
    auto sp = head.find(' ');
    return head.substr(sp + 1, head.find(' ', sp + 1) - sp - 1);
}

/// Runs one probe to completion on `io`.
ProbeOutcome run_once(boost::asio::io_context& io, Prober& p, Duration timeout = 2s) {
    std::optional<ProbeOutcome> out;
    p.run(timeout, [&](ProbeOutcome o) { out = std::move(o); });
    io.restart();
    auto give_up = std::chrono::steady_clock::now() + 30s;  // a hang guard, not a timing assertion
    while (!out && std::chrono::steady_clock::now() < give_up) io.run_one_for(100ms);
    REQUIRE(out);
    return *out;
}

HttpTarget http_target(int netns, std::uint16_t port, std::string path = "/") {
    HttpTarget t;
    t.netns_fd = netns;
    t.port = port;
    t.path = std::move(path);
    return t;
}

}  // namespace

// ---- HTTP ---------------------------------------------------------------------------------

TEST_CASE("http probe: 200 succeeds inside the app's netns and sends kubelet's headers", "[probe][http]") {
    need_root();
    char own[64] = {};
    REQUIRE(::readlink("/proc/thread-self/ns/net", own, sizeof own - 1) > 0);
    TestNetns ns;
    Server srv(ns.fd(), 8080, [](Conn& c) {
        c.read_head();
        c.send(response(200));
    });
    boost::asio::io_context io;
    auto t = http_target(ns.fd(), 8080, "/healthz?full=1");
    t.headers = {{"X-Probe", "yes"}, {"X-Probe", "again"}};
    HttpProber p(io, t);
    auto o = run_once(io, p);
    CHECK(o.result == ProbeResult::success);
    CHECK(o.message.empty());
    auto reqs = srv.requests();
    REQUIRE(reqs.size() == 1);
    const auto& h = reqs[0];
    CHECK_THAT(h, Catch::StartsWith("GET /healthz?full=1 HTTP/1.1\r\n"));
    CHECK_THAT(h, Catch::Contains("Host: 127.0.0.1:8080\r\n"));
    CHECK_THAT(h, Catch::Contains(std::string("User-Agent: isolated-probe/") + ISOLATED_VERSION + "\r\n"));
    CHECK_THAT(h, Catch::Contains("Accept: */*\r\n"));
    CHECK_THAT(h, Catch::Contains("X-Probe: yes\r\nX-Probe: again\r\n"));
    CHECK_THAT(h, Catch::Contains("Connection: close\r\n"));
    CHECK_THAT(h, !Catch::Contains("Accept-Encoding"));

    // The same probe again: a new connection each time (no keep-alive).
    CHECK(run_once(io, p).result == ProbeResult::success);
    CHECK(srv.connections() == 2);

    // The loop thread is back in its own netns, where this server does not exist.
    HttpProber outside(io, http_target(-1, 8080));
    run_once(io, outside);
    CHECK(srv.connections() == 2);
    char after[64] = {};
    REQUIRE(::readlink("/proc/thread-self/ns/net", after, sizeof after - 1) > 0);
    CHECK(std::string(own) == std::string(after));
}

TEST_CASE("http probe: status classes at the edges", "[probe][http]") {
    need_root();
    TestNetns ns;
    Server srv(ns.fd(), 8080, [](Conn& c) {
        auto path = path_of(c.read_head());
        c.send(response(std::stoi(path.substr(1))));
    });
    boost::asio::io_context io;
    auto probe = [&](const std::string& path) {
        HttpProber p(io, http_target(ns.fd(), 8080, path));
        return run_once(io, p);
    };
    CHECK(probe("/200").result == ProbeResult::success);
    CHECK(probe("/299").result == ProbeResult::success);
    CHECK(probe("/399").result == ProbeResult::warning);  // a success, with a warning
    auto f400 = probe("/400");
    CHECK(f400.result == ProbeResult::failure);
    CHECK_THAT(f400.message, Catch::Contains("400"));
    auto f500 = probe("/500");
    CHECK(f500.result == ProbeResult::failure);
    CHECK_THAT(f500.message, Catch::Contains("500"));
}

TEST_CASE("http probe: a large body is read up to the cap and is not an error", "[probe][http]") {
    need_root();
    TestNetns ns;
    Server srv(ns.fd(), 8080, [](Conn& c) {
        c.read_head();
        c.send(response(200, "", std::string(200 * 1024, 'x')));
    });
    boost::asio::io_context io;
    HttpProber p(io, http_target(ns.fd(), 8080));
    CHECK(run_once(io, p).result == ProbeResult::success);
}

TEST_CASE("http probe: same-host redirects are followed, across ports too", "[probe][http]") {
    need_root();
    TestNetns ns;
    Server a(ns.fd(), 8080, [](Conn& c) {
        auto path = path_of(c.read_head());
        if (path == "/start") c.send(response(302, "Location: /second\r\n"));
        else if (path == "/second") c.send(response(301, "Location: http://127.0.0.1:8081/third\r\n"));
        else c.send(response(404));
    });
    Server b(ns.fd(), 8081, [](Conn& c) {
        auto path = path_of(c.read_head());
        c.send(response(path == "/third" ? 200 : 500));
    });
    boost::asio::io_context io;
    HttpProber p(io, http_target(ns.fd(), 8080, "/start"));
    auto o = run_once(io, p);
    CHECK(o.result == ProbeResult::success);
    CHECK(a.requests().size() == 2);
    REQUIRE(b.requests().size() == 1);
    CHECK_THAT(b.requests()[0], Catch::Contains("Host: 127.0.0.1:8081"));
}

TEST_CASE("http probe: 10 redirects are followed, the 11th fails", "[probe][http]") {
    need_root();
    TestNetns ns;
    // /r/N redirects to /r/N-1; /r/0 answers 200.
    Server srv(ns.fd(), 8080, [](Conn& c) {
        auto path = path_of(c.read_head());
        int n = std::stoi(path.substr(3));
        if (n == 0)
            c.send(response(200));
        else
            c.send(response(307, "Location: /r/" + std::to_string(n - 1) + "\r\n"));
    });
    boost::asio::io_context io;
    HttpProber ten(io, http_target(ns.fd(), 8080, "/r/10"));
    CHECK(run_once(io, ten).result == ProbeResult::success);
    HttpProber eleven(io, http_target(ns.fd(), 8080, "/r/11"));
    auto o = run_once(io, eleven);
    CHECK(o.result == ProbeResult::failure);
    CHECK_THAT(o.message, Catch::Contains("10 redirects"));
}

TEST_CASE("http probe: a redirect to another host is a success with a warning, not followed", "[probe][http]") {
    need_root();
    TestNetns ns;
    Server srv(ns.fd(), 8080, [](Conn& c) {
        c.read_head();
        c.send(response(302, "Location: http://10.9.9.9/elsewhere\r\n"));
    });
    boost::asio::io_context io;
    HttpProber p(io, http_target(ns.fd(), 8080));
    auto o = run_once(io, p);
    CHECK(o.result == ProbeResult::warning);
    CHECK_THAT(o.message, Catch::Contains("10.9.9.9"));
    CHECK(srv.connections() == 1);
}

TEST_CASE("http probe: a server that never answers times out, no server is refused", "[probe][http]") {
    need_root();
    TestNetns ns;
    Server srv(ns.fd(), 8080, [](Conn& c) {
        c.read_head();
        c.hold = true;
    });
    boost::asio::io_context io;
    HttpProber slow(io, http_target(ns.fd(), 8080));
    auto o = run_once(io, slow, 300ms);
    CHECK(o.result == ProbeResult::failure);
    CHECK_THAT(o.message, Catch::Contains("timed out"));

    HttpProber none(io, http_target(ns.fd(), 9999));
    auto r = run_once(io, none);
    CHECK(r.result == ProbeResult::failure);
    CHECK(r.message == "connect 127.0.0.1:9999: ECONNREFUSED");
}

TEST_CASE("http probe: a server that closes without answering fails", "[probe][http]") {
    need_root();
    TestNetns ns;
    Server srv(ns.fd(), 8080, [](Conn& c) { c.read_head(); });
    boost::asio::io_context io;
    HttpProber p(io, http_target(ns.fd(), 8080));
    auto o = run_once(io, p);
    CHECK(o.result == ProbeResult::failure);
    CHECK_THAT(o.message, Catch::Contains("closed"));
}

TEST_CASE("http probe: destroying the prober mid-run silences it", "[probe][http]") {
    need_root();
    TestNetns ns;
    Server srv(ns.fd(), 8080, [](Conn& c) {
        c.read_head();
        c.hold = true;
    });
    boost::asio::io_context io;
    bool called = false;
    {
        HttpProber p(io, http_target(ns.fd(), 8080));
        p.run(5s, [&](ProbeOutcome) { called = true; });
        io.run_for(200ms);
    }
    io.restart();
    io.run_for(200ms);
    CHECK_FALSE(called);
}

TEST_CASE("http probe: https without certificate verification", "[probe][http][https]") {
    need_root();
    TempDir dir("isolated-probe-tls");
    auto gen = test::run({"openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=self-signed",
                          "-days", "1", "-keyout", dir / "key.pem", "-out", dir / "cert.pem"});
    test::require_prerequisite(gen.code == 0, "openssl could not make a certificate: " + gen.err);
    TestNetns ns;
    // `openssl s_server -www` answers "GET /" with 200 and a status page; it runs in
    // the test's netns (forked from a thread that entered it).
    pid_t server = 0;
    std::string cert = dir / "cert.pem", key = dir / "key.pem";
    std::thread t([&] {
        if (::setns(ns.fd(), CLONE_NEWNET) != 0) return;
        server = ::fork();
        if (server == 0) {
            int devnull = ::open("/dev/null", O_RDWR);
            ::dup2(devnull, 0);
            ::dup2(devnull, 1);
            ::dup2(devnull, 2);
            ::execlp("openssl", "openssl", "s_server", "-quiet", "-accept", "127.0.0.1:8443", "-cert", cert.c_str(),
                     "-key", key.c_str(), "-www", static_cast<char*>(nullptr));
            ::_exit(127);
        }
    });
    t.join();
    REQUIRE(server > 0);
    struct Reap {
        pid_t pid;
        ~Reap() {
            ::kill(pid, SIGKILL);
            ::waitpid(pid, nullptr, 0);
        }
    } reap{server};
    boost::asio::io_context io;
    auto target = http_target(ns.fd(), 8443);
    target.scheme = "https";
    HttpProber p(io, target);
    ProbeOutcome o;
    // s_server needs a moment to listen: a refused connect before that is expected.
    test::wait_until([&] {
        o = run_once(io, p);
        return o.result == ProbeResult::success;
    });
    CHECK(o.result == ProbeResult::success);
    INFO(o.message);
}

// ---- TCP ----------------------------------------------------------------------------------

TEST_CASE("tcp probe: a connection is success, even one the app closes at once", "[probe][tcp]") {
    need_root();
    TestNetns ns;
    Server srv(ns.fd(), 2121, [](Conn&) {});  // accept, close
    boost::asio::io_context io;
    TcpTarget t;
    t.netns_fd = ns.fd();
    t.port = 2121;
    TcpProber p(io, t);
    CHECK(run_once(io, p).result == ProbeResult::success);
    t.port = 2122;
    TcpProber refused(io, t);
    auto r = run_once(io, refused);
    CHECK(r.result == ProbeResult::failure);
    CHECK_THAT(r.message, Catch::Contains("ECONNREFUSED"));
}

TEST_CASE("tcp probe: a connect still in progress waits on the loop, times out, or completes later",
          "[probe][tcp]") {
    // The probe's fast path (a second connect(2) that answers at once) covers loopback;
    // this is the other path. A listener whose accept queue is full makes the kernel
    // drop further SYNs, so a connect stays in SYN_SENT until a retransmitted SYN finds
    // room (the first retransmit comes after 1 s).
    need_root();
    TestNetns ns;
    unique_fd listener = listen_in(ns.fd(), 2130, 0);  // backlog 0: one queued connection fills it
    auto filler = isolated::sys::socket_in_netns(ns.fd(), AF_INET, SOCK_STREAM);
    REQUIRE(filler);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(2130);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ::connect(filler->get(), reinterpret_cast<sockaddr*>(&a), sizeof a);  // non-blocking; queued at once
    pollfd pf{filler->get(), POLLOUT, 0};
    REQUIRE(::poll(&pf, 1, 5000) == 1);

    boost::asio::io_context io;
    TcpTarget t;
    t.netns_fd = ns.fd();
    t.port = 2130;
    TcpProber stuck(io, t);
    auto r = run_once(io, stuck, 300ms);
    CHECK(r.result == ProbeResult::failure);
    CHECK(r.message == "connect 127.0.0.1:2130: timed out after 300ms");

    TcpProber later(io, t);
    std::optional<ProbeOutcome> out;
    later.run(10s, [&](ProbeOutcome o) { out = std::move(o); });
    io.restart();
    io.run_for(100ms);
    CHECK_FALSE(out);  // still waiting for the handshake
    unique_fd accepted(::accept4(listener.get(), nullptr, nullptr, SOCK_CLOEXEC));  // room in the queue
    REQUIRE(accepted);
    auto give_up = std::chrono::steady_clock::now() + 30s;  // a hang guard, not a timing assertion
    while (!out && std::chrono::steady_clock::now() < give_up) io.run_one_for(100ms);
    REQUIRE(out);
    CHECK(out->result == ProbeResult::success);
}

TEST_CASE("tcp probe: expect checks the start of the banner", "[probe][tcp]") {
    need_root();
    TestNetns ns;
    Server good(ns.fd(), 21, [](Conn& c) { c.send("220 hi\r\n"); });
    Server slow_good(ns.fd(), 22, [](Conn& c) {
        c.send("2");
        std::this_thread::sleep_for(50ms);
        c.send("20 split banner\r\n");
    });
    Server wrong(ns.fd(), 23, [](Conn& c) { c.send("500 go away\r\n"); });
    Server silent(ns.fd(), 24, [](Conn& c) { c.hold = true; });
    Server closes(ns.fd(), 25, [](Conn&) {});
    boost::asio::io_context io;
    auto probe = [&](std::uint16_t port, Duration timeout = 1s) {
        TcpTarget t;
        t.netns_fd = ns.fd();
        t.port = port;
        t.expect = "220";
        TcpProber p(io, t);
        return run_once(io, p, timeout);
    };
    CHECK(probe(21).result == ProbeResult::success);
    CHECK(probe(22).result == ProbeResult::success);
    auto w = probe(23);
    CHECK(w.result == ProbeResult::failure);
    CHECK_THAT(w.message, Catch::Contains("500 go away") && Catch::Contains("220"));
    auto s = probe(24, 300ms);
    CHECK(s.result == ProbeResult::failure);
    CHECK_THAT(s.message, Catch::Contains("no banner"));
    auto c = probe(25);
    CHECK(c.result == ProbeResult::failure);
    CHECK_THAT(c.message, Catch::Contains("closed"));
}

// ---- exec ---------------------------------------------------------------------------------

TEST_CASE("exec probe: exit codes and output", "[probe][exec]") {
    boost::asio::io_context io;
    auto runner = std::make_shared<HostExecRunner>(io);
    ExecProber t(runner, {"true"});
    CHECK(run_once(io, t).result == ProbeResult::success);
    ExecProber f(runner, {"sh", "-c", "echo out; echo err >&2; exit 3"});
    auto o = run_once(io, f);
    CHECK(o.result == ProbeResult::failure);
    CHECK_THAT(o.message, Catch::StartsWith("command exited with code 3") && Catch::Contains("out") &&
                              Catch::Contains("err"));
    ExecProber missing(runner, {"/nonexistent/probe"});
    auto m = run_once(io, missing);
    CHECK(m.result == ProbeResult::failure);
    CHECK_THAT(m.message, Catch::Contains("ENOENT"));
}

TEST_CASE("exec runner: output is capped at 4 KiB and the command is not blocked by it", "[probe][exec]") {
    boost::asio::io_context io;
    HostExecRunner runner(io);
    std::optional<ExecResult> res;
    auto h = runner.run({"sh", "-c", "head -c 1000000 /dev/zero | tr '\\0' a; exit 1"}, 10s,
                        [&](ExecResult r) { res = std::move(r); });
    while (!res && io.run_one_for(30s)) {
    }
    REQUIRE(res);
    CHECK(res->exit_code == 1);
    CHECK_FALSE(res->timed_out);
    CHECK(res->output.size() == max_exec_output);
}

TEST_CASE("exec probe: a command that hangs is killed at the timeout, with what it started", "[probe][exec]") {
    TempDir dir("isolated-probe-exec");
    boost::asio::io_context io;
    auto runner = std::make_shared<HostExecRunner>(io);
    std::string pids = dir / "pids";
    ExecProber p(runner, {"sh", "-c", "sleep 60 & echo $! > " + pids + "; echo $$ >> " + pids + "; wait"});
    auto o = run_once(io, p, 500ms);
    CHECK(o.result == ProbeResult::failure);
    CHECK_THAT(o.message, Catch::Contains("timed out"));
    auto text = test::read_file(pids);
    std::vector<pid_t> started;
    for (std::size_t pos = 0; pos < text.size();) {
        auto nl = text.find('\n', pos);
        if (nl == std::string::npos) break;
        started.push_back(std::stoi(text.substr(pos, nl - pos)));
        pos = nl + 1;
    }
    REQUIRE(started.size() == 2);
    for (pid_t pid : started) CHECK(test::wait_until([&] { return !test::process_alive(pid); }));
}

TEST_CASE("exec runner: a command left behind by a finished probe is killed", "[probe][exec]") {
    TempDir dir("isolated-probe-exec");
    boost::asio::io_context io;
    auto runner = std::make_shared<HostExecRunner>(io);
    std::string pidfile = dir / "pid";
    ExecProber p(runner, {"sh", "-c", "sleep 60 >/dev/null 2>&1 & echo $! > " + pidfile + "; exit 0"});
    CHECK(run_once(io, p).result == ProbeResult::success);
    pid_t bg = std::stoi(test::read_file(pidfile));
    CHECK(test::wait_until([&] { return !test::process_alive(bg); }));
}

TEST_CASE("exec runner: destroying the handle kills and reaps the command", "[probe][exec]") {
    TempDir dir("isolated-probe-exec");
    boost::asio::io_context io;
    HostExecRunner runner(io);
    std::string pidfile = dir / "pid";
    bool called = false;
    auto h = runner.run({"sh", "-c", "echo $$ > " + pidfile + "; exec sleep 60"}, 60s,
                        [&](ExecResult) { called = true; });
    REQUIRE(test::wait_until([&] { return !test::read_file(pidfile).empty(); }));
    pid_t pid = std::stoi(test::read_file(pidfile));
    h.reset();
    io.run_for(300ms);
    CHECK_FALSE(called);
    CHECK_FALSE(test::process_alive(pid));  // killed and reaped (not a zombie)
}

// ---- ProbeManager -------------------------------------------------------------------------

namespace {

class TestInstance : public supervisor::Instance {
public:
    supervisor::InstanceInfo info() const override { return {}; }
    void signal(int) override {}
    void kill_all() override {}
    ResourceUsage usage() const override { return {}; }
};

/// Resolves every instance to the test's netns and a host exec runner.
TargetResolver into(int netns, boost::asio::io_context& io) {
    auto runner = std::make_shared<HostExecRunner>(io);
    return [netns, runner](const AppSpec&, const supervisor::Instance&) -> Result<ProbeTarget> {
        ProbeTarget t;
        t.netns = unique_fd(::fcntl(netns, F_DUPFD_CLOEXEC, 0));
        t.exec = runner;
        return t;
    };
}

ProbeSpec fast(ProbeKind kind, std::uint16_t port = 0) {
    ProbeSpec s;
    s.kind = kind;
    s.port = port;
    s.period = 200ms;
    s.timeout = 500ms;
    return s;
}

}  // namespace

TEST_CASE("probe manager: 100 instances probed every second on one thread all become ready",
          "[probe][manager]") {
    need_root();
    TestNetns ns;
    Server tcp(ns.fd(), 5432, [](Conn&) {});
    Server web(ns.fd(), 8080, [](Conn& c) {
        c.read_head();
        c.send(response(200));
    });
    boost::asio::io_context io;
    host::AsioClock clock(io);
    std::mt19937 rng(42);
    ProbeManager mgr(io, clock, into(ns.fd(), io), [&] { return std::uniform_real_distribution<>(0, 1)(rng); });
    TestInstance inst;
    std::vector<std::unique_ptr<supervisor::ProbeSetHandle>> handles;
    int ready = 0, other = 0;
    for (int i = 0; i < 100; ++i) {
        AppSpec spec;
        spec.name = "app" + std::to_string(i);
        ProbeSpec p = fast(i % 2 ? ProbeKind::tcp : ProbeKind::http, i % 2 ? 5432 : 8080);
        p.period = 1s;
        spec.probes.readiness = p;
        supervisor::ProbeCallbacks cb;
        cb.on_change = [&](const supervisor::ProbeChange& c) {
            if (c.type == supervisor::ProbeType::readiness && c.passing)
                ++ready;
            else
                ++other;
        };
        handles.push_back(mgr.start(spec, inst, cb));
    }
    auto give_up = std::chrono::steady_clock::now() + 30s;
    while (ready < 100 && std::chrono::steady_clock::now() < give_up) io.run_one_for(100ms);
    CHECK(ready == 100);
    CHECK(other == 0);
    auto h = handles[0]->health();
    REQUIRE(h.readiness);
    CHECK(h.readiness->result == ProbeResult::success);
    CHECK(h.readiness->last_probe_at.has_value());
    CHECK_FALSE(h.liveness);
    handles.clear();  // stops everything: nothing more is reported
    int before = ready + other;
    io.run_for(1500ms);
    CHECK(ready + other == before);
}

TEST_CASE("probe manager: liveness failures cross the threshold once, startup gates, exec via the runner",
          "[probe][manager]") {
    need_root();
    TestNetns ns;
    Server web(ns.fd(), 8080, [](Conn& c) {
        auto path = path_of(c.read_head());
        c.send(response(path == "/ok" ? 200 : 500));
    });
    boost::asio::io_context io;
    host::AsioClock clock(io);
    ProbeManager mgr(io, clock, into(ns.fd(), io), [] { return 0.0; });
    TestInstance inst;
    AppSpec spec;
    spec.name = "web";
    spec.probes.startup = fast(ProbeKind::exec);
    spec.probes.startup->command = {"true"};
    spec.probes.liveness = fast(ProbeKind::http, 8080);
    spec.probes.liveness->path = "/broken";
    spec.probes.readiness = fast(ProbeKind::http, 8080);
    spec.probes.readiness->path = "/ok";
    std::vector<supervisor::ProbeChange> changes;
    supervisor::ProbeCallbacks cb;
    cb.on_change = [&](const supervisor::ProbeChange& c) { changes.push_back(c); };
    auto handle = mgr.start(spec, inst, cb);
    auto liveness_failed = [&] {
        return std::any_of(changes.begin(), changes.end(), [](auto& c) {
            return c.type == supervisor::ProbeType::liveness && !c.passing;
        });
    };
    auto give_up = std::chrono::steady_clock::now() + 30s;
    while (!liveness_failed() && std::chrono::steady_clock::now() < give_up) io.run_one_for(100ms);
    io.run_for(1s);  // liveness holds after its crossing: no second report
    REQUIRE(changes.size() >= 3);
    CHECK(changes[0].type == supervisor::ProbeType::startup);
    CHECK(changes[0].passing);
    int liveness_reports = 0;
    for (auto& c : changes) liveness_reports += c.type == supervisor::ProbeType::liveness;
    CHECK(liveness_reports == 1);
    auto h = handle->health();
    CHECK(h.liveness->consecutive_failures == 3);
    CHECK_THAT(h.liveness->message, Catch::Contains("500"));
    CHECK(h.readiness->result == ProbeResult::success);
    CHECK(h.startup->result == ProbeResult::success);
}
