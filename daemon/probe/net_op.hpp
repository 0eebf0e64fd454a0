// Shared plumbing of the socket probers (HTTP, TCP): one run's socket, its deadline
// and its completion, owned jointly by the prober and the coroutine doing the run, so
// that a prober destroyed mid-run closes the socket and silences the completion.
#pragma once

#include <memory>
#include <optional>
#include <string>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/system/error_code.hpp>

#include "isolated/result.hpp"
#include "probe/prober.hpp"

namespace isolated::probe::detail {

namespace net = boost::asio;
using tcp = net::ip::tcp;

struct NetOp {
    explicit NetOp(net::io_context& io) : io(io), deadline(io) {}

    net::io_context& io;
    net::steady_timer deadline;
    std::optional<tcp::socket> socket;
    Prober::Done done;
    bool timed_out = false;
    bool abandoned = false;

    /// Arms the deadline for the whole run: when it passes, the socket is closed and
    /// every pending operation completes with an error.
    static void arm(const std::shared_ptr<NetOp>& op, Duration timeout);
    /// A fresh socket in `netns_fd` (or the daemon's netns), connected to nothing yet.
    Result<void> open_socket(int netns_fd, const tcp::endpoint& to);
    void close_socket();
    /// The prober went away: close everything, never call done.
    void abandon();
    /// Calls done once (unless abandoned).
    void finish(ProbeOutcome outcome);
};

/// "ECONNREFUSED" for system errors, else the error's message.
std::string describe(const boost::system::error_code& ec);
/// "127.0.0.1:8080", "[::1]:80"
std::string describe(const tcp::endpoint& ep);
/// Printable, at most `max` characters, for quoting what an app sent.
std::string quote_bytes(std::string_view data, std::size_t max = 64);

}  // namespace isolated::probe::detail
