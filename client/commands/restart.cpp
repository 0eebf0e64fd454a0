// isoctl restart APP... [--timeout DUR] [--no-wait]
#include "commands/app_action.hpp"
#include "commands/commands.hpp"

namespace isoctl::commands {

int restart(const Invocation& inv, Context& ctx) { return app_action(inv, ctx, "restart"); }

}  // namespace isoctl::commands
