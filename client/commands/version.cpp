// isoctl version: ours always; the daemon's when it answers.
#include "commands/commands.hpp"

namespace isoctl::commands {

int version(const Invocation& inv, Context& ctx) {
    std::optional<nlohmann::ordered_json> daemon;
    std::string unreachable;
    try {
        daemon = parse_ordered_json(ctx.client().get("/v1/version").body);
    } catch (const Failure& f) {
        unreachable = f.what();
    }
    if (ctx.json()) {
        nlohmann::ordered_json j;
        j["client"] = {{"version", ISOLATED_VERSION}};
        j["daemon"] = daemon ? *daemon : nlohmann::ordered_json(nullptr);
        ctx.out() << print_json(j);
        return exit_code::ok;
    }
    ctx.out() << "isoctl " << ISOLATED_VERSION << "\n";
    if (daemon) {
        auto str = [&](const char* k) {
            auto it = daemon->find(k);
            return it != daemon->end() && it->is_string() ? it->get<std::string>() : std::string("?");
        };
        ctx.out() << "isolated " << str("version") << " (API " << str("apiVersion") << ", cgroup driver "
                  << str("cgroupDriver") << ")\n";
    } else {
        ctx.report("daemon version unknown: " + unreachable);
    }
    return exit_code::ok;
}

}  // namespace isoctl::commands
