// The text of an "envFile" (isolated.app(5)): systemd's EnvironmentFile= syntax, parsed
// as systemd's parse_env_file does (src/basic/env-file.c), except where systemd logs a
// line and goes on: there this parser fails with the line's number (DECISIONS.md,
// "Secrets, signals, hooks (issue 16)"). Pure: no files, no syscalls; the daemon reads
// the file (daemon/sandbox/start_files.hpp).
//
// Error messages name a line and what is wrong with it, never the line's text: a value
// is a secret, and a line without "=" may be nothing but one.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "isolated/result.hpp"

namespace isolated {

/// NAME=value pairs in the order they were written (a later one wins).
using EnvList = std::vector<std::pair<std::string, std::string>>;

/// The most an envFile may hold: it is hostile input read at every start.
inline constexpr std::size_t env_file_max_bytes = 1u << 20;
/// The kernel's limit for one "NAME=value" string of an environment (MAX_ARG_STRLEN,
/// 32 pages of 4 KiB, with its NUL): a longer one fails the app's exec with E2BIG.
inline constexpr std::size_t env_string_max_bytes = 128u * 1024u;

/// Parses TEXT:
///   - NAME=VALUE lines; blanks around NAME and before VALUE, and at the end of an
///     unquoted VALUE, are dropped; "NAME=" is the empty value;
///   - lines whose first non-blank character is "#" or ";" are comments (elsewhere
///     they are part of the value: "A=b # c" is "b # c");
///   - 'single quotes' keep everything up to the next quote; "double quotes" take
///     \" \\ \` \$ as escapes and keep any other backslash; an unquoted backslash
///     escapes the next character; a backslash before a line end joins the lines;
///   - quoted and unquoted parts run together ("A='x'y" is "xy"), a quoted value may
///     span lines;
///   - CRLF line ends read as LF.
/// Fails with "line N: ..." on a line without "=", a name that is not
/// [A-Za-z_][A-Za-z0-9_]*, a quote left open at the end, invalid UTF-8, a NUL byte,
/// a control character other than tab and newline in a value, or a NAME=value longer
/// than env_string_max_bytes.
Result<EnvList> parse_env_file(std::string_view text);

}  // namespace isolated
