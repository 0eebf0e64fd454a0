// HTTP(S) GET probe with kubelet's rules (pkg/probe/http): status 200-399 is success;
// redirects (301/302/303/307/308) are followed only to the same host, at most 10; a
// redirect to another host, or a final 3xx, ends the probe with a *warning*, which
// counts as success; no proxy, no keep-alive, no compression; the body is read up to
// 10 KiB (more is not an error); https does not verify the certificate. The socket is
// made inside the app's network namespace (sys::socket_in_netns).
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <boost/asio/io_context.hpp>

#include "isolated/app_spec.hpp"
#include "probe/prober.hpp"

namespace isolated::probe {

namespace detail {
struct NetOp;
}

/// "isolated-probe/0.1.0" (kubelet: "kube-probe/1.x").
std::string probe_user_agent();

inline constexpr std::size_t max_body_bytes = 10 * 1024;
inline constexpr int max_redirects = 10;

struct Url {
    std::string scheme = "http";  ///< "http" | "https"
    std::string host;             ///< IP literal or name, without brackets
    std::uint16_t port = 80;
    std::string target = "/";     ///< path and query
    /// "http://127.0.0.1:8080/healthz"
    std::string to_string() const;
    bool operator==(const Url&) const = default;
};

/// An absolute http(s) URL; nullopt when it is not one.
std::optional<Url> parse_url(std::string_view text);
/// The URL a Location header points to, relative to `base` (absolute URL,
/// "//host/path", "/path", or a path relative to base's directory).
std::optional<Url> resolve_location(const Url& base, std::string_view location);
/// Whether Go's client (and so kubelet) follows this status when it has a Location.
bool is_followed_redirect(unsigned status);
/// The outcome of a final response: 2xx success, 3xx warning, anything else failure.
ProbeOutcome classify_status(unsigned status);

/// What to do with a response.
struct RedirectStep {
    enum Kind { done, follow } kind = done;
    ProbeOutcome outcome;  ///< when done
    Url next;              ///< when follow
};
/// `first` is the probe's own URL, `current` the one that answered `status` with
/// `location` ("" = none), after `redirects` redirects already followed.
RedirectStep next_step(const Url& first, const Url& current, unsigned status, std::string_view location,
                       int redirects);

/// The request headers, in order: Host (host:port, as kubelet), User-Agent and Accept
/// unless the spec sets them (an empty value removes them), the spec's headers
/// (repeats allowed), and Connection: close.
std::vector<std::pair<std::string, std::string>> request_headers(const Url& url,
                                                                const std::vector<HttpHeader>& spec_headers);

struct HttpTarget {
    int netns_fd = -1;               ///< borrowed; -1 = the daemon's netns
    std::string host = "127.0.0.1";  ///< an IP literal
    std::uint16_t port = 0;
    std::string scheme = "http";
    std::string path = "/";
    std::vector<HttpHeader> headers;
};

class HttpProber : public Prober {
public:
    HttpProber(boost::asio::io_context& io, HttpTarget target);
    ~HttpProber() override;
    void run(Duration timeout, Done done) override;

private:
    boost::asio::io_context& io_;
    HttpTarget target_;
    std::shared_ptr<detail::NetOp> op_;
};

}  // namespace isolated::probe
