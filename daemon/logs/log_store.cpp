#include "logs/log_store.hpp"

#include <fcntl.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <boost/asio/post.hpp>
#include <deque>
#include <set>

#include "isolated/api_json.hpp"

namespace isolated::logs {

namespace asio = boost::asio;

// ---- CRI parsing ---------------------------------------------------------------------

bool CriParser::feed(std::string_view line, LogRecord& out) {
    // "<time> <stream> <P|F> <text>"
    auto s1 = line.find(' ');
    if (s1 == std::string_view::npos) return false;
    auto s2 = line.find(' ', s1 + 1);
    if (s2 == std::string_view::npos) return false;
    auto s3 = line.find(' ', s2 + 1);
    std::string_view tag = line.substr(s2 + 1, s3 == std::string_view::npos ? std::string_view::npos : s3 - s2 - 1);
    std::string_view text = s3 == std::string_view::npos ? std::string_view{} : line.substr(s3 + 1);
    std::string stream(line.substr(s1 + 1, s2 - s1 - 1));
    auto& part = partial_[stream];
    if (tag == "P") {
        part.append(text);
        return false;
    }
    out.time = parse_rfc3339(line.substr(0, s1)).value_or(WallTime{});
    out.stream = std::move(stream);
    out.text = part.empty() ? std::string(text) : std::move(part) + std::string(text);
    part.clear();
    return true;
}

namespace {

std::string file_for(const std::string& app, std::uint32_t i) {
    return i == 0 ? app + ".log" : app + ".log." + std::to_string(i);
}

/// Whether a CRI record line is a whole line's last record ("F") written before `since`:
/// reading backwards can stop there, everything older is older still.
bool ends_before(std::string_view line, WallTime since) {
    auto s1 = line.find(' ');
    if (s1 == std::string_view::npos) return false;
    auto s2 = line.find(' ', s1 + 1);
    if (s2 == std::string_view::npos || line.substr(s2 + 1, 1) != "F") return false;
    auto t = parse_rfc3339(line.substr(0, s1));
    return t && *t < since;
}

// The last `want` record lines of the file (all when want == SIZE_MAX), reading
// backwards in blocks so a tail of a big file stays cheap. With `since`, it stops after
// the first (newest) line that ends_before() it and sets `reached`.
std::vector<std::string> last_lines(int fd, off_t end, std::size_t want, std::optional<WallTime> since = std::nullopt,
                                    bool* reached = nullptr) {
    std::deque<std::string> lines;
    std::string carry;  // the beginning of a line whose start we have not reached
    constexpr off_t kBlock = 64 * 1024;
    off_t pos = end;
    while (pos > 0 && lines.size() < want) {
        off_t start = std::max<off_t>(0, pos - kBlock);
        std::string block(static_cast<size_t>(pos - start), '\0');
        ssize_t n = ::pread(fd, block.data(), block.size(), start);
        if (n != static_cast<ssize_t>(block.size())) break;
        block += carry;
        carry.clear();
        // Split; the first piece may be incomplete unless we are at the file start.
        size_t e = block.size();
        if (!block.empty() && block.back() == '\n') --e;  // ignore the final newline
        for (;;) {
            auto nl = block.rfind('\n', e == 0 ? 0 : e - 1);
            if (nl == std::string::npos || e == 0) {
                carry = block.substr(0, e);
                break;
            }
            lines.push_front(block.substr(nl + 1, e - nl - 1));
            e = nl;
            if (since && ends_before(lines.front(), *since)) {
                if (reached) *reached = true;
                return {lines.begin(), lines.end()};
            }
            if (lines.size() >= want) break;
        }
        pos = start;
    }
    if (pos == 0 && !carry.empty() && lines.size() < want) {
        lines.push_front(carry);
        if (since && reached && ends_before(lines.front(), *since)) *reached = true;
    }
    return {lines.begin(), lines.end()};
}

}  // namespace

// ---- followers -------------------------------------------------------------------------

class LogStore::Follower {
public:
    Follower(std::string dir, std::string app, std::function<void(const LogRecord&)> fn)
        : dir_(std::move(dir)), app_(std::move(app)), fn_(std::move(fn)) {}

    /// Reads what is new in the file it follows; moves to a new file after rotation.
    void poll() {
        for (int round = 0; round < 3; ++round) {
            if (fd_) drain();
            // Rotation renames the file away: once the name points at another inode,
            // the old file is complete (we drained it) and the new one starts at 0.
            struct stat st {};
            std::string path = dir_ + "/" + file_for(app_, 0);
            if (::stat(path.c_str(), &st) < 0) return;
            if (fd_ && st.st_ino == ino_ && st.st_dev == dev_) return;
            int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
            if (fd < 0) return;
            fd_.reset(fd);
            ino_ = st.st_ino;
            dev_ = st.st_dev;
            offset_ = 0;
        }
    }

    void start_at(unique_fd fd, off_t offset, ino_t ino, dev_t dev) {
        fd_ = std::move(fd);
        offset_ = offset;
        ino_ = ino;
        dev_ = dev;
    }

    void deliver(const LogRecord& r) { fn_(r); }

private:
    void drain() {
        char buf[65536];
        for (;;) {
            ssize_t n = ::pread(fd_.get(), buf, sizeof buf, offset_);
            if (n <= 0) return;
            offset_ += n;
            pending_.append(buf, static_cast<size_t>(n));
            size_t start = 0;
            for (;;) {
                auto nl = pending_.find('\n', start);
                if (nl == std::string::npos) break;
                LogRecord rec;
                if (parser_.feed(std::string_view(pending_).substr(start, nl - start), rec)) fn_(rec);
                start = nl + 1;
            }
            pending_.erase(0, start);
        }
    }

