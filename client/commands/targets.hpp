// The apps start, stop and restart act on: the APP arguments, or with --all every app
// the daemon defines, in dependency order.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "cli.hpp"

namespace isoctl::commands {

/// `names` ordered so that each app comes after the apps it depends on (those in
/// `names`; others are ignored), keeping the given order otherwise. A cycle (which the
/// daemon refuses to load) is cut where it closes.
std::vector<std::string> dependency_order(const std::vector<std::string>& names,
                                          const std::map<std::string, std::vector<std::string>>& depends_on);

/// The APP arguments, validated; with --all (and no APP) every defined app from
/// GET /v1/apps, in dependency order for start and restart and the reverse for stop
/// (dependents first, as the daemon stops them at shutdown). Throws UsageError for
/// neither or both.
std::vector<std::string> action_targets(const Invocation& inv, Context& ctx, const std::string& action);

}  // namespace isoctl::commands
