#include "registry/http.hpp"

#include <algorithm>
#include <cctype>
#include <filesystem>

// Boost 1.74's headers use std::exchange without including <utility>.
#include <utility>

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/address.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/ssl/error.hpp>
#include <boost/asio/ssl/stream.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/beast/core/error.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/buffer_body.hpp>
#include <boost/beast/http/empty_body.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/write.hpp>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

namespace isolated::registry {

namespace asio = boost::asio;
namespace ssl = boost::asio::ssl;
namespace beast = boost::beast;
namespace http = boost::beast::http;
using tcp = asio::ip::tcp;
using boost::system::error_code;

// ---- URLs ------------------------------------------------------------------------------

std::string Url::authority() const {
    std::string h = host.find(':') != std::string::npos ? "[" + host + "]" : host;
    bool default_port = (scheme == "https" && port == "443") || (scheme == "http" && port == "80");
    return default_port ? h : h + ":" + port;
}

std::string Url::str() const { return scheme + "://" + authority() + target; }

Result<Url> parse_url(std::string_view text) {
    Url u;
    auto bad = [&](const std::string& why) { return Error::msg("invalid URL \"" + std::string(text.substr(0, 200)) + "\": " + why); };
    std::string_view rest = text;
    if (rest.substr(0, 8) == "https://") {
        u.scheme = "https";
        rest.remove_prefix(8);
    } else if (rest.substr(0, 7) == "http://") {
        u.scheme = "http";
        rest.remove_prefix(7);
    } else {
        return bad("not http:// or https://");
    }
    auto end = rest.find_first_of("/?#");
    std::string_view authority = rest.substr(0, end);
    std::string_view target = end == std::string_view::npos ? std::string_view() : rest.substr(end);
    if (authority.find('@') != std::string_view::npos) return bad("user information in a URL is not accepted");
    std::string_view port;
    if (!authority.empty() && authority.front() == '[') {
        auto close = authority.find(']');
        if (close == std::string_view::npos) return bad("unclosed [");
        u.host = std::string(authority.substr(1, close - 1));
        std::string_view after = authority.substr(close + 1);
        if (!after.empty()) {
            if (after.front() != ':') return bad("junk after ]");
            port = after.substr(1);
        }
    } else {
        auto colon = authority.find(':');
        u.host = std::string(authority.substr(0, colon));
        if (colon != std::string_view::npos) port = authority.substr(colon + 1);
    }
    if (u.host.empty()) return bad("no host");
    for (char c : u.host)
        if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '-' || c == ':' || c == '_'))
            return bad("the host has a character not allowed in a host name");
    if (!port.empty()) {
        if (port.size() > 5 || !std::all_of(port.begin(), port.end(), [](char c) { return c >= '0' && c <= '9'; }) ||
            std::stoul(std::string(port)) == 0 || std::stoul(std::string(port)) > 65535)
            return bad("bad port");
        u.port = std::string(port);
    } else {
        u.port = u.scheme == "https" ? "443" : "80";
    }
    target = target.substr(0, target.find('#'));
    u.target = target.empty() || target.front() != '/' ? "/" + std::string(target) : std::string(target);
    for (char c : u.target)
        if (static_cast<unsigned char>(c) <= 0x20 || c == 0x7f) return bad("the path has a control character or space");
    return u;
}

Result<Url> resolve_location(const Url& base, std::string_view location) {
    if (location.substr(0, 7) == "http://" || location.substr(0, 8) == "https://") return parse_url(location);
    if (location.substr(0, 2) == "//") return parse_url(base.scheme + ":" + std::string(location));
    if (location.empty()) return Error::msg("a redirect without a Location");
    std::string path;
    if (location.front() == '/') {
        path = std::string(location);
    } else {
        std::string dir = base.target.substr(0, base.target.find('?'));
        dir = dir.substr(0, dir.rfind('/') + 1);
        path = dir + std::string(location);
    }
    Url u = base;
    u.target = path;
    for (char c : u.target)
        if (static_cast<unsigned char>(c) <= 0x20 || c == 0x7f)
            return Error::msg("a redirect to a path with a control character or space");
    return u;
}

