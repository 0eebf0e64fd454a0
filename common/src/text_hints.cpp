#include "text_hints.hpp"

#include <algorithm>
#include <cctype>

#include <nlohmann/json.hpp>

namespace isolated::detail {

std::string quote(std::string_view s) {
    constexpr size_t kMax = 80;
    std::string cut(s);
    bool truncated = false;
    if (cut.size() > kMax) {
        size_t n = kMax;
        while (n > 0 && (static_cast<unsigned char>(cut[n]) & 0xC0) == 0x80) --n;  // not inside a UTF-8 sequence
        cut.resize(n);
        truncated = true;
    }
    std::string out = nlohmann::json(cut).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
    if (truncated) out.insert(out.size() - 1, "...");
    return out;
}

size_t edit_distance(std::string_view a, std::string_view b) {
    // Optimal string alignment: Levenshtein plus adjacent transpositions ("hots" -> "host" is 1).
    std::vector<std::vector<size_t>> d(a.size() + 1, std::vector<size_t>(b.size() + 1));
    for (size_t i = 0; i <= a.size(); ++i) d[i][0] = i;
    for (size_t j = 0; j <= b.size(); ++j) d[0][j] = j;
    for (size_t i = 1; i <= a.size(); ++i) {
        for (size_t j = 1; j <= b.size(); ++j) {
            size_t cost = a[i - 1] == b[j - 1] ? 0 : 1;
            d[i][j] = std::min({d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + cost});
            if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1])
                d[i][j] = std::min(d[i][j], d[i - 2][j - 2] + 1);
        }
    }
    return d[a.size()][b.size()];
}

std::string array_hint(std::string_view s, bool command) {
    auto shell_only = [](char c) { return std::string_view("|&;<>()$`\\\"'*?[#~").find(c) != std::string_view::npos; };
    std::vector<std::string_view> words;
    for (size_t i = 0; i < s.size();) {
        while (i < s.size() && std::isspace(static_cast<unsigned char>(s[i]))) ++i;
        size_t start = i;
        while (i < s.size() && !std::isspace(static_cast<unsigned char>(s[i]))) ++i;
        if (i > start) words.push_back(s.substr(start, i - start));
    }
    if (words.empty()) return "";
    if (command && words.size() > 1 && std::any_of(s.begin(), s.end(), shell_only))
        return "[\"/bin/sh\", \"-c\", " + quote(s) + "]";
    std::string out = "[";
    for (size_t i = 0; i < words.size(); ++i) out += (i ? ", " : "") + quote(words[i]);
    return out + "]";
}

std::optional<std::string> closest_of(std::string_view word, const std::vector<std::string_view>& candidates) {
    auto lower = [](std::string_view s) {
        std::string out(s);
        for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
        return out;
    };
    std::string lw = lower(word);
    for (auto c : candidates)
        if (lower(c) == lw) return std::string(c);
    // At most 2 edits, and fewer for short words: "host" is not a typo of "port".
    std::optional<std::string> best;
    size_t best_distance = std::min<size_t>(2, std::max<size_t>(1, word.size() / 3)) + 1;
    for (auto c : candidates) {
        size_t d = edit_distance(word, c);
        if (d < best_distance) {
            best_distance = d;
            best = std::string(c);
        }
    }
    return best;
}

}  // namespace isolated::detail
