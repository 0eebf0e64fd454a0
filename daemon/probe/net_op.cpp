#include "probe/net_op.hpp"

#include <sys/socket.h>

#include <cerrno>

#include <boost/asio/redirect_error.hpp>
#include <boost/asio/use_awaitable.hpp>

#include "sys/netns.hpp"

namespace isolated::probe::detail {

void NetOp::arm(Duration timeout) {
    expires_ = asio::steady_timer::clock_type::now() + timeout;
}

Result<void> NetOp::open_socket(int netns_fd, const tcp::endpoint& to) {
    close_socket();
    socket.reset();  // between connections (a redirect): nothing of the last one is pending
    auto s = sys::socket_in_netns(netns_fd, to.protocol().family(), SOCK_STREAM);
    if (!s) return s.error();
    fd = std::move(*s);
    family_ = to.protocol().family();
    return {};
}

asio::awaitable<boost::system::error_code> NetOp::connect(tcp::endpoint to) {
    using boost::system::error_code;
    using boost::system::system_category;
    int s = fd.get();
    if (s < 0) co_return error_code(EBADF, system_category());
    if (::connect(s, to.data(), static_cast<socklen_t>(to.size())) == 0) co_return error_code();
    if (errno != EINPROGRESS) co_return error_code(errno, system_category());
    // Asked again, the kernel answers for the handshake: 0 once established, the
    // error (ECONNREFUSED...) once it failed, EALREADY while it is still going.
    if (::connect(s, to.data(), static_cast<socklen_t>(to.size())) == 0 || errno == EISCONN)
        co_return error_code();
    if (errno != EALREADY) co_return error_code(errno, system_category());

    error_code ec;
    auto& sock = stream();
    co_await sock.async_wait(tcp::socket::wait_write, asio::redirect_error(asio::use_awaitable, ec));
    if (ec) co_return ec;
    int err = 0;
    socklen_t len = sizeof err;
    if (::getsockopt(sock.native_handle(), SOL_SOCKET, SO_ERROR, &err, &len) != 0) err = errno;
    co_return error_code(err, system_category());
}

tcp::socket& NetOp::stream() {
    if (!socket) {
        tcp::socket s(io);
        boost::system::error_code ec;
        if (fd) s.assign(family_ == AF_INET6 ? tcp::v6() : tcp::v4(), fd.get(), ec);
        if (!ec) fd.release();
        fd.reset();
        socket.emplace(std::move(s));
    }
    if (expires_) {
        deadline.expires_at(*expires_);
        expires_.reset();
        deadline.async_wait([weak = weak_from_this()](boost::system::error_code ec) {
            auto self = weak.lock();
            if (ec || !self) return;
            self->timed_out = true;
            self->close_socket();
        });
    }
    return *socket;
}

void NetOp::close_socket() {
    fd.reset();
    if (!socket) return;
    boost::system::error_code ec;
    socket->close(ec);
}

void NetOp::abandon() {
    abandoned = true;
    done = nullptr;
    expires_.reset();
    deadline.cancel();
    close_socket();
}

void NetOp::finish(ProbeOutcome outcome) {
    expires_.reset();
    deadline.cancel();
    close_socket();
    if (abandoned || !done) return;
    auto fn = std::move(done);
    done = nullptr;
    fn(std::move(outcome));
}

std::string describe(const boost::system::error_code& ec) {
    if (ec.category() == boost::system::system_category() || ec.category() == boost::system::generic_category())
        return errno_name(ec.value());
    if (ec == boost::asio::error::eof) return "connection closed by the app";
    return ec.message();
}

std::string describe(const tcp::endpoint& ep) {
    auto a = ep.address();
    std::string host = a.is_v6() ? "[" + a.to_string() + "]" : a.to_string();
    return host + ":" + std::to_string(ep.port());
}

std::string quote_bytes(std::string_view data, std::size_t max) {
    std::string out;
    for (char c : data.substr(0, max)) {
        auto u = static_cast<unsigned char>(c);
        if (c == '\r')
            out += "\\r";
        else if (c == '\n')
            out += "\\n";
        else if (u < 0x20 || u >= 0x7f)
            out += '?';
        else
            out += c;
    }
    if (data.size() > max) out += "...";
    return out;
}

}  // namespace isolated::probe::detail
