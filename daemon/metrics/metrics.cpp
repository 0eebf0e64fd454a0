#include "metrics/metrics.hpp"

#include <charconv>
#include <cmath>
#include <initializer_list>
#include <optional>
#include <utility>

#include "cgroup/limits.hpp"

namespace isolated::metrics {
namespace {

constexpr AppState kStates[] = {AppState::stopped, AppState::starting, AppState::running, AppState::ready,
                                AppState::unhealthy, AppState::stopping, AppState::backoff, AppState::failed};

/// Collects families in the order they are declared; the header of a family is written
/// with its first sample, so a family without samples leaves no trace.
class Exposition {
public:
    void family(const char* name, const char* type, const char* help) {
        name_ = name;
        type_ = type;
        help_ = help;
        header_written_ = false;
    }

    /// `labels`: pairs already in the wanted order; values are escaped here.
    void sample(std::initializer_list<std::pair<const char*, std::string_view>> labels, const std::string& value) {
        if (!header_written_) {
            out_ += "# HELP ";
            out_ += name_;
            out_ += ' ';
            out_ += help_;
            out_ += "\n# TYPE ";
            out_ += name_;
            out_ += ' ';
            out_ += type_;
            out_ += '\n';
            header_written_ = true;
        }
        out_ += name_;
        if (labels.size() != 0) {
            out_ += '{';
            bool first = true;
            for (const auto& [k, v] : labels) {
                if (!first) out_ += ',';
                first = false;
                out_ += k;
                out_ += "=\"";
                out_ += escape_label(v);
                out_ += '"';
            }
            out_ += '}';
        }
        out_ += ' ';
        out_ += value;
        out_ += '\n';
    }

