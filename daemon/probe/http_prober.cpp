#include "probe/http_prober.hpp"

#include <algorithm>
#include <cctype>

// Boost 1.74's awaitable.hpp uses std::exchange without including <utility>.
#include <utility>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/ssl/error.hpp>
#include <boost/asio/ssl/stream.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/empty_body.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/http/write.hpp>

#include "probe/net_op.hpp"

namespace isolated::probe {

namespace asio = boost::asio;
namespace ssl = boost::asio::ssl;
namespace http = boost::beast::http;
using detail::NetOp;
using asio::use_awaitable;
using tcp = asio::ip::tcp;

std::string probe_user_agent() { return std::string("isolated-probe/") + ISOLATED_VERSION; }

// ---- URLs and rules (pure) -------------------------------------------------------------

namespace {

bool iequals(std::string_view a, std::string_view b) {
    return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
               return std::tolower(static_cast<unsigned char>(x)) == std::tolower(static_cast<unsigned char>(y));
           });
}

bool istarts_with(std::string_view s, std::string_view prefix) {
    return s.size() >= prefix.size() && iequals(s.substr(0, prefix.size()), prefix);
}

std::uint16_t default_port(std::string_view scheme) { return scheme == "https" ? 443 : 80; }

std::string strip_fragment(std::string_view s) { return std::string(s.substr(0, s.find('#'))); }

}  // namespace

std::string Url::to_string() const {
    std::string h = host.find(':') != std::string::npos ? "[" + host + "]" : host;
    return scheme + "://" + h + ":" + std::to_string(port) + target;
}

std::optional<Url> parse_url(std::string_view text) {
    Url u;
    if (istarts_with(text, "http://")) {
        u.scheme = "http";
        text.remove_prefix(7);
    } else if (istarts_with(text, "https://")) {
        u.scheme = "https";
        text.remove_prefix(8);
    } else {
        return std::nullopt;
    }
    auto end = text.find_first_of("/?#");
    std::string_view authority = text.substr(0, end);
    std::string_view rest = end == std::string_view::npos ? std::string_view{} : text.substr(end);
    if (auto at = authority.rfind('@'); at != std::string_view::npos) authority.remove_prefix(at + 1);
    std::string_view port_text;
    if (!authority.empty() && authority.front() == '[') {
        auto close = authority.find(']');
        if (close == std::string_view::npos) return std::nullopt;
        u.host = std::string(authority.substr(1, close - 1));
        auto after = authority.substr(close + 1);
        if (!after.empty()) {
            if (after.front() != ':') return std::nullopt;
            port_text = after.substr(1);
        }
    } else {
        auto colon = authority.find(':');
        u.host = std::string(authority.substr(0, colon));
        if (colon != std::string_view::npos) port_text = authority.substr(colon + 1);
    }
    if (u.host.empty()) return std::nullopt;
    u.port = default_port(u.scheme);
    if (!port_text.empty()) {
        unsigned long p = 0;
        for (char c : port_text) {
            if (!std::isdigit(static_cast<unsigned char>(c))) return std::nullopt;
            p = p * 10 + static_cast<unsigned long>(c - '0');
            if (p > 65535) return std::nullopt;
        }
        if (p == 0) return std::nullopt;
        u.port = static_cast<std::uint16_t>(p);
    }
    u.target = strip_fragment(rest);
    if (u.target.empty()) u.target = "/";
    if (u.target.front() == '?') u.target = "/" + u.target;
    return u;
}

std::optional<Url> resolve_location(const Url& base, std::string_view location) {
    while (!location.empty() && std::isspace(static_cast<unsigned char>(location.front()))) location.remove_prefix(1);
    while (!location.empty() && std::isspace(static_cast<unsigned char>(location.back()))) location.remove_suffix(1);
    if (location.empty()) return std::nullopt;
    if (istarts_with(location, "http://") || istarts_with(location, "https://")) return parse_url(location);
    if (location.find("://") != std::string_view::npos &&
        location.find("://") < location.find_first_of("/?#"))
        return std::nullopt;  // another scheme (ftp://...)
    if (location.substr(0, 2) == "//") return parse_url(base.scheme + ":" + std::string(location));
    Url u = base;
    if (location.front() == '/') {
        u.target = strip_fragment(location);
    } else if (location.front() == '?') {
        u.target = base.target.substr(0, base.target.find('?')) + strip_fragment(location);
    } else {
        std::string path = base.target.substr(0, base.target.find('?'));
        auto slash = path.rfind('/');
        u.target = (slash == std::string::npos ? "/" : path.substr(0, slash + 1)) + strip_fragment(location);
    }
    if (u.target.empty()) u.target = "/";
    return u;
}

