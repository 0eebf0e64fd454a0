// isoctl reload: the daemon re-reads its apps directory; we show what it did.
#include "commands/commands.hpp"
#include "isolated/api_json.hpp"
#include "views.hpp"

namespace isoctl::commands {

int reload(const Invocation& inv, Context& ctx) {
    // Changed apps are restarted before the daemon answers: an action's timeout.
    Response r = ctx.client().post("/v1/reload", "", kActionTimeout);
    auto report = decode<isolated::ReloadReport>(parse_json(r.body));
    if (ctx.json()) {
        ctx.out() << print_json(parse_ordered_json(r.body));
    } else {
        ctx.out() << render_reload_summary(report);
        ctx.out().flush();
        for (const auto& rej : report.rejected) {
            if (rej.errors.empty()) ctx.err() << rej.name << ": rejected\n";
            for (const auto& e : rej.errors) ctx.err() << e << "\n";
        }
    }
    return report.rejected.empty() ? exit_code::ok : exit_code::failed;
}

}  // namespace isoctl::commands
