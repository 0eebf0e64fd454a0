// The control API server: the control socket (root and group isolated; everything)
// and the read-only socket (anyone; GET only, logs for privileged peers), HTTP/1.1
// over Unix sockets, on the daemon's one io_context thread. Wiring:
//
//     api::Server server(io, backend, {.socket_path = run_dir + "/isolated.sock",
//                                      .ro_socket_path = run_dir + "/isolated-ro.sock",
//                                      .group = isolated_gid});
//     if (auto r = server.start(); !r) { log(r.error().to_string()); return 1; }
//     ...
//     server.stop();   // on shutdown, before the backend goes away
#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstddef>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include <boost/asio/io_context.hpp>

#include "api/backend.hpp"
#include "api/dispatcher.hpp"
#include "api/session.hpp"
#include "isolated/result.hpp"
#include "isolated/units.hpp"

namespace isolated::api {

class Listener;

struct ServerOptions {
    /// The control socket: mode 0660, group `group`.
    std::string socket_path;
    /// The read-only socket: mode 0666; "" = none.
    std::string ro_socket_path;
    /// The `isolated` group: may use the control socket; (gid_t)-1 when the group
    /// does not exist (then only root may).
    gid_t group = static_cast<gid_t>(-1);

    /// From a request's first byte to its last (408 and close).
    Duration request_timeout = std::chrono::seconds(10);
    /// A keep-alive connection with no request (closed).
    Duration idle_timeout = std::chrono::seconds(60);
    /// One write; a client that stops reading (a stream included) is dropped.
    Duration write_timeout = std::chrono::seconds(30);
    std::size_t max_header_bytes = 8 * 1024;          ///< beyond: 431
    std::size_t max_body_bytes = 64 * 1024;           ///< beyond: 413
    std::size_t max_stream_buffer = 1024 * 1024;      ///< unread stream output; beyond: dropped
    std::size_t max_sessions = 256;                   ///< per socket; beyond: 503

    /// Where the server logs (server-side failures, one line per mutating call).
    /// Default: stderr.
    std::function<void(std::string_view)> log;
};

class Server {
public:
    /// `backend` must outlive the server.
    Server(boost::asio::io_context& io, Backend& backend, ServerOptions options);
    ~Server();
    Server(const Server&) = delete;
    Server& operator=(const Server&) = delete;

    /// Creates both sockets and starts accepting. The error names the path.
    Result<void> start();
    /// Closes the sockets (removing their files) and every session. Idempotent.
    void stop();

    /// Sessions open now on both sockets (for tests and metrics).
    std::size_t session_count() const;

private:
    Result<void> listen(const std::string& path, bool read_only);

    boost::asio::io_context& io_;
    ServerOptions options_;
    Dispatcher dispatcher_;
    std::vector<std::shared_ptr<Listener>> listeners_;
};

}  // namespace isolated::api
