#include "api/server.hpp"

#include <cstdio>

#include "api/listener.hpp"

namespace isolated::api {

namespace {

void log_to_stderr(std::string_view line) {
    std::fprintf(stderr, "isolated: %.*s\n", static_cast<int>(line.size()), line.data());
}

DispatcherOptions dispatcher_options(const ServerOptions& o) {
    DispatcherOptions d;
    d.max_body_bytes = o.max_body_bytes;
    d.max_stream_buffer = o.max_stream_buffer;
    d.log = o.log;
    return d;
}

ServerOptions with_default_log(ServerOptions o) {
    if (!o.log) o.log = log_to_stderr;
    return o;
}

}  // namespace

Server::Server(boost::asio::io_context& io, Backend& backend, ServerOptions options)
    : io_(io), options_(with_default_log(std::move(options))), dispatcher_(backend, dispatcher_options(options_)) {}

Server::~Server() { stop(); }

Result<void> Server::start() {
    if (!listeners_.empty()) return Error::msg("the API server is already started");
    if (options_.socket_path.empty()) return Error::msg("no control socket path");
    if (auto r = listen(options_.socket_path, /* read_only= */ false); !r) {
        stop();
        return r;
    }
    if (!options_.ro_socket_path.empty()) {
        if (auto r = listen(options_.ro_socket_path, /* read_only= */ true); !r) {
            stop();
            return r;
        }
    }
    return {};
}

Result<void> Server::listen(const std::string& path, bool read_only) {
    // The control socket: root and group isolated (the mode keeps others out; the
    // peer check at accept is the second lock). The read-only one: anyone.
    const mode_t mode = read_only ? 0666 : 0660;
    const gid_t owner_group = read_only ? static_cast<gid_t>(-1) : options_.group;
    auto bound = bind_unix_socket(path, mode, owner_group);
    if (!bound) return bound.error();

    ListenerOptions lo;
    lo.path = path;
    lo.read_only = read_only;
    lo.group = options_.group;
    lo.max_sessions = options_.max_sessions;
    lo.limits = SessionLimits{options_.request_timeout, options_.idle_timeout, options_.write_timeout,
                              options_.max_header_bytes, options_.max_body_bytes};
    lo.log = options_.log;
    auto listener = std::make_shared<Listener>(io_, std::move(*bound), std::move(lo), dispatcher_);
    listeners_.push_back(listener);  // so that stop() removes the file if start() fails
    return listener->start();
}

void Server::stop() {
    for (auto& listener : listeners_) listener->stop();
    listeners_.clear();
}

std::size_t Server::session_count() const {
    std::size_t n = 0;
    for (const auto& listener : listeners_) n += listener->session_count();
    return n;
}

}  // namespace isolated::api
