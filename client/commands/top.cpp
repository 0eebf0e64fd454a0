// isoctl top [APP...]: live CPU, memory and pids per app, refreshed like `docker stats`.
// CPU % needs two polls of GET /v1/apps: the first table comes after a second poll
// about a second later, the next ones every --interval.
#include <algorithm>

#include "commands/commands.hpp"
#include "isolated/api_json.hpp"
#include "isolated/units.hpp"
#include "views.hpp"

namespace isoctl::commands {

namespace {

using namespace std::chrono_literals;

/// The first CPU figure needs two samples; docker stats --no-stream waits about this long.
constexpr std::chrono::milliseconds kFirstWindow = 1s;

UsageSample poll(Context& ctx) {
    Response r = ctx.client().get("/v1/apps");
    auto doc = parse_json(r.body);
    if (!doc.is_object() || !doc.contains("apps"))
        throw Failure(exit_code::failed, "unexpected answer from the daemon: no \"apps\" in it");
    UsageSample s;
    s.apps = decode<std::vector<isolated::AppStatus>>(doc["apps"]);
    s.at = ctx.now();
    return s;
}

}  // namespace

int top(const Invocation& inv, Context& ctx) {
    for (const auto& name : inv.args) require_app_name(name, "top");
    const auto interval = parse_interval(inv.value("interval"), 2s, "top");
    const bool once = inv.flag("no-stream") || ctx.json();
    // Redraw in place only on a terminal; a pipe or file gets one table after another.
    const bool redraw = !once && ctx.stdout_is_tty();

    UsageSample before = poll(ctx);
    for (const auto& name : inv.args) {
        bool known = std::any_of(before.apps.begin(), before.apps.end(), [&](const auto& a) { return a.name == name; });
        if (!known) throw Failure(exit_code::no_such_app, "no app named \"" + name + "\"");
    }
    ctx.sleep(std::min(interval, kFirstWindow));

    for (bool first = true;; first = false) {
        UsageSample now = poll(ctx);
        auto rows = top_rows(&before, now, inv.args);
        if (ctx.json()) {
            ctx.out() << print_json(top_json(rows));
            return exit_code::ok;
        }
        std::string table = render_top_table(rows, ctx.color());
        if (redraw)
            ctx.out() << "\x1b[2J\x1b[H" << table;  // clear, home: as docker stats
        else
            ctx.out() << (first ? "" : "\n") << table;
        ctx.out().flush();
        if (once) return exit_code::ok;
        before = std::move(now);
        ctx.sleep(interval);
    }
}

}  // namespace isoctl::commands
