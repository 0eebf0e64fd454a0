#include "metrics/metrics.hpp"

#include <cstdio>
#include <sstream>

namespace isolated::metrics {
namespace {

std::string num(double v) {
    char buf[64];
    std::snprintf(buf, sizeof buf, "%.17g", v);
    return buf;
}

struct Family {
    std::ostringstream& out;
    Family(std::ostringstream& o, const char* name, const char* type, const char* help) : out(o) {
        out << "# HELP " << name << ' ' << help << "\n# TYPE " << name << ' ' << type << '\n';
    }
};

std::string app_labels(const AppStatus& a) {
    auto n = escape_label(a.name);
    return "app=\"" + n + "\",name=\"" + n + "\"";
}

}  // namespace

std::string escape_label(std::string_view v) {
    std::string out;
    for (char c : v) {
        if (c == '\\') out += "\\\\";
        else if (c == '"') out += "\\\"";
        else if (c == '\n') out += "\\n";
        else out += c;
    }
    return out;
}

std::string render(const std::vector<AppStatus>& apps, const DaemonFacts& d) {
    std::ostringstream out;
    Family(out, "isolated_build_info", "gauge", "Version of the isolated daemon.");
    out << "isolated_build_info{version=\"" << escape_label(d.version) << "\"} 1\n";
    Family(out, "isolated_uptime_seconds", "gauge", "Seconds since the daemon started.");
    out << "isolated_uptime_seconds " << num(d.uptime_seconds) << '\n';
    Family(out, "isolated_apps", "gauge", "Number of defined apps.");
    out << "isolated_apps " << apps.size() << '\n';

    Family(out, "isolated_app_state", "gauge", "1 for the state the app is in, 0 for the others.");
    for (const auto& a : apps)
        for (auto s : {AppState::stopped, AppState::starting, AppState::running, AppState::ready, AppState::unhealthy,
                       AppState::stopping, AppState::backoff, AppState::failed})
            out << "isolated_app_state{" << app_labels(a) << ",state=\"" << to_string(s) << "\"} "
                << (a.state == s ? 1 : 0) << '\n';
    Family(out, "isolated_app_ready", "gauge", "1 when the app is ready.");
    for (const auto& a : apps) out << "isolated_app_ready{" << app_labels(a) << "} " << (a.ready ? 1 : 0) << '\n';
    Family(out, "isolated_app_restarts_total", "counter", "Restarts isolated made on its own.");
    for (const auto& a : apps) out << "isolated_app_restarts_total{" << app_labels(a) << "} " << a.restarts << '\n';
    Family(out, "isolated_app_start_time_seconds", "gauge", "Start time of the running instance, Unix seconds.");
    for (const auto& a : apps)
        if (a.started_at)
            out << "isolated_app_start_time_seconds{" << app_labels(a) << "} "
                << num(std::chrono::duration<double>(a.started_at->time_since_epoch()).count()) << '\n';
    Family(out, "isolated_app_last_exit_code", "gauge", "Exit code of the app's last exit (128+signal if killed).");
    for (const auto& a : apps)
        if (a.last_exit) out << "isolated_app_last_exit_code{" << app_labels(a) << "} " << a.last_exit->code << '\n';

    Family(out, "container_cpu_usage_seconds_total", "counter", "Cumulative cpu time consumed in seconds.");
    for (const auto& a : apps)
        if (a.usage.cpu_seconds)
            out << "container_cpu_usage_seconds_total{" << app_labels(a) << "} " << num(*a.usage.cpu_seconds) << '\n';
    Family(out, "container_memory_usage_bytes", "gauge", "Current memory usage in bytes.");
    for (const auto& a : apps)
        if (a.usage.memory_bytes)
            out << "container_memory_usage_bytes{" << app_labels(a) << "} " << *a.usage.memory_bytes << '\n';
    Family(out, "container_spec_memory_limit_bytes", "gauge", "Memory limit for the container.");
    for (const auto& a : apps)
        out << "container_spec_memory_limit_bytes{" << app_labels(a) << "} " << a.limits.memory.value_or(0) << '\n';
    Family(out, "container_processes", "gauge", "Number of processes running inside the container.");
    for (const auto& a : apps)
        if (a.usage.pids) out << "container_processes{" << app_labels(a) << "} " << *a.usage.pids << '\n';
    return out.str();
}

}  // namespace isolated::metrics
