// systemd's EnvironmentFile= syntax (env_file.hpp). The state machine is systemd's
// parse_env_file_internal (src/basic/env-file.c), state for state, so that a file
// that works in a unit works here; what systemd skips with a log line fails here.
#include "isolated/env_file.hpp"

#include <algorithm>
#include <cstdint>

namespace isolated {
namespace {

constexpr std::string_view kWhitespace = " \t\n\r";
constexpr std::string_view kNewline = "\n\r";
constexpr std::string_view kComments = "#;";
/// Inside double quotes a backslash before one of these is dropped (as in sh).
constexpr std::string_view kShellNeedEscape = "\"\\`$";

bool in(std::string_view set, char c) { return set.find(c) != std::string_view::npos; }

bool is_name(std::string_view s) {
    auto alpha = [](char c) { return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || c == '_'; };
    if (s.empty() || !alpha(s[0])) return false;
    return std::all_of(s.begin(), s.end(), [&](char c) { return alpha(c) || (c >= '0' && c <= '9'); });
}

bool valid_utf8(std::string_view s) {
    for (std::size_t i = 0; i < s.size();) {
        auto c = static_cast<unsigned char>(s[i]);
        std::size_t n;  // continuation bytes
        std::uint32_t cp;
        if (c < 0x80) {
            ++i;
            continue;
        } else if ((c & 0xE0) == 0xC0) {
            n = 1, cp = c & 0x1F;
        } else if ((c & 0xF0) == 0xE0) {
            n = 2, cp = c & 0x0F;
        } else if ((c & 0xF8) == 0xF0) {
            n = 3, cp = c & 0x07;
        } else {
            return false;
        }
        if (s.size() - i <= n) return false;
        for (std::size_t k = 1; k <= n; ++k) {
            auto cc = static_cast<unsigned char>(s[i + k]);
            if ((cc & 0xC0) != 0x80) return false;
            cp = (cp << 6) | (cc & 0x3F);
        }
        // No overlong forms, no surrogates, nothing past U+10FFFF.
        static constexpr std::uint32_t min_of[] = {0, 0x80, 0x800, 0x10000};
        if (cp < min_of[n] || (cp >= 0xD800 && cp <= 0xDFFF) || cp > 0x10FFFF) return false;
        i += n + 1;
    }
    return true;
}

bool has_control(std::string_view s) {
    return std::any_of(s.begin(), s.end(), [](char ch) {
        auto c = static_cast<unsigned char>(ch);
        return (c < 0x20 && c != '\t' && c != '\n') || c == 0x7F;
    });
}

Error at_line(int line, const std::string& what) { return Error::msg("line " + std::to_string(line) + ": " + what); }

}  // namespace

Result<EnvList> parse_env_file(std::string_view raw) {
    // CRLF reads as LF: a file saved by a Windows editor means what it shows (systemd
    // would keep the CR of a quoted multi-line value and break a continuation line).
    std::string text;
    text.reserve(raw.size());
    int nul_line = 1;
    for (std::size_t i = 0; i < raw.size(); ++i) {
        char c = raw[i];
        if (c == '\0') return at_line(nul_line, "holds a NUL byte (an envFile is text)");
        if (c == '\n') ++nul_line;
        if (c == '\r' && i + 1 < raw.size() && raw[i + 1] == '\n') continue;
        text.push_back(c);
    }

    enum class S {
        pre_key,
        key,
        pre_value,
        value,
        value_escape,
        single_quote,
        double_quote,
        double_quote_escape,
        comment
    } state = S::pre_key;

    EnvList out;
    std::string key, value;
    constexpr std::size_t none = std::string::npos;
    std::size_t last_key_ws = none, last_value_ws = none;
    int line = 1, key_line = 1, quote_line = 1;

    // One assignment is complete: trim, check, keep. Nothing of the line is quoted in an
    // error but a name that passed the check.
    auto push = [&](bool chomp_value) -> Status {
        if (last_key_ws != none) key.resize(last_key_ws);
        if (chomp_value && last_value_ws != none) value.resize(last_value_ws);
        if (!is_name(key))
            return at_line(key_line, "the name before \"=\" is not a valid variable name (letters, digits and \"_\", "
                                     "not starting with a digit)");
        if (!valid_utf8(value)) return at_line(key_line, "the value of " + key + " is not valid UTF-8");
        if (has_control(value))
            return at_line(key_line, "the value of " + key +
                                         " holds a control character (of those only tab and newline may appear)");
        if (key.size() + 1 + value.size() + 1 > env_string_max_bytes)
            return at_line(key_line, key + "=... is longer than 128 KiB, the kernel's limit for one variable");
        out.emplace_back(std::move(key), std::move(value));
        key.clear();
        value.clear();
        last_key_ws = last_value_ws = none;
        return {};
    };
    auto no_equals = [&] { return at_line(key_line, "no \"=\" (each line is NAME=VALUE, a comment or blank)"); };

    for (char c : text) {
        switch (state) {
            case S::pre_key:
                if (in(kComments, c)) {
                    state = S::comment;
                } else if (c == '=') {
                    // "=value": no name at all (systemd would read "=value" as a name).
                    key_line = line;
                    state = S::pre_value;
                    last_value_ws = none;
                } else if (!in(kWhitespace, c)) {
                    state = S::key;
                    key_line = line;
                    last_key_ws = none;
                    key.push_back(c);
                }
                break;
            case S::key:
                if (in(kNewline, c)) {
                    return no_equals();
                } else if (c == '=') {
                    state = S::pre_value;
                    last_value_ws = none;
                } else {
                    if (!in(kWhitespace, c))
                        last_key_ws = none;
                    else if (last_key_ws == none)
                        last_key_ws = key.size();
                    key.push_back(c);
                }
                break;
            case S::pre_value:
                if (in(kNewline, c)) {
                    state = S::pre_key;
                    if (auto st = push(false); !st) return st.error();
                } else if (c == '\'') {
                    state = S::single_quote;
                    quote_line = line;
                } else if (c == '"') {
                    state = S::double_quote;
                    quote_line = line;
                } else if (c == '\\') {
                    state = S::value_escape;
                } else if (!in(kWhitespace, c)) {
                    state = S::value;
                    value.push_back(c);
                }
                break;
            case S::value:
                if (in(kNewline, c)) {
                    state = S::pre_key;
                    if (auto st = push(true); !st) return st.error();
                } else if (c == '\\') {
                    state = S::value_escape;
                    last_value_ws = none;
                } else {
                    if (!in(kWhitespace, c))
                        last_value_ws = none;
                    else if (last_value_ws == none)
                        last_value_ws = value.size();
                    value.push_back(c);
                }
                break;
            case S::value_escape:
                // A backslash before a line end joins the lines; before anything else
                // it keeps that character (a trailing blank too).
                state = S::value;
                if (!in(kNewline, c)) value.push_back(c);
                break;
            case S::single_quote:
                if (c == '\'')
                    state = S::pre_value;
                else
                    value.push_back(c);
                break;
            case S::double_quote:
                if (c == '"')
                    state = S::pre_value;
                else if (c == '\\')
                    state = S::double_quote_escape;
                else
                    value.push_back(c);
                break;
            case S::double_quote_escape:
                state = S::double_quote;
                if (in(kShellNeedEscape, c)) {
                    value.push_back(c);
                } else if (c != '\n') {
                    value.push_back('\\');
                    value.push_back(c);
                }
                break;
            case S::comment:
                // systemd >= 254: a backslash at a comment's end continues nothing.
                if (in(kNewline, c)) state = S::pre_key;
                break;
        }
        if (in(kNewline, c)) ++line;
    }

    switch (state) {
        case S::pre_key:
        case S::comment: break;
        case S::key: return no_equals();
        case S::single_quote:
        case S::double_quote:
        case S::double_quote_escape:
            return at_line(quote_line, "a quote opened here is never closed");
        case S::pre_value:
        case S::value_escape:
            if (auto st = push(false); !st) return st.error();
            break;
        case S::value:
            if (auto st = push(true); !st) return st.error();
            break;
    }
    return out;
}

}  // namespace isolated
