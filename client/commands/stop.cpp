// isoctl stop APP... [--timeout DUR] [--no-wait]
#include "commands/app_action.hpp"
#include "commands/commands.hpp"

namespace isoctl::commands {

int stop(const Invocation& inv, Context& ctx) { return app_action(inv, ctx, "stop"); }

}  // namespace isoctl::commands
