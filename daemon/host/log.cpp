#include "host/log.hpp"

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

bool journal_stream() {
    static const bool on = std::getenv("JOURNAL_STREAM") != nullptr;
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
    std::string line;
    if (journal_stream()) {
        line = "<" + std::to_string(syslog_priority(level)) + ">";
    } else {
        line = format_rfc3339(std::chrono::system_clock::now()) + " " + to_string(level) + " ";
    }
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
