// isoctl events [-f] [--app APP]: "TIME APP TYPE MESSAGE" lines, or the daemon's NDJSON.
#include "commands/commands.hpp"
#include "isolated/api_json.hpp"
#include "views.hpp"

namespace isoctl::commands {

int events(const Invocation& inv, Context& ctx) {
    std::vector<std::string> query;
    const bool follow = inv.flag("follow");
    if (follow) query.push_back("follow=1");
    std::string app;
    if (auto a = inv.value("app")) {
        require_app_name(*a, "events");
        app = *a;
        query.push_back("app=" + app);
    }
    std::string target = "/v1/events";
    for (std::size_t i = 0; i < query.size(); ++i) target += (i == 0 ? "?" : "&") + query[i];

    auto& out = ctx.out();
    const bool json = ctx.json();
    std::string pending;  // a line split across chunks
    auto print_line = [&](std::string_view line) {
        if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
        if (line.empty()) return;
        try {
            out << format_event_line(nlohmann::json::parse(line).get<isolated::AppEvent>()) << "\n";
        } catch (const nlohmann::json::exception&) {
            out << line << "\n";  // show what came rather than lose it
        }
    };
    ctx.client().stream(
        target,
        [&](std::string_view data) {
            if (json) {
                out.write(data.data(), static_cast<std::streamsize>(data.size()));
                out.flush();
                return;
            }
            pending.append(data);
            std::size_t start = 0, nl;
            while ((nl = pending.find('\n', start)) != std::string::npos) {
                print_line(std::string_view(pending).substr(start, nl - start));
                start = nl + 1;
            }
            pending.erase(0, start);
            out.flush();
        },
        follow ? std::chrono::milliseconds(0) : kQueryTimeout, app);
    if (!json && !pending.empty()) print_line(pending);
    return exit_code::ok;
}

}  // namespace isoctl::commands
