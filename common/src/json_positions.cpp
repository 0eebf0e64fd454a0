#include "json_positions.hpp"

#include <algorithm>
#include <cctype>
#include <iterator>

namespace isolated::detail {
namespace {

bool is_blank(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }

// A char iterator that publishes how far the lexer has read. nlohmann's
// iterator_input_adapter copies the iterators it is given and advances its copy, so
// the count lives outside the iterator.
class CountingIterator {
public:
    using iterator_category = std::input_iterator_tag;
    using value_type = char;
    using difference_type = std::ptrdiff_t;
    using pointer = const char*;
    using reference = const char&;

    CountingIterator() = default;
    CountingIterator(const char* begin, const char* p, size_t* consumed) : begin_(begin), p_(p), consumed_(consumed) {}

    reference operator*() const { return *p_; }
    CountingIterator& operator++() {
        ++p_;
        if (consumed_) *consumed_ = static_cast<size_t>(p_ - begin_);
        return *this;
    }
    CountingIterator operator++(int) {
        auto old = *this;
        ++*this;
        return old;
    }
    bool operator==(const CountingIterator& o) const { return p_ == o.p_; }
    bool operator!=(const CountingIterator& o) const { return p_ != o.p_; }

private:
    const char* begin_ = nullptr;
    const char* p_ = nullptr;
    size_t* consumed_ = nullptr;
};

std::string replace_all(std::string s, std::string_view from, std::string_view to) {
    for (size_t at = s.find(from); at != std::string::npos; at = s.find(from, at + to.size()))
        s.replace(at, from.size(), to);
    return s;
}

// The character before OFFSET that is not blank, or '\0'. Comments are not skipped:
// this only feeds hints.
char previous_significant(std::string_view text, size_t offset) {
    while (offset > 0) {
        char c = text[--offset];
        if (!is_blank(c)) return c;
    }
    return '\0';
}

// nlohmann: "[json.exception.parse_error.101] parse error at line 4, column 3: syntax
// error while parsing object key - unexpected '}'; expected string literal"
// us:       "syntax error: trailing comma before '}' (JSON does not allow one)"
// LAST_TOKEN is the raw text of the token the parser stopped at; the error was raised
// after reading up to ERROR_OFFSET.
std::string rewrite_syntax_error(const std::string& what, const std::string& last_token, std::string_view text,
                                 size_t error_offset) {
    std::string context, detail;
    if (auto at = what.find("syntax error "); at != std::string::npos) {
        std::string rest = what.substr(at + 13);
        if (rest.starts_with("while parsing ")) {
            auto dash = rest.find(" - ");
            context = rest.substr(14, dash == std::string::npos ? std::string::npos : dash - 14);
            detail = dash == std::string::npos ? "" : rest.substr(dash + 3);
        } else {
            detail = rest.starts_with("- ") ? rest.substr(2) : rest;
        }
    } else {
        auto colon = what.find(": ");
        detail = colon == std::string::npos ? what : what.substr(colon + 2);
    }

    // Lexer errors: "invalid literal; last read: 'tru'[; expected ...]".
    std::string last_read;
    if (auto lr = detail.find("; last read: '"); lr != std::string::npos) {
        last_read = detail.substr(lr + 14);
        auto end = last_read.rfind("'; expected ");
        if (end == std::string::npos) end = last_read.rfind('\'');
        if (end != std::string::npos) last_read.resize(end);
        detail.resize(lr);
        // The lexer shows control characters as <U+000A>; they only add noise here.
        if (auto u = last_read.find("<U+"); u != std::string::npos) last_read.resize(u);
        if (last_read.size() > 20) last_read = last_read.substr(0, 20) + "...";
    }
    if (detail.starts_with("invalid literal")) {
        // The lexer stops at the first character that cannot continue true/false/null;
        // show the whole word as written.
        auto is_word = [](char c) {
            return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-' || c == '.';
        };
        size_t i = error_offset > 0 ? error_offset - 1 : 0;
        // A lone character that cannot start any JSON token, e.g. ')' for ']'.
        if (i < text.size() && std::ispunct(static_cast<unsigned char>(text[i])) && !is_word(text[i]) &&
            text[i] != '\'' && text[i] != '"')
            return std::string("syntax error: unexpected character '") + text[i] + "'";
        if (i < text.size() && text[i] == '\'') return "syntax error: strings need double quotes, not single quotes";
        if (i > 0 && i < text.size() && !is_word(text[i])) --i;
        size_t start = i, stop = i;
        while (start > 0 && is_word(text[start - 1])) --start;
        while (stop < text.size() && is_word(text[stop])) ++stop;
        std::string word(text.substr(start, stop - start));
        if (word.size() > 20) word = word.substr(0, 20) + "...";
        return "syntax error: invalid literal '" + word +
               "' (strings need double quotes; the literals are true, false and null)";
    }
    if (detail.starts_with("invalid string: control character U+000A") ||
        detail.starts_with("invalid string: control character U+000D"))
        return "syntax error: a string cannot span lines (missing closing quote?)";
    if (detail.starts_with("invalid number")) return "syntax error: " + detail + " in '" + last_read + "'";
    if (detail.starts_with("invalid")) return "syntax error: " + detail;

    // Parser errors: "unexpected X; expected Y".
    std::string unexpected = detail, expected;
    if (auto semi = detail.find("; expected "); semi != std::string::npos) {
        unexpected = detail.substr(0, semi);
        expected = detail.substr(semi + 11);
    }
    if (unexpected.starts_with("unexpected ")) unexpected = unexpected.substr(11);
    auto words = [](std::string s) {
        s = replace_all(s, "'[', '{', or a literal", "a value");
        s = replace_all(s, "string literal", "a string");
        s = replace_all(s, "number literal", "a number");
        s = replace_all(s, "true literal", "true");
        s = replace_all(s, "false literal", "false");
        s = replace_all(s, "null literal", "null");
        s = replace_all(s, "end of input", "end of file");
        return s;
    };
    // The lexer restarts its token text only at strings and numbers; other tokens are
    // one character or a literal word.
    size_t token_length = 1;
    if (unexpected == "string literal" || unexpected == "number literal")
        token_length = last_token.size();
    else if (unexpected == "true literal" || unexpected == "null literal")
        token_length = 4;
    else if (unexpected == "false literal")
        token_length = 5;
    else if (unexpected == "end of input")
        token_length = 0;
    if (unexpected == "string literal" && last_token.size() <= 40)
        unexpected = last_token;  // the string as written, quotes included
    else if (unexpected == "number literal" && last_token.size() <= 40)
        unexpected = "number " + last_token;
    else
        unexpected = words(unexpected);
    if (context == "object" && expected == "'}'")
        expected = "',' or '}'";
    else if (context == "array" && expected == "']'")
        expected = "',' or ']'";
    else if (context == "object key" && expected == "string literal")
        expected = "a field name in double quotes";
    else
        expected = words(expected);

    size_t token_start = error_offset >= token_length ? error_offset - token_length : 0;
    if ((unexpected == "'}'" || unexpected == "']'") && previous_significant(text, token_start) == ',')
        return "syntax error: trailing comma before " + unexpected + " (JSON does not allow one)";
    std::string message = "syntax error: unexpected " + unexpected;
    if (!expected.empty()) message += "; expected " + expected;
    if (expected.starts_with("','") && token_length > 0) {
        // The token after a missing comma is usually on the next line.
        size_t i = token_start;
        while (i > 0 && is_blank(text[i - 1]) && text[i - 1] != '\n') --i;
        if (i > 0 && text[i - 1] == '\n') message += " (missing ',' at the end of the previous line?)";
    }
    return message;
}

class Builder {
public:
    Builder(std::string_view text, const size_t& consumed, const LineIndex& lines, PositionedJson& out)
        : text_(text), consumed_(consumed), lines_(lines), out_(out) {}

