// --interval of isoctl top and isoctl status --watch.
#include "commands/commands.hpp"
#include "isolated/units.hpp"

namespace isoctl::commands {

std::chrono::milliseconds parse_interval(const std::optional<std::string>& text, std::chrono::milliseconds fallback,
                                         const std::string& verb) {
    if (!text) return fallback;
    std::optional<std::chrono::milliseconds> d;
    if (!text->empty() && text->find_first_not_of("0123456789") == std::string::npos)
        d = isolated::parse_duration(*text + "s");  // a bare number is seconds, as for top -d and watch -n
    else
        d = isolated::parse_duration(*text);
    if (!d || d->count() <= 0)
        throw UsageError("--interval: \"" + *text + "\" is not a duration (\"2s\", \"500ms\", or seconds)", verb);
    return *d;
}

}  // namespace isoctl::commands
