#include "connection.hpp"

#include <csignal>
#include <cstdio>
#include <limits>
#include <optional>
#include <vector>

#include <boost/asio/io_context.hpp>
#include <boost/asio/local/stream_protocol.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http.hpp>

namespace isoctl {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using local = asio::local::stream_protocol;
using Clock = std::chrono::steady_clock;
using boost::system::error_code;

namespace {

constexpr std::chrono::seconds kConnectTimeout{30};
constexpr std::uint64_t kMaxBody = 256ull << 20;

std::string connect_message(const std::string& path, const error_code& ec) {
    std::string m = "cannot connect to " + path + ": " + ec.message();
    if (ec == boost::system::errc::no_such_file_or_directory || ec == boost::system::errc::connection_refused)
        m += " — is isolated running? try: systemctl status isolated";
    else if (ec == boost::system::errc::permission_denied || ec == boost::system::errc::operation_not_permitted)
        m += " — the control socket is for root and the 'isolated' group: run with sudo, or join the group "
             "(sudo usermod -aG isolated $USER, then log in again)";
    return m;
}

}  // namespace

struct UnixSocketTransport::Impl {
    std::string path;
    asio::io_context ioc;
    std::optional<asio::signal_set> signals;
    bool interrupted = false;

    Impl(std::string p, bool catch_sigint) : path(std::move(p)) {
        if (catch_sigint) {
            signals.emplace(ioc, SIGINT);
            signals->async_wait([this](const error_code& ec, int) {
                if (!ec) interrupted = true;
            });
        }
    }

    // Runs the loop until `done`; on the deadline or Ctrl-C closes the socket (which
    // completes the pending operation with operation_aborted) and throws.
    void wait(local::socket& sock, const bool& done, std::optional<Clock::time_point> deadline) {
        if (ioc.stopped()) ioc.restart();
        while (!done) {
            if (interrupted) {
                abandon(sock, done);
                throw Interrupted();
            }
            std::size_t n = deadline ? ioc.run_one_until(*deadline) : ioc.run_one();
            if (n == 0 && !done) {
                if (deadline && Clock::now() >= *deadline) {
                    abandon(sock, done);
                    throw TransportError("the daemon at " + path + " did not answer in time");
                }
                if (ioc.stopped()) ioc.restart();
            }
        }
    }

    void abandon(local::socket& sock, const bool& done) {
        error_code ignored;
        sock.close(ignored);
        if (ioc.stopped()) ioc.restart();
        while (!done && ioc.run_one() != 0) {
        }
    }

    void connect(local::socket& sock, Clock::time_point deadline) {
        local::endpoint ep;
        try {
            ep = local::endpoint(path);
        } catch (const boost::system::system_error& e) {
            throw TransportError(connect_message(path, e.code()));
        }
        bool done = false;
        error_code ec;
        sock.async_connect(ep, [&](const error_code& e) {
            ec = e;
            done = true;
        });
        wait(sock, done, deadline);
        if (ec) throw TransportError(connect_message(path, ec));
    }

    /// The header, then the body as HTTP/1.1 chunks from `r.body_source`; each write
    /// has its own deadline (a large archive takes as long as it takes).
    void send_chunked(local::socket& sock, const Request& r) {
        http::request<http::empty_body> req;
        req.method_string(r.method);
        req.target(r.target);
        req.version(11);
        req.set(http::field::host, "isolated");
        req.set(http::field::user_agent, std::string("isoctl/") + ISOLATED_VERSION);
        req.set(http::field::content_type, r.body_type);
        req.keep_alive(false);
        req.chunked(true);
        http::request_serializer<http::empty_body> sr(req);
        bool done = false;
        error_code ec;
        http::async_write_header(sock, sr, [&](const error_code& e, std::size_t) {
            ec = e;
            done = true;
        });
        wait(sock, done, Clock::now() + kConnectTimeout);
        if (ec) throw io_failure(ec);
        std::vector<char> buf(256 * 1024);
        while (true) {
            std::size_t n = r.body_source(buf.data() + 16, buf.size() - 18);
            std::string frame;
            if (n == 0) {
                frame = "0\r\n\r\n";
            } else {
                char head[16];
                int h = std::snprintf(head, sizeof head, "%zx\r\n", n);
                frame.reserve(static_cast<std::size_t>(h) + n + 2);
                frame.append(head, static_cast<std::size_t>(h));
                frame.append(buf.data() + 16, n);
                frame += "\r\n";
            }
            done = false;
            asio::async_write(sock, asio::buffer(frame), [&](const error_code& e, std::size_t) {
                ec = e;
                done = true;
            });
            wait(sock, done, Clock::now() + std::chrono::seconds(60));
            // The daemon may have answered and closed already (a refusal, a size
            // limit): stop sending and read its answer.
            if (ec) return;
            if (n == 0) break;
        }
    }

