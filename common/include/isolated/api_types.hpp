// The domain types the control API exposes. Plain data shared by the daemon (which
// fills them) and isoctl (which reads them); their JSON form is in api_json.hpp and
// documented in docs/API.md. camelCase on the wire.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "isolated/app_spec.hpp"

namespace isolated {

using WallTime = std::chrono::system_clock::time_point;

/// The states of docs/API.md. `running` = started, not yet ready; `ready` = readiness passing
/// or no readiness probe; `unhealthy` = readiness failing; `backoff` = waiting to
/// restart; `failed` = given up or could not be built.
enum class AppState { stopped, starting, running, ready, unhealthy, stopping, backoff, failed };
std::string to_string(AppState);
std::optional<AppState> app_state_from_string(std::string_view);

struct ExitInfo {
    int code = 0;                        ///< exit code; 128+signal when killed by a signal
    int signal = 0;                      ///< 0 = exited normally
    bool oom_killed = false;
    WallTime at{};
    std::string message;                 ///< e.g. "exec \"/usr/bin/x\": ENOENT" when the app never ran
    bool operator==(const ExitInfo&) const = default;
};

/// What ended the run, for people and scripts ("reason" on the wire): "exited" (the
/// app exited by itself), "killed" (a signal), "oomKilled", "launchFailed" (the
/// sandbox could not be built: a port in use, a missing volume, ...), "execFailed"
/// (the command could not be run), "unknown" (the status was lost).
std::string exit_reason(const ExitInfo&);

enum class ProbeResult { unknown, success, failure, warning };
std::string to_string(ProbeResult);

struct ProbeStatus {
    ProbeResult result = ProbeResult::unknown;
    std::uint32_t consecutive_successes = 0;
    std::uint32_t consecutive_failures = 0;
    std::string message;                 ///< what the last run found: its failure or warning; "" after a success
    std::optional<WallTime> last_probe_at;
    /// How long the last run took, from its start to its result (a run that timed out:
    /// the timeout); absent before the first result.
    std::optional<double> last_duration_seconds;
    /// Runs since the app was defined in this daemon (kept across its restarts and
    /// redefinitions, 0 again after a daemon restart): successes (warnings included, as
    /// kubelet counts them) and failures.
    std::uint64_t total_successes = 0;
    std::uint64_t total_failures = 0;
    bool operator==(const ProbeStatus&) const = default;
};

struct HealthStatus {
    std::optional<ProbeStatus> startup, liveness, readiness;  ///< absent = no such probe
    bool operator==(const HealthStatus&) const = default;
};

/// Live figures from the app's cgroup; absent when not known (no cgroup driver yet).
struct ResourceUsage {
    std::optional<double> cpu_seconds;
    std::optional<std::uint64_t> memory_bytes;
    std::optional<std::uint64_t> memory_peak_bytes;
    std::optional<std::uint64_t> pids;
    std::optional<std::uint64_t> cpu_throttled_periods;
    std::optional<double> cpu_throttled_seconds;
    /// CFS periods in which the app had runnable tasks under its cpu limit (cpu.stat's
    /// nr_periods): the denominator of the throttling ratio.
    std::optional<std::uint64_t> cpu_periods;
    /// Log records the init could not write (a full or failing log dir) since the
    /// instance started, and their bytes; unset while none was dropped.
    std::optional<std::uint64_t> log_dropped_lines;
    std::optional<std::uint64_t> log_dropped_bytes;
    bool operator==(const ResourceUsage&) const = default;
};

struct AppEvent {
    std::uint64_t seq = 0;               ///< increasing, per daemon run
    WallTime time{};
    std::string app;                     ///< "" for daemon-wide events
    std::string type;                    ///< "state", "exit", "restart", "probe", "oom", "reload", ...
    std::string message;                 ///< human text
    std::string state;                   ///< new state for type "state"
    std::optional<ExitInfo> exit;        ///< type "exit"
    bool operator==(const AppEvent&) const = default;
};

/// The image a running image app runs (issue 14): what its start resolved.
struct AppImage {
    std::string ref;       ///< the app file's rootfs.image, normalized ("docker.io/library/postgres:16")
    std::string id;        ///< "sha256:..." (the image config's digest)
    std::string manifest;  ///< "sha256:..." (the manifest's digest)
    bool operator==(const AppImage&) const = default;
};

struct AppStatus {
    std::string name;
    AppState state = AppState::stopped;
    bool ready = false;
    pid_t pid = 0;                       ///< the app's main process, host view; 0 = none
    pid_t init_pid = 0;                  ///< the sandbox's init; 0 = none
    std::optional<WallTime> started_at;
    std::uint32_t restarts = 0;          ///< restarts isolated made on its own
    std::optional<ExitInfo> last_exit;
    std::string address;                 ///< bridge address, "" if none
    std::vector<PortSpec> ports;
    HealthStatus health;
    ResourcesSpec limits;
    ResourceUsage usage;
    std::string message;                 ///< why it is in this state ("waiting for db to be ready")
    std::optional<WallTime> next_restart_at;  ///< in backoff
    /// The app file's errors when its last reading was rejected ("fileErrors"): the app
    /// keeps its last good definition, or is `failed` when it never had one.
    std::vector<std::string> file_errors;
    std::optional<AppImage> image;       ///< an image app's running (or starting) instance's image
    bool operator==(const AppStatus&) const = default;
};

struct AppDetail {
    AppStatus status;
    AppSpec spec;                        ///< the definition in force
    bool has_spec = true;                ///< false: the file was rejected and never accepted ("spec": null)
    std::vector<AppEvent> events;        ///< recent events of this app, oldest first
};

struct RejectedApp {
    std::string name;
    std::vector<std::string> errors;     ///< Diagnostic::to_string()
    bool operator==(const RejectedApp&) const = default;
};

struct ReloadReport {
    std::vector<std::string> added, changed, removed, unchanged;
    std::vector<RejectedApp> rejected;
    bool operator==(const ReloadReport&) const = default;
};

struct VersionInfo {
    std::string version;
    std::string api_version;             ///< "v1"
    std::string cgroup_driver;           ///< "v1", "v2", "systemd", "none"
};

/// API error codes ("code" in {"error": {"code", "message"}}) and their HTTP status.
namespace api_error {
inline constexpr const char* bad_request = "bad_request";              // 400
inline constexpr const char* forbidden = "forbidden";                  // 403
inline constexpr const char* not_found = "not_found";                  // 404
inline constexpr const char* method_not_allowed = "method_not_allowed";// 405
inline constexpr const char* request_timeout = "request_timeout";      // 408
inline constexpr const char* conflict = "conflict";                    // 409
inline constexpr const char* app_failed = "app_failed";                // 409: the action ran, the app did not come up
inline constexpr const char* payload_too_large = "payload_too_large";  // 413
inline constexpr const char* invalid_image = "invalid_image";          // 400: an archive or image refused
inline constexpr const char* registry_error = "registry_error";        // 502: a registry failed or refused a pull
inline constexpr const char* internal = "internal";                    // 500
inline constexpr const char* unavailable = "unavailable";              // 503
}  // namespace api_error

}  // namespace isolated
