// isoctl logs [-f] [-n N] [-t] APP: the app's output, streamed as it arrives.
#include "commands/commands.hpp"

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
