// The real transport against a tiny HTTP server on a Unix socket in a temp dir.
#include <catch2/catch.hpp>

#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstring>
#include <future>
#include <thread>

#include "connection.hpp"
#include "support/test_env.hpp"

using namespace isoctl;
using namespace std::chrono_literals;

namespace {

int bind_unix(const std::string& path) {
    int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_un sa{};
    sa.sun_family = AF_UNIX;
    std::strncpy(sa.sun_path, path.c_str(), sizeof sa.sun_path - 1);
    REQUIRE(::bind(fd, reinterpret_cast<sockaddr*>(&sa), sizeof sa) == 0);
    return fd;
}

void send_all(int fd, std::string_view s) {
    while (!s.empty()) {
        ssize_t n = ::send(fd, s.data(), s.size(), MSG_NOSIGNAL);
        if (n <= 0) return;
        s.remove_prefix(static_cast<std::size_t>(n));
    }
}

/// Accepts one connection, reads one request, lets `handler` answer, closes.
class OneShotServer {
public:
    using Handler = std::function<void(int fd, const std::string& request)>;
    OneShotServer(const std::string& path, Handler handler) : fd_(bind_unix(path)) {
        REQUIRE(::listen(fd_, 4) == 0);
        thread_ = std::thread([this, handler] {
            int c = ::accept4(fd_, nullptr, nullptr, SOCK_CLOEXEC);
            if (c < 0) return;
            std::string req;
            char buf[4096];
            std::size_t need = std::string::npos;
            while (true) {
                auto end = req.find("\r\n\r\n");
                if (end != std::string::npos && need == std::string::npos) {
                    need = end + 4;
                    auto cl = req.find("Content-Length: ");
                    if (cl != std::string::npos && cl < end) need += std::stoul(req.substr(cl + 16));
                }
                if (need != std::string::npos && req.size() >= need) break;
                ssize_t n = ::recv(c, buf, sizeof buf, 0);
                if (n <= 0) break;
                req.append(buf, static_cast<std::size_t>(n));
            }
            request = req;
            handler(c, req);
            ::close(c);
        });
    }
    ~OneShotServer() {
        ::shutdown(fd_, SHUT_RDWR);
        if (thread_.joinable()) thread_.join();
        ::close(fd_);
    }
    std::string request;

private:
    int fd_;
    std::thread thread_;
};

}  // namespace

TEST_CASE("connection: a missing socket says what to do", "[isoctl]") {
    isolated::test::TempDir dir("isoctl-conn");
    UnixSocketTransport t(dir / "isolated.sock", false);
    try {
        t.request(Request{"GET", "/v1/apps", {}, 2s});
        FAIL("no error");
    } catch (const TransportError& e) {
        CHECK(std::string(e.what()) == "cannot connect to " + (dir / "isolated.sock") +
                                           ": No such file or directory — is isolated running? try: systemctl "
                                           "status isolated");
    }
}

TEST_CASE("connection: a socket nobody listens on is refused, with the same hint", "[isoctl]") {
    isolated::test::TempDir dir("isoctl-conn");
    int fd = bind_unix(dir / "isolated.sock");  // bound, never listening
    UnixSocketTransport t(dir / "isolated.sock", false);
    CHECK_THROWS_WITH(t.request(Request{"GET", "/v1/apps", {}, 2s}),
                      Catch::Contains("Connection refused — is isolated running?"));
    ::close(fd);
}

