// Presentation helpers for people: aligned tables, human durations and sizes, exit and
// port descriptions, colour. Pure functions over values; nothing here knows the socket.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "isolated/api_types.hpp"

namespace isoctl {

using isolated::WallTime;

enum class Color { none, red, green, yellow, dim, bold };

/// Wraps `text` in the ANSI sequence for `color` when `enabled`.
std::string colorize(std::string_view text, Color color, bool enabled);

/// Colour only when stdout is a terminal, NO_COLOR is unset (https://no-color.org) and
/// TERM is not "dumb".
bool want_color(bool stdout_is_tty, const char* no_color, const char* term);

/// Terminal columns taken by UTF-8 text (one per code point; good enough for names,
/// states and messages).
std::size_t display_width(std::string_view text);

/// `text` cut to `width` columns, ending in "…" when cut. width 0 = no limit.
std::string truncate_text(std::string_view text, std::size_t width);

struct Cell {
    std::string text;
    Color color = Color::none;
    Cell(std::string t = {}, Color c = Color::none) : text(std::move(t)), color(c) {}
    Cell(const char* t) : text(t) {}
};

struct Column {
    std::string header;
    std::size_t max_width = 0;  ///< 0 = no limit; longer cells end in "…"
};

/// Left-aligned columns separated by three spaces (kubectl/docker style), no trailing
/// spaces, colour applied after padding so it never shifts alignment.
class Table {
public:
    explicit Table(std::vector<Column> columns) : columns_(std::move(columns)) {}
    void add_row(std::vector<Cell> row) { rows_.push_back(std::move(row)); }
    std::string render(bool color) const;

private:
    std::vector<Column> columns_;
    std::vector<std::vector<Cell>> rows_;
};

/// "0s", "45s", "119s", "3m", "2h10m", "9h", "47h", "4d": precise when short, coarse
/// when long (kubectl's age style).
std::string human_duration(std::chrono::milliseconds d);

/// "3m ago" for the past, "in 5s" for the future.
std::string relative_time(WallTime t, WallTime now);

/// Local time, "2026-11-23 19:01:02".
std::string format_local_time(WallTime t);

/// Sizes as `docker stats` prints them: "0B", "512B", "12.5MiB", "1.944GiB".
std::string human_bytes(std::uint64_t bytes);

/// By exit_reason(): "exited 0", "killed SIGKILL", "oom-killed", "launch failed",
/// "exec failed", "unknown".
std::string describe_exit(const isolated::ExitInfo& e);

/// "8080->80/tcp", "127.0.0.1:5432->5432/tcp".
std::string format_port(const isolated::PortSpec& p);
/// "8080->80/tcp, 2121->21/tcp"; "" for none.
std::string format_ports(const std::vector<isolated::PortSpec>& ports);

/// CPU limit as the app file writes it: 0.5 -> "50%", 1.5 -> "150%".
std::string format_cpu(double cores);

}  // namespace isoctl
