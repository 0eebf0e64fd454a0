// isoctl inspect APP: the app's effective definition, from GET /v1/apps/{name} "spec".
#include "commands/commands.hpp"
#include "inspect_view.hpp"

namespace isoctl::commands {

int inspect(const Invocation& inv, Context& ctx) {
    const std::string& name = inv.args.at(0);
    require_app_name(name, "inspect");
    auto detail = parse_ordered_json(ctx.client().get(app_path(name), name).body);
    if (!detail.is_object() || !detail.contains("spec") || !detail["spec"].is_object())
        throw Failure(exit_code::failed, name + ": the daemon has no definition for it" +
                                             (detail.is_object() && detail.contains("state")
                                                  ? " (state " + detail["state"].dump() + ")"
                                                  : std::string()));
    auto definition = effective_definition(detail["spec"], name);
    // The read-only socket, for a user outside group isolated: values are null.
    if (detail.value("redacted", false))
        ctx.err() << "isoctl: " << name
                  << ": env values, command arguments and probe header values are hidden (null); root or "
                     "group isolated sees them\n";
    if (ctx.json())
        ctx.out() << print_json(definition);
    else
        ctx.out() << render_definition(definition);
    return exit_code::ok;
}

}  // namespace isoctl::commands
