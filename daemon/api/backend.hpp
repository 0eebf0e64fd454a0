// What the control API needs from the rest of the daemon. The API module (listener,
// sessions, dispatcher) depends only on this interface; daemon/daemon_backend.cpp
// implements it over the Supervisor, the EventLog and the log store, and the API unit
// tests use a fake. Everything here runs on the daemon's one io_context thread.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "isolated/api_types.hpp"
#include "isolated/image_types.hpp"
#include "isolated/redact.hpp"
#include "isolated/result.hpp"
#include "isolated/units.hpp"

namespace isolated::api {

/// An error the API answers with: HTTP status + code from api_error + message.
struct ApiError {
    int status = 500;
    std::string code = api_error::internal;
    std::string message;
};

/// What a Backend call that can fail gives back: its value, or the ApiError the API
/// answers with. The Backend puts the errors of the layers below in HTTP terms (the
/// log store's ENOENT is a 404), so the dispatcher only forwards them.
template <typename T>
using ApiResult = Result<T, ApiError>;

/// Destroying it stops the deliveries it stands for.
class Subscription {
public:
    virtual ~Subscription() = default;
};

/// One line of app output.
struct LogLine {
    WallTime time{};
    std::string stream;  ///< "stdout" | "stderr"
    std::string text;    ///< without the trailing newline
};

/// What `isoctl exec` needs to run a command in an app's sandbox: the init to enter
/// and the exec plan (init_protocol.h) with the app's credentials and hardening.
struct ExecTicket {
    /// The init, by pid and start time: isoctl, another process, cannot be handed the
    /// daemon's pidfd over HTTP, so it opens its own from the pid and keeps it only if
    /// the process has this start time (a recycled pid has another).
    pid_t init_pid = 0;
    std::uint64_t init_start = 0;
    std::string init_path;
    std::string plan;  ///< binary
};

/// What an operator's signal reached (POST /v1/apps/{name}/signal).
struct SignalResult {
    int signal = 0;
    bool all = false;
    pid_t main_pid = 0;        ///< the app's main process, 0 when it was not among them
    std::vector<pid_t> pids;   ///< every process signalled, host view, main first
};

/// A request body the session streamed to a file instead of holding it in memory
/// (POST /v1/images/load): the file goes when the last holder lets go of this.
class Upload {
public:
    virtual ~Upload() = default;
    virtual const std::string& path() const = 0;
    virtual int fd() const = 0;
    /// Removes the file's name now (the open fd still reads it): a load's job calls it
    /// before its last event, so a client that sees the answer finds the store's tmp/
    /// already clean, whoever still holds the Upload.
    virtual void discard() = 0;
};

/// One line of an image load's NDJSON answer: progress, then one result or error.
struct ImageLoadEvent {
    enum class Kind { progress, result, error } kind = Kind::progress;
    std::string message;             ///< progress
    std::vector<ImageInfo> images;   ///< result
    ApiError error;                  ///< error
};

/// One line of an image pull's NDJSON answer (POST /v1/images/pull): progress -- a
/// line, or with `id` the bytes of one blob so far -- then one result or error.
struct ImagePullEvent {
    enum class Kind { progress, result, error } kind = Kind::progress;
    std::string message;
    std::string id;              ///< "sha256:..." of the blob downloading; "" for a plain line
    std::uint64_t current = 0;
    std::uint64_t total = 0;
    std::vector<ImageInfo> images;  ///< result
    ApiError error;                 ///< error
};

/// POST /v1/images/pull's body, and who sent it (an `authfile` is read only if that
/// caller may read it).
struct ImagePullRequest {
    std::string ref;
    std::string authfile;  ///< "" = the daemon's --registry-auth-file
    uid_t uid = 0;
    gid_t gid = 0;
    std::vector<gid_t> groups;
};

enum class AppAction { start, stop, restart };
std::string to_string(AppAction);
/// "start" | "stop" | "restart"; nullopt for anything else.
std::optional<AppAction> app_action_from_string(std::string_view);

class Backend {
public:
    virtual ~Backend() = default;

    virtual std::vector<AppStatus> list_apps() = 0;
    /// A number that changes whenever list_apps() may answer anything else than before,
    /// usage aside (its counters move at most once a second, and the list cache reads
    /// them again after a second). nullopt = no such number: every list is read.
    virtual std::optional<std::uint64_t> apps_generation() { return std::nullopt; }
    virtual std::optional<AppDetail> get_app(const std::string& name) = 0;

    /// Starts an action and calls `done` once it has settled: for stop when the app is
    /// stopped; for start/restart when it is running or ready (or has reached backoff
    /// or failed: then with an ApiError saying so). `done` may be called before this
    /// returns (unknown app, already settled). `timeout` overrides the app's stop
    /// timeout for this call.
    using Done = std::function<void(ApiResult<void>)>;
    virtual void app_action(const std::string& name, AppAction action, std::optional<Duration> timeout,
                            Done done) = 0;

