// The typed form of one app file (/etc/isolated/apps/NAME.json). Every field of
// isolated.app(5) is here, with its default; the parser (app_parser.hpp) fills these and
// rejects what cannot be represented. Plain data: no JSON, no syscalls.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "isolated/units.hpp"

namespace isolated {

// ---- rootfs ---------------------------------------------------------------------------
enum class RootfsType { host, directory, image };
enum class RootfsWritable { overlay, readonly };

struct RootfsSpec {
    RootfsType type = RootfsType::host;
    std::string path;                                   ///< directory only
    RootfsWritable writable = RootfsWritable::overlay;  ///< directory and image
    std::string image;                                  ///< image only: a reference or image id, as written
    bool operator==(const RootfsSpec&) const = default;
};

// ---- mounts ---------------------------------------------------------------------------
enum class MountType { bind, tmpfs };

struct MountSpec {
    MountType type = MountType::bind;
    std::string source;                  ///< bind: absolute host path
    std::string target;                  ///< absolute path inside the sandbox
    bool readonly = false;
    bool create = false;                 ///< bind: create a missing source directory
    std::optional<std::uint64_t> size;   ///< tmpfs: bytes (default: kernel's half of RAM)
    std::optional<std::uint32_t> mode;   ///< tmpfs: octal permission bits, e.g. 01777
    bool operator==(const MountSpec&) const = default;
};

// ---- network --------------------------------------------------------------------------
enum class NetworkMode { bridge, host, none, app };
enum class Protocol { tcp, udp };

struct PortSpec {
    std::uint16_t host = 0;
    std::uint16_t app = 0;
    Protocol protocol = Protocol::tcp;
    std::string host_address;            ///< "hostAddress": bind the forward to one host address; "" = all
    bool operator==(const PortSpec&) const = default;
};

struct NetworkSpec {
    NetworkMode mode = NetworkMode::bridge;
    std::string app;                     ///< mode == app: the app whose netns is joined
    std::string address;                 ///< optional pinned IPv4 address ("" = from the pool)
    std::vector<PortSpec> ports;
    bool operator==(const NetworkSpec&) const = default;
};

// ---- namespaces -----------------------------------------------------------------------
enum class NamespaceKind { private_, host, app };

struct NamespaceMode {
    NamespaceKind kind = NamespaceKind::private_;
    std::string app;                     ///< kind == app
    bool operator==(const NamespaceMode&) const = default;
};

struct UserNamespaceSpec {
    bool enabled = false;                ///< "none" (default) or a mapping
    std::uint32_t uid = 0;               ///< first host uid mapped to uid 0 inside
    std::uint32_t gid = 0;               ///< first host gid (defaults to uid)
    std::uint32_t count = 65536;
    bool operator==(const UserNamespaceSpec&) const = default;
};

struct NamespacesSpec {
    NamespaceMode pid, ipc, uts;
    UserNamespaceSpec user;
    bool operator==(const NamespacesSpec&) const = default;
};

// ---- resources ------------------------------------------------------------------------
struct ResourcesSpec {
    std::optional<double> cpu;                  ///< cores (0.5 = "50%")
    std::optional<std::uint32_t> cpu_weight;    ///< "cpuWeight": 1..10000 (cgroup v2 scale, default 100)
    std::optional<std::uint64_t> memory;        ///< bytes, hard limit
    std::optional<std::uint64_t> memory_high;   ///< "memoryHigh": bytes, throttle point
    std::optional<std::uint64_t> swap;          ///< bytes of swap allowed besides memory
    std::optional<std::uint64_t> pids;          ///< max tasks
    std::optional<std::uint32_t> io_weight;     ///< "ioWeight": 1..10000 (v2 only)
    bool operator==(const ResourcesSpec&) const = default;
};

// ---- restart --------------------------------------------------------------------------
enum class RestartPolicy { always, on_failure, never };

struct BackoffSpec {
    Duration initial = std::chrono::seconds(1);
    Duration max = std::chrono::minutes(5);
    double factor = 2.0;
    Duration reset_after = std::chrono::minutes(10);  ///< "resetAfter": clean running that resets the count
    double jitter = 0.10;                             ///< +-fraction
    bool operator==(const BackoffSpec&) const = default;
};

struct RestartSpec {
    RestartPolicy policy = RestartPolicy::always;
    BackoffSpec backoff;
    std::optional<std::uint32_t> max_retries;         ///< "maxRetries": give up (state failed) after this many
    bool operator==(const RestartSpec&) const = default;
};

// ---- stop -----------------------------------------------------------------------------
struct StopSpec {
    /// SIGTERM; 0 only in an image app's spec that sets none (the image's StopSignal,
    /// else SIGTERM, decides at each start: see image_run.hpp).
    int signal = 15;
    Duration timeout = std::chrono::seconds(30);      ///< then SIGKILL to everything of the app
    bool operator==(const StopSpec&) const = default;
};

// ---- probes ---------------------------------------------------------------------------
enum class ProbeKind { http, tcp, exec };

struct HttpHeader {
    std::string name, value;
    bool operator==(const HttpHeader&) const = default;
};

struct ProbeSpec {
    ProbeKind kind = ProbeKind::tcp;
    // http
    std::uint16_t port = 0;                           ///< http, tcp
    std::string path = "/";                           ///< http
    std::string scheme = "http";                      ///< http: "http" | "https"
    std::vector<HttpHeader> headers;                  ///< http
    // tcp
    std::string expect;                               ///< tcp: banner prefix ("" = connect only)
    // exec
    std::vector<std::string> command;                 ///< exec
    // timing (Kubernetes defaults)
    Duration initial_delay = Duration(0);
    Duration period = std::chrono::seconds(10);
    Duration timeout = std::chrono::seconds(1);
    std::uint32_t success_threshold = 1;
    std::uint32_t failure_threshold = 3;
    bool operator==(const ProbeSpec&) const = default;
};

struct ProbesSpec {
    std::optional<ProbeSpec> liveness, readiness, startup;
    bool operator==(const ProbesSpec&) const = default;
};

// ---- security -------------------------------------------------------------------------
enum class SeccompMode { default_, unconfined, path };

struct SecuritySpec {
    std::vector<std::string> cap_add;                 ///< "CAP_NET_ADMIN" form, upper case, normalised
    std::vector<std::string> cap_drop;                ///< "ALL" allowed
    SeccompMode seccomp = SeccompMode::default_;
    std::string seccomp_path;                         ///< SeccompMode::path
    bool no_new_privileges = true;
    std::optional<bool> readonly_rootfs;              ///< default: true for host rootfs
    bool operator==(const SecuritySpec&) const = default;
};

// ---- the app --------------------------------------------------------------------------
/// Line numbers of the fields of an app file ("dependsOn[1]" -> 12), kept so that the
/// cross-file checks, which run after parsing, can still point at a line. Where a value
/// was written is not part of what it means: two SourceLines always compare equal, so
/// AppSpec's == and same_definition() ignore it.
/// "envFile": a file in systemd's EnvironmentFile= syntax, read at every start.
struct EnvFileSpec {
    std::string path;                                 ///< absolute host path
    bool optional = false;                            ///< written with a leading "-": a missing file is skipped
    bool operator==(const EnvFileSpec&) const = default;
};

/// "secrets": a root-owned host file copied to /run/secrets/<name> in the sandbox at every start.
struct SecretSpec {
    std::string source;                               ///< absolute host path
    std::string name;                                 ///< file name under /run/secrets (default: source's base name)
    std::uint32_t mode = 0400;
    bool operator==(const SecretSpec&) const = default;
};

/// "logs": per-app limits for the file log driver (unset = the daemon's settings).
struct LogLimitsSpec {
    std::optional<std::uint64_t> max_size;            ///< "maxSize": bytes per file before rotation
    std::optional<std::uint32_t> max_files;           ///< "maxFiles": rotated files kept
    bool operator==(const LogLimitsSpec&) const = default;
};

/// A host command the daemon runs when the app enters a state (hooks.onFailure, ...).
struct HookSpec {
    std::vector<std::string> command;
    Duration timeout = std::chrono::seconds(30);
    std::string user = "nobody";                      ///< name or uid[:gid]
    bool operator==(const HookSpec&) const = default;
};

struct HooksSpec {
    std::optional<HookSpec> on_failure;               ///< "onFailure": the app is failed (gave up)
    std::optional<HookSpec> on_unhealthy;             ///< "onUnhealthy": its liveness probe failed
    std::optional<HookSpec> on_oom;                   ///< "onOOM": the kernel OOM-killed a process of it
    bool operator==(const HooksSpec&) const = default;
};

struct SourceLines {
    std::map<std::string, int> by_field;
    /// The line of FIELD, else of its nearest enclosing field; 0 when unknown.
    int line_of(std::string field) const;
    bool operator==(const SourceLines&) const { return true; }
};

struct AppSpec {
    std::string name;                                 ///< file name without .json
    /// The program and its arguments. Empty only in an image app's spec: the image's
    /// Entrypoint + Cmd then (image_run.hpp).
    std::vector<std::string> command;
    /// Appended to command; for an image app without command, they replace the image's
    /// Cmd (Kubernetes' command/args).
    std::vector<std::string> args;
    std::string user;                                 ///< "" = root (an image app: the image's User); name or uid[:gid]
    std::map<std::string, std::string> env;
    std::vector<EnvFileSpec> env_files;               ///< "envFile"
    std::vector<SecretSpec> secrets;
    std::string workdir = "/";                        ///< "" only in an image app's spec: the image's WorkingDir, else "/"
    std::string hostname;                             ///< "" = the app name
    RootfsSpec rootfs;
    std::vector<MountSpec> mounts;
    NetworkSpec network;
    NamespacesSpec namespaces;
    ResourcesSpec resources;
    RestartSpec restart;
    StopSpec stop;
    ProbesSpec probes;
    std::vector<std::string> depends_on;              ///< "dependsOn"
    SecuritySpec security;
    bool init = true;                                 ///< isolated's init is PID 1; false execs the app as PID 1
    bool autostart = true;                            ///< false: defined, but started only when asked (isoctl start)
    LogLimitsSpec logs;
    HooksSpec hooks;

