// The control API server on real Unix sockets in a temp dir, with the fake backend.
// The io_context runs on a thread this test owns (the server itself stays on that one
// thread); clients are plain blocking sockets with receive timeouts, so a server that
// fails to answer fails the test instead of hanging it. Needs no root; as root it also
// checks the peer-credential refusal from an unprivileged child process.
#include <catch2/catch.hpp>

#include <grp.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstring>
#include <future>
#include <map>
#include <mutex>
#include <thread>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>

#include "api/server.hpp"
#include "fakes/fake_backend.hpp"
#include "isolated/api_json.hpp"
#include "support/test_env.hpp"

using namespace isolated;
using namespace std::chrono_literals;
using isolated::test::FakeBackend;
using isolated::test::TempDir;

namespace {

// ---- a blocking HTTP client good enough for tests -------------------------------------

struct HttpResponse {
    int status = 0;
    std::map<std::string, std::string> headers;  ///< lower-case names
    std::string body;
};

sockaddr_un address_of(const std::string& path) {
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    std::strncpy(addr.sun_path, path.c_str(), sizeof addr.sun_path - 1);
    return addr;
}

class Client {
public:
    explicit Client(const std::string& path) {
        fd_ = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        timeval tv{5, 0};
        ::setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
        ::setsockopt(fd_, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
        auto addr = address_of(path);
        connected_ = ::connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0;
    }
    ~Client() { close(); }
    Client(const Client&) = delete;
    Client& operator=(const Client&) = delete;

    bool connected() const { return connected_; }
    void close() {
        if (fd_ >= 0) ::close(fd_);
        fd_ = -1;
    }

    bool send(std::string_view data) {
        while (!data.empty()) {
            ssize_t n = ::send(fd_, data.data(), data.size(), MSG_NOSIGNAL);
            if (n <= 0) return false;
            data.remove_prefix(static_cast<std::size_t>(n));
        }
        return true;
    }

    /// One response with a Content-Length (or "" status 0 if the connection ended).
    HttpResponse read_response() {
        HttpResponse r;
        std::size_t end;
        while ((end = buffer_.find("\r\n\r\n")) == std::string::npos)
            if (!fill()) return r;
        std::string head = buffer_.substr(0, end);
        buffer_.erase(0, end + 4);
        std::sscanf(head.c_str(), "HTTP/1.%*d %d", &r.status);
        std::size_t pos = head.find("\r\n");
        while (pos != std::string::npos) {
            std::size_t next = head.find("\r\n", pos + 2);
            std::string line = head.substr(pos + 2, next == std::string::npos ? std::string::npos : next - pos - 2);
            auto colon = line.find(':');
            if (colon != std::string::npos) {
                std::string name = line.substr(0, colon);
                for (auto& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
                r.headers[name] = line.substr(line.find_first_not_of(' ', colon + 1));
            }
            pos = next;
        }
        if (r.status == 100) return read_response();
        if (r.headers.count("content-length")) {
            std::size_t len = std::stoul(r.headers["content-length"]);
            while (buffer_.size() < len)
                if (!fill()) return r;
            r.body = buffer_.substr(0, len);
            buffer_.erase(0, len);
        }
        return r;
    }

    /// Reads until `needle` has arrived; the bytes up to and including it are consumed.
    bool read_until(std::string_view needle) {
        std::size_t at;
        while ((at = buffer_.find(needle)) == std::string::npos)
            if (!fill()) return false;
        buffer_.erase(0, at + needle.size());
        return true;
    }

    /// True once the server has closed (EOF or reset) within the receive timeout.
    bool closed_by_server() {
        for (;;) {
            char buf[4096];
            ssize_t n = ::recv(fd_, buf, sizeof buf, 0);
            if (n == 0) return true;
            if (n < 0) return errno == ECONNRESET;
        }
    }

    std::string& buffered() { return buffer_; }
    int fd() const { return fd_; }

private:
    bool fill() {
        char buf[16384];
        ssize_t n = ::recv(fd_, buf, sizeof buf, 0);
        if (n <= 0) return false;
        buffer_.append(buf, static_cast<std::size_t>(n));
        return true;
    }

    int fd_ = -1;
    bool connected_ = false;
    std::string buffer_;
};

std::string request(const std::string& method, const std::string& target, const std::string& body = "",
                    const std::string& extra_headers = "") {
    std::string r = method + " " + target + " HTTP/1.1\r\nHost: x\r\n" + extra_headers;
    if (!body.empty() || method == "POST") r += "Content-Length: " + std::to_string(body.size()) + "\r\n";
    return r + "\r\n" + body;
}

HttpResponse round_trip(const std::string& socket, const std::string& method, const std::string& target,
                        const std::string& body = "") {
    Client c(socket);
    if (!c.connected() || !c.send(request(method, target, body))) return {};
    return c.read_response();
}

/// Waits for a condition that the server reaches on its own thread.
template <typename Pred>
bool eventually(Pred pred, std::chrono::milliseconds limit = 5s) {
    auto deadline = std::chrono::steady_clock::now() + limit;
    while (!pred()) {
        if (std::chrono::steady_clock::now() > deadline) return false;
        std::this_thread::sleep_for(5ms);
    }
    return true;
}

// ---- the server on its own loop thread ------------------------------------------------

struct ServerFixture {
    TempDir dir{"isolated-api"};
    FakeBackend backend;  // before the io_context: outlives every session's subscription
    boost::asio::io_context io;
    boost::asio::executor_work_guard<boost::asio::io_context::executor_type> work{io.get_executor()};
    std::unique_ptr<api::Server> server;
    std::thread loop;
    std::mutex log_mutex;
    std::vector<std::string> log;

    std::string rw() const { return dir / "isolated.sock"; }
    std::string ro() const { return dir / "isolated-ro.sock"; }

    api::ServerOptions options() {
        api::ServerOptions o;
        o.socket_path = rw();
        o.ro_socket_path = ro();
        o.group = ::getgid();  // the test's own user counts as group isolated
        o.request_timeout = 1s;
        o.idle_timeout = 2s;
        o.write_timeout = 500ms;
        o.log = [this](std::string_view line) {
            std::lock_guard lock(log_mutex);
            log.emplace_back(line);
        };
        return o;
    }

    explicit ServerFixture(const std::function<void(api::ServerOptions&)>& tweak) {
        auto o = options();
        tweak(o);
        backend.defer = [this](std::function<void()> fn) { boost::asio::post(io, std::move(fn)); };
        server = std::make_unique<api::Server>(io, backend, o);
        auto started = server->start();
        INFO((started ? "" : started.error().to_string()));
        REQUIRE(started);
        loop = std::thread([this] { io.run(); });
    }

    ~ServerFixture() {
        if (loop.joinable()) {
            on_loop([this] { server->stop(); });
            work.reset();
            io.stop();
            loop.join();
        }
        server.reset();
    }

    /// Runs `fn` on the server's thread and waits for its result.
    template <typename F>
    auto on_loop(F fn) -> decltype(fn()) {
        std::packaged_task<decltype(fn())()> task(std::move(fn));
        auto result = task.get_future();
        boost::asio::post(io, [&task] { task(); });
        return result.get();
    }

    std::size_t sessions() {
        return on_loop([this] { return server->session_count(); });
    }
};

json json_body(const HttpResponse& r) { return json::parse(r.body); }

}  // namespace

TEST_CASE("the server answers on both sockets, which have their modes", "[api][integration]") {
    ServerFixture f([](auto&) {});
    auto health = round_trip(f.rw(), "GET", "/v1/health");
    CHECK(health.status == 200);
    CHECK(health.headers["content-type"] == "application/json");
    CHECK(json_body(health)["status"] == "ok");

    auto apps = round_trip(f.ro(), "GET", "/v1/apps");
    CHECK(apps.status == 200);
    CHECK(json_body(apps)["apps"].size() == 2);

    struct stat st {};
    REQUIRE(::stat(f.rw().c_str(), &st) == 0);
    CHECK(S_ISSOCK(st.st_mode));
    CHECK((st.st_mode & 07777) == 0660);
    CHECK(st.st_gid == ::getgid());
    REQUIRE(::stat(f.ro().c_str(), &st) == 0);
    CHECK((st.st_mode & 07777) == 0666);

    auto missing = round_trip(f.rw(), "GET", "/v1/apps/nope");
    CHECK(missing.status == 404);
    CHECK(json_body(missing)["error"]["code"] == "not_found");

    auto wrong = round_trip(f.rw(), "DELETE", "/v1/apps/web");
    CHECK(wrong.status == 405);
    CHECK(wrong.headers["allow"] == "GET");
}

TEST_CASE("keep-alive carries several requests, pipelined ones too", "[api][integration]") {
    ServerFixture f([](auto&) {});
    Client c(f.rw());
    REQUIRE(c.connected());
    for (const char* target : {"/v1/health", "/v1/apps", "/v1/version"}) {
        REQUIRE(c.send(request("GET", target)));
        auto r = c.read_response();
        CHECK(r.status == 200);
        CHECK(r.headers.count("connection") == 0);  // HTTP/1.1: keep-alive is implied
    }
    REQUIRE(c.send(request("GET", "/v1/health") + request("POST", "/v1/apps/db/start", R"({"timeout": "1s"})")));
    CHECK(c.read_response().status == 200);
    auto started = c.read_response();
    CHECK(started.status == 200);
    CHECK(json_body(started)["state"] == "ready");
    CHECK(f.sessions() == 1);

    // HEAD is not served (405), and its answer has no body to confuse the next one.
    REQUIRE(c.send("HEAD /v1/health HTTP/1.1\r\nHost: x\r\n\r\n" + request("GET", "/v1/version")));
    auto head = c.read_response();
    CHECK(head.status == 405);
    CHECK(head.headers["allow"] == "GET");
    CHECK(head.body.empty());
    CHECK(c.read_response().status == 200);

    REQUIRE(c.send(request("GET", "/v1/health", "", "Connection: close\r\n")));
    auto last = c.read_response();
    CHECK(last.status == 200);
    CHECK(last.headers["connection"] == "close");
    CHECK(c.closed_by_server());
    CHECK(eventually([&] { return f.sessions() == 0; }));

    Client old(f.rw());
    REQUIRE(old.send("GET /v1/health HTTP/1.0\r\n\r\n"));
    CHECK(old.read_response().status == 200);
    CHECK(old.closed_by_server());
}

TEST_CASE("malformed HTTP is 400 and closes", "[api][integration]") {
    ServerFixture f([](auto&) {});
    for (const char* junk : {"GARBAGE\r\n\r\n", "GET /v1/apps HTTP/1.1\r\nNo colon here\r\n\r\n",
                             "GET /v1/apps HTTP/9.9\r\n\r\n",
                             "POST /v1/reload HTTP/1.1\r\nContent-Length: nope\r\n\r\n"}) {
        CAPTURE(junk);
        Client c(f.rw());
        REQUIRE(c.send(junk));
        auto r = c.read_response();
        CHECK(r.status == 400);
        CHECK(json_body(r)["error"]["code"] == "bad_request");
        CHECK(c.closed_by_server());
    }
}

TEST_CASE("bodies over 64 KiB are 413, headers over 8 KiB 431", "[api][integration]") {
    ServerFixture f([](auto&) {});
    SECTION("announced by Content-Length: refused before the body is read") {
        Client c(f.rw());
        REQUIRE(c.send("POST /v1/apps/web/stop HTTP/1.1\r\nHost: x\r\nContent-Length: 70000\r\n\r\n"));
        auto r = c.read_response();
        CHECK(r.status == 413);
        CHECK(json_body(r)["error"]["code"] == "payload_too_large");
        CHECK(c.closed_by_server());
    }
    SECTION("chunked, found while reading") {
        Client c(f.rw());
        std::string chunk(40000, ' ');
        char size[16];
        std::snprintf(size, sizeof size, "%zx\r\n", chunk.size());
        std::string msg = "POST /v1/reload HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n";
        msg += size + chunk + "\r\n" + size + chunk + "\r\n0\r\n\r\n";
        c.send(msg);  // the server may close before taking it all
        CHECK(c.read_response().status == 413);
    }
    SECTION("Expect: 100-continue with a body that fits") {
        Client c(f.rw());
        std::string body = R"({"timeout": "2s"})";
        REQUIRE(c.send("POST /v1/apps/web/restart HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\n"
                       "Content-Length: " + std::to_string(body.size()) + "\r\n\r\n"));
        REQUIRE(c.read_until("HTTP/1.1 100 Continue\r\n\r\n"));
        REQUIRE(c.send(body));
        CHECK(c.read_response().status == 200);
        CHECK(f.on_loop([&] { return f.backend.action_calls.back().timeout; }) == Duration(2000));
    }
    SECTION("a huge header") {
        Client c(f.rw());
        c.send("GET /v1/apps HTTP/1.1\r\nHost: x\r\nX-Pad: " + std::string(9000, 'p') + "\r\n\r\n");
        auto r = c.read_response();
        CHECK(r.status == 431);
        CHECK(c.closed_by_server());
    }
    CHECK(f.on_loop([&] { return f.backend.reload_calls; }) == 0);
}

TEST_CASE("the read-only socket refuses mutations", "[api][integration]") {
    ServerFixture f([](auto&) {});
    for (const char* target : {"/v1/apps/web/stop", "/v1/apps/web/restart", "/v1/reload"}) {
        auto r = round_trip(f.ro(), "POST", target, R"({"timeout": "1s"})");
        CHECK(r.status == 403);
        CHECK(json_body(r)["error"]["code"] == "forbidden");
    }
    CHECK(f.on_loop([&] { return f.backend.action_calls.size(); }) == 0);
    // The test's user is root or in the configured group: privileged, so logs are
    // answered on the read-only socket too.
    CHECK(round_trip(f.ro(), "GET", "/v1/apps/web/logs").status == 200);
    CHECK(round_trip(f.rw(), "POST", "/v1/apps/web/stop").status == 200);
}

TEST_CASE("an action answers once it has settled", "[api][integration]") {
    ServerFixture f([](auto&) {});
    f.on_loop([&] { f.backend.settle_at_once = false; });
    Client c(f.rw());
    REQUIRE(c.send(request("POST", "/v1/apps/db/start")));
    REQUIRE(eventually([&] { return f.on_loop([&] { return f.backend.action_calls.size(); }) == 1; }));
    f.on_loop([&] { f.backend.settle(0); });
    auto r = c.read_response();
    CHECK(r.status == 200);
    CHECK(json_body(r)["state"] == "ready");
    c.close();

    auto quick = round_trip(f.rw(), "POST", "/v1/apps/db/stop?wait=0");
    CHECK(quick.status == 202);

    // The client leaves before the action settles: the late Done finds nobody.
    {
        Client gone(f.rw());
        REQUIRE(gone.send(request("POST", "/v1/apps/web/restart")));
        REQUIRE(eventually([&] { return f.on_loop([&] { return f.backend.action_calls.size(); }) == 3; }));
    }
    REQUIRE(eventually([&] { return f.sessions() == 1; }));  // waiting for Done, nothing to read
    f.on_loop([&] {
        f.backend.settle(1);
        f.backend.settle(2);
    });
    CHECK(round_trip(f.rw(), "GET", "/v1/health").status == 200);
}

TEST_CASE("a follow stream delivers what happens after it started", "[api][integration]") {
    ServerFixture f([](auto&) {});
    f.on_loop([&] {
        AppEvent e;
        e.app = "web";
        e.type = "state";
        e.state = "ready";
        f.backend.publish(e);
    });

    Client events(f.rw());
    REQUIRE(events.send(request("GET", "/v1/events?follow=1")));
    auto head = events.read_response();
    CHECK(head.status == 200);
    CHECK(head.headers["transfer-encoding"] == "chunked");
    CHECK(head.headers["content-type"] == "application/x-ndjson");
    REQUIRE(events.read_until(R"("state":"ready")"));
    REQUIRE(eventually([&] { return f.on_loop([&] { return f.backend.event_subscribers(); }) == 1; }));

    f.on_loop([&] {
        AppEvent e;
        e.app = "db";
        e.type = "restart";
        e.message = "liveness probe failed";
        f.backend.publish(e);
    });
    REQUIRE(events.read_until(R"("message":"liveness probe failed")"));
    REQUIRE(events.read_until("\n\r\n"));  // the chunk ends with the NDJSON line

    Client logs(f.ro());
    f.on_loop([&] { f.backend.write_log("web", "before"); });
    REQUIRE(logs.send(request("GET", "/v1/apps/web/logs?follow=1&timestamps=1")));
    CHECK(logs.read_response().headers["content-type"] == "text/plain; charset=utf-8");
    REQUIRE(logs.read_until(" before\n"));
    f.on_loop([&] { f.backend.write_log("web", "after"); });
    REQUIRE(logs.read_until(" after\n"));

    // Leaving drops the subscriptions.
    CHECK(f.sessions() == 2);
    events.close();
    logs.close();
    CHECK(eventually([&] { return f.sessions() == 0; }));
    CHECK(f.on_loop([&] { return f.backend.event_subscribers() + f.backend.log_followers(); }) == 0);
}

TEST_CASE("stalled clients are timed out without stalling 50 others", "[api][integration]") {
    ServerFixture f([](api::ServerOptions& o) {
        o.request_timeout = 1500ms;
        o.write_timeout = 300ms;
        o.max_stream_buffer = 256 * 1024;
    });

    // Sends half a request and stalls.
    Client half(f.rw());
    REQUIRE(half.send("GET /v1/apps HTTP/1.1\r\nHost: x\r\n"));
    // Follows events and never reads: dropped when its buffer passes the limit.
    Client flooded(f.rw());
    REQUIRE(flooded.send(request("GET", "/v1/events?follow=1")));
    // Follows logs and never reads: dropped by the write deadline.
    Client stuck(f.rw());
    REQUIRE(stuck.send(request("GET", "/v1/apps/web/logs?follow=1")));
    REQUIRE(eventually([&] {
        return f.on_loop([&] { return f.backend.event_subscribers() == 1 && f.backend.log_followers() == 1; });
    }));
    f.on_loop([&] {
        AppEvent big;
        big.app = "db";  // not "web": its detail (asked for below) carries its events
        big.type = "state";
        big.message = std::string(16 * 1024, 'e');
        for (int i = 0; i < 200; ++i) f.backend.publish(big);  // 3 MB
        for (int i = 0; i < 40; ++i) f.backend.write_log("web", std::string(16 * 1024, 'l'));  // 640 KB
    });

    std::vector<std::future<int>> clients;
    for (int i = 0; i < 50; ++i)
        clients.push_back(std::async(std::launch::async, [&f, i] {
            auto r = round_trip(i % 2 ? f.ro() : f.rw(), "GET", i % 3 ? "/v1/apps" : "/v1/apps/web");
            return r.status;
        }));
    int answered = 0;
    for (auto& c : clients) answered += c.get() == 200;
    CHECK(answered == 50);

    auto timed_out = half.read_response();
    CHECK(timed_out.status == 408);
    CHECK(json_body(timed_out)["error"]["code"] == "request_timeout");
    CHECK(half.closed_by_server());
    CHECK(eventually([&] { return f.sessions() == 0; }));
    CHECK(f.on_loop([&] { return f.backend.event_subscribers() + f.backend.log_followers(); }) == 0);
    CHECK(round_trip(f.rw(), "GET", "/v1/health").status == 200);
}

TEST_CASE("an idle keep-alive connection is closed", "[api][integration]") {
    ServerFixture f([](api::ServerOptions& o) { o.idle_timeout = 200ms; });
    Client c(f.rw());
    REQUIRE(c.send(request("GET", "/v1/health")));
    CHECK(c.read_response().status == 200);
    CHECK(c.closed_by_server());
    CHECK(eventually([&] { return f.sessions() == 0; }));
}

TEST_CASE("beyond the session cap clients get 503, per socket", "[api][integration]") {
    ServerFixture f([](api::ServerOptions& o) { o.max_sessions = 2; });
    Client a(f.ro()), b(f.ro());
    REQUIRE(eventually([&] { return f.sessions() == 2; }));
    Client c(f.ro());
    auto r = c.read_response();
    CHECK(r.status == 503);
    CHECK(json_body(r)["error"]["code"] == "unavailable");
    CHECK(c.closed_by_server());
    // Filling the world-connectable socket does not lock out the control socket.
    CHECK(round_trip(f.rw(), "GET", "/v1/health").status == 200);
    a.close();
    REQUIRE(eventually([&] { return f.sessions() == 1; }));
    CHECK(round_trip(f.ro(), "GET", "/v1/health").status == 200);
}

TEST_CASE("a peer neither root nor in the group is refused on the control socket", "[api][integration]") {
    if (!test::is_root()) {
        // Without a group, we are such a peer ourselves.
        ServerFixture f([](api::ServerOptions& o) { o.group = static_cast<gid_t>(-1); });
        Client c(f.rw());
        REQUIRE(c.send(request("GET", "/v1/health")));
        CHECK(c.read_response().status == 403);
        CHECK(c.closed_by_server());
        CHECK(round_trip(f.ro(), "GET", "/v1/apps/web/logs").status == 403);
        CHECK(round_trip(f.ro(), "GET", "/v1/health").status == 200);
        return;
    }
    ServerFixture f([](auto&) {});
    // The socket's mode keeps others out; open it up to reach the second check.
    REQUIRE(::chmod(f.dir.path().c_str(), 0755) == 0);
    REQUIRE(::chmod(f.rw().c_str(), 0666) == 0);
    auto as_nobody = [&](const std::string& socket, const std::string& req, const char* expect) {
        pid_t pid = ::fork();
        if (pid == 0) {
            // Only async-signal-safe calls from here: the parent has threads.
            if (::setgroups(0, nullptr) != 0 || ::setgid(65534) != 0 || ::setuid(65534) != 0) ::_exit(2);
            int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
            timeval tv{5, 0};
            ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
            auto addr = address_of(socket);
            if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) ::_exit(3);
            if (::send(fd, req.data(), req.size(), MSG_NOSIGNAL) != static_cast<ssize_t>(req.size())) ::_exit(4);
            char buf[512] = {};
            std::size_t got = 0;
            ssize_t n;
            while (got < sizeof buf - 1 && (n = ::recv(fd, buf + got, sizeof buf - 1 - got, 0)) > 0)
                got += static_cast<std::size_t>(n);
            ::_exit(std::strncmp(buf, expect, std::strlen(expect)) == 0 ? 0 : 5);
        }
        int status = 0;
        ::waitpid(pid, &status, 0);
        return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    };
    // 403, then the connection closes (the child's read loop ends).
    CHECK(as_nobody(f.rw(), request("GET", "/v1/health"), "HTTP/1.1 403") == 0);
    // The read-only socket serves anyone, but not their logs.
    CHECK(as_nobody(f.ro(), request("GET", "/v1/apps/web/logs", "", "Connection: close\r\n"), "HTTP/1.1 403") == 0);
    CHECK(as_nobody(f.ro(), request("GET", "/v1/health", "", "Connection: close\r\n"), "HTTP/1.1 200") == 0);
}

TEST_CASE("socket files: stale ones are replaced, live ones and other files are not", "[api][integration]") {
    TempDir dir("isolated-api");
    const std::string path = dir / "isolated.sock";
    FakeBackend backend;
    boost::asio::io_context io;
    api::ServerOptions o;
    o.socket_path = path;
    o.log = [](std::string_view) {};

    auto listening_socket = [&](bool listen) {
        int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        auto addr = address_of(path);
        REQUIRE(::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0);
        if (listen) REQUIRE(::listen(fd, 4) == 0);
        return fd;
    };

    SECTION("stale: a socket file nobody listens on") {
        ::close(listening_socket(/* listen= */ false));
        api::Server server(io, backend, o);
        auto r = server.start();
        INFO((r ? "" : r.error().to_string()));
        REQUIRE(r);
        Client c(path);
        CHECK(c.connected());
        server.stop();
        CHECK(::access(path.c_str(), F_OK) != 0);  // removed on stop
    }
    SECTION("live: another daemon listens") {
        int other = listening_socket(/* listen= */ true);
        api::Server server(io, backend, o);
        auto r = server.start();
        REQUIRE_FALSE(r);
        CHECK(r.error().to_string().find(path) != std::string::npos);
        CHECK(r.error().errno_value == EADDRINUSE);
        Client c(path);  // still the other one's
        CHECK(c.connected());
        ::close(other);
    }
    SECTION("not a socket") {
        test::write_file(path, "precious");
        api::Server server(io, backend, o);
        auto r = server.start();
        REQUIRE_FALSE(r);
        CHECK(r.error().to_string().find(path) != std::string::npos);
        CHECK(test::read_file(path) == "precious");
    }
    SECTION("a missing directory names the path") {
        o.socket_path = dir / "no/such/dir/isolated.sock";
        api::Server server(io, backend, o);
        auto r = server.start();
        REQUIRE_FALSE(r);
        CHECK(r.error().to_string().find(o.socket_path) != std::string::npos);
    }
    SECTION("the read-only socket failing undoes the control socket") {
        o.ro_socket_path = dir / "ro-dir-missing/isolated-ro.sock";
        api::Server server(io, backend, o);
        REQUIRE_FALSE(server.start());
        CHECK(::access(path.c_str(), F_OK) != 0);
    }
}

TEST_CASE("stop() closes every session and removes the sockets", "[api][integration]") {
    ServerFixture f([](auto&) {});
    Client idle(f.rw());
    Client streaming(f.ro());
    REQUIRE(streaming.send(request("GET", "/v1/events?follow=1")));
    REQUIRE(streaming.read_response().status == 200);
    REQUIRE(eventually([&] { return f.sessions() == 2; }));
    f.on_loop([&] { f.server->stop(); });
    CHECK(idle.closed_by_server());
    CHECK(streaming.closed_by_server());
    CHECK(f.sessions() == 0);
    CHECK(f.on_loop([&] { return f.backend.event_subscribers(); }) == 0);
    CHECK(::access(f.rw().c_str(), F_OK) != 0);
    CHECK(::access(f.ro().c_str(), F_OK) != 0);
}

TEST_CASE("If-None-Match over a keep-alive connection: 304 with no body, then the next answer", "[api][integration][etag]") {
    ServerFixture f([](auto&) {});
    Client c(f.rw());
    REQUIRE(c.connected());
    REQUIRE(c.send(request("GET", "/v1/apps")));
    auto first = c.read_response();
    REQUIRE(first.status == 200);
    const std::string etag = first.headers["etag"];
    REQUIRE(!etag.empty());
    CHECK(first.headers["cache-control"] == "no-cache");
    // Two If-None-Match lines are one list; the second names the current tag.
    REQUIRE(c.send(request("GET", "/v1/apps", "", "If-None-Match: \"old\"\r\nIf-None-Match: " + etag + "\r\n") +
                   request("GET", "/v1/version")));
    auto again = c.read_response();
    CHECK(again.status == 304);
    CHECK(again.body.empty());
    CHECK(again.headers["etag"] == etag);
    CHECK(again.headers.count("content-type") == 0);
    CHECK(again.headers.count("content-length") == 0);
    auto next = c.read_response();  // framing intact after the bodiless 304
    CHECK(next.status == 200);
    CHECK(json_body(next).contains("version"));
    // The read-only socket's answers carry a tag too (which view's depends on whether
    // this test runs as root; the dispatcher's unit tests cover both).
    auto ro = round_trip(f.ro(), "GET", "/v1/apps");
    CHECK(ro.status == 200);
    CHECK(!ro.headers["etag"].empty());
}