    bool null() { return place(nullptr); }
    bool boolean(bool v) { return place(v); }
    bool number_integer(nlohmann::json::number_integer_t v) { return place(v); }
    bool number_unsigned(nlohmann::json::number_unsigned_t v) { return place(v); }
    bool number_float(nlohmann::json::number_float_t v, const std::string&) { return place(v); }
    bool string(std::string& v) { return place(std::move(v)); }
    bool binary(nlohmann::json::binary_t&) { return true; }  // not produced by the JSON lexer

    bool start_object(size_t) {
        json* slot = place_slot(nlohmann::json::object());
        stack_.push_back({slot, current_path_, 0});
        return true;
    }
    bool end_object() {
        stack_.pop_back();
        return true;
    }
    bool start_array(size_t) {
        json* slot = place_slot(nlohmann::json::array());
        stack_.push_back({slot, current_path_, 0});
        return true;
    }
    bool end_array() {
        stack_.pop_back();
        return true;
    }
    bool key(std::string& k) {
        Frame& top = stack_.back();
        std::string path = member_path(top.path, k);
        int line = here();
        if (top.container->contains(k)) {
            out_.duplicates.push_back({path, line, out_.lines[path]});
            // the last one wins, as in nlohmann's own DOM parser; drop the old value's lines
            for (auto it = out_.lines.lower_bound(path); it != out_.lines.end() && it->first.starts_with(path);) {
                char next = it->first.size() == path.size() ? '\0' : it->first[path.size()];
                if (next == '\0' || next == '.' || next == '[')
                    it = out_.lines.erase(it);
                else
                    ++it;
            }
        }
        out_.lines[path] = line;
        pending_key_ = std::move(k);
        pending_path_ = std::move(path);
        return true;
    }
    bool parse_error(size_t position, const std::string& last_token, const nlohmann::detail::exception& ex) {
        // position counts the characters the lexer read, up to the one it stopped at
        size_t offset = std::min(position, text_.size());
        std::string message = rewrite_syntax_error(ex.what(), last_token, text_, offset);
        int line = lines_.line_before(offset);
        if (message.find("missing closing '*/'") != std::string::npos) {
            // the lexer ran to the end of the file: point at where the comment opened
            if (auto open = text_.rfind("/*", offset); open != std::string_view::npos) line = lines_.line_at(open);
        }
        if (text_.find_first_not_of(" \t\r\n") == std::string_view::npos) {
            message = "syntax error: the file is empty (an app needs at least {\"command\": [...]})";
            line = 1;
        }
        out_.syntax_error = SyntaxError{line, std::move(message)};
        return false;
    }

private:
    using json = nlohmann::json;
    struct Frame {
        json* container;
        std::string path;
        size_t next_index;
    };