    void send(local::socket& sock, const Request& r, Clock::time_point deadline) {
        if (r.body_source) {
            send_chunked(sock, r);
            return;
        }
        http::request<http::string_body> req;
        req.method_string(r.method);
        req.target(r.target);
        req.version(11);
        req.set(http::field::host, "isolated");
        req.set(http::field::user_agent, std::string("isoctl/") + ISOLATED_VERSION);
        req.keep_alive(false);
        if (!r.body.empty()) {
            req.set(http::field::content_type, "application/json");
            req.body() = r.body;
        }
        req.prepare_payload();
        bool done = false;
        error_code ec;
        http::async_write(sock, req, [&](const error_code& e, std::size_t) {
            ec = e;
            done = true;
        });
        wait(sock, done, deadline);
        if (ec) throw io_failure(ec);
    }

    TransportError io_failure(const error_code& ec) const {
        if (ec == http::error::end_of_stream)
            return TransportError("the daemon at " + path + " closed the connection without answering");
        return TransportError("lost the connection to the daemon at " + path + ": " + ec.message());
    }
};

UnixSocketTransport::UnixSocketTransport(std::string socket_path, bool catch_sigint)
    : impl_(std::make_unique<Impl>(std::move(socket_path), catch_sigint)) {}

UnixSocketTransport::~UnixSocketTransport() = default;

Response UnixSocketTransport::request(const Request& r) {
    auto deadline = Clock::now() + r.timeout;
    local::socket sock(impl_->ioc);
    impl_->connect(sock, deadline);
    impl_->send(sock, r, deadline);

    beast::flat_buffer buffer;
    http::response_parser<http::string_body> parser;
    parser.body_limit(kMaxBody);
    bool done = false;
    error_code ec;
    http::async_read(sock, buffer, parser, [&](const error_code& e, std::size_t) {
        ec = e;
        done = true;
    });
    impl_->wait(sock, done, deadline);
    if (ec) throw impl_->io_failure(ec);
    auto& res = parser.get();
    return Response{res.result_int(), std::string(res[http::field::content_type]), std::move(res.body())};
}

Response UnixSocketTransport::stream(const Request& r, const std::function<void(std::string_view)>& on_data) {
    local::socket sock(impl_->ioc);
    auto deadline = Clock::now() + kConnectTimeout;
    impl_->connect(sock, deadline);
    impl_->send(sock, r, deadline);

    beast::flat_buffer buffer;
    http::response_parser<http::buffer_body> parser;
    // Not boost::none: Beast 1.74 compares Content-Length against the optional itself,
    // and an empty optional rejects every length.
    parser.body_limit(std::numeric_limits<std::uint64_t>::max());
    bool done = false;
    error_code ec;
    http::async_read_header(sock, buffer, parser, [&](const error_code& e, std::size_t) {
        ec = e;
        done = true;
    });
    // A follower may get its headers only with the first line; a timeout of 0 waits.
    impl_->wait(sock, done, r.timeout.count() > 0 ? std::optional(Clock::now() + r.timeout) : std::nullopt);
    if (ec) throw impl_->io_failure(ec);

    auto& res = parser.get();
    Response out{res.result_int(), std::string(res[http::field::content_type]), {}};
    const bool deliver = out.ok();
    char chunk[16 * 1024];
    while (!parser.is_done()) {
        res.body().data = chunk;
        res.body().size = sizeof chunk;
        done = false;
        // read_some, not read: hand over what has arrived instead of waiting for a full buffer.
        http::async_read_some(sock, buffer, parser, [&](const error_code& e, std::size_t) {
            ec = e;
            done = true;
        });
        impl_->wait(sock, done, std::nullopt);
        if (ec == http::error::need_buffer) ec = {};
        std::size_t n = sizeof chunk - res.body().size;
        if (n > 0) {
            if (deliver)
                on_data(std::string_view(chunk, n));
            else if (out.body.size() < kMaxBody)
                out.body.append(chunk, n);
        }
        if (ec) throw impl_->io_failure(ec);
    }
    return out;
}

}  // namespace isoctl
