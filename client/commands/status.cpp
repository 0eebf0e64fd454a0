// isoctl status [APP...] [--watch]: the table of every app, or a detail view per named
// app; with --watch, again every --interval until Ctrl-C.
#include <sstream>

#include "commands/commands.hpp"
#include "isolated/api_json.hpp"
#include "views.hpp"

namespace isoctl::commands {

namespace {

int status_once(const Invocation& inv, Context& ctx, std::ostream& out) {
    if (inv.args.empty()) {
        Response r = ctx.client().get("/v1/apps");
        if (ctx.json()) {
            out << print_json(parse_ordered_json(r.body));
            return exit_code::ok;
        }
        auto doc = parse_json(r.body);
        if (!doc.is_object() || !doc.contains("apps"))
            throw Failure(exit_code::failed, "unexpected answer from the daemon: no \"apps\" in it");
        auto apps = decode<std::vector<isolated::AppStatus>>(doc["apps"]);
        out << render_status_table(apps, ctx.now(), ctx.color());
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
        if (!first) out << "\n";
        first = false;
        out << render_app_detail(view, ctx.now(), ctx.color());
    }
    if (ctx.json()) out << print_json(details);
    return rc;
}

}  // namespace

int status(const Invocation& inv, Context& ctx) {
    for (const auto& name : inv.args) require_app_name(name, "status");
    if (!inv.flag("watch")) {
        if (inv.value("interval")) throw UsageError("--interval goes with --watch", "status");
        return status_once(inv, ctx, ctx.out());
    }
    using namespace std::chrono_literals;
    const auto interval = parse_interval(inv.value("interval"), 2s, "status");
    // Redraw in place only on a terminal (as watch(1) does); a pipe or file gets one
    // view after another, separated by a blank line. Ctrl-C ends it (exit 130).
    const bool redraw = ctx.stdout_is_tty() && !ctx.json();
    for (bool first = true;; first = false) {
        if (redraw) {
            // Draw the whole screen at once, so it never flickers half-drawn.
            std::ostringstream screen;
            status_once(inv, ctx, screen);
            ctx.out() << "\x1b[2J\x1b[H" << screen.str();
        } else {
            if (!first && !ctx.json()) ctx.out() << "\n";
            status_once(inv, ctx, ctx.out());
        }
        ctx.out().flush();
        ctx.sleep(interval);
    }
}

}  // namespace isoctl::commands
