// Shared plumbing of the socket probers (HTTP, TCP): one run's socket, its deadline
// and its completion, owned jointly by the prober and the coroutine doing the run, so
// that a prober destroyed mid-run closes the socket and silences the completion.
//
// Cheap by construction (100 apps probed every second must stay under 2 % of a core):
// the socket stays a plain descriptor, out of the event loop's epoll set, until the run
// has to wait for something. A connect inside the app's own network namespace is
// loopback or the app's own address, so the handshake has completed by the time the
// non-blocking connect(2) returns; a second connect(2) tells "connected" (0) or
// "refused" at once, and only "still in progress" (EALREADY) waits on the reactor.
// A TCP probe without a banner check is then socket, two setns, two connects and a
// close -- no epoll_ctl, no wakeup of its own, no deadline timer.
#pragma once

#include <sys/socket.h>

#include <memory>
#include <optional>
#include <string>

// Boost 1.74's awaitable.hpp uses std::exchange without including <utility>.
#include <utility>

#include <boost/asio/awaitable.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/system/error_code.hpp>

#include "isolated/result.hpp"
#include "isolated/unique_fd.hpp"
#include "probe/prober.hpp"

namespace isolated::probe::detail {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;

struct NetOp : std::enable_shared_from_this<NetOp> {
    explicit NetOp(asio::io_context& io) : io(io), deadline(io) {}

    asio::io_context& io;
    asio::steady_timer deadline;
    /// The run's socket before it needs the reactor; moved into `socket` by stream().
    unique_fd fd;
    std::optional<tcp::socket> socket;
    Prober::Done done;
    bool timed_out = false;
    bool abandoned = false;

    /// Starts the run's clock: `timeout` from now, for the whole run. The timer itself
    /// is armed only once the run waits (stream()); when it passes, the socket is
    /// closed and every pending operation completes with an error.
    void arm(Duration timeout);
    /// A fresh socket in `netns_fd` (or the daemon's netns), connected to nothing yet.
    Result<void> open_socket(int netns_fd, const tcp::endpoint& to);
    /// Connects the socket opened by open_socket(), without the reactor when the
    /// handshake is already done (see above).
    asio::awaitable<boost::system::error_code> connect(tcp::endpoint to);
    /// The socket as an Asio stream (registers it with the reactor and arms the deadline).
    tcp::socket& stream();
    void close_socket();
    /// The prober went away: close everything, never call done.
    void abandon();
    /// Calls done once (unless abandoned).
    void finish(ProbeOutcome outcome);

private:
    std::optional<asio::steady_timer::time_point> expires_;
    int family_ = AF_INET;
};

/// "ECONNREFUSED" for system errors, else the error's message.
std::string describe(const boost::system::error_code& ec);
/// "127.0.0.1:8080", "[::1]:80"
std::string describe(const tcp::endpoint& ep);
/// Printable, at most `max` characters, for quoting what an app sent.
std::string quote_bytes(std::string_view data, std::size_t max = 64);

}  // namespace isolated::probe::detail