bool is_followed_redirect(unsigned status) {
    return status == 301 || status == 302 || status == 303 || status == 307 || status == 308;
}

ProbeOutcome classify_status(unsigned status) {
    if (status >= 200 && status < 300) return ProbeOutcome::success();
    if (status >= 300 && status < 400)
        return ProbeOutcome::warning("HTTP probe ended at a redirect (status " + std::to_string(status) +
                                     "); counted as success");
    return ProbeOutcome::failure("HTTP probe failed with status code " + std::to_string(status));
}

RedirectStep next_step(const Url& first, const Url& current, unsigned status, std::string_view location,
                       int redirects) {
    RedirectStep step;
    if (!is_followed_redirect(status) || location.empty()) {
        step.outcome = classify_status(status);
        return step;
    }
    auto next = resolve_location(current, location);
    if (!next) {
        step.outcome = ProbeOutcome::failure("HTTP probe: status " + std::to_string(status) +
                                             " redirects to an invalid location \"" +
                                             std::string(location.substr(0, 200)) + "\"");
        return step;
    }
    // kubelet's redirect checker: another host ends the chain (http.ErrUseLastResponse),
    // and the 3xx it got is a warning -- a success.
    if (!iequals(next->host, first.host)) {
        step.outcome = ProbeOutcome::warning("HTTP probe not following a redirect to another host (status " +
                                             std::to_string(status) + " to " + next->to_string() +
                                             "); counted as success");
        return step;
    }
    if (redirects >= max_redirects) {
        step.outcome = ProbeOutcome::failure("HTTP probe stopped after " + std::to_string(max_redirects) +
                                             " redirects");
        return step;
    }
    step.kind = RedirectStep::follow;
    step.next = *next;
    return step;
}

std::vector<std::pair<std::string, std::string>> request_headers(const Url& url,
                                                                const std::vector<HttpHeader>& spec_headers) {
    std::vector<std::pair<std::string, std::string>> out;
    auto find = [&](std::string_view name) -> const HttpHeader* {
        const HttpHeader* found = nullptr;
        for (const auto& h : spec_headers)
            if (iequals(h.name, name)) found = &h;
        return found;
    };
    std::string host = url.host.find(':') != std::string::npos ? "[" + url.host + "]" : url.host;
    const HttpHeader* host_header = find("Host");
    out.emplace_back("Host", host_header && !host_header->value.empty() ? host_header->value
                                                                          : host + ":" + std::to_string(url.port));
    if (!find("User-Agent")) out.emplace_back("User-Agent", probe_user_agent());
    if (!find("Accept")) out.emplace_back("Accept", "*/*");
    for (const auto& h : spec_headers) {
        if (iequals(h.name, "Host") || iequals(h.name, "Connection")) continue;
        // kubelet: an empty User-Agent or Accept removes the header.
        if ((iequals(h.name, "User-Agent") || iequals(h.name, "Accept")) && h.value.empty()) continue;
        out.emplace_back(h.name, h.value);
    }
    out.emplace_back("Connection", "close");
    return out;
}

// ---- the probe ---------------------------------------------------------------------------

