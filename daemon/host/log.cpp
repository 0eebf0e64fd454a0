#include "host/log.hpp"

#include <sys/stat.h>
#include <sys/uio.h>
#include <systemd/sd-journal.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>

#include "isolated/units.hpp"

namespace isolated::host {
namespace {

LogLevel g_level = LogLevel::info;

int syslog_priority(LogLevel l) {
    switch (l) {
        case LogLevel::debug: return 7;
        case LogLevel::info: return 6;
        case LogLevel::warning: return 4;
        case LogLevel::error: return 3;
    }
    return 6;
}

// systemd connects stderr to the journal and says so in JOURNAL_STREAM=<dev>:<ino>;
// when stderr is still that stream (not redirected), messages go to the journal as
// structured entries (sd_journal_send) instead of text lines.
bool journal_stream() {
    static const bool on = [] {
        const char* js = std::getenv("JOURNAL_STREAM");
        if (!js) return false;
        struct stat st;
        if (::fstat(STDERR_FILENO, &st) < 0) return false;
        unsigned long long dev = 0, ino = 0;
        if (std::sscanf(js, "%llu:%llu", &dev, &ino) != 2) return false;
        return dev == static_cast<unsigned long long>(st.st_dev) && ino == static_cast<unsigned long long>(st.st_ino);
    }();
    return on;
}

}  // namespace

std::string to_string(LogLevel l) {
    switch (l) {
        case LogLevel::debug: return "debug";
        case LogLevel::info: return "info";
        case LogLevel::warning: return "warning";
        case LogLevel::error: return "error";
    }
    return "info";
}

bool log_level_from_string(std::string_view s, LogLevel& out) {
    for (auto l : {LogLevel::debug, LogLevel::info, LogLevel::warning, LogLevel::error})
        if (to_string(l) == s) {
            out = l;
            return true;
        }
    return false;
}

void set_log_level(LogLevel level) { g_level = level; }
LogLevel log_level() { return g_level; }

void log(LogLevel level, std::string_view app, std::string_view message) {
    if (level < g_level) return;
    if (journal_stream()) {
        // MESSAGE keeps the "[app] " prefix so plain `journalctl -u isolated` reads well;
        // ISOLATED_APP= selects an app's daemon messages (and, with the journald log
        // driver, its output too).
        std::string fields[] = {
            "MESSAGE=" + (app.empty() ? std::string(message) : "[" + std::string(app) + "] " + std::string(message)),
            "PRIORITY=" + std::to_string(syslog_priority(level)), "SYSLOG_IDENTIFIER=isolated",
            "ISOLATED_APP=" + std::string(app)};
        iovec iov[4];
        for (int i = 0; i < 4; ++i) iov[i] = {fields[i].data(), fields[i].size()};
        sd_journal_sendv(iov, app.empty() ? 3 : 4);
        return;
    }
    std::string line = format_rfc3339(std::chrono::system_clock::now()) + " " + to_string(level) + " ";
    if (!app.empty()) {
        line += "[";
        line += app;
        line += "] ";
    }
    line += message;
    line += "\n";
    // One write per line so concurrent writers (none today) do not interleave.
    (void)!::write(STDERR_FILENO, line.data(), line.size());
}

}  // namespace isolated::host