    /// Re-reads the apps directory and applies the difference.
    virtual ReloadReport reload() = 0;

    virtual VersionInfo version() = 0;

    /// Stored events, oldest first (all apps when `app` is empty).
    virtual std::vector<AppEvent> events(const std::string& app) = 0;
    /// New events as they happen (all apps when `app` is empty).
    [[nodiscard]] virtual std::unique_ptr<Subscription> subscribe_events(
        const std::string& app, std::function<void(const AppEvent&)> fn) = 0;

    /// The last `tail` lines of the app's output (all when tail is SIZE_MAX), of those
    /// written at or after `since` when it is set (as docker logs --since --tail: the
    /// time filters, then the tail cuts). 404 when there is no such app or log.
    virtual ApiResult<std::vector<LogLine>> read_logs(const std::string& app, std::size_t tail,
                                                      std::optional<WallTime> since) = 0;
    /// The last `tail` lines (at or after `since`), then every new line as it is
    /// written, until the subscription is destroyed. `on_line` is never called from
    /// inside this call.
    virtual ApiResult<std::unique_ptr<Subscription>> follow_logs(const std::string& app, std::size_t tail,
                                                                 std::optional<WallTime> since,
                                                                 std::function<void(const LogLine&)> on_line) = 0;

    /// Prometheus text exposition format (version 0.0.4).
    virtual std::string metrics() = 0;
    /// What the daemon read at the apps' starts that no app file holds (envFile values,
    /// secrets' contents), for the read-only socket's redaction; nullptr: nothing.
    virtual const LearnedSecrets* learned_secrets() { return nullptr; }
    /// A ticket to run COMMAND inside the app's sandbox (`isoctl exec`); 404 when the
    /// app does not exist, 409 when it is not running.
    virtual ApiResult<ExecTicket> exec_ticket(const std::string& app, const std::vector<std::string>& command,
                                              bool tty) {
        (void)app, (void)command, (void)tty;
        return ApiError{501, api_error::internal, "exec is not available in this daemon"};
    }
    /// Delivers `sig` to the app's main process, or with `all` to every process of it;
    /// 404 when the app does not exist, 409 when it is not running.
    virtual ApiResult<SignalResult> signal_app(const std::string& app, int sig, bool all) {
        (void)app, (void)sig, (void)all;
        return ApiError{501, api_error::internal, "signals are not available in this daemon"};
    }

    // ---- images (issue 14) ----
    // The calls that change the store take time (unpacking, deleting trees): they run
    // off the loop and call back on it. 501 when the daemon has no image store.

    /// A file in the store's tmp dir for an upload, and the most it may hold.
    virtual ApiResult<std::shared_ptr<Upload>> begin_upload() {
        return ApiError{501, api_error::internal, "images are not available in this daemon"};
    }
    virtual std::uint64_t max_upload_bytes() { return 0; }
    /// Loads the uploaded archive; `on_event` gets progress lines, then exactly one
    /// result or error. `name`: a reference for an image without one ("" = none);
    /// checked before anything runs (400).
    using ImageEvents = std::function<void(ImageLoadEvent)>;
    virtual ApiResult<void> load_image(std::shared_ptr<Upload> upload, const std::string& name, ImageEvents on_event) {
        (void)upload, (void)name, (void)on_event;
        return ApiError{501, api_error::internal, "images are not available in this daemon"};
    }
    virtual ApiResult<std::vector<ImageInfo>> list_images() {
        return ApiError{501, api_error::internal, "images are not available in this daemon"};
    }
    /// 400 for a malformed ref, 404 when it is not in the store.
    virtual ApiResult<ImageInfo> inspect_image(const std::string& ref) {
        (void)ref;
        return ApiError{501, api_error::internal, "images are not available in this daemon"};
    }
    template <typename T>
    using Then = std::function<void(ApiResult<T>)>;
    /// 400 malformed, 404 not stored, 409 an app uses it.
    virtual void remove_image(const std::string& ref, Then<ImageRemoveReport> done) {
        (void)ref;
        done(ApiError{501, api_error::internal, "images are not available in this daemon"});
    }
    virtual void prune_images(Then<ImagePruneReport> done) {
        done(ApiError{501, api_error::internal, "images are not available in this daemon"});
    }
    /// Pulls an image from its registry; `on_event` gets progress, then exactly one
    /// result or error. A malformed ref is refused before anything runs (400).
    using PullEvents = std::function<void(ImagePullEvent)>;
    virtual ApiResult<void> pull_image(const ImagePullRequest& request, PullEvents on_event) {
        (void)request, (void)on_event;
        return ApiError{501, api_error::internal, "images are not available in this daemon"};
    }
};

}  // namespace isolated::api