std::string query_escape(std::string_view s) {
    std::string out;
    for (unsigned char c : s) {
        if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
            out += static_cast<char>(c);
        } else {
            char b[4];
            std::snprintf(b, sizeof b, "%%%02X", c);
            out += b;
        }
    }
    return out;
}

std::string HttpResponse::header(std::string_view name) const {
    for (const auto& [k, v] : headers)
        if (k == name) return v;
    return {};
}

std::vector<std::string> HttpResponse::all(std::string_view name) const {
    std::vector<std::string> out;
    for (const auto& [k, v] : headers)
        if (k == name) out.push_back(v);
    return out;
}

// ---- the client --------------------------------------------------------------------------

namespace {

std::string seconds(std::chrono::milliseconds d) {
    return std::to_string(std::chrono::duration_cast<std::chrono::seconds>(d).count()) + "s";
}

bool is_ip_literal(const std::string& host) {
    error_code ec;
    (void)asio::ip::make_address(host, ec);
    return !ec;
}

}  // namespace

struct HttpClient::Impl {
    struct Conn {
        explicit Conn(asio::io_context& io) : tcp(io) {}
        std::string key;
        std::string name;  ///< host:port, for errors
        beast::tcp_stream tcp;
        std::unique_ptr<ssl::context> ctx;  ///< outlives tls
        std::unique_ptr<ssl::stream<beast::tcp_stream&>> tls;
        beast::flat_buffer buf;
        std::unique_ptr<http::response_parser<http::buffer_body>> parser;
        bool reused = false;
        bool body_pending = false;
    };

    HttpOptions opt;
    asio::io_context ioc;
    std::unique_ptr<Conn> conn;

    explicit Impl(HttpOptions o) : opt(std::move(o)) {}

    bool cancelled() const { return opt.cancel && opt.cancel->load(); }

    void run_until(const bool& done) {
        ioc.restart();
        while (!done)
            if (ioc.run_one() == 0) break;
    }

    template <class F>
    auto on_stream(F&& f) {
        if (conn->tls) return f(*conn->tls);
        return f(conn->tcp);
    }

    Error io_error(const error_code& ec, const std::string& doing) {
        if (ec == beast::error::timeout)
            return Error::os(ETIMEDOUT, doing + " " + conn->name + ": no answer within " + seconds(opt.read_timeout));
        return Error::os(EIO, doing + " " + conn->name + ": " + ec.message());
    }

    Result<std::unique_ptr<ssl::context>> tls_context(const TlsOptions& t) {
        auto ctx = std::make_unique<ssl::context>(ssl::context::tls_client);
        ctx->set_options(ssl::context::default_workarounds | ssl::context::no_sslv2 | ssl::context::no_sslv3 |
                         ssl::context::no_tlsv1 | ssl::context::no_tlsv1_1);
        if (!t.verify) {
            ctx->set_verify_mode(ssl::verify_none);
            return ctx;
        }
        error_code ec;
        ctx->set_default_verify_paths(ec);
        ctx->set_verify_mode(ssl::verify_peer);
        if (t.certs_dir.empty() || t.certs_name.empty()) return ctx;
        // containers-certs.d(5): *.crt are CAs, *.cert + *.key a client certificate.
        std::filesystem::path dir = std::filesystem::path(t.certs_dir) / t.certs_name;
        std::error_code fec;
        std::vector<std::filesystem::path> files;
        for (auto it = std::filesystem::directory_iterator(dir, fec); !fec && it != std::filesystem::directory_iterator();
             it.increment(fec))
            files.push_back(it->path());
        std::sort(files.begin(), files.end());
        for (const auto& f : files) {
            if (f.extension() == ".crt") {
                ctx->load_verify_file(f.string(), ec);
                if (ec) return Error::msg("TLS: the CA file \"" + f.string() + "\": " + ec.message());
            } else if (f.extension() == ".cert") {
                auto key = f;
                key.replace_extension(".key");
                ctx->use_certificate_chain_file(f.string(), ec);
                if (!ec) ctx->use_private_key_file(key.string(), ssl::context::pem, ec);
                if (ec) return Error::msg("TLS: the client certificate \"" + f.string() + "\" and its key \"" +
                                          key.string() + "\": " + ec.message());
            }
        }
        return ctx;
    }

