// isoctl status [APP...]: the table of every app, or a detail view per named app.
#include "commands/commands.hpp"
#include "isolated/api_json.hpp"
#include "views.hpp"

namespace isoctl::commands {

int status(const Invocation& inv, Context& ctx) {
    for (const auto& name : inv.args) require_app_name(name, "status");

    if (inv.args.empty()) {
        Response r = ctx.client().get("/v1/apps");
        if (ctx.json()) {
            ctx.out() << print_json(parse_ordered_json(r.body));
            return exit_code::ok;
        }
        auto doc = parse_json(r.body);
        if (!doc.is_object() || !doc.contains("apps"))
            throw Failure(exit_code::failed, "unexpected answer from the daemon: no \"apps\" in it");
        auto apps = decode<std::vector<isolated::AppStatus>>(doc["apps"]);
        ctx.out() << render_status_table(apps, ctx.now(), ctx.color());
        return exit_code::ok;
    }

    // One request per app; an unknown app is reported and the others still shown.
    int rc = exit_code::ok;
    auto details = nlohmann::ordered_json::array();
    bool first = true;
    for (const auto& name : inv.args) {
        Response r;
        try {
            r = ctx.client().get(app_path(name), name);
        } catch (const Failure& f) {
            if (f.code() == exit_code::unreachable) throw;
            ctx.report(f.what());
            if (rc == exit_code::ok) rc = f.code();
            continue;
        }
        if (ctx.json()) {
            details.push_back(parse_ordered_json(r.body));
            continue;
        }
        AppDetailView view;
        try {
            view = detail_from_json(parse_json(r.body));
        } catch (const nlohmann::json::exception& e) {
            throw Failure(exit_code::failed, std::string("unexpected answer from the daemon: ") + e.what());
        }
        if (!first) ctx.out() << "\n";
        first = false;
        ctx.out() << render_app_detail(view, ctx.now(), ctx.color());
    }
    if (ctx.json()) ctx.out() << print_json(details);
    return rc;
}

}  // namespace isoctl::commands
