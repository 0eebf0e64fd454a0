// isoctl kill [-s SIGNAL] [--all] APP...: POST /v1/apps/{name}/signal for each APP. The
// daemon checks the signal (one place, common/units), so a newer daemon's names work.
#include <nlohmann/json.hpp>

#include "commands/commands.hpp"

namespace isoctl::commands {

namespace {

// "SIGHUP sent to the main process (pid 4242)", "SIGUSR1 sent to 3 processes (pids 1, 2, 3)".
std::string describe(const nlohmann::json& answer) {
    std::string sig = answer.value("signal", std::string("the signal"));
    std::vector<long long> pids;
    if (auto it = answer.find("pids"); it != answer.end() && it->is_array())
        for (const auto& p : *it)
            if (p.is_number_integer()) pids.push_back(p.get<long long>());
    if (!answer.value("all", false)) {
        auto main = answer.find("mainPid");
        std::string pid = main != answer.end() && main->is_number_integer() ? std::to_string(main->get<long long>())
                          : pids.empty()                                    ? std::string("?")
                                                                            : std::to_string(pids.front());
        return sig + " sent to the main process (pid " + pid + ")";
    }
    std::string list;
    for (std::size_t i = 0; i < pids.size(); ++i) list += (i ? ", " : "") + std::to_string(pids[i]);
    return sig + " sent to " + std::to_string(pids.size()) + (pids.size() == 1 ? " process (pid " : " processes (pids ") +
           list + ")";
}

}  // namespace

int kill(const Invocation& inv, Context& ctx) {
    // --all is every process of each APP here, never every app (start/stop's --all):
    // a signal to everything on the host is a loop away, not a flag away.
    if (inv.args.empty())
        throw UsageError("missing arguments: give APP names (--all means every process of each APP)", "kill");
    for (const auto& name : inv.args) require_app_name(name, "kill");
    std::string signal = inv.value("signal").value_or("SIGTERM");
    if (signal.empty()) throw UsageError("-s needs a signal: a name such as HUP or SIGHUP, or a number", "kill");
    const std::string body = nlohmann::json{{"signal", signal}, {"all", inv.flag("all")}}.dump();

    int rc = exit_code::ok;
    auto answers = nlohmann::ordered_json::array();
    for (const auto& name : inv.args) {
        Response r = ctx.client().post_unchecked(app_path(name) + "/signal", body, kQueryTimeout);
        // A signal the daemon does not know is wrong for every app: said once, and the end.
        if (r.status == 400) throw_api_error(r, {});
        if (!r.ok()) {
            try {
                throw_api_error(r, name);
            } catch (const Failure& f) {
                ctx.report(f.what());
                if (rc == exit_code::ok) rc = f.code();
            }
            continue;
        }
        if (ctx.json()) {
            answers.push_back(parse_ordered_json(r.body));
            continue;
        }
        ctx.out() << name << ": " << describe(parse_json(r.body)) << "\n";
        ctx.out().flush();
    }
    if (ctx.json()) ctx.out() << print_json(answers);
    return rc;
}

}  // namespace isoctl::commands
