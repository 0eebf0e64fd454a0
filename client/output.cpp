#include "output.hpp"

#include <cmath>
#include <cstdio>
#include <ctime>

#include "isolated/units.hpp"

namespace isoctl {

std::string colorize(std::string_view text, Color color, bool enabled) {
    if (!enabled || color == Color::none || text.empty()) return std::string(text);
    const char* code = "";
    switch (color) {
        case Color::red: code = "31"; break;
        case Color::green: code = "32"; break;
        case Color::yellow: code = "33"; break;
        case Color::dim: code = "2"; break;
        case Color::bold: code = "1"; break;
        case Color::none: break;
    }
    return std::string("\x1b[") + code + "m" + std::string(text) + "\x1b[0m";
}

bool want_color(bool stdout_is_tty, const char* no_color, const char* term) {
    if (!stdout_is_tty) return false;
    if (no_color && *no_color) return false;
    if (term && std::string_view(term) == "dumb") return false;
    return true;
}

std::size_t display_width(std::string_view text) {
    std::size_t n = 0;
    for (unsigned char c : text)
        if ((c & 0xC0) != 0x80) ++n;
    return n;
}

std::string truncate_text(std::string_view text, std::size_t width) {
    if (width == 0 || display_width(text) <= width) return std::string(text);
    // Keep width-1 code points, then the ellipsis.
    std::size_t keep = width - 1, points = 0, i = 0;
    for (; i < text.size(); ++i) {
        if ((static_cast<unsigned char>(text[i]) & 0xC0) != 0x80) {
            if (points == keep) break;
            ++points;
        }
    }
    return std::string(text.substr(0, i)) + "…";
}

std::string Table::render(bool color) const {
    const std::size_t ncols = columns_.size();
    std::vector<std::vector<std::string>> cells;
    cells.reserve(rows_.size());
    std::vector<std::size_t> width(ncols, 0);
    for (std::size_t c = 0; c < ncols; ++c) width[c] = display_width(columns_[c].header);
    for (const auto& row : rows_) {
        std::vector<std::string> texts(ncols);
        for (std::size_t c = 0; c < ncols && c < row.size(); ++c) {
            texts[c] = truncate_text(row[c].text, columns_[c].max_width);
            width[c] = std::max(width[c], display_width(texts[c]));
        }
        cells.push_back(std::move(texts));
    }
    std::string out;
    auto emit = [&](const std::vector<std::string>& texts, const std::vector<Cell>* row) {
        std::string line;
        std::size_t pending = 0;  // padding owed before the next non-empty cell
        for (std::size_t c = 0; c < ncols; ++c) {
            const std::string& t = texts[c];
            if (c > 0) pending += 3;
            if (!t.empty()) {
                line.append(pending, ' ');
                pending = 0;
                Color col = row && c < row->size() ? (*row)[c].color : Color::none;
                line += colorize(t, col, color);
            }
            pending += width[c] - display_width(t);
        }
        out += line;
        out += '\n';
    };
    std::vector<std::string> headers;
    for (const auto& col : columns_) headers.push_back(col.header);
    emit(headers, nullptr);
    for (std::size_t r = 0; r < rows_.size(); ++r) emit(cells[r], &rows_[r]);
    return out;
}

std::string human_duration(std::chrono::milliseconds d) {
    using std::to_string;
    long long s = std::chrono::duration_cast<std::chrono::seconds>(d).count();
    if (s < 0) s = 0;
    if (s < 120) return to_string(s) + "s";
    long long m = s / 60;
    if (m < 60) return to_string(m) + "m";
    long long h = m / 60;
    if (h < 10) return m % 60 ? to_string(h) + "h" + to_string(m % 60) + "m" : to_string(h) + "h";
    if (h < 48) return to_string(h) + "h";
    return to_string(h / 24) + "d";
}

std::string relative_time(WallTime t, WallTime now) {
    using namespace std::chrono;
    if (t > now + seconds(1)) return "in " + human_duration(duration_cast<milliseconds>(t - now));
    return human_duration(duration_cast<milliseconds>(now - t)) + " ago";
}

std::string format_local_time(WallTime t) {
    std::time_t secs = std::chrono::system_clock::to_time_t(t);
    std::tm tm{};
    localtime_r(&secs, &tm);
    char buf[32];
    std::strftime(buf, sizeof buf, "%Y-%m-%d %H:%M:%S", &tm);
    return buf;
}

std::string human_bytes(std::uint64_t bytes) {
    static const char* units[] = {"B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"};
    double v = static_cast<double>(bytes);
    int u = 0;
    while (v >= 1024.0 && u < 6) {
        v /= 1024.0;
        ++u;
    }
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.4g%s", v, units[u]);
    return buf;
}

std::string describe_exit(const isolated::ExitInfo& e) {
    auto reason = isolated::exit_reason(e);
    if (reason == "oomKilled") return "oom-killed";
    if (reason == "launchFailed") return "launch failed";
    if (reason == "execFailed") return "exec failed";
    if (reason == "unknown") return "unknown";
    if (reason == "killed") return "killed " + isolated::signal_name(e.signal);
    return "exited " + std::to_string(e.code);
}

std::string format_port(const isolated::PortSpec& p) {
    std::string s;
    if (!p.host_address.empty()) s = p.host_address + ":";
    s += std::to_string(p.host) + "->" + std::to_string(p.app);
    s += p.protocol == isolated::Protocol::udp ? "/udp" : "/tcp";
    return s;
}

std::string format_ports(const std::vector<isolated::PortSpec>& ports) {
    std::string s;
    for (const auto& p : ports) {
        if (!s.empty()) s += ", ";
        s += format_port(p);
    }
    return s;
}

std::string format_cpu(double cores) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%g%%", std::round(cores * 1000.0) / 10.0);
    return buf;
}

}  // namespace isoctl
