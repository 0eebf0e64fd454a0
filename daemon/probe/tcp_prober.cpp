#include "probe/tcp_prober.hpp"

// Boost 1.74's awaitable.hpp uses std::exchange without including <utility>.
#include <utility>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/use_awaitable.hpp>

#include "probe/net_op.hpp"

namespace isolated::probe {

namespace asio = boost::asio;
using detail::NetOp;
using asio::use_awaitable;
using tcp = asio::ip::tcp;

namespace {

asio::awaitable<void> tcp_run(std::shared_ptr<NetOp> op, TcpTarget target, Duration timeout) {
    // Never complete from inside run().
    co_await asio::post(op->io, use_awaitable);
    if (op->abandoned) co_return;

    boost::system::error_code ec;
    auto address = asio::ip::make_address(target.host, ec);
    if (ec) {
        op->finish(ProbeOutcome::failure("TCP probe: \"" + target.host + "\" is not an IP address"));
        co_return;
    }
    tcp::endpoint to(address, target.port);
    op->arm(timeout);
    if (auto r = op->open_socket(target.netns_fd, to); !r) {
        op->finish(ProbeOutcome::failure(r.error().to_string()));
        co_return;
    }
    ec = co_await op->connect(to);
    if (op->abandoned) co_return;
    if (ec) {
        if (op->timed_out)
            op->finish(ProbeOutcome::failure("connect " + detail::describe(to) + ": timed out after " +
                                             format_duration(timeout)));
        else
            op->finish(ProbeOutcome::failure("connect " + detail::describe(to) + ": " + detail::describe(ec)));
        co_return;
    }
    if (target.expect.empty()) {
        op->finish(ProbeOutcome::success());
        co_return;
    }

    const std::string& expect = target.expect;
    std::string got;
    char buf[512];
    for (;;) {
        if (got.size() >= expect.size()) break;
        if (got.compare(0, got.size(), expect, 0, got.size()) != 0) break;  // already differs
        std::size_t n = co_await op->stream().async_read_some(asio::buffer(buf), asio::redirect_error(use_awaitable, ec));
        if (op->abandoned) co_return;
        got.append(buf, n);
        if (ec) break;
    }
    if (got.size() >= expect.size() && got.compare(0, expect.size(), expect) == 0) {
        op->finish(ProbeOutcome::success());
        co_return;
    }
    std::string want = "\"" + detail::quote_bytes(expect) + "\"";
    if (got.size() < expect.size() && got.compare(0, got.size(), expect, 0, got.size()) == 0) {
        // A prefix so far, then nothing more.
        std::string so_far = got.empty() ? "nothing" : "\"" + detail::quote_bytes(got) + "\"";
        if (op->timed_out)
            op->finish(ProbeOutcome::failure("no banner starting with " + want + " within " +
                                             format_duration(timeout) + " (got " + so_far + ")"));
        else
            op->finish(ProbeOutcome::failure("connection closed before a banner starting with " + want + " (got " +
                                             so_far + ")"));
        co_return;
    }
    op->finish(ProbeOutcome::failure("banner \"" + detail::quote_bytes(got) + "\" does not start with " + want));
}

}  // namespace

TcpProber::TcpProber(asio::io_context& io, TcpTarget target) : io_(io), target_(std::move(target)) {}

TcpProber::~TcpProber() {
    if (op_) op_->abandon();
}

void TcpProber::run(Duration timeout, Done done) {
    if (op_) op_->abandon();
    op_ = std::make_shared<NetOp>(io_);
    op_->done = std::move(done);
    asio::co_spawn(io_, tcp_run(op_, target_, timeout), [](std::exception_ptr) {});
}

}  // namespace isolated::probe
