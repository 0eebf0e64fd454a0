// One function per verb; each lives in its own file in this folder. The verb table
// (names, options, help) is in cli.cpp.
#pragma once

#include "cli.hpp"

namespace isoctl::commands {

int status(const Invocation& inv, Context& ctx);
int start(const Invocation& inv, Context& ctx);
int stop(const Invocation& inv, Context& ctx);
int restart(const Invocation& inv, Context& ctx);
int reload(const Invocation& inv, Context& ctx);
int logs(const Invocation& inv, Context& ctx);
int events(const Invocation& inv, Context& ctx);
int validate(const Invocation& inv, Context& ctx);
int version(const Invocation& inv, Context& ctx);
int help(const Invocation& inv, Context& ctx);
int exec(const Invocation& inv, Context& ctx);
int top(const Invocation& inv, Context& ctx);
int inspect(const Invocation& inv, Context& ctx);
int kill(const Invocation& inv, Context& ctx);
int image(const Invocation& inv, Context& ctx);
int export_(const Invocation& inv, Context& ctx);
int import_(const Invocation& inv, Context& ctx);

/// The text of the daemon's settings file, --config FILE (must be readable) else
/// /etc/isolated/isolated.conf ("" when missing): validate and export read its
/// subnet and state dir.
std::string daemon_config(const Invocation& inv);

/// --interval of top and status --watch: a duration ("2s", "500ms") or bare seconds;
/// `fallback` when not given. Throws UsageError naming `verb`.
std::chrono::milliseconds parse_interval(const std::optional<std::string>& text, std::chrono::milliseconds fallback,
                                         const std::string& verb);

}  // namespace isoctl::commands
