// One client connection on a control socket: HTTP/1.1 with keep-alive (Beast), the
// request handed to the Dispatcher, its response written back -- whole, or as a
// chunked stream for `follow=1`. Every wait has a deadline, so a client that stalls
// costs one idle session and nothing else. Lifetime: the SessionSet holds each session
// until it closes; every pending handler holds it too (shared_from_this).
#pragma once

#include <sys/types.h>

#include <array>
#include <cstddef>
#include <memory>
#include <optional>
#include <set>
#include <vector>
#include <string>

#include <boost/asio/local/stream_protocol.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/buffer_body.hpp>
#include <boost/beast/http/empty_body.hpp>
#include <boost/beast/http/message.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/serializer.hpp>
#include <boost/beast/http/string_body.hpp>

#include "api/dispatcher.hpp"
#include "isolated/units.hpp"

namespace isolated::api {

/// What a session allows a client; ServerOptions has the defaults.
struct SessionLimits {
    Duration request_timeout;   ///< first byte of a request -> whole request read (408)
    Duration idle_timeout;      ///< keep-alive connection with no request (closed)
    Duration write_timeout;     ///< one write, a stream chunk included (dropped)
    std::size_t max_header_bytes;
    std::size_t max_body_bytes;
};

class SessionSet;

class Session : public std::enable_shared_from_this<Session> {
public:
    using Socket = boost::asio::local::stream_protocol::socket;

    Session(Socket socket, Dispatcher& dispatcher, SessionSet& sessions, const SessionLimits& limits,
            PeerCredentials peer, bool read_only, bool privileged);
    Session(const Session&) = delete;
    Session& operator=(const Session&) = delete;

    /// Starts waiting for the first request.
    void start();
    /// Closes the connection and drops any stream (and so its subscription). After
    /// it, no handler of this session touches the Dispatcher or the SessionSet.
    void stop();

private:
    /// What the one deadline timer means when it fires.
    enum class Phase { idle, reading, dispatching, writing, streaming };

    void do_idle();
    void do_read();
    void on_header(boost::system::error_code ec);
    void read_body();
    void on_read_error(boost::system::error_code ec);
    void on_request();
    // An upload route's body (POST /v1/images/load): streamed into a file, one
    // buffer at a time, each read with its own deadline.
    void start_upload(std::shared_ptr<Upload> upload);
    void read_upload();
    void on_upload_read(boost::system::error_code ec);
    void dispatch(Request request);
    void send(Response response);
    void on_write(boost::system::error_code ec);
    void reply_error(int status, const char* code, const std::string& message);

    void start_stream(Response response);
    void on_stream_header(boost::system::error_code ec);
    void wake_stream();
    void pump_stream();
    void watch_client();

    void arm_deadline(Duration d);
    void disarm_deadline();
    void on_deadline(boost::system::error_code ec);
    /// stop() and leave the SessionSet.
    void close();

    /// The connection.
    Socket socket_;
    /// The one deadline of the current phase.
    boost::asio::steady_timer deadline_;
    Dispatcher& dispatcher_;
    SessionSet& sessions_;
    SessionLimits limits_;
    PeerCredentials peer_;
    /// Arrived on the read-only socket.
    bool read_only_;
    /// uid 0 or group member.
    bool privileged_;

    Phase phase_ = Phase::idle;
    bool stopped_ = false;
    /// The request deadline fired: the read's operation_aborted means 408.
    bool timed_out_ = false;
    /// Answer, then keep the connection for the next request.
    bool keep_alive_ = false;
    /// HEAD: the answer has no body (RFC 9110, 9.3.2).
    bool head_ = false;
    unsigned version_ = 11;

    /// Bytes read and not yet parsed (a pipelined next request).
    boost::beast::flat_buffer buffer_;
    std::optional<boost::beast::http::request_parser<boost::beast::http::string_body>> parser_;
    boost::beast::http::response<boost::beast::http::string_body> response_;

    // Uploading.
    std::optional<boost::beast::http::request_parser<boost::beast::http::buffer_body>> upload_parser_;
    std::shared_ptr<Upload> upload_;
    std::vector<char> upload_buf_;
    std::uint64_t upload_bytes_ = 0;
    std::uint64_t upload_limit_ = 0;

    // Streaming.
    std::shared_ptr<Stream> stream_;
    boost::beast::http::response<boost::beast::http::empty_body> stream_head_;
    std::optional<boost::beast::http::response_serializer<boost::beast::http::empty_body>> stream_serializer_;
    /// HTTP/1.1 chunked framing (HTTP/1.0 clients get the bytes until close).
    bool chunked_ = true;
    bool writing_ = false;
    bool wake_posted_ = false;
    /// The chunk being written.
    std::string chunk_;
    /// Reads during a stream only tell when the client goes away.
    std::array<char, 512> discard_{};
};

/// The live sessions, so that the server can stop them all (Asio's connection_manager).
class SessionSet {
public:
    SessionSet() = default;
    SessionSet(const SessionSet&) = delete;
    SessionSet& operator=(const SessionSet&) = delete;

    /// Adds and starts.
    void start(std::shared_ptr<Session> session);
    /// Stops and forgets.
    void stop(const std::shared_ptr<Session>& session);
    void stop_all();
    std::size_t size() const { return sessions_.size(); }

private:
    std::set<std::shared_ptr<Session>> sessions_;
};

}  // namespace isolated::api
