// start, stop and restart share one shape: POST /v1/apps/{name}/{action} per app, in
// the order given, "APP: STATE" per success.
#pragma once

#include "cli.hpp"

namespace isoctl::commands {

int app_action(const Invocation& inv, Context& ctx, const std::string& action);

}  // namespace isoctl::commands