    Status connect(const Url& u, const TlsOptions& t) {
        std::string key = u.scheme + "://" + u.host + ":" + u.port + (t.verify ? "" : " noverify") + " " + t.certs_name;
        if (conn && conn->key == key && !conn->body_pending) {
            conn->reused = true;
            return {};
        }
        conn = std::make_unique<Conn>(ioc);
        conn->key = key;
        conn->name = u.authority();
        if (cancelled()) return Error::os(ECANCELED, "cancelled");

        // Resolve, with the connect timeout (the resolver has none of its own).
        tcp::resolver resolver(ioc);
        asio::steady_timer timer(ioc);
        tcp::resolver::results_type results;
        bool done = false, timed_out = false;
        error_code ec;
        timer.expires_after(opt.connect_timeout);
        timer.async_wait([&](const error_code& e) {
            if (!e) {
                timed_out = true;
                resolver.cancel();
            }
        });
        resolver.async_resolve(u.host, u.port, [&](const error_code& e, tcp::resolver::results_type r) {
            ec = e;
            results = std::move(r);
            done = true;
            timer.cancel();
        });
        run_until(done);
        ioc.restart();
        ioc.poll();  // the timer's cancelled wait
        if (timed_out) return Error::os(ETIMEDOUT, "resolve " + u.host + ": no answer within " + seconds(opt.connect_timeout));
        if (ec) return Error::os(EHOSTUNREACH, "resolve " + u.host + ": " + ec.message());

        done = false;
        conn->tcp.expires_after(opt.connect_timeout);
        conn->tcp.async_connect(results, [&](const error_code& e, const tcp::endpoint&) {
            ec = e;
            done = true;
        });
        run_until(done);
        if (ec == beast::error::timeout)
            return Error::os(ETIMEDOUT, "connect to " + conn->name + ": no answer within " + seconds(opt.connect_timeout));
        if (ec) return Error::os(ECONNREFUSED, "connect to " + conn->name + ": " + ec.message());
        conn->tcp.socket().set_option(tcp::no_delay(true), ec);

        if (u.scheme != "https") return {};
        auto ctx = tls_context(t);
        if (!ctx) return ctx.error();
        conn->ctx = std::move(*ctx);
        conn->tls = std::make_unique<ssl::stream<beast::tcp_stream&>>(conn->tcp, *conn->ctx);
        SSL* ssl_handle = conn->tls->native_handle();
        const bool ip = is_ip_literal(u.host);
        // SNI names a host, never an address (RFC 6066).
        if (!ip) SSL_set_tlsext_host_name(ssl_handle, u.host.c_str());
        if (t.verify) {
            X509_VERIFY_PARAM* param = SSL_get0_param(ssl_handle);
            X509_VERIFY_PARAM_set_hostflags(param, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
            int ok = ip ? X509_VERIFY_PARAM_set1_ip_asc(param, u.host.c_str())
                        : X509_VERIFY_PARAM_set1_host(param, u.host.c_str(), u.host.size());
            if (ok != 1) return Error::msg("TLS: cannot verify the name \"" + u.host + "\"");
        }
        done = false;
        conn->tcp.expires_after(opt.connect_timeout);
        conn->tls->async_handshake(ssl::stream_base::client, [&](const error_code& e) {
            ec = e;
            done = true;
        });
        run_until(done);
        if (ec) {
            long verify = SSL_get_verify_result(ssl_handle);
            std::string why = ec == beast::error::timeout ? "no answer within " + seconds(opt.connect_timeout) : ec.message();
            if (t.verify && verify != X509_V_OK)
                why = std::string("the server's certificate is not trusted: ") + X509_verify_cert_error_string(verify) +
                      " (a private CA goes in " + t.certs_dir + "/" + t.certs_name + "/ca.crt)";
            auto name = conn->name;
            conn.reset();
            return Error::os(tls_handshake_errno, "TLS handshake with " + name + ": " + why);
        }
        return {};
    }

    Result<HttpResponse> get_once(const Url& u, const Headers& headers, const TlsOptions& t) {
        if (auto s = connect(u, t); !s) return s.error();
        http::request<http::empty_body> req{http::verb::get, u.target, 11};
        req.set(http::field::host, u.authority());
        req.set(http::field::user_agent, opt.user_agent);
        for (const auto& [k, v] : headers) req.insert(k, v);
        req.keep_alive(true);
        bool done = false;
        error_code ec;
        conn->tcp.expires_after(opt.read_timeout);
        on_stream([&](auto& s) {
            http::async_write(s, req, [&](const error_code& e, std::size_t) {
                ec = e;
                done = true;
            });
            return 0;
        });
        run_until(done);
        if (ec) return io_error(ec, "send a request to");
        conn->parser = std::make_unique<http::response_parser<http::buffer_body>>();
        conn->parser->header_limit(64 * 1024);
        // Not boost::none: Beast 1.74 compares Content-Length against the optional itself.
        conn->parser->body_limit(std::numeric_limits<std::uint64_t>::max());
        done = false;
        conn->tcp.expires_after(opt.read_timeout);
        on_stream([&](auto& s) {
            http::async_read_header(s, conn->buf, *conn->parser, [&](const error_code& e, std::size_t) {
                ec = e;
                done = true;
            });
            return 0;
        });
        run_until(done);
        if (ec) return io_error(ec, "read the answer of");
        HttpResponse r;
        auto& res = conn->parser->get();
        r.status = res.result_int();
        for (const auto& f : res) {
            std::string name(f.name_string());
            for (auto& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
            r.headers.emplace_back(std::move(name), std::string(f.value()));
        }
        if (auto len = conn->parser->content_length()) r.content_length = *len;
        conn->body_pending = true;
        if (conn->parser->is_done()) finish_body();
        return r;
    }

    void finish_body() {
        conn->body_pending = false;
        if (!conn->parser->get().keep_alive()) conn.reset();
    }

    Result<HttpResponse> get(const Url& u, const Headers& headers, const TlsOptions& t) {
        auto r = get_once(u, headers, t);
        // A kept-alive connection the server closed meanwhile: once more on a new one.
        if (!r && conn && conn->reused && r.error().errno_value == EIO) {
            conn.reset();
            r = get_once(u, headers, t);
        } else if (!r && !conn) {
            return r;
        }
        if (!r) conn.reset();
        return r;
    }

    Status stream_body(const std::function<Status(const char*, std::size_t)>& sink) {
        if (!conn || !conn->body_pending) return {};
        std::vector<char> chunk(256 * 1024);
        auto& res = conn->parser->get();
        while (!conn->parser->is_done()) {
            if (cancelled()) {
                conn.reset();
                return Error::os(ECANCELED, "cancelled");
            }
            res.body().data = chunk.data();
            res.body().size = chunk.size();
            bool done = false;
            error_code ec;
            conn->tcp.expires_after(opt.read_timeout);
            on_stream([&](auto& s) {
                http::async_read_some(s, conn->buf, *conn->parser, [&](const error_code& e, std::size_t) {
                    ec = e;
                    done = true;
                });
                return 0;
            });
            run_until(done);
            if (ec == http::error::need_buffer) ec = {};
            std::size_t n = chunk.size() - res.body().size;
            if (n > 0) {
                if (auto s = sink(chunk.data(), n); !s) {
                    conn.reset();
                    return s;
                }
            }
            if (ec) {
                auto e = io_error(ec, "read a body from");
                conn.reset();
                return e;
            }
        }
        finish_body();
        return {};
    }
};

HttpClient::HttpClient(HttpOptions options) : impl_(std::make_unique<Impl>(std::move(options))) {}
HttpClient::~HttpClient() = default;

Result<HttpResponse> HttpClient::get(const Url& url, const Headers& headers, const TlsOptions& tls) {
    return impl_->get(url, headers, tls);
}

Result<std::string> HttpClient::read_body(std::size_t max) {
    std::string out;
    auto s = impl_->stream_body([&](const char* p, std::size_t n) -> Status {
        if (out.size() + n > max) return Error::os(EFBIG, "the answer is larger than " + std::to_string(max) + " bytes");
        out.append(p, n);
        return {};
    });
    if (!s) return s.error();
    return out;
}

Status HttpClient::stream_body(const std::function<Status(const char*, std::size_t)>& sink) {
    return impl_->stream_body(sink);
}

}  // namespace isolated::registry