TEST_CASE("connection: request sends the body and returns status, type and body", "[isoctl]") {
    isolated::test::TempDir dir("isoctl-conn");
    OneShotServer server(dir / "s.sock", [](int fd, const std::string&) {
        send_all(fd,
                 "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 17\r\n"
                 "Connection: close\r\n\r\n{\"state\":\"stopp\"}");
    });
    UnixSocketTransport t(dir / "s.sock", false);
    Response r = t.request(Request{"POST", "/v1/apps/web/stop", R"({"timeout":"10s"})", 5s});
    CHECK(r.status == 200);
    CHECK(r.content_type == "application/json");
    CHECK(r.body == R"({"state":"stopp"})");
    CHECK(server.request.rfind("POST /v1/apps/web/stop HTTP/1.1\r\n", 0) == 0);
    CHECK(server.request.find("Content-Type: application/json\r\n") != std::string::npos);
    CHECK(server.request.find("\r\n\r\n{\"timeout\":\"10s\"}") != std::string::npos);
}

TEST_CASE("connection: a silent daemon times out", "[isoctl]") {
    isolated::test::TempDir dir("isoctl-conn");
    std::promise<void> release;
    auto released = release.get_future();
    OneShotServer server(dir / "s.sock", [&](int, const std::string&) { released.wait_for(5s); });
    UnixSocketTransport t(dir / "s.sock", false);
    CHECK_THROWS_WITH(t.request(Request{"GET", "/v1/apps", {}, 200ms}), Catch::Contains("did not answer in time"));
    release.set_value();
}

TEST_CASE("connection: stream hands over chunks as they arrive", "[isoctl]") {
    isolated::test::TempDir dir("isoctl-conn");
    std::promise<void> first_seen;
    auto first_seen_f = first_seen.get_future();
    std::atomic<bool> waited_ok{false};
    OneShotServer server(dir / "s.sock", [&](int fd, const std::string&) {
        send_all(fd, "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nTransfer-Encoding: chunked\r\n\r\n");
        send_all(fd, "7\r\nline 1\n\r\n");
        // The second chunk only goes out once the client has shown the first.
        waited_ok = first_seen_f.wait_for(5s) == std::future_status::ready;
        send_all(fd, "7\r\nline 2\n\r\n0\r\n\r\n");
    });
    UnixSocketTransport t(dir / "s.sock", false);
    std::vector<std::string> pieces;
    Response r = t.stream(Request{"GET", "/v1/apps/web/logs?follow=1", {}, 0ms}, [&](std::string_view d) {
        pieces.emplace_back(d);
        if (pieces.size() == 1) first_seen.set_value();
    });
    CHECK(r.status == 200);
    CHECK(r.body.empty());
    CHECK(waited_ok);
    std::string all;
    for (auto& p : pieces) all += p;
    CHECK(all == "line 1\nline 2\n");
    CHECK(pieces.front() == "line 1\n");
}

TEST_CASE("connection: stream returns an error answer whole", "[isoctl]") {
    isolated::test::TempDir dir("isoctl-conn");
    OneShotServer server(dir / "s.sock", [](int fd, const std::string&) {
        std::string body = R"({"error":{"code":"not_found","message":"no such app \"x\""}})";
        send_all(fd, "HTTP/1.1 404 Not Found\r\nContent-Type: application/json\r\nContent-Length: " +
                         std::to_string(body.size()) + "\r\n\r\n" + body);
    });
    UnixSocketTransport t(dir / "s.sock", false);
    bool called = false;
    Response r = t.stream(Request{"GET", "/v1/apps/x/logs", {}, 5s}, [&](std::string_view) { called = true; });
    CHECK(r.status == 404);
    CHECK(r.body.find("no such app") != std::string::npos);
    CHECK_FALSE(called);
}

TEST_CASE("connection: a daemon that hangs up mid-stream is an error", "[isoctl]") {
    isolated::test::TempDir dir("isoctl-conn");
    OneShotServer server(dir / "s.sock", [](int fd, const std::string&) {
        send_all(fd, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nab\n\r\n");
    });
    UnixSocketTransport t(dir / "s.sock", false);
    std::string got;
    CHECK_THROWS_WITH(t.stream(Request{"GET", "/v1/events?follow=1", {}, 0ms},
                               [&](std::string_view d) { got += d; }),
                      Catch::Contains("lost the connection to the daemon"));
    CHECK(got == "ab\n");
}
