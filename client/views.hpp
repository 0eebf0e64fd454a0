// What isoctl shows people for each API document: the status table, the per-app detail
// view, event lines, the reload summary. Pure: JSON/typed values in, text out, so the
// unit tests pin the exact formats.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
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
    /// Arguments the daemon left out (null in spec.command): the read-only socket hides
    /// them from users outside group isolated.
    std::size_t hidden_args = 0;
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

// ---- isoctl top -----------------------------------------------------------------------

/// One poll of `GET /v1/apps` and when its answer arrived.
struct UsageSample {
    WallTime at{};
    std::vector<isolated::AppStatus> apps;
};

/// A line of `isoctl top`; an empty optional is a figure not known.
struct TopRow {
    std::string name;
    isolated::AppState state = isolated::AppState::stopped;
    std::optional<double> cpu_percent;  ///< 100 = one core busy, as docker stats
    std::optional<std::uint64_t> memory_bytes;
    std::optional<std::uint64_t> memory_limit_bytes;
    std::optional<double> memory_percent;
    std::optional<std::uint64_t> pids;
    std::uint32_t restarts = 0;
};

/// CPU % as `docker stats` computes it: the CPU seconds used between two samples over
/// the wall time between them, times 100 (200% = two cores busy). Empty when either
/// figure is missing, no time passed, or the counter went back (a new cgroup).
std::optional<double> cpu_percent(std::optional<double> before, std::optional<double> after,
                                  std::chrono::duration<double> wall);

/// The rows for the apps in `now`: all of them in the daemon's order, or only `names`
/// in the order given (names the daemon does not list are left out). CPU % comes from
/// `before` when it holds the same run of the app (same start time and pid).
std::vector<TopRow> top_rows(const UsageSample* before, const UsageSample& now,
                             const std::vector<std::string>& names = {});

/// "12.34%".
std::string format_percent(double percent);

/// NAME STATE CPU % MEM USAGE / LIMIT MEM % PIDS RESTARTS; "-" for what is not known.
std::string render_top_table(const std::vector<TopRow>& rows, bool color);

/// {"apps": [{"name", "state", "cpuPercent", "memoryBytes", "memoryLimitBytes",
/// "memoryPercent", "pids", "restarts"}]}, null for what is not known.
nlohmann::json top_json(const std::vector<TopRow>& rows);

}  // namespace isoctl
