// Reading app output. The init of each app writes <log_dir>/<app>.log in the CRI log
// format and rotates it to <app>.log.1 .. .N; this module reads those files: the last
// N lines across rotations, and following new lines as they are written (inotify on
// the log directory, on the daemon's loop). It never writes app logs.
#pragma once

#include <boost/asio/io_context.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "isolated/api_types.hpp"
#include "isolated/result.hpp"
#include "isolated/unique_fd.hpp"

namespace isolated::logs {

struct LogRecord {
    WallTime time{};
    std::string stream;  ///< "stdout" | "stderr"
    std::string text;    ///< one line, without the newline
};

/// Parses CRI records and joins partial ("P") records into whole lines. Feed it
/// whole record lines (without "\n").
class CriParser {
public:
    /// Returns true and fills `out` when `line` completes a log line.
    bool feed(std::string_view line, LogRecord& out);

private:
    std::map<std::string, std::string> partial_;  // by stream
};

class LogStore {
public:
    /// Reads <app>.log and its rotations <app>.log.1, .2, ... up to the first one missing
    /// (each app has its own number of files: logs.maxFiles; the launch removes rotations
    /// beyond it, sandbox::prune_rotated_logs).
    LogStore(boost::asio::io_context& io, std::string log_dir);
    ~LogStore();

    /// The last `tail` lines of `app` (all lines when tail == SIZE_MAX), oldest first;
    /// with `since`, only lines written at or after it (the tail is taken of those).
    /// Reading goes backwards and stops at the first whole line older than `since`.
    std::vector<LogRecord> read_tail(const std::string& app, std::size_t tail,
                                     std::optional<WallTime> since = std::nullopt) const;

    class Follower;
    /// Delivers the last `tail` lines (at or after `since`), then each new line, until
    /// the handle is destroyed. Deliveries always come from the loop, never from this call.
    Result<std::shared_ptr<Follower>> follow(const std::string& app, std::size_t tail, std::optional<WallTime> since,
                                             std::function<void(const LogRecord&)> on_line);

    const std::string& dir() const { return dir_; }

private:
    friend class Follower;
    Status ensure_watch();
    void read_events();
    void notify(const std::string& file_name);

    boost::asio::io_context& io_;
    std::string dir_;
    std::unique_ptr<boost::asio::posix::stream_descriptor> inotify_;
    std::vector<char> event_buf_;
    std::map<std::string, std::vector<std::weak_ptr<Follower>>> followers_;  // by app
    std::shared_ptr<bool> alive_;
};

}  // namespace isolated::logs
