// isoctl logs [-f] [-n N] [-t] [--since DUR|TIME] APP: the app's output, streamed as it arrives.
#include "commands/commands.hpp"
#include "isolated/since.hpp"
#include "isolated/units.hpp"

namespace isoctl::commands {

int logs(const Invocation& inv, Context& ctx) {
    const std::string& name = inv.args.at(0);
    require_app_name(name, "logs");
    std::vector<std::string> query;
    if (auto n = inv.value("tail")) {
        bool digits = !n->empty() && n->find_first_not_of("0123456789") == std::string::npos;
        if (digits)
            query.push_back("tail=" + *n);
        else if (*n != "all")
            throw UsageError("-n: \"" + *n + "\" is not a number of lines (or \"all\")", "logs");
    }
    if (auto s = inv.value("since")) {
        // Resolved here, so "10m" means ten minutes before this command, and sent as UTC.
        auto t = isolated::parse_since(*s, ctx.now());
        if (!t)
            throw UsageError("--since: \"" + *s +
                                 "\" is not a duration (\"10m\", \"1h30m\"), an RFC 3339 time "
                                 "(\"2026-11-23T19:00:00Z\") or Unix seconds",
                             "logs");
        query.push_back("since=" + isolated::format_rfc3339(*t));
    }
    const bool follow = inv.flag("follow");
    if (follow) query.push_back("follow=1");
    if (inv.flag("timestamps")) query.push_back("timestamps=1");
    std::string target = app_path(name) + "/logs";
    for (std::size_t i = 0; i < query.size(); ++i) target += (i == 0 ? "?" : "&") + query[i];

    auto& out = ctx.out();
    ctx.client().stream(
        target,
        [&](std::string_view data) {
            out.write(data.data(), static_cast<std::streamsize>(data.size()));
            out.flush();
        },
        follow ? std::chrono::milliseconds(0) : kQueryTimeout, name);
    return exit_code::ok;
}

}  // namespace isoctl::commands
