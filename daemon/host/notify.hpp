// The service manager's side of the daemon: sd_notify(3) (READY=1, STATUS=,
// RELOADING=1, STOPPING=1, WATCHDOG=1), the watchdog interval, and what systemd is
// doing to our unit when SIGTERM arrives. All no-ops when not run by systemd.
#pragma once

#include <chrono>
#include <optional>
#include <string>

namespace isolated::host {

void notify(const std::string& state);

/// WatchdogSec= of our unit (sd_watchdog_enabled), or nullopt when no watchdog is set.
std::optional<std::chrono::microseconds> watchdog_interval();

/// The type of the job systemd is running on our unit ("stop", "restart",
/// "try-restart", ...) asked over sd-bus; "" when there is none or we are not a
/// systemd service. A SIGTERM under a restart job means a new daemon follows at once.
std::string service_job_type();

/// Whether a job of that type means a daemon will start again right away (restart,
/// try-restart, reload-or-restart, ...): the apps are left running for it to adopt.
bool job_restarts_service(const std::string& job_type);

}  // namespace isolated::host
