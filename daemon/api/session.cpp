#include "api/session.hpp"

#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <limits>

#include <boost/asio/post.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/string.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/write.hpp>

namespace isolated::api {

namespace asio = boost::asio;
namespace http = boost::beast::http;
using boost::system::error_code;

namespace {

constexpr std::string_view continue_response = "HTTP/1.1 100 Continue\r\n\r\n";

bool is_http_error(const error_code& ec) {
    return ec.category() == http::make_error_code(http::error::end_of_stream).category();
}

std::string frame_chunk(const std::string& data) {
    char size[20];
    int n = std::snprintf(size, sizeof size, "%zx\r\n", data.size());
    std::string chunk;
    chunk.reserve(static_cast<std::size_t>(n) + data.size() + 2);
    chunk.append(size, static_cast<std::size_t>(n));
    chunk += data;
    chunk += "\r\n";
    return chunk;
}

}  // namespace

Session::Session(Socket socket, Dispatcher& dispatcher, SessionSet& sessions, const SessionLimits& limits,
                 PeerCredentials peer, bool read_only, bool privileged)
    : socket_(std::move(socket)),
      deadline_(socket_.get_executor()),
      dispatcher_(dispatcher),
      sessions_(sessions),
      limits_(limits),
      peer_(std::move(peer)),
      read_only_(read_only),
      privileged_(privileged),
      // Room for one whole request (the parser enforces the real limits) plus one
      // read's worth of a pipelined next one.
      buffer_(limits.max_header_bytes + limits.max_body_bytes + 64 * 1024) {}

void Session::start() { do_idle(); }

void Session::stop() {
    if (stopped_) return;
    stopped_ = true;
    error_code ec;
    deadline_.cancel();
    socket_.close(ec);
    // Drops the backend subscription now rather than when the last handler lets go.
    stream_.reset();
}

void Session::close() { sessions_.stop(shared_from_this()); }

// ---- reading a request ----------------------------------------------------------------

void Session::do_idle() {
    phase_ = Phase::idle;
    if (buffer_.size() > 0) {
        do_read();
        return;
    }
    // Wait for the first byte without a parser, so that the request deadline starts
    // when the client starts talking and an idle keep-alive connection has its own.
    arm_deadline(limits_.idle_timeout);
    socket_.async_wait(Socket::wait_read, [self = shared_from_this()](error_code ec) {
        if (self->stopped_) return;
        if (ec) {
            self->close();
            return;
        }
        self->do_read();
    });
}

void Session::do_read() {
    phase_ = Phase::reading;
    timed_out_ = false;
    arm_deadline(limits_.request_timeout);
    parser_.emplace();
    parser_->header_limit(static_cast<std::uint32_t>(limits_.max_header_bytes));
    // No body limit while the header is read: an upload route (image load) has its
    // own, much larger one; on_header() sets the right limit before the body.
    parser_->body_limit(std::numeric_limits<std::uint64_t>::max());
    http::async_read_header(socket_, buffer_, *parser_,
                            [self = shared_from_this()](error_code ec, std::size_t) { self->on_header(ec); });
}

void Session::on_header(error_code ec) {
    if (stopped_) return;
    if (ec) {
        on_read_error(ec);
        return;
    }
    {
        auto& head = parser_->get();
        if (Dispatcher::is_upload(std::string(head.method_string()), std::string(head.target()))) {
            Request req{std::string(head.method_string()), std::string(head.target()), {}, peer_, read_only_, privileged_};
            auto up = dispatcher_.begin_upload(req);
            if (!up) {
                keep_alive_ = false;
                head_ = false;
                version_ = head.version();
                disarm_deadline();
                phase_ = Phase::dispatching;
                send(std::move(up.error()));
                return;
            }
            start_upload(std::move(*up));
            return;
        }
    }
    if (auto length = parser_->content_length(); length && *length > limits_.max_body_bytes) {
        reply_error(413, api_error::payload_too_large,
                    "request body over " + std::to_string(limits_.max_body_bytes) + " bytes");
        return;
    }
    parser_->body_limit(limits_.max_body_bytes);
    if (parser_->is_done()) {
        on_request();
        return;
    }
    // curl sends "Expect: 100-continue" with bodies over 1 KiB and waits a second for
    // this before sending the body anyway (RFC 9110, 10.1.1). A too-large
    // Content-Length never gets here: the header read already failed with body_limit.
    if (boost::beast::iequals(parser_->get()[http::field::expect], "100-continue")) {
        asio::async_write(socket_, asio::buffer(continue_response),
                         [self = shared_from_this()](error_code ec, std::size_t) {
                             if (self->stopped_) return;
                             if (ec) {
                                 self->on_read_error(ec);
                                 return;
                             }
                             self->read_body();
                         });
        return;
    }
    read_body();
}

void Session::read_body() {
    http::async_read(socket_, buffer_, *parser_, [self = shared_from_this()](error_code ec, std::size_t) {
        if (self->stopped_) return;
        if (ec) {
            self->on_read_error(ec);
            return;
        }
        self->on_request();
    });
}

void Session::start_upload(std::shared_ptr<Upload> upload) {
    upload_ = std::move(upload);
    upload_bytes_ = 0;
    upload_limit_ = dispatcher_.max_upload_bytes();
    // The header is read; the body goes through a buffer_body parser instead.
    upload_parser_.emplace(std::move(*parser_));
    parser_.reset();
    upload_parser_->body_limit(upload_limit_);
    upload_buf_.resize(256 * 1024);
    if (boost::beast::iequals(upload_parser_->get()[http::field::expect], "100-continue")) {
        asio::async_write(socket_, asio::buffer(continue_response),
                         [self = shared_from_this()](error_code ec, std::size_t) {
                             if (self->stopped_) return;
                             if (ec) {
                                 self->close();
                                 return;
                             }
                             self->read_upload();
                         });
        return;
    }
    read_upload();
}

void Session::read_upload() {
    if (upload_parser_->is_done()) {
        on_upload_read({});
        return;
    }
    auto& body = upload_parser_->get().body();
    body.data = upload_buf_.data();
    body.size = upload_buf_.size();
    // Per read, not per request: a large archive takes as long as it takes, but a
    // client that stops sending is dropped.
    arm_deadline(limits_.request_timeout);
    http::async_read(socket_, buffer_, *upload_parser_,
                     [self = shared_from_this()](error_code ec, std::size_t) { self->on_upload_read(ec); });
}

void Session::on_upload_read(error_code ec) {
    if (stopped_) return;
    if (ec == http::error::need_buffer) ec = {};
    auto& body = upload_parser_->get().body();
    std::size_t n = upload_buf_.size() - body.size;
    body.data = nullptr;
    body.size = 0;
    if (n > 0 && !ec) {
        const char* p = upload_buf_.data();
        std::size_t left = n;
        while (left > 0) {
            ssize_t w = ::write(upload_->fd(), p, left);
            if (w < 0 && errno == EINTR) continue;
            if (w < 0) {
                int err = errno;
                upload_.reset();
                upload_parser_.reset();
                reply_error(err == ENOSPC ? 507 : 500, api_error::internal,
                            std::string("storing the upload: ") + std::strerror(err));
                return;
            }
            p += w;
            left -= static_cast<std::size_t>(w);
        }
        upload_bytes_ += n;
    }
    if (ec) {
        upload_.reset();
        upload_parser_.reset();
        if (ec == http::error::body_limit) {
            reply_error(413, api_error::payload_too_large,
                        "the archive is over " + std::to_string(upload_limit_) + " bytes (imageLoadMaxBytes)");
            return;
        }
        on_read_error(ec);
        return;
    }
    if (!upload_parser_->is_done()) {
        read_upload();
        return;
    }
    disarm_deadline();
    phase_ = Phase::dispatching;
    auto& req = upload_parser_->get();
    version_ = req.version();
    head_ = false;
    chunked_ = version_ >= 11;
    keep_alive_ = req.keep_alive();
    Request request{std::string(req.method_string()), std::string(req.target()), {}, peer_, read_only_, privileged_};
    request.upload = std::move(upload_);
    request.upload_bytes = upload_bytes_;
    upload_parser_.reset();
    dispatch(std::move(request));
}

void Session::on_read_error(error_code ec) {
    if (timed_out_) {
        reply_error(408, api_error::request_timeout,
                    "request not complete within " + format_duration(limits_.request_timeout) + " of its first byte");
        return;
    }
    if (ec == http::error::body_limit) {
        reply_error(413, api_error::payload_too_large,
                    "request body over " + std::to_string(limits_.max_body_bytes) + " bytes");
        return;
    }
    if (ec == http::error::header_limit) {
        reply_error(431, api_error::bad_request,
                    "request header over " + std::to_string(limits_.max_header_bytes) + " bytes");
        return;
    }
    // end_of_stream: closed between requests; partial_message: closed mid-request.
    // Either way nobody is left to answer.
    if (is_http_error(ec) && ec != http::error::end_of_stream && ec != http::error::partial_message) {
        reply_error(400, api_error::bad_request, "malformed HTTP request: " + ec.message());
        return;
    }
    close();
}

void Session::on_request() {
    disarm_deadline();
    phase_ = Phase::dispatching;
    auto& req = parser_->get();
    version_ = req.version();
    head_ = req.method() == http::verb::head;
    chunked_ = version_ >= 11;
    // An unprivileged peer on the control socket gets its 403 and nothing more.
    keep_alive_ = req.keep_alive() && (read_only_ || privileged_);
    Request request{std::string(req.method_string()), std::string(req.target()), std::move(req.body()), peer_,
                    read_only_, privileged_};
    // Several If-None-Match lines are one list (RFC 9110 5.3).
    for (auto [it, end] = req.equal_range(http::field::if_none_match); it != end; ++it) {
        if (!request.if_none_match.empty()) request.if_none_match += ',';
        request.if_none_match.append(it->value().data(), it->value().size());
    }
    parser_.reset();
    dispatch(std::move(request));
}

void Session::dispatch(Request request) {
    // weak: an action's Done may come after the session is gone (client left, server
    // stopped); then it has nobody to answer.
    dispatcher_.dispatch(request, [weak = weak_from_this()](Response response) {
        auto self = weak.lock();
        if (!self || self->stopped_ || self->phase_ != Phase::dispatching) return;
        self->send(std::move(response));
    });
}

// ---- writing a response ---------------------------------------------------------------

void Session::send(Response response) {
    if (response.stream) {
        start_stream(std::move(response));
        return;
    }
    response_ = {};
    response_.version(version_);
    response_.result(static_cast<unsigned>(response.status));
    // A 304 has no body and so no type (RFC 9110 15.4.5).
    if (!response.content_type.empty()) response_.set(http::field::content_type, response.content_type);
    for (const auto& [name, value] : response.headers) response_.set(name, value);
    if (!head_) response_.body() = std::move(response.body);
    response_.keep_alive(keep_alive_);
    // A 304's Content-Length would have to be the 200's (RFC 9110 8.6): none at all.
    if (response.status != 304) response_.prepare_payload();
    phase_ = Phase::writing;
    arm_deadline(limits_.write_timeout);
    http::async_write(socket_, response_,
                      [self = shared_from_this()](error_code ec, std::size_t) { self->on_write(ec); });
}

void Session::on_write(error_code ec) {
    if (stopped_) return;
    disarm_deadline();
    if (ec || !keep_alive_) {
        // A Unix socket write lands in the peer's receive queue at once, so closing
        // right away loses nothing the client can still read.
        close();
        return;
    }
    do_idle();
}

void Session::reply_error(int status, const char* code, const std::string& message) {
    keep_alive_ = false;
    head_ = false;
    send(error_response(status, code, message));
}

// ---- streaming ------------------------------------------------------------------------

void Session::start_stream(Response response) {
    stream_ = std::move(response.stream);
    stream_head_ = {};
    stream_head_.version(version_);
    stream_head_.result(static_cast<unsigned>(response.status));
    stream_head_.set(http::field::content_type, response.content_type);
    stream_head_.set(http::field::cache_control, "no-cache");
    for (const auto& [name, value] : response.headers) stream_head_.set(name, value);
    if (chunked_) {
        stream_head_.chunked(true);
        // A stream that ends (finite()) ends its connection too: see pump_stream.
        stream_head_.keep_alive(keep_alive_ && !stream_->finite());
    } else {
        // HTTP/1.0 has no chunks: the body ends when the connection does.
        keep_alive_ = false;
        stream_head_.keep_alive(false);
    }
    stream_serializer_.emplace(stream_head_);
    phase_ = Phase::streaming;
    writing_ = true;
    arm_deadline(limits_.write_timeout);
    http::async_write_header(socket_, *stream_serializer_,
                             [self = shared_from_this()](error_code ec, std::size_t) { self->on_stream_header(ec); });
}

void Session::on_stream_header(error_code ec) {
    if (stopped_) return;
    if (ec) {
        close();
        return;
    }
    writing_ = false;
    disarm_deadline();
    watch_client();
    stream_->on_data([weak = weak_from_this()] {
        if (auto self = weak.lock()) self->wake_stream();
    });
    pump_stream();
}

void Session::wake_stream() {
    // Called from inside the producer (e.g. while the EventLog walks its listeners):
    // only schedule, so that a stop() here cannot destroy the subscription that is
    // delivering.
    if (stopped_ || wake_posted_) return;
    wake_posted_ = true;
    asio::post(socket_.get_executor(), [self = shared_from_this()] {
        self->wake_posted_ = false;
        self->pump_stream();
    });
}

void Session::pump_stream() {
    if (stopped_ || !stream_) return;
    if (stream_->overflowed()) {
        // The client reads more slowly than the stream grows.
        close();
        return;
    }
    if (writing_) return;
    std::string data = stream_->take();
    if (data.empty() && stream_->closed()) {
        // The producer is done: the last chunk, then the connection goes (the read
        // that watches for the client's leaving would eat a next request).
        if (!chunked_) {
            close();
            return;
        }
        chunk_ = "0\r\n\r\n";
        writing_ = true;
        arm_deadline(limits_.write_timeout);
        asio::async_write(socket_, asio::buffer(chunk_), [self = shared_from_this()](error_code, std::size_t) {
            if (self->stopped_) return;
            self->close();
        });
        return;
    }
    if (data.empty()) return;
    chunk_ = chunked_ ? frame_chunk(data) : std::move(data);
    writing_ = true;
    arm_deadline(limits_.write_timeout);
    asio::async_write(socket_, asio::buffer(chunk_), [self = shared_from_this()](error_code ec, std::size_t) {
        if (self->stopped_) return;
        if (ec) {
            self->close();
            return;
        }
        self->writing_ = false;
        self->disarm_deadline();
        self->pump_stream();
    });
}

void Session::watch_client() {
    // A stream has no end of its own: the read side tells when the client has gone
    // (EOF or reset), and the stream's subscription can go with it.
    socket_.async_read_some(asio::buffer(discard_), [self = shared_from_this()](error_code ec, std::size_t) {
        if (self->stopped_) return;
        if (ec) {
            self->close();
            return;
        }
        self->watch_client();
    });
}

// ---- deadlines ------------------------------------------------------------------------

void Session::arm_deadline(Duration d) {
    deadline_.expires_after(d);
    deadline_.async_wait([self = shared_from_this()](error_code ec) { self->on_deadline(ec); });
}

void Session::disarm_deadline() {
    // Not cancel(): a wait that already completed would still run with success and
    // see an expiry in the past. A far expiry makes it a no-op (on_deadline checks).
    deadline_.expires_at(asio::steady_timer::time_point::max());
}

void Session::on_deadline(error_code ec) {
    if (stopped_ || ec == asio::error::operation_aborted) return;
    if (deadline_.expiry() > asio::steady_timer::clock_type::now()) return;  // re-armed since
    if (phase_ == Phase::reading) {
        // The pending read completes with operation_aborted and answers 408.
        timed_out_ = true;
        error_code ignored;
        socket_.cancel(ignored);
        return;
    }
    // idle: keep-alive expired; writing/streaming: the client does not read.
    close();
}

// ---- SessionSet -----------------------------------------------------------------------

void SessionSet::start(std::shared_ptr<Session> session) {
    sessions_.insert(session);
    session->start();
}

void SessionSet::stop(const std::shared_ptr<Session>& session) {
    sessions_.erase(session);
    session->stop();
}

void SessionSet::stop_all() {
    auto sessions = std::exchange(sessions_, {});
    for (const auto& session : sessions) session->stop();
}

}  // namespace isolated::api
