// The API as isoctl uses it: requests over a Transport, daemon errors turned into
// Failures with the right exit code, JSON decoding that reports a wrong shape as a
// failure instead of a crash.
#pragma once

#include <chrono>
#include <functional>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "errors.hpp"
#include "transport.hpp"

namespace isoctl {

using namespace std::chrono_literals;

/// Read-only calls; the daemon answers at once.
inline constexpr std::chrono::milliseconds kQueryTimeout = 30s;
/// start/stop/restart/reload answer when the action has settled: a stop may take the
/// app's whole stop timeout (default 30s, up to minutes), so be generous.
inline constexpr std::chrono::milliseconds kActionTimeout = 5min;

class Client {
public:
    explicit Client(Transport& t) : transport_(t) {}

    /// `app`: the app the call is about, for exit code 4 on 404 and for messages.
    Response get(const std::string& target, const std::string& app = {});
    Response post(const std::string& target, const std::string& body, std::chrono::milliseconds timeout,
                  const std::string& app = {});
    /// Like post(), but an answer of any status is returned, not thrown: for a caller
    /// that tells a 400 (the same for every app) from the rest. Only an unreachable
    /// daemon throws.
    Response post_unchecked(const std::string& target, const std::string& body, std::chrono::milliseconds timeout);
    /// Follow endpoints. `header_timeout` 0 = wait for the headers as long as it takes.
    void stream(const std::string& target, const std::function<void(std::string_view)>& on_data,
                std::chrono::milliseconds header_timeout, const std::string& app = {});

    /// Any request; the answer whatever its status (only an unreachable daemon throws).
    Response raw(const Request& req);
    /// POST with a streamed body (an image archive) and a streamed answer (NDJSON).
    void upload(const std::string& target, std::function<std::size_t(char*, std::size_t)> source,
                const std::function<void(std::string_view)>& on_data);
    /// POST with a JSON body and a streamed answer (NDJSON: an image pull). Errors
    /// before the stream starts are thrown as by post().
    void post_stream(const std::string& target, const std::string& body,
                     const std::function<void(std::string_view)>& on_data);

private:
    Response call(const Request& req, const std::string& app);
    Transport& transport_;
};

/// Throws the Failure for a non-2xx answer: the message from {"error": {...}}, exit 4
/// for a 404 about an app, 1 otherwise. The message gets an "APP: " prefix when it does
/// not name the app itself.
[[noreturn]] void throw_api_error(const Response& r, const std::string& app);

/// Parse a daemon answer; bad JSON is a Failure (exit 1).
nlohmann::json parse_json(std::string_view body);
/// Same, keeping the daemon's key order (for -o json passthrough).
nlohmann::ordered_json parse_ordered_json(std::string_view body);

/// j.get<T>() with a wrong shape reported as a Failure.
template <typename T>
T decode(const nlohmann::json& j) {
    try {
        return j.get<T>();
    } catch (const nlohmann::json::exception& e) {
        throw Failure(exit_code::failed, std::string("unexpected answer from the daemon: ") + e.what());
    }
}

/// Pretty JSON plus newline, invalid UTF-8 replaced rather than thrown on.
std::string print_json(const nlohmann::ordered_json& j);

/// "/v1/apps/NAME" (names are validated first, so they need no escaping).
std::string app_path(const std::string& name);

}  // namespace isoctl
