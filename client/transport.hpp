// How isoctl talks to the daemon: one HTTP exchange per call. The real implementation
// (connection.hpp) speaks HTTP/1.1 over the Unix socket; unit tests substitute a fake,
// so every verb can be exercised without a daemon.
#pragma once

#include <chrono>
#include <functional>
#include <stdexcept>
#include <string>
#include <string_view>

namespace isoctl {

struct Request {
    std::string method = "GET";
    std::string target;                            ///< "/v1/apps?x=1"
    std::string body;                              ///< sent as application/json when not empty
    std::chrono::milliseconds timeout{30'000};     ///< whole exchange; ignored by stream()
    /// A body too large to hold (an image archive): read piece by piece (returns the
    /// bytes put in `buf`, 0 at the end; throws on a read error) and sent chunked as
    /// `body_type`. stream() only.
    std::function<std::size_t(char* buf, std::size_t cap)> body_source{};
    std::string body_type = "application/x-tar";
};

struct Response {
    unsigned status = 0;
    std::string content_type;
    std::string body;
    bool ok() const { return status >= 200 && status < 300; }
};

/// The daemon could not be reached or stopped answering (exit code 3). `what()` is the
/// whole message, hint included, without the "isoctl: " prefix.
class TransportError : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

/// The user hit Ctrl-C while waiting on the daemon (exit code 130, no message).
class Interrupted : public std::exception {
public:
    const char* what() const noexcept override { return "interrupted"; }
};

class Transport {
public:
    virtual ~Transport() = default;

    /// One request, the whole response. Throws TransportError or Interrupted.
    virtual Response request(const Request& req) = 0;

    /// For follow endpoints: when the answer is 2xx, hands each piece of the body to
    /// `on_data` as it arrives (pieces are not aligned to lines) until the server ends
    /// the body or closes; the returned Response then has an empty body. Any other
    /// status is returned with its whole body. No timeout once the headers are in.
    virtual Response stream(const Request& req, const std::function<void(std::string_view)>& on_data) = 0;
};

}  // namespace isoctl
