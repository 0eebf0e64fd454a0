// One control socket: the socket file (created safely, with its mode and group), the
// acceptor, the peer check at accept (SO_PEERCRED, SO_PEERGROUPS), and the socket's
// own sessions. Each socket has its own session cap, so that anyone filling the
// world-connectable read-only socket cannot lock root out of the control socket.
#pragma once

#include <sys/stat.h>
#include <sys/types.h>

#include <cstddef>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include <boost/asio/io_context.hpp>
#include <boost/asio/local/stream_protocol.hpp>
#include <boost/asio/steady_timer.hpp>

#include "api/dispatcher.hpp"
#include "api/session.hpp"
#include "isolated/result.hpp"
#include "isolated/unique_fd.hpp"

namespace isolated::api {

/// A listening Unix socket and the identity of its file (to remove only our own).
struct BoundSocket {
    unique_fd fd;
    dev_t dev = 0;
    ino_t ino = 0;
};

/// Creates a listening socket at `path` with `mode` (and group `group` unless it is
/// (gid_t)-1). A socket file nobody listens on is stale and replaced; one with a
/// listener, or a file that is not a socket, is an error. The socket is bound under a
/// temporary name and renamed into place once its mode is set, so that the final path
/// never answers with the wrong permissions.
Result<BoundSocket> bind_unix_socket(const std::string& path, mode_t mode, gid_t group);

/// The peer of a connected Unix socket, as the kernel saw it at connect().
Result<PeerCredentials> peer_credentials(int fd);

struct ListenerOptions {
    std::string path;
    bool read_only = false;
    gid_t group = static_cast<gid_t>(-1);  ///< the privileged group
    std::size_t max_sessions = 256;        ///< on this socket: beyond it, 503
    SessionLimits limits;
    std::function<void(std::string_view)> log;
};

class Listener : public std::enable_shared_from_this<Listener> {
public:
    Listener(boost::asio::io_context& io, BoundSocket socket, ListenerOptions options, Dispatcher& dispatcher);
    Listener(const Listener&) = delete;
    Listener& operator=(const Listener&) = delete;

    /// Starts accepting.
    Result<void> start();
    /// Closes the acceptor, removes the socket file if it is still ours, and stops
    /// every session of this socket.
    void stop();

    std::size_t session_count() const { return sessions_.size(); }

private:
    void do_accept();
    void on_readable(boost::system::error_code ec);
    void on_accepted(unique_fd fd);
    void retry_later();

    boost::asio::io_context& io_;
    boost::asio::local::stream_protocol::acceptor acceptor_;
    /// Backs off when accept() fails for lack of fds or memory.
    boost::asio::steady_timer retry_timer_;
    ListenerOptions options_;
    Dispatcher& dispatcher_;
    SessionSet sessions_;
    dev_t dev_;
    ino_t ino_;
    /// The listening socket until the acceptor owns it.
    unique_fd socket_;
    bool stopped_ = false;
    bool accept_failing_ = false;
    bool busy_ = false;
};

}  // namespace isolated::api
