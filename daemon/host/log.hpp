// The daemon's own log. Under systemd (JOURNAL_STREAM set) lines carry sd-daemon
// priority prefixes ("<6>") so journald records the level; otherwise they are
// timestamped lines on stderr. Structured journald fields come with the systemd work.
#pragma once

#include <string>
#include <string_view>

namespace isolated::host {

enum class LogLevel { debug, info, warning, error };
std::string to_string(LogLevel);
bool log_level_from_string(std::string_view s, LogLevel& out);

void set_log_level(LogLevel level);
LogLevel log_level();

/// One line: "[app] message" when app is not empty.
void log(LogLevel level, std::string_view app, std::string_view message);

inline void log_debug(std::string_view app, std::string_view m) { log(LogLevel::debug, app, m); }
inline void log_info(std::string_view app, std::string_view m) { log(LogLevel::info, app, m); }
inline void log_warning(std::string_view app, std::string_view m) { log(LogLevel::warning, app, m); }
inline void log_error(std::string_view app, std::string_view m) { log(LogLevel::error, app, m); }

}  // namespace isolated::host
