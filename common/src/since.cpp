#include "isolated/since.hpp"

#include <charconv>
#include <cstdint>
#include <string>

#include "isolated/api_json.hpp"
#include "isolated/units.hpp"

namespace isolated {

namespace {

bool all_digits(std::string_view s) { return !s.empty() && s.find_first_not_of("0123456789") == std::string_view::npos; }

/// "YYYY-MM-DDTHH:MM:SS[.fff](Z|+HH:MM|-HH:MM)"; "t" and a space are taken for "T".
std::optional<WallTime> parse_rfc3339_any_offset(std::string_view s) {
    if (s.size() < 20) return std::nullopt;
    std::string text(s);
    if (text[10] == 't' || text[10] == ' ') text[10] = 'T';
    if (text.back() == 'Z' || text.back() == 'z') return parse_rfc3339(text);
    // A numeric offset: parse as UTC, then take the offset off.
    if (text.size() < 25) return std::nullopt;
    std::string_view off = std::string_view(text).substr(text.size() - 6);
    if ((off[0] != '+' && off[0] != '-') || off[3] != ':' || !all_digits(off.substr(1, 2)) ||
        !all_digits(off.substr(4, 2)))
        return std::nullopt;
    int hours = (off[1] - '0') * 10 + (off[2] - '0');
    int minutes = (off[4] - '0') * 10 + (off[5] - '0');
    if (hours > 23 || minutes > 59) return std::nullopt;
    auto base = parse_rfc3339(text.substr(0, text.size() - 6) + "Z");
    if (!base) return std::nullopt;
    auto offset = std::chrono::hours(hours) + std::chrono::minutes(minutes);
    return off[0] == '+' ? *base - offset : *base + offset;
}

}  // namespace

std::optional<WallTime> parse_since(std::string_view text, WallTime now) {
    if (text.empty()) return std::nullopt;
    // Unix seconds, with an optional fraction (docker's API form).
    if (auto dot = text.find('.'); all_digits(text.substr(0, dot)) &&
                                   (dot == std::string_view::npos || all_digits(text.substr(dot + 1)))) {
        // Whole seconds and the fraction apart: a double would round .003 to .0030000002.
        std::int64_t seconds = 0;
        std::string_view whole = text.substr(0, dot);
        auto [end, ec] = std::from_chars(whole.data(), whole.data() + whole.size(), seconds);
        if (ec != std::errc() || end != whole.data() + whole.size()) return std::nullopt;
        std::int64_t nanos = 0;
        if (dot != std::string_view::npos) {
            std::string_view frac = text.substr(dot + 1);
            for (std::size_t i = 0; i < 9; ++i) nanos = nanos * 10 + (i < frac.size() ? frac[i] - '0' : 0);
        }
        return WallTime(std::chrono::duration_cast<WallTime::duration>(std::chrono::seconds(seconds) +
                                                                       std::chrono::nanoseconds(nanos)));
    }
    if (auto d = parse_duration(text)) return now - std::chrono::duration_cast<WallTime::duration>(*d);
    return parse_rfc3339_any_offset(text);
}

}  // namespace isolated
