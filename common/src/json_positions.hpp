// Private to common/: JSON text -> nlohmann::json plus the line of every field.
//
// nlohmann reports no positions for keys or values, so the text is fed to its SAX
// parser through an iterator that counts what the lexer consumed; at each SAX event the
// line of the last non-blank character consumed is where that key or value was written.
// (The lexer reads one character past a number; that character may be a newline,
// hence "last non-blank".)
#pragma once

#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

namespace isolated::detail {

/// Offsets to 1-based lines.
class LineIndex {
public:
    explicit LineIndex(std::string_view text);
    /// The line of the character at OFFSET (clamped to the text).
    int line_at(size_t offset) const;
    /// The line of the last character before END that is not blank; 1 if there is none.
    int line_before(size_t end) const;

private:
    std::string_view text_;
    std::vector<size_t> line_starts_;
};

struct DuplicateKey {
    std::string field;  ///< path of the key given twice
    int line = 0;       ///< where it was given again
    int first_line = 0;
};

struct SyntaxError {
    int line = 0;
    std::string message;  ///< "syntax error: ..." in our words
};

struct PositionedJson {
    nlohmann::json value;                  ///< valid when !syntax_error
    std::map<std::string, int> lines;      ///< "resources.memory" -> 7, "command[2]" -> 3, "" -> root
    std::vector<DuplicateKey> duplicates;  ///< keys given twice in one object (the last one wins)
    std::optional<SyntaxError> syntax_error;
};

/// Parses TEXT (comments allowed). Paths: "a.b" for members, "a[3]" for elements.
PositionedJson parse_positioned(std::string_view text);

/// "a" + "b" -> "a.b"; "" + "b" -> "b".
std::string member_path(const std::string& parent, std::string_view key);
/// "a" + 3 -> "a[3]".
std::string element_path(const std::string& parent, size_t index);

}  // namespace isolated::detail
