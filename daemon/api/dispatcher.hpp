// The control API without sockets: a request (method, target, body, who asks and on
// which socket) in, a response out through a callback -- at once for most routes,
// later for start/stop/restart, which answer when the action has settled. Routes,
// status codes and JSON shapes are documented in docs/API.md.
#pragma once

#include <sys/types.h>

#include <cstddef>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "api/backend.hpp"
#include "api/status_cache.hpp"
#include "api/stream.hpp"
#include "isolated/result.hpp"

namespace isolated::api {

/// The peer as the kernel saw it at connect() (SO_PEERCRED, SO_PEERGROUPS).
struct PeerCredentials {
    pid_t pid = 0;
    uid_t uid = static_cast<uid_t>(-1);
    gid_t gid = static_cast<gid_t>(-1);
    std::vector<gid_t> groups;  ///< supplementary groups
};

/// Root, or a member of `group` (the `isolated` group; (gid_t)-1 when it does not
/// exist, and then only root is privileged).
bool is_privileged(const PeerCredentials& peer, gid_t group);

struct Request {
    std::string method;             ///< "GET", "POST", ...
    std::string target;             ///< path and query, as sent: "/v1/apps/web/logs?tail=10"
    std::string body;               ///< "" when none
    PeerCredentials peer;
    bool read_only = false;         ///< arrived on the read-only socket
    bool peer_is_privileged = false;
    /// A body streamed to a file (POST /v1/images/load), `body` then empty.
    std::shared_ptr<Upload> upload{};
    std::uint64_t upload_bytes = 0;
    /// The If-None-Match header's value(s), joined by ","; "" when absent.
    std::string if_none_match{};
};

struct Response {
    int status = 200;
    std::string content_type = "application/json";
    std::string body;
    std::vector<std::pair<std::string, std::string>> headers;  ///< extra headers (Allow)
    /// Set for a streamed response: the body is then empty and everything comes from
    /// the stream, chunk by chunk, until the client goes away.
    std::shared_ptr<Stream> stream;
};

struct DispatcherOptions {
    std::size_t max_body_bytes = 64 * 1024;
    std::size_t max_stream_buffer = 1024 * 1024;
    /// The daemon's log: one line per mutating call (who did what) and per internal
    /// error. Optional.
    std::function<void(std::string_view)> log;
};

/// {"error": {"code", "message"}} with `status`.
Response error_response(int status, std::string_view code, std::string_view message);
Response error_response(const ApiError& error);

class Dispatcher {
public:
    /// Called exactly once per request; possibly before dispatch() returns.
    using Respond = std::function<void(Response)>;

    explicit Dispatcher(Backend& backend, DispatcherOptions options = {});
    Dispatcher(const Dispatcher&) = delete;
    Dispatcher& operator=(const Dispatcher&) = delete;

    void dispatch(const Request& request, Respond respond);

    /// Routes whose body is streamed to a file rather than read into memory (with
    /// max_upload_bytes as its limit, not max_body_bytes): POST /v1/images/load.
    static bool is_upload(std::string_view method, std::string_view target);
    /// Where to stream such a body, or the refusal to answer at once (403 on the
    /// read-only socket or for an unprivileged peer, 501 without an image store).
    Result<std::shared_ptr<Upload>, Response> begin_upload(const Request& head);
    std::uint64_t max_upload_bytes();

private:
    Backend& backend_;
    DispatcherOptions options_;
    AppListCache app_list_;
};

}  // namespace isolated::api
