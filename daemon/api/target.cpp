#include "api/target.hpp"

namespace isolated::api {
namespace {

int hex_value(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

std::vector<std::string_view> split(std::string_view s, char sep) {
    std::vector<std::string_view> parts;
    for (;;) {
        auto pos = s.find(sep);
        parts.push_back(s.substr(0, pos));
        if (pos == std::string_view::npos) return parts;
        s.remove_prefix(pos + 1);
    }
}

}  // namespace

std::optional<std::string> percent_decode(std::string_view s, bool plus_is_space) {
    std::string out;
    out.reserve(s.size());
    for (std::size_t i = 0; i < s.size(); ++i) {
        char c = s[i];
        if (c == '%') {
            if (i + 2 >= s.size()) return std::nullopt;
            int hi = hex_value(s[i + 1]), lo = hex_value(s[i + 2]);
            if (hi < 0 || lo < 0) return std::nullopt;
            c = static_cast<char>(hi * 16 + lo);
            i += 2;
        } else if (c == '+' && plus_is_space) {
            c = ' ';
        }
        if (c == '\0') return std::nullopt;
        out.push_back(c);
    }
    return out;
}

Result<Target> parse_target(std::string_view target) {
    if (target.empty() || target.front() != '/')
        return Error::msg("request target must be a path starting with '/'");
    std::string_view path = target, query;
    if (auto q = target.find('?'); q != std::string_view::npos) {
        path = target.substr(0, q);
        query = target.substr(q + 1);
    }
    if (auto hash = query.find('#'); hash != std::string_view::npos) query = query.substr(0, hash);

    Target t;
    path.remove_prefix(1);
    for (auto raw : split(path, '/')) {
        auto seg = percent_decode(raw, /* plus_is_space= */ false);
        if (!seg) return Error::msg("bad percent-encoding in path");
        t.segments.push_back(std::move(*seg));
    }
    if (query.empty()) return t;
    for (auto raw : split(query, '&')) {
        if (raw.empty()) continue;
        auto eq = raw.find('=');
        auto key = percent_decode(raw.substr(0, eq), /* plus_is_space= */ true);
        auto value = eq == std::string_view::npos ? std::optional<std::string>("")
                                                  : percent_decode(raw.substr(eq + 1), /* plus_is_space= */ true);
        if (!key || !value) return Error::msg("bad percent-encoding in query");
        t.query.push_back({std::move(*key), std::move(*value)});
    }
    return t;
}

}  // namespace isolated::api
