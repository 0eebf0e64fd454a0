// isoctl start APP... [--timeout DUR] [--no-wait]
#include "commands/app_action.hpp"
#include "commands/commands.hpp"

namespace isoctl::commands {

int start(const Invocation& inv, Context& ctx) { return app_action(inv, ctx, "start"); }

}  // namespace isoctl::commands