    /// The file it was read from, for messages raised after parsing.
    std::string source_file;
    /// Where each field was written in source_file, for those same messages.
    SourceLines source_lines;

    /// Specs are equal when everything that affects the running app is equal
    /// (source_file and autostart excluded): reload restarts an app only when this is false.
    bool same_definition(const AppSpec& o) const;
    bool operator==(const AppSpec&) const = default;

    std::string effective_hostname() const { return hostname.empty() ? name : hostname; }
};

// to_string / from_string for every enum (systemd habit). from_string returns nullopt
// on an unknown word.
std::string to_string(RootfsType);
std::string to_string(RootfsWritable);
std::string to_string(MountType);
std::string to_string(NetworkMode);
std::string to_string(Protocol);
std::string to_string(NamespaceKind);
std::string to_string(RestartPolicy);
std::string to_string(ProbeKind);
std::string to_string(SeccompMode);

std::optional<RootfsType> rootfs_type_from_string(std::string_view);
std::optional<RootfsWritable> rootfs_writable_from_string(std::string_view);
std::optional<MountType> mount_type_from_string(std::string_view);
std::optional<Protocol> protocol_from_string(std::string_view);
std::optional<RestartPolicy> restart_policy_from_string(std::string_view);
std::optional<ProbeKind> probe_kind_from_string(std::string_view);

/// The capabilities of Linux 6.x, "CAP_CHOWN" (0) .. "CAP_CHECKPOINT_RESTORE" (40), by number.
const std::vector<std::string>& capability_names();
/// "NET_ADMIN", "cap_net_admin", "CAP_NET_ADMIN" -> "CAP_NET_ADMIN"; "all" -> "ALL";
/// nullopt when it is not a capability.
std::optional<std::string> normalize_capability(std::string_view);

/// "postgres" is valid; [a-z0-9][a-z0-9-]{0,31}.
bool is_valid_app_name(std::string_view name);

}  // namespace isolated
