// A small blocking HTTP/1.1 client for the registry protocol, over Boost.Beast on its
// own io_context (the pull runs on the image worker's thread, never on the daemon's
// loop): GET only, TLS through OpenSSL with the system CA store plus the registry's
// certs.d directory, a deadline on every connect and every read, bodies streamed to
// the caller or read whole up to a limit, one kept-alive connection reused.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "isolated/result.hpp"

namespace isolated::registry {

struct Url {
    std::string scheme;  ///< "http" | "https"
    std::string host;    ///< without brackets ("::1", "127.0.0.1", "registry-1.docker.io")
    std::string port;    ///< always set ("443")
    std::string target;  ///< "/v2/...", with any query

    /// host[:port] as a Host header says it (brackets for IPv6; no default port).
    std::string authority() const;
    std::string str() const;
};

Result<Url> parse_url(std::string_view text);
/// A Location header against the URL it came from (absolute, or a path).
Result<Url> resolve_location(const Url& base, std::string_view location);
/// Percent-encodes a query value.
std::string query_escape(std::string_view s);

using Headers = std::vector<std::pair<std::string, std::string>>;

struct HttpResponse {
    unsigned status = 0;
    Headers headers;  ///< names lower case, in order, repeated ones kept
    std::optional<std::uint64_t> content_length;

    /// The first value of `name` (lower case), "" when absent.
    std::string header(std::string_view name) const;
    std::vector<std::string> all(std::string_view name) const;
};

struct TlsOptions {
    /// <certs_dir>/<host[:port]>/*.crt are trusted besides the system's CAs, and a
    /// client.cert/client.key (or *.cert with its *.key) pair is presented.
    std::string certs_dir;
    /// The name of that directory (the registry as written in the reference).
    std::string certs_name;
    bool verify = true;
};

struct HttpOptions {
    std::chrono::milliseconds connect_timeout{std::chrono::seconds(30)};
    std::chrono::milliseconds read_timeout{std::chrono::seconds(60)};
    std::string user_agent = "isolated";
    /// Checked between reads: true makes the next one fail ("cancelled").
    const std::atomic<bool>* cancel = nullptr;
};

/// An error from the TLS handshake (not from connecting): errno EPROTO.
inline constexpr int tls_handshake_errno = EPROTO;

class HttpClient {
public:
    explicit HttpClient(HttpOptions options);
    ~HttpClient();
    HttpClient(const HttpClient&) = delete;
    HttpClient& operator=(const HttpClient&) = delete;

    /// GET `url` with `headers`; returns once the status and headers are in. The body
    /// is read next with read_body or stream_body, or dropped by the next get().
    /// `tls` is used for https URLs.
    Result<HttpResponse> get(const Url& url, const Headers& headers, const TlsOptions& tls);
    /// The whole body, refused when longer than `max`.
    Result<std::string> read_body(std::size_t max);
    /// The body in pieces to `sink`; a sink's error ends the read (and the connection).
    Status stream_body(const std::function<Status(const char*, std::size_t)>& sink);

private:
    struct Impl;
    std::unique_ptr<Impl> impl_;
};

}  // namespace isolated::registry
