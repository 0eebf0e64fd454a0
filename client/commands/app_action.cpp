#include "commands/app_action.hpp"
#include "commands/targets.hpp"

#include "isolated/api_json.hpp"
#include "isolated/units.hpp"
#include "views.hpp"

namespace isoctl::commands {

int app_action(const Invocation& inv, Context& ctx, const std::string& action) {
    for (const auto& name : inv.args) require_app_name(name, action);

    std::string body;
    std::chrono::milliseconds http_timeout = kActionTimeout;
    if (auto t = inv.value("timeout")) {
        auto d = isolated::parse_duration(*t);
        if (!d) throw UsageError("--timeout: \"" + *t + "\" is not a duration (e.g. \"10s\", \"2m\")", action);
        body = nlohmann::json{{"timeout", *t}}.dump();
        // The daemon answers after the stop timeout at the latest; leave it room.
        http_timeout = std::max<std::chrono::milliseconds>(kActionTimeout, *d + std::chrono::minutes(1));
    }
    // wait=0 asks the daemon to answer once the action is under way.
    std::string query = inv.flag("no-wait") ? "?wait=0" : "";

    int rc = exit_code::ok;
    auto answers = nlohmann::ordered_json::array();
    for (const auto& name : action_targets(inv, ctx, action)) {
        Response r;
        try {
            r = ctx.client().post(app_path(name) + "/" + action + query, body, http_timeout, name);
        } catch (const Failure& f) {
            if (f.code() == exit_code::unreachable) throw;
            ctx.report(f.what());
            if (rc == exit_code::ok) rc = f.code();
            continue;
        }
        if (ctx.json()) {
            answers.push_back(parse_ordered_json(r.body));
            continue;
        }
        auto st = decode<isolated::AppStatus>(parse_json(r.body));
        std::string line = name + ": " + colorize(isolated::to_string(st.state), state_color(st.state), ctx.color());
        if (auto m = status_message(st); !m.empty()) line += " (" + m + ")";
        ctx.out() << line << "\n";
        ctx.out().flush();
    }
    if (ctx.json()) ctx.out() << print_json(answers);
    return rc;
}

}  // namespace isoctl::commands
