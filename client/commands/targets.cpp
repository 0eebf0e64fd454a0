#include "commands/targets.hpp"

#include <algorithm>
#include <functional>
#include <set>

#include "api_client.hpp"

namespace isoctl::commands {

std::vector<std::string> dependency_order(const std::vector<std::string>& names,
                                          const std::map<std::string, std::vector<std::string>>& depends_on) {
    const std::set<std::string> known(names.begin(), names.end());
    std::set<std::string> visited;
    std::vector<std::string> out;
    std::function<void(const std::string&)> visit = [&](const std::string& name) {
        if (!visited.insert(name).second) return;
        if (auto it = depends_on.find(name); it != depends_on.end())
            for (const auto& dep : it->second)
                if (known.count(dep)) visit(dep);
        out.push_back(name);
    };
    for (const auto& name : names) visit(name);
    return out;
}

std::vector<std::string> action_targets(const Invocation& inv, Context& ctx, const std::string& action) {
    const bool all = inv.flag("all");
    if (all && !inv.args.empty()) throw UsageError("give APP names or --all, not both", action);
    if (!all && inv.args.empty()) throw UsageError("missing arguments: give APP names, or --all for every app", action);
    for (const auto& name : inv.args) require_app_name(name, action);
    if (!all) return inv.args;

    auto doc = parse_json(ctx.client().get("/v1/apps").body);
    if (!doc.is_object() || !doc.contains("apps") || !doc["apps"].is_array())
        throw Failure(exit_code::failed, "unexpected answer from the daemon: no \"apps\" in it");
    std::vector<std::string> names;
    for (const auto& a : doc["apps"])
        if (a.is_object() && a.contains("name") && a["name"].is_string()) names.push_back(a["name"].get<std::string>());

    // dependsOn is in each app's definition (GET /v1/apps/NAME "spec").
    std::map<std::string, std::vector<std::string>> depends_on;
    for (const auto& name : names) {
        nlohmann::json detail;
        try {
            detail = parse_json(ctx.client().get(app_path(name), name).body);
        } catch (const Failure& f) {
            if (f.code() == exit_code::no_such_app) continue;  // removed meanwhile: the action will say so
            throw;
        }
        auto spec = detail.find("spec");
        if (spec == detail.end() || !spec->is_object()) continue;
        auto deps = spec->find("dependsOn");
        if (deps == spec->end() || !deps->is_array()) continue;
        for (const auto& d : *deps)
            if (d.is_string()) depends_on[name].push_back(d.get<std::string>());
    }
    auto ordered = dependency_order(names, depends_on);
    if (action == "stop") std::reverse(ordered.begin(), ordered.end());
    return ordered;
}

}  // namespace isoctl::commands