namespace {

struct Response {
    std::optional<ProbeOutcome> error;
    unsigned status = 0;
    std::string location;
};

ssl::context& insecure_client_context() {
    // kubelet probes https with InsecureSkipVerify: the app's certificate is often
    // self-signed or issued for a name the probe does not use.
    static ssl::context ctx = [] {
        ssl::context c(ssl::context::tls_client);
        c.set_verify_mode(ssl::verify_none);
        return c;
    }();
    return ctx;
}

template <class Stream>
asio::awaitable<Response> exchange(std::shared_ptr<NetOp> op, Stream& stream, const Url& url,
                                  const std::vector<HttpHeader>& headers) {
    Response r;
    boost::system::error_code ec;
    http::request<http::empty_body> req{http::verb::get, url.target, 11};
    for (const auto& [name, value] : request_headers(url, headers)) req.insert(name, value);
    co_await http::async_write(stream, req, asio::redirect_error(use_awaitable, ec));
    if (ec) {
        r.error = ProbeOutcome::failure("GET " + url.to_string() + ": send: " + detail::describe(ec));
        co_return r;
    }
    boost::beast::flat_buffer buffer(64 * 1024);
    http::response_parser<http::string_body> parser;
    parser.body_limit(max_body_bytes);
    co_await http::async_read(stream, buffer, parser, asio::redirect_error(use_awaitable, ec));
    // A body over the cap, or one cut off without TLS close_notify, still leaves a
    // complete status line and headers: kubelet does not fail on truncation either.
    if (ec && parser.is_header_done() &&
        (ec == http::error::body_limit || ec == ssl::error::stream_truncated || ec == http::error::partial_message))
        ec = {};
    if (ec) {
        std::string what = ec == http::error::end_of_stream ? "connection closed before a response"
                                                            : "read response: " + detail::describe(ec);
        r.error = ProbeOutcome::failure("GET " + url.to_string() + ": " + what);
        co_return r;
    }
    r.status = parser.get().result_int();
    r.location = std::string(parser.get()[http::field::location]);
    co_return r;
}

asio::awaitable<Response> fetch(std::shared_ptr<NetOp> op, const HttpTarget& target, const Url& url) {
    Response r;
    boost::system::error_code ec;
    auto address = asio::ip::make_address(url.host, ec);
    if (ec) {
        r.error = ProbeOutcome::failure("GET " + url.to_string() + ": \"" + url.host + "\" is not an IP address");
        co_return r;
    }
    tcp::endpoint to(address, url.port);
    if (auto s = op->open_socket(target.netns_fd, to); !s) {
        r.error = ProbeOutcome::failure(s.error().to_string());
        co_return r;
    }
    ec = co_await op->connect(to);
    if (ec) {
        r.error = ProbeOutcome::failure("connect " + detail::describe(to) + ": " + detail::describe(ec));
        co_return r;
    }
    if (url.scheme != "https") co_return co_await exchange(op, op->stream(), url, target.headers);

    ssl::stream<tcp::socket&> tls(op->stream(), insecure_client_context());
    co_await tls.async_handshake(ssl::stream_base::client, asio::redirect_error(use_awaitable, ec));
    if (ec) {
        r.error = ProbeOutcome::failure("GET " + url.to_string() + ": TLS handshake: " + detail::describe(ec));
        co_return r;
    }
    co_return co_await exchange(op, tls, url, target.headers);
}

asio::awaitable<void> http_run(std::shared_ptr<NetOp> op, HttpTarget target, Duration timeout) {
    co_await asio::post(op->io, use_awaitable);  // never complete from inside run()
    if (op->abandoned) co_return;
    Url first;
    first.scheme = target.scheme == "https" ? "https" : "http";
    first.host = target.host;
    first.port = target.port;
    first.target = target.path.empty() ? "/" : target.path;
    op->arm(timeout);  // kubelet's timeout covers the whole chain
    Url url = first;
    for (int redirects = 0;; ++redirects) {
        Response r = co_await fetch(op, target, url);
        if (op->abandoned) co_return;
        if (op->timed_out) {
            op->finish(ProbeOutcome::failure("GET " + url.to_string() + ": timed out after " +
                                             format_duration(timeout)));
            co_return;
        }
        if (r.error) {
            op->finish(std::move(*r.error));
            co_return;
        }
        auto step = next_step(first, url, r.status, r.location, redirects);
        if (step.kind == RedirectStep::done) {
            op->finish(std::move(step.outcome));
            co_return;
        }
        url = step.next;
    }
}

}  // namespace

HttpProber::HttpProber(asio::io_context& io, HttpTarget target) : io_(io), target_(std::move(target)) {}

HttpProber::~HttpProber() {
    if (op_) op_->abandon();
}

void HttpProber::run(Duration timeout, Done done) {
    if (op_) op_->abandon();
    op_ = std::make_shared<NetOp>(io_);
    op_->done = std::move(done);
    asio::co_spawn(io_, http_run(op_, target_, timeout), [](std::exception_ptr) {});
}

}  // namespace isolated::probe
