#include "logs/journal_log.hpp"

#include <systemd/sd-journal.h>
#include <unistd.h>

#include <boost/asio/posix/stream_descriptor.hpp>
#include <boost/asio/post.hpp>

namespace isolated::logs {

namespace asio = boost::asio;

namespace {

struct JournalCloser {
    void operator()(sd_journal* j) const { sd_journal_close(j); }
};
using JournalPtr = std::unique_ptr<sd_journal, JournalCloser>;

std::string field(sd_journal* j, const char* name) {
    const void* data = nullptr;
    size_t len = 0;
    if (sd_journal_get_data(j, name, &data, &len) < 0) return {};
    std::string_view v(static_cast<const char*>(data), len);
    std::string_view key(name);
    if (v.size() > key.size() && v.compare(0, key.size(), key) == 0 && v[key.size()] == '=')
        v.remove_prefix(key.size() + 1);
    return std::string(v);
}

LogRecord record_of(sd_journal* j) {
    LogRecord r;
    std::uint64_t usec = 0;
    if (sd_journal_get_realtime_usec(j, &usec) >= 0)
        r.time = WallTime(std::chrono::duration_cast<WallTime::duration>(std::chrono::microseconds(usec)));
    r.stream = field(j, "ISOLATED_STREAM");
    if (r.stream.empty()) r.stream = "stdout";
    r.text = field(j, "MESSAGE");
    return r;
}

Result<JournalPtr> open_for(const std::string& app) {
    sd_journal* raw = nullptr;
    int rc = sd_journal_open(&raw, SD_JOURNAL_LOCAL_ONLY);
    if (rc < 0) return Error::os(-rc, "open the journal");
    JournalPtr j(raw);
    std::string match = "ISOLATED_APP=" + app;
    if ((rc = sd_journal_add_match(j.get(), match.data(), match.size())) < 0) return Error::os(-rc, "journal match");
    // The app's output only, not the daemon's messages about the app (which carry
    // ISOLATED_APP= too, but no ISOLATED_STREAM=): matches on another field AND.
    for (const char* m : {"ISOLATED_STREAM=stdout", "ISOLATED_STREAM=stderr"})
        if ((rc = sd_journal_add_match(j.get(), m, 0)) < 0) return Error::os(-rc, "journal match");
    return j;
}

bool written_before(sd_journal* j, WallTime since) {
    std::uint64_t usec = 0;
    if (sd_journal_get_realtime_usec(j, &usec) < 0) return false;
    return WallTime(std::chrono::duration_cast<WallTime::duration>(std::chrono::microseconds(usec))) < since;
}

// Collects the last `tail` entries (of those at or after `since`) and leaves `j` on the
// newest entry, so that sd_journal_next() then returns only new ones.
std::vector<LogRecord> tail_of(sd_journal* j, std::size_t tail, std::optional<WallTime> since) {
    std::vector<LogRecord> out;
    if (tail == 0) {
        sd_journal_seek_tail(j);
        sd_journal_previous(j);  // onto the last entry: next() then returns only new ones
        return out;
    }
    if (sd_journal_seek_tail(j) < 0) return out;
    std::size_t n = 0;
    bool before = false;  // stepped onto an entry older than `since`
    while (n < tail && sd_journal_previous(j) > 0) {
        if (since && written_before(j, *since)) {
            before = true;
            break;
        }
        ++n;
    }
    // Now on the oldest wanted entry, or the one just before it (`before`), or the
    // first of the journal.
    if (n == 0) return out;
    if (!before) out.push_back(record_of(j));
    while (out.size() < n && sd_journal_next(j) > 0) out.push_back(record_of(j));
    return out;
}

}  // namespace

std::vector<LogRecord> JournalLog::read_tail(const std::string& app, std::size_t tail,
                                             std::optional<WallTime> since) const {
    auto j = open_for(app);
    if (!j) return {};
    return tail_of(j->get(), tail, since);
}

class JournalLog::Follower : public std::enable_shared_from_this<Follower> {
public:
    Follower(asio::io_context& io, JournalPtr j, std::function<void(const LogRecord&)> fn)
        : j_(std::move(j)), fd_(io), fn_(std::move(fn)) {}
    Status arm() {
        int fd = sd_journal_get_fd(j_.get());
        if (fd < 0) return Error::os(-fd, "journal fd");
        fd_.assign(::dup(fd));
        wait();
        return {};
    }

private:
    friend class JournalLog;
    void wait() {
        std::weak_ptr<Follower> self = shared_from_this();
        fd_.async_wait(asio::posix::stream_descriptor::wait_read, [self](boost::system::error_code ec) {
            auto f = self.lock();
            if (ec || !f) return;
            if (sd_journal_process(f->j_.get()) != SD_JOURNAL_NOP) f->deliver_new();
            f->wait();
        });
    }
    void deliver_new() {
        while (sd_journal_next(j_.get()) > 0) fn_(record_of(j_.get()));
    }

    JournalPtr j_;
    asio::posix::stream_descriptor fd_;
    std::function<void(const LogRecord&)> fn_;
};

Result<std::shared_ptr<JournalLog::Follower>> JournalLog::follow(const std::string& app, std::size_t tail,
                                                                 std::optional<WallTime> since,
                                                                 std::function<void(const LogRecord&)> on_line) {
    auto j = open_for(app);
    if (!j) return j.error();
    auto first = tail_of(j->get(), tail, since);
    auto f = std::make_shared<Follower>(io_, std::move(*j), std::move(on_line));
    if (auto st = f->arm(); !st) return st.error();
    std::weak_ptr<Follower> weak = f;
    asio::post(io_, [weak, first = std::move(first)] {
        auto fo = weak.lock();
        if (!fo) return;
        for (const auto& r : first) fo->fn_(r);
        fo->deliver_new();  // what arrived meanwhile
    });
    return f;
}

}  // namespace isolated::logs
