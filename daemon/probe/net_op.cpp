#include "probe/net_op.hpp"

#include <sys/socket.h>

#include "probe/netns.hpp"

namespace isolated::probe::detail {

void NetOp::arm(const std::shared_ptr<NetOp>& op, Duration timeout) {
    op->deadline.expires_after(timeout);
    op->deadline.async_wait([weak = std::weak_ptr<NetOp>(op)](boost::system::error_code ec) {
        auto self = weak.lock();
        if (ec || !self) return;
        self->timed_out = true;
        self->close_socket();
    });
}

Result<void> NetOp::open_socket(int netns_fd, const tcp::endpoint& to) {
    close_socket();
    auto fd = socket_in_netns(netns_fd, to.protocol().family(), SOCK_STREAM);
    if (!fd) return fd.error();
    tcp::socket s(io);
    boost::system::error_code ec;
    s.assign(to.protocol(), fd->get(), ec);
    if (ec) return Error::msg("socket: " + ec.message());
    fd->release();
    socket.emplace(std::move(s));
    return {};
}

void NetOp::close_socket() {
    if (!socket) return;
    boost::system::error_code ec;
    socket->close(ec);
}

void NetOp::abandon() {
    abandoned = true;
    done = nullptr;
    deadline.cancel();
    close_socket();
}

void NetOp::finish(ProbeOutcome outcome) {
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
