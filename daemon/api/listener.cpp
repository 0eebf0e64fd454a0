#include "api/listener.hpp"

#include <fcntl.h>
#include <limits.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <sstream>

#include <boost/beast/http/message.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/http/write.hpp>

#ifndef SO_PEERGROUPS
#define SO_PEERGROUPS 59  // Linux 4.13
#endif

namespace isolated::api {

namespace asio = boost::asio;
namespace http = boost::beast::http;
using boost::system::error_code;

namespace {

/// Accepts per wake-up before yielding to the other handlers on the loop.
constexpr int accept_batch = 32;
constexpr Duration accept_retry_delay = std::chrono::milliseconds(100);

std::string quote_path(const std::string& path) { return "\"" + path + "\""; }

bool make_address(const std::string& path, sockaddr_un& addr) {
    addr = {};
    addr.sun_family = AF_UNIX;
    if (path.size() >= sizeof addr.sun_path) return false;
    std::memcpy(addr.sun_path, path.c_str(), path.size() + 1);
    return true;
}

/// A socket file nobody listens on (the daemon was killed) is in the way; one with a
/// listener is another daemon, which we must not steal from.
Result<void> remove_stale_socket(const std::string& path) {
    struct stat st {};
    if (::lstat(path.c_str(), &st) < 0) {
        if (errno == ENOENT) return {};
        return os_error("stat " + quote_path(path));
    }
    if (!S_ISSOCK(st.st_mode)) return Error::msg(quote_path(path) + " exists and is not a socket; not replacing it");
    sockaddr_un addr;
    make_address(path, addr);
    unique_fd probe(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
    if (!probe) return os_error("socket");
    // Connecting to a Unix socket never waits: it succeeds (or EAGAIN, backlog full)
    // when something listens, ECONNREFUSED when nothing does.
    if (::connect(probe.get(), reinterpret_cast<const sockaddr*>(&addr), sizeof addr) == 0 || errno == EAGAIN)
        return Error::os(EADDRINUSE, quote_path(path) + " is in use: another daemon listens on it");
    if (errno != ECONNREFUSED) return os_error("connect " + quote_path(path) + " to tell whether it is stale");
    if (::unlink(path.c_str()) < 0 && errno != ENOENT) return os_error("unlink stale socket " + quote_path(path));
    return {};
}

/// The whole HTTP text of a canned answer, for refusals sent without a session.
std::string render(const Response& response) {
    http::response<http::string_body> res{static_cast<http::status>(response.status), 11};
    res.set(http::field::content_type, response.content_type);
    res.body() = response.body;
    res.keep_alive(false);
    res.prepare_payload();
    std::ostringstream out;
    out << res;
    return out.str();
}

}  // namespace

Result<BoundSocket> bind_unix_socket(const std::string& path, mode_t mode, gid_t group) {
    const std::string temp = path + ".new";
    sockaddr_un addr;
    if (!make_address(temp, addr))
        return Error::os(ENAMETOOLONG, "socket path " + quote_path(path) + " is too long (at most " +
                                           std::to_string(sizeof addr.sun_path - 1 - 4) + " bytes)");
    if (auto r = remove_stale_socket(path); !r) return r.error();

    unique_fd fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
    if (!fd) return os_error("socket for " + quote_path(path));
    ::unlink(temp.c_str());  // left by a start that died half-way
    if (::bind(fd.get(), reinterpret_cast<const sockaddr*>(&addr), sizeof addr) < 0)
        return os_error("bind " + quote_path(path));
    // Nobody can connect before listen(), so the mode and group are in place before
    // the first client; the rename then publishes a finished socket.
    auto fail = [&](const char* what) {
        Error e = os_error(std::string(what) + " " + quote_path(path));
        ::unlink(temp.c_str());
        return e;
    };
    if (::chmod(temp.c_str(), mode) < 0) return fail("chmod");
    if (group != static_cast<gid_t>(-1) && ::chown(temp.c_str(), static_cast<uid_t>(-1), group) < 0)
        return fail("chown");
    if (::listen(fd.get(), SOMAXCONN) < 0) return fail("listen on");
    struct stat st {};
    if (::stat(temp.c_str(), &st) < 0) return fail("stat");
    if (::rename(temp.c_str(), path.c_str()) < 0) return fail("rename into place");
    return BoundSocket{std::move(fd), st.st_dev, st.st_ino};
}

Result<PeerCredentials> peer_credentials(int fd) {
    ucred cred{};
    socklen_t len = sizeof cred;
    if (::getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) < 0) return os_error("getsockopt SO_PEERCRED");
    PeerCredentials peer{cred.pid, cred.uid, cred.gid, {}};
    std::vector<gid_t> groups(64);
    for (;;) {
        socklen_t size = static_cast<socklen_t>(groups.size() * sizeof(gid_t));
        if (::getsockopt(fd, SOL_SOCKET, SO_PEERGROUPS, groups.data(), &size) == 0) {
            groups.resize(size / sizeof(gid_t));
            break;
        }
        // ERANGE: the kernel wrote the size it needs into `size`.
        if (errno == ERANGE && size / sizeof(gid_t) > groups.size() && size / sizeof(gid_t) <= NGROUPS_MAX) {
            groups.resize(size / sizeof(gid_t));
            continue;
        }
        if (errno == ENOPROTOOPT) {  // kernel before 4.13: the primary group only
            groups.clear();
            break;
        }
        return os_error("getsockopt SO_PEERGROUPS");
    }
    peer.groups = std::move(groups);
    return peer;
}

// ---- Listener -------------------------------------------------------------------------

Listener::Listener(asio::io_context& io, BoundSocket socket, ListenerOptions options, Dispatcher& dispatcher)
    : io_(io),
      acceptor_(io),
      retry_timer_(io),
      options_(std::move(options)),
      dispatcher_(dispatcher),
      dev_(socket.dev),
      ino_(socket.ino),
      socket_(std::move(socket.fd)) {}

Result<void> Listener::start() {
    error_code ec;
    acceptor_.assign(asio::local::stream_protocol(), socket_.get(), ec);
    if (ec) return Error::os(ec.value(), "listen on " + quote_path(options_.path));
    socket_.release();
    do_accept();
    return {};
}

void Listener::stop() {
    if (stopped_) return;
    stopped_ = true;
    error_code ec;
    acceptor_.close(ec);
    retry_timer_.cancel();
    // A newer daemon may already have replaced the file: remove only our own.
    struct stat st {};
    if (::lstat(options_.path.c_str(), &st) == 0 && st.st_dev == dev_ && st.st_ino == ino_)
        ::unlink(options_.path.c_str());
    sessions_.stop_all();
}

void Listener::do_accept() {
    // accept4 by hand rather than async_accept: Asio's accept() does not set
    // SOCK_CLOEXEC, and every fd must be CLOEXEC from birth.
    acceptor_.async_wait(asio::local::stream_protocol::acceptor::wait_read,
                         [self = shared_from_this()](error_code ec) { self->on_readable(ec); });
}

void Listener::on_readable(error_code ec) {
    if (stopped_ || ec == asio::error::operation_aborted) return;
    if (ec) {
        if (options_.log) options_.log("api: waiting for clients on " + options_.path + ": " + ec.message());
        retry_later();
        return;
    }
    for (int i = 0; i < accept_batch; ++i) {
        int fd = ::accept4(acceptor_.native_handle(), nullptr, nullptr, SOCK_CLOEXEC | SOCK_NONBLOCK);
        if (fd >= 0) {
            accept_failing_ = false;
            on_accepted(unique_fd(fd));
            continue;
        }
        const int err = errno;
        if (err == EINTR || err == ECONNABORTED) continue;
        if (err == EAGAIN || err == EWOULDBLOCK) break;
        // EMFILE, ENFILE, ENOBUFS, ENOMEM: the listening socket stays readable, so
        // waiting again at once would spin; back off instead. Logged once per episode.
        if (!accept_failing_ && options_.log)
            options_.log("api: " + Error::os(err, "accept on " + options_.path).to_string() +
                         "; retrying every 100ms");
        accept_failing_ = true;
        retry_later();
        return;
    }
    do_accept();
}

void Listener::retry_later() {
    retry_timer_.expires_after(accept_retry_delay);
    retry_timer_.async_wait([self = shared_from_this()](error_code ec) {
        if (self->stopped_ || ec) return;
        self->do_accept();
    });
}

void Listener::on_accepted(unique_fd fd) {
    auto peer = peer_credentials(fd.get());
    if (!peer) {
        if (options_.log) options_.log("api: client on " + options_.path + ": " + peer.error().to_string());
        return;
    }
    if (sessions_.size() >= options_.max_sessions) {
        // No session (that is the point), so no async write either: the answer is
        // small and the new socket's send buffer empty, so one non-blocking send fits.
        static const std::string busy = render(error_response(
            503, api_error::unavailable, "too many connections to isolated; try again"));
        if (!busy_ && options_.log)
            options_.log("api: " + std::to_string(options_.max_sessions) + " sessions open, answering 503");
        busy_ = true;
        (void)::send(fd.get(), busy.data(), busy.size(), MSG_DONTWAIT | MSG_NOSIGNAL);
        (void)::shutdown(fd.get(), SHUT_WR);
        return;
    }
    busy_ = false;
    Session::Socket socket(io_);
    error_code ec;
    socket.assign(asio::local::stream_protocol(), fd.get(), ec);
    if (ec) {
        if (options_.log) options_.log("api: client on " + options_.path + ": " + ec.message());
        return;
    }
    fd.release();
    const bool privileged = is_privileged(*peer, options_.group);
    sessions_.start(std::make_shared<Session>(std::move(socket), dispatcher_, sessions_, options_.limits,
                                              std::move(*peer), options_.read_only, privileged));
}

}  // namespace isolated::api
