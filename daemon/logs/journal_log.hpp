// Reading app output from the journal (--log-driver journald): the init of each app
// sends its lines to journald with ISOLATED_APP=<app> (daemon/sandbox/init/init.c), and
// this reads them back through sd-journal -- the last N lines, then following new ones
// with the journal's inotify fd on the daemon's loop. The same two calls as LogStore.
#pragma once

#include <boost/asio/io_context.hpp>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "isolated/result.hpp"
#include "logs/log_store.hpp"

namespace isolated::logs {

class JournalLog {
public:
    explicit JournalLog(boost::asio::io_context& io) : io_(io) {}

    /// The last `tail` lines of `app` in the journal (all when tail == SIZE_MAX), oldest
    /// first; with `since`, only entries at or after it.
    std::vector<LogRecord> read_tail(const std::string& app, std::size_t tail,
                                     std::optional<WallTime> since = std::nullopt) const;

    class Follower;
    /// Delivers the last `tail` lines (at or after `since`), then each new line, until
    /// the handle is destroyed. Deliveries always come from the loop, never from this call.
    Result<std::shared_ptr<Follower>> follow(const std::string& app, std::size_t tail, std::optional<WallTime> since,
                                             std::function<void(const LogRecord&)> on_line);

private:
    boost::asio::io_context& io_;
};

}  // namespace isolated::logs
