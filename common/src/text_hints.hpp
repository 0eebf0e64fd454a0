// Private to common/: small text helpers for diagnostics.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace isolated::detail {

/// S as a JSON string literal, cut to a readable length: "\"12Q\"".
std::string quote(std::string_view s);

/// Edit distance (bytes): insertions, deletions, substitutions and swaps of neighbours.
size_t edit_distance(std::string_view a, std::string_view b);

/// The candidate WORD most likely meant: equal ignoring case, else the nearest within an
/// edit distance of 2 -- 1 for words under 6 characters -- (the first one on ties).
/// nullopt when none is close.
template <typename Range>
std::optional<std::string> closest(std::string_view word, const Range& candidates);

/// How a string given where a list of strings belongs should be written: its words,
/// split on whitespace as a shell would split plain words ("/bin/sleep 100" ->
/// ["/bin/sleep", "100"]). With COMMAND, a string that needs a shell to mean what it
/// says (quotes, pipes, $VARS, globs, redirections) becomes ["/bin/sh", "-c", S]
/// instead, since splitting it would change its meaning. "" when S has no words.
std::string array_hint(std::string_view s, bool command);

std::optional<std::string> closest_of(std::string_view word, const std::vector<std::string_view>& candidates);

template <typename Range>
std::optional<std::string> closest(std::string_view word, const Range& candidates) {
    std::vector<std::string_view> views;
    for (const auto& c : candidates) views.emplace_back(c);
    return closest_of(word, views);
}

}  // namespace isolated::detail
