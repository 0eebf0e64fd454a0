// The records an instance leaves in its app's run dir, <run_dir>/apps/<app>/:
// instance.json, what a later daemon needs to adopt the instance (docs/ARCHITECTURE.md,
// "Adoption"), written by the daemon when the init is released and again once the app
// runs, removed once the instance's exit is handled; and `exit` (INIT_EXIT_FILE),
// written by the init when the app ends. Their text, both ways; reading and writing
// the files is the caller's. Internal to daemon/runtime/.
#pragma once

#include <sys/types.h>

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>

#include "isolated/api_types.hpp"
#include "isolated/app_spec.hpp"
#include "isolated/result.hpp"

namespace isolated::runtime {

constexpr const char* kInstanceRecord = "instance.json";
/// Read caps: a record the daemon wrote never comes close (the spec is an app file;
/// the init's exit record is under 1 KiB); one over is damaged or planted, not adopted.
constexpr std::size_t kInstanceRecordMax = std::size_t{16} << 20;
constexpr std::size_t kExitRecordMax = std::size_t{64} << 10;

struct InstanceRecord {
    std::string instance;             ///< the launch's instance id (the exit record names it)
    pid_t init_pid = 0;
    std::uint64_t init_start = 0;     ///< the init's start time (sys::process_start_time)
    pid_t pid = 0;                    ///< the app's main process on the host; 0 until it runs
    std::uint64_t pid_start = 0;      ///< its start time; 0: not known
    std::optional<WallTime> started_at;  ///< when the app was exec'd
    std::string address;              ///< on the bridge; empty otherwise
    std::uint32_t restarts = 0;       ///< LaunchContext::restarts
    std::optional<ExitInfo> last_exit;   ///< LaunchContext::last_exit
    AppSpec spec;                     ///< the definition it was launched with
    /// An image app: the image its start resolved, so that a later daemon keeps
    /// running (and protecting) that same tree whatever the ref names by then.
    std::optional<AppImage> image;
    int stop_signal = 0;              ///< an image app's stop signal as resolved; 0: the spec's
};

/// instance.json's text: one JSON object and a newline. pid is always there (0 until
/// the app runs); startedAt and pidStart only once known.
std::string serialize_instance_record(const InstanceRecord& record);

/// Reads instance.json of APP (SOURCE names the file in the spec's diagnostics). The
/// error says why it cannot be adopted: "is malformed" (not an object, or no spec,
/// instance, initPid or initStart of the right type), "holds a definition this daemon
/// cannot read". Optional fields of the wrong type count as absent: an unreadable last
/// exit, start time or address is no reason to give up a running app.
Result<InstanceRecord> parse_instance_record(const std::string& app, const std::string& text,
                                             const std::string& source);

/// Parses an exit record (init_protocol.h) into ExitInfo; nullopt when the record is
/// malformed, incomplete (it needs instance, code and message, and its final newline:
/// a record cut short is never read as another exit) or belongs to another instance.
std::optional<ExitInfo> parse_exit_record(const std::string& text, const std::string& instance);

/// Reads the init's record of dropped log lines (INIT_LOG_DROPPED_FILE) into USAGE's
/// log_dropped_* fields; a record that is cut or malformed leaves them unset (the init
/// rewrites it within a second).
void parse_log_dropped(const std::string& text, ResourceUsage& usage);

/// How an instance that ended while no daemon watched it ended: the exit its init
/// recorded (RECORDED, parse_exit_record's), or without one what can be known -- an
/// app with the init (HAS_INIT) lost it only to a SIGKILL of the init; an app without
/// it ended unseen, status unknown (255). NOW stamps an exit without a time of its own.
ExitInfo exit_while_down(const std::optional<ExitInfo>& recorded, bool has_init, WallTime now);

}  // namespace isolated::runtime
