// Parsing and formatting of the value syntaxes used in app files and settings:
// durations ("500ms", "10s", "5m", "1h"), sizes ("512K", "512M", "2G", 1024-based as in
// systemd; plain integers are bytes), CPU ("50%" of one core, or 1.5 cores) and signals.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace isolated {

using Duration = std::chrono::milliseconds;

/// "500ms", "10s", "5m", "1h", "1m30s", "0s". No sign, no bare numbers.
std::optional<Duration> parse_duration(std::string_view s);
/// Shortest exact form: 1500ms -> "1500ms", 90000ms -> "90s", 3600000 -> "1h".
std::string format_duration(Duration d);

/// "512K", "512M", "2G", "1T", "4096" (bytes); suffixes K/M/G/T (1024-based),
/// optionally followed by "B", "i" or "iB" ("512MiB", Kubernetes' "512Mi"). Overflow is an error.
std::optional<std::uint64_t> parse_size(std::string_view s);
/// Largest exact unit: 536870912 -> "512M", 1000 -> "1000".
std::string format_size(std::uint64_t bytes);

/// CPU given as a string "50%" (of one core) or as a number of cores; returns cores.
std::optional<double> parse_cpu_percent(std::string_view s);

/// "SIGTERM", "TERM", "15" -> 15. Only signals an app may be stopped with.
std::optional<int> parse_signal(std::string_view s);
/// 9 -> "SIGKILL"; unknown numbers -> "SIG<n>".
std::string signal_name(int sig);
/// Why `text` is not a signal, with a hint: `"hup" is not a signal (did you mean
/// "HUP"?)`, else the forms that are. One wording for the app file's stop.signal and
/// the signal endpoint (POST /v1/apps/{name}/signal).
std::string signal_error(std::string_view text);

/// RFC 3339 UTC with milliseconds: "2026-11-23T19:01:02.123Z".
std::string format_rfc3339(std::chrono::system_clock::time_point t);

}  // namespace isolated