    int here() const { return lines_.line_before(consumed_); }

    json* place_slot(json&& v) {
        if (stack_.empty()) {
            out_.value = std::move(v);
            current_path_.clear();
            out_.lines[current_path_] = here();
            return &out_.value;
        }
        Frame& top = stack_.back();
        if (top.container->is_object()) {
            current_path_ = pending_path_;
            json& slot = (*top.container)[pending_key_];
            slot = std::move(v);
            return &slot;
        }
        current_path_ = element_path(top.path, top.next_index++);
        out_.lines[current_path_] = here();
        top.container->push_back(std::move(v));
        return &top.container->back();
    }
    bool place(json&& v) {
        place_slot(std::move(v));
        return true;
    }

    std::string_view text_;
    const size_t& consumed_;
    const LineIndex& lines_;
    PositionedJson& out_;
    std::vector<Frame> stack_;
    std::string pending_key_, pending_path_, current_path_;
};

}  // namespace

LineIndex::LineIndex(std::string_view text) : text_(text) {
    line_starts_.push_back(0);
    for (size_t i = 0; i < text.size(); ++i)
        if (text[i] == '\n') line_starts_.push_back(i + 1);
}

int LineIndex::line_at(size_t offset) const {
    auto it = std::upper_bound(line_starts_.begin(), line_starts_.end(), offset);
    return static_cast<int>(it - line_starts_.begin());
}

int LineIndex::line_before(size_t end) const {
    end = std::min(end, text_.size());
    while (end > 0 && is_blank(text_[end - 1])) --end;
    return end == 0 ? 1 : line_at(end - 1);
}

PositionedJson parse_positioned(std::string_view text) {
    PositionedJson out;
    LineIndex lines(text);
    size_t consumed = 0;
    Builder builder(text, consumed, lines, out);
    const char* b = text.data();
    nlohmann::json::sax_parse(CountingIterator(b, b, &consumed), CountingIterator(b, b + text.size(), nullptr),
                              &builder, nlohmann::json::input_format_t::json, /*strict=*/true,
                              /*ignore_comments=*/true);
    return out;
}

std::string member_path(const std::string& parent, std::string_view key) {
    if (parent.empty()) return std::string(key);
    std::string p = parent;
    p += '.';
    p += key;
    return p;
}

std::string element_path(const std::string& parent, size_t index) { return parent + "[" + std::to_string(index) + "]"; }

}  // namespace isolated::detail
