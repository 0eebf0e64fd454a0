// What isoctl shows people for each API document: the status table, the per-app detail
// view, event lines, the reload summary. Pure: JSON/typed values in, text out, so the
// unit tests pin the exact formats.
#pragma once

#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "isolated/api_types.hpp"
#include "output.hpp"

namespace isoctl {

/// `GET /v1/apps/{name}`: the status plus what the detail view shows from "spec" and
/// "events".
struct AppDetailView {
    isolated::AppStatus status;
    std::vector<std::string> command;        ///< spec.command, if the daemon sent the spec
    std::vector<isolated::AppEvent> events;  ///< oldest first
};

/// Throws nlohmann::json::exception on a wrong shape.
AppDetailView detail_from_json(const nlohmann::json& j);

/// Colour of a state in tables: green ready, yellow on the way, red trouble.
Color state_color(isolated::AppState s);

/// NAME STATE READY PID UPTIME RESTARTS LAST-EXIT ADDRESS PORTS; "-" for no value.
std::string render_status_table(const std::vector<isolated::AppStatus>& apps, WallTime now, bool color);

/// "Key:  value" lines, kubectl-describe style; the last `max_events` events.
std::string render_app_detail(const AppDetailView& app, WallTime now, bool color, std::size_t max_events = 10);

/// "TIME  APP  TYPE  MESSAGE" (local time; "-" for daemon-wide events).
std::string format_event_line(const isolated::AppEvent& e);

/// The MESSAGE part: a state event names its new state ("stopping: sent SIGTERM"),
/// others their message, an exit without one its description.
std::string event_text(const isolated::AppEvent& e);

/// The status' message when it says something beyond the state ("" for a bare state
/// word such as "running").
std::string status_message(const isolated::AppStatus& s);

/// stdout part of `isoctl reload`: one line per non-empty category
/// ("added: a, b"), or "no changes (N unchanged)".
std::string render_reload_summary(const isolated::ReloadReport& r);

/// `argv` as a shell would need it typed (quotes only where needed).
std::string shell_join(const std::vector<std::string>& argv);

}  // namespace isoctl
