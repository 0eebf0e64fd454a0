// isoctl help [COMMAND]
#include "commands/commands.hpp"

namespace isoctl::commands {

int help(const Invocation& inv, Context& ctx) {
    if (inv.args.empty()) {
        ctx.out() << global_help();
        return exit_code::ok;
    }
    const Verb* v = find_verb(inv.args[0]);
    if (!v) throw UsageError("unknown command \"" + inv.args[0] + "\"");
    ctx.out() << verb_help(*v);
    return exit_code::ok;
}

}  // namespace isoctl::commands