    std::string take() { return std::move(out_); }

private:
    std::string out_;
    const char* name_ = "";
    const char* type_ = "";
    const char* help_ = "";
    bool header_written_ = false;
};

std::string u64(std::uint64_t v) { return std::to_string(v); }

/// One series per app, labelled like cAdvisor's (`name`) and isolated's (`app`), when
/// `value(app)` knows a value.
template <typename F>
void per_app(Exposition& e, const std::vector<AppStatus>& apps, F value) {
    for (const auto& a : apps)
        if (std::optional<std::string> v = value(a)) e.sample({{"app", a.name}, {"name", a.name}}, *v);
}

template <typename T>
std::optional<std::string> opt_u64(const std::optional<T>& v) {
    if (!v) return std::nullopt;
    return u64(*v);
}

std::optional<std::string> opt_double(const std::optional<double>& v) {
    if (!v) return std::nullopt;
    return format_value(*v);
}

const std::optional<ProbeStatus>& probe_of(const HealthStatus& h, int i) {
    return i == 0 ? h.startup : i == 1 ? h.liveness : h.readiness;
}
constexpr const char* kProbeNames[] = {"startup", "liveness", "readiness"};

}  // namespace

std::string escape_label(std::string_view v) {
    std::string out;
    out.reserve(v.size());
    for (char c : v) {
        if (c == '\\') out += "\\\\";
        else if (c == '"') out += "\\\"";
        else if (c == '\n') out += "\\n";
        else out += c;
    }
    return out;
}

std::string format_value(double v) {
    if (std::isnan(v)) return "NaN";
    if (std::isinf(v)) return v > 0 ? "+Inf" : "-Inf";
    char buf[64];
    auto [end, ec] = std::to_chars(buf, buf + sizeof buf, v);
    if (ec != std::errc()) return "NaN";  // cannot happen with 64 bytes
    return std::string(buf, end);
}

std::string render(const std::vector<AppStatus>& apps, const DaemonFacts& d) {
    Exposition e;

    // ---- the daemon ----
    e.family("isolated_up", "gauge", "1 when the isolated daemon answers.");
    e.sample({}, "1");
    e.family("isolated_build_info", "gauge", "Version of the isolated daemon; the value is always 1.");
    e.sample({{"version", d.version}}, "1");
    e.family("isolated_daemon_uptime_seconds", "gauge", "Seconds since the daemon started.");
    e.sample({}, format_value(d.uptime_seconds));
    e.family("isolated_events_total", "counter",
             "Events (state changes, exits, restarts, probe results) published since the daemon started.");
    e.sample({}, u64(d.events_total));
    e.family("isolated_apps", "gauge", "Number of defined apps.");
    e.sample({}, u64(apps.size()));
    if (d.images) {
        e.family("isolated_images", "gauge", "Number of images in the image store.");
        e.sample({}, u64(*d.images));
    }
    if (d.image_store_bytes) {
        e.family("isolated_image_store_bytes", "gauge",
                 "Bytes the image store holds: its blobs and its unpacked trees.");
        e.sample({}, u64(*d.image_store_bytes));
    }

    // ---- isolated's view of each app ----
    e.family("isolated_app_state", "gauge", "1 for the state the app is in, 0 for the others.");
    for (const auto& a : apps)
        for (auto s : kStates) {
            std::string state = to_string(s);
            e.sample({{"app", a.name}, {"name", a.name}, {"state", state}}, a.state == s ? "1" : "0");
        }
    e.family("isolated_app_ready", "gauge",
             "1 when the app is ready (readiness passing, or running without a readiness probe).");
    per_app(e, apps, [](const AppStatus& a) { return std::optional<std::string>(a.ready ? "1" : "0"); });
    e.family("isolated_app_restarts_total", "counter",
             "Restarts isolated made on its own (after an exit or a liveness failure).");
    per_app(e, apps, [](const AppStatus& a) { return std::optional<std::string>(u64(a.restarts)); });
    e.family("isolated_app_file_rejected", "gauge",
             "1 when the app's file was rejected at the last load or reload (the app keeps its last good "
             "definition, or is failed when it never had one).");
    per_app(e, apps, [](const AppStatus& a) { return std::optional<std::string>(a.file_errors.empty() ? "0" : "1"); });
    e.family("isolated_app_log_dropped_lines_total", "counter",
             "Log lines of the app's current instance that could not be written (a full or failing log dir).");
    per_app(e, apps, [](const AppStatus& a) { return opt_u64(a.usage.log_dropped_lines); });
    e.family("isolated_app_log_dropped_bytes_total", "counter",
             "Bytes of those lines, as CRI log records.");
    per_app(e, apps, [](const AppStatus& a) { return opt_u64(a.usage.log_dropped_bytes); });
    e.family("isolated_app_last_exit_code", "gauge", "Exit code of the app's last exit (128+signal when killed).");
    per_app(e, apps, [](const AppStatus& a) -> std::optional<std::string> {
        if (!a.last_exit) return std::nullopt;
        return std::to_string(a.last_exit->code);
    });
    e.family("isolated_app_last_exit_oom_killed", "gauge", "1 when the app's last exit was a kill by the OOM killer.");
    per_app(e, apps, [](const AppStatus& a) -> std::optional<std::string> {
        if (!a.last_exit) return std::nullopt;
        return a.last_exit->oom_killed ? "1" : "0";
    });
    e.family("isolated_app_probe_success", "gauge",
             "1 when the probe's last result is a success, 0 when a failure; absent before the first result.");
    for (const auto& a : apps)
        for (int i = 0; i < 3; ++i) {
            const auto& p = probe_of(a.health, i);
            if (!p || p->result == ProbeResult::unknown) continue;
            // A warning (a redirect to another host) counts as a success, as in Kubernetes.
            e.sample({{"app", a.name}, {"name", a.name}, {"probe", kProbeNames[i]}},
                     p->result == ProbeResult::failure ? "0" : "1");
        }
    e.family("isolated_app_probe_consecutive_failures", "gauge", "Failures of the probe in a row (0 after a success).");
    for (const auto& a : apps)
        for (int i = 0; i < 3; ++i)
            if (const auto& p = probe_of(a.health, i))
                e.sample({{"app", a.name}, {"name", a.name}, {"probe", kProbeNames[i]}}, u64(p->consecutive_failures));
    // Both results of every defined probe from the start, 0 until counted: a series that
    // appears only with its first failure makes rate() and increase() miss that failure.
    e.family("isolated_app_probe_total", "counter",
             "Probe runs by result since the app was defined in this daemon (a warning counts as success).");
    for (const auto& a : apps)
        for (int i = 0; i < 3; ++i)
            if (const auto& p = probe_of(a.health, i)) {
                e.sample({{"app", a.name}, {"name", a.name}, {"probe", kProbeNames[i]}, {"result", "success"}},
                         u64(p->total_successes));
                e.sample({{"app", a.name}, {"name", a.name}, {"probe", kProbeNames[i]}, {"result", "failure"}},
                         u64(p->total_failures));
            }
    e.family("isolated_app_probe_duration_seconds", "gauge",
             "How long the probe's last run took, from its start to its result (the timeout when it timed out).");
    for (const auto& a : apps)
        for (int i = 0; i < 3; ++i) {
            const auto& p = probe_of(a.health, i);
            if (!p || !p->last_duration_seconds) continue;
            e.sample({{"app", a.name}, {"name", a.name}, {"probe", kProbeNames[i]}},
                     format_value(*p->last_duration_seconds));
        }

    // ---- cAdvisor's names, from the app's cgroup and limits ----
    e.family("container_start_time_seconds", "gauge", "Start time of the container since unix epoch in seconds.");
    per_app(e, apps, [](const AppStatus& a) -> std::optional<std::string> {
        if (!a.started_at) return std::nullopt;
        return format_value(std::chrono::duration<double>(a.started_at->time_since_epoch()).count());
    });
    e.family("container_cpu_usage_seconds_total", "counter", "Cumulative cpu time consumed in seconds.");
    per_app(e, apps, [](const AppStatus& a) { return opt_double(a.usage.cpu_seconds); });
    e.family("container_cpu_cfs_periods_total", "counter", "Number of elapsed enforcement period intervals.");
    per_app(e, apps, [](const AppStatus& a) { return opt_u64(a.usage.cpu_periods); });
    e.family("container_cpu_cfs_throttled_periods_total", "counter", "Number of throttled period intervals.");
    per_app(e, apps, [](const AppStatus& a) { return opt_u64(a.usage.cpu_throttled_periods); });
    e.family("container_cpu_cfs_throttled_seconds_total", "counter",
             "Total time duration the container has been throttled.");
    per_app(e, apps, [](const AppStatus& a) { return opt_double(a.usage.cpu_throttled_seconds); });
    e.family("container_memory_working_set_bytes", "gauge", "Current working set in bytes.");
    per_app(e, apps, [](const AppStatus& a) { return opt_u64(a.usage.memory_bytes); });
    e.family("container_memory_max_usage_bytes", "gauge", "Maximum memory usage recorded in bytes.");
    per_app(e, apps, [](const AppStatus& a) { return opt_u64(a.usage.memory_peak_bytes); });
    // pids.current counts tasks, threads included: cAdvisor reports it as threads.
    e.family("container_threads", "gauge", "Number of threads running inside the container.");
    per_app(e, apps, [](const AppStatus& a) { return opt_u64(a.usage.pids); });

    e.family("container_spec_cpu_period", "gauge", "CPU period of the container.");
    per_app(e, apps, [](const AppStatus& a) -> std::optional<std::string> {
        if (!a.limits.cpu) return std::nullopt;
        return u64(cgroup::kCpuPeriodUs);
    });
    e.family("container_spec_cpu_quota", "gauge", "CPU quota of the container.");
    per_app(e, apps, [](const AppStatus& a) -> std::optional<std::string> {
        if (!a.limits.cpu) return std::nullopt;
        return u64(cgroup::cpu_quota_us(*a.limits.cpu));
    });
    e.family("container_spec_memory_limit_bytes", "gauge", "Memory limit for the container.");
    per_app(e, apps, [](const AppStatus& a) { return opt_u64(a.limits.memory); });
    e.family("container_threads_max", "gauge", "Maximum number of threads allowed inside the container.");
    per_app(e, apps, [](const AppStatus& a) { return opt_u64(a.limits.pids); });

    return e.take();
}

}  // namespace isolated::metrics