    std::string dir_, app_;
    std::function<void(const LogRecord&)> fn_;
    unique_fd fd_;
    off_t offset_ = 0;
    ino_t ino_ = 0;
    dev_t dev_ = 0;
    std::string pending_;
    CriParser parser_;
};

// ---- the store -------------------------------------------------------------------------

namespace {
// The most rotations any app keeps (logs.maxFiles and --log-max-files are at most 1000).
constexpr std::uint32_t kMaxLogFiles = 1000;
}  // namespace

LogStore::LogStore(asio::io_context& io, std::string log_dir)
    : io_(io), dir_(std::move(log_dir)), alive_(std::make_shared<bool>(true)) {}

LogStore::~LogStore() { *alive_ = false; }

std::vector<LogRecord> LogStore::read_tail(const std::string& app, std::size_t tail,
                                           std::optional<WallTime> since) const {
    // Newest file first; collect record lines until we have enough, then parse them
    // oldest first (a partial record may start in an older file).
    std::vector<std::vector<std::string>> chunks;
    std::size_t have = 0;
    bool reached = false;  // a line older than `since`: older files need not be read
    for (std::uint32_t i = 0; i < kMaxLogFiles && have < tail && !reached; ++i) {
        int fd = ::open((dir_ + "/" + file_for(app, i)).c_str(), O_RDONLY | O_CLOEXEC);
        if (fd < 0) {
            if (i == 0) continue;
            break;
        }
        unique_fd f(fd);
        struct stat st {};
        ::fstat(fd, &st);
        // Ask for one extra line per file so partial records at the cut can join.
        auto lines = last_lines(fd, st.st_size, tail == SIZE_MAX ? SIZE_MAX : tail - have + 1, since, &reached);
        have += lines.size();
        chunks.push_back(std::move(lines));
    }
    std::vector<LogRecord> out;
    CriParser parser;
    for (auto it = chunks.rbegin(); it != chunks.rend(); ++it)
        for (const auto& l : *it) {
            LogRecord r;
            if (parser.feed(l, r) && (!since || r.time >= *since)) out.push_back(std::move(r));
        }
    if (out.size() > tail) out.erase(out.begin(), out.end() - static_cast<std::ptrdiff_t>(tail));
    return out;
}

Result<std::shared_ptr<LogStore::Follower>> LogStore::follow(const std::string& app, std::size_t tail,
                                                             std::optional<WallTime> since,
                                                             std::function<void(const LogRecord&)> on_line) {
    if (auto st = ensure_watch(); !st) return st.error();
    auto f = std::make_shared<Follower>(dir_, app, std::move(on_line));
    // Pin the current file and its size first: the tail covers [0, size), following
    // continues at size on the same file, so nothing is lost or repeated.
    std::string path = dir_ + "/" + file_for(app, 0);
    int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    std::vector<LogRecord> first;
    if (fd >= 0) {
        unique_fd file(fd);
        struct stat st {};
        ::fstat(fd, &st);
        first = read_tail(app, tail, since);
        f->start_at(std::move(file), st.st_size, st.st_ino, st.st_dev);
    }
    followers_[app].push_back(f);
    std::weak_ptr<Follower> weak = f;
    asio::post(io_, [weak, first = std::move(first), alive = alive_] {
        if (!*alive) return;
        auto self = weak.lock();
        if (!self) return;
        for (const auto& r : first) self->deliver(r);
        self->poll();  // lines written between the tail and now
    });
    return f;
}

Status LogStore::ensure_watch() {
    if (inotify_) return {};
    int fd = ::inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
    if (fd < 0) return os_error("inotify_init1");
    unique_fd ifd(fd);
    if (::inotify_add_watch(fd, dir_.c_str(), IN_MODIFY | IN_CREATE | IN_MOVED_TO | IN_MOVED_FROM | IN_CLOSE_WRITE) <
        0)
        return os_error("inotify_add_watch \"" + dir_ + "\"");
    inotify_ = std::make_unique<asio::posix::stream_descriptor>(io_, ifd.release());
    event_buf_.resize(64 * 1024);
    read_events();
    return {};
}

void LogStore::read_events() {
    inotify_->async_read_some(asio::buffer(event_buf_), [this, alive = alive_](boost::system::error_code ec,
                                                                                std::size_t n) {
        if (ec || !*alive) return;
        std::set<std::string> touched;
        for (size_t off = 0; off + sizeof(inotify_event) <= n;) {
            auto* ev = reinterpret_cast<inotify_event*>(event_buf_.data() + off);
            if (ev->len) touched.insert(ev->name);
            if (ev->mask & IN_Q_OVERFLOW) touched.insert("*");
            off += sizeof(inotify_event) + ev->len;
        }
        for (const auto& name : touched) notify(name);
        read_events();
    });
}

void LogStore::notify(const std::string& file_name) {
    for (auto it = followers_.begin(); it != followers_.end();) {
        const std::string& app = it->first;
        bool match = file_name == "*" || file_name.rfind(app + ".log", 0) == 0;
        auto& list = it->second;
        list.erase(std::remove_if(list.begin(), list.end(), [](const auto& w) { return w.expired(); }), list.end());
        if (match)
            for (auto& w : std::vector<std::weak_ptr<Follower>>(list))
                if (auto f = w.lock()) f->poll();
        if (list.empty())
            it = followers_.erase(it);
        else
            ++it;
    }
}

}  // namespace isolated::logs
