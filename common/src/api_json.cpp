#include "isolated/api_json.hpp"

#include <ctime>

namespace isolated {
namespace {

template <typename T>
json opt(const std::optional<T>& v) {
    return v ? json(*v) : json(nullptr);
}

template <typename T>
void get_opt(const json& j, const char* key, std::optional<T>& out) {
    auto it = j.find(key);
    if (it == j.end() || it->is_null())
        out.reset();
    else
        out = it->get<T>();
}

std::optional<ProbeStatus> probe_opt(const json& j, const char* key) {
    auto it = j.find(key);
    if (it == j.end() || it->is_null()) return std::nullopt;
    return it->get<ProbeStatus>();
}

}  // namespace

std::optional<WallTime> parse_rfc3339(std::string_view s) {
    // YYYY-MM-DDTHH:MM:SS[.fff...](Z|+00:00)
    if (s.size() < 20) return std::nullopt;
    std::tm tm{};
    int n = 0;
    std::string str(s);
    if (std::sscanf(str.c_str(), "%4d-%2d-%2dT%2d:%2d:%2d%n", &tm.tm_year, &tm.tm_mon, &tm.tm_mday, &tm.tm_hour,
                    &tm.tm_min, &tm.tm_sec, &n) != 6 || n != 19)
        return std::nullopt;
    tm.tm_year -= 1900;
    tm.tm_mon -= 1;
    std::int64_t ms = 0;
    size_t i = 19;
    if (i < str.size() && str[i] == '.') {
        ++i;
        int digits = 0;
        while (i < str.size() && str[i] >= '0' && str[i] <= '9') {
            if (digits < 3) ms = ms * 10 + (str[i] - '0');
            ++digits;
            ++i;
        }
        if (digits == 0) return std::nullopt;
        for (int d = digits; d < 3; ++d) ms *= 10;
    }
    std::string_view zone = std::string_view(str).substr(i);
    if (zone != "Z" && zone != "+00:00" && zone != "z") return std::nullopt;
    std::time_t secs = timegm(&tm);
    return WallTime(std::chrono::seconds(secs)) + std::chrono::milliseconds(ms);
}

json time_to_json(const std::optional<WallTime>& t) { return t ? json(format_rfc3339(*t)) : json(nullptr); }

std::optional<WallTime> time_from_json(const json& j) {
    if (j.is_null()) return std::nullopt;
    return parse_rfc3339(j.get<std::string>());
}

void to_json(json& j, const ExitInfo& v) {
    j = json{{"code", v.code},
             {"signal", v.signal ? json(signal_name(v.signal)) : json(nullptr)},
             {"oomKilled", v.oom_killed},
             {"reason", exit_reason(v)},
             {"at", format_rfc3339(v.at)}};
    if (!v.message.empty()) j["message"] = v.message;
}

void from_json(const json& j, ExitInfo& v) {
    v.code = j.at("code").get<int>();
    const auto& sig = j.at("signal");
    v.signal = sig.is_null() ? 0 : parse_signal(sig.get<std::string>()).value_or(0);
    v.oom_killed = j.value("oomKilled", false);
    v.at = time_from_json(j.at("at")).value_or(WallTime{});
    v.message = j.value("message", "");
}

void to_json(json& j, const ProbeStatus& v) {
    j = json{{"result", to_string(v.result)},
             {"consecutiveSuccesses", v.consecutive_successes},
             {"consecutiveFailures", v.consecutive_failures},
             {"message", v.message},
             {"lastProbeAt", time_to_json(v.last_probe_at)},
             {"lastDurationSeconds", opt(v.last_duration_seconds)},
             {"totalSuccesses", v.total_successes},
             {"totalFailures", v.total_failures}};
}

void from_json(const json& j, ProbeStatus& v) {
    auto r = j.at("result").get<std::string>();
    v.result = r == "success" ? ProbeResult::success
               : r == "failure" ? ProbeResult::failure
               : r == "warning" ? ProbeResult::warning
                                : ProbeResult::unknown;
    v.consecutive_successes = j.value("consecutiveSuccesses", 0u);
    v.consecutive_failures = j.value("consecutiveFailures", 0u);
    v.message = j.value("message", "");
    v.last_probe_at = j.contains("lastProbeAt") ? time_from_json(j["lastProbeAt"]) : std::nullopt;
    get_opt(j, "lastDurationSeconds", v.last_duration_seconds);
    v.total_successes = j.value("totalSuccesses", std::uint64_t{0});
    v.total_failures = j.value("totalFailures", std::uint64_t{0});
}

void to_json(json& j, const HealthStatus& v) {
    j = json{{"startup", opt(v.startup)}, {"liveness", opt(v.liveness)}, {"readiness", opt(v.readiness)}};
}

void from_json(const json& j, HealthStatus& v) {
    v.startup = probe_opt(j, "startup");
    v.liveness = probe_opt(j, "liveness");
    v.readiness = probe_opt(j, "readiness");
}

void to_json(json& j, const ResourceUsage& v) {
    j = json{{"cpuSeconds", opt(v.cpu_seconds)},
             {"memoryBytes", opt(v.memory_bytes)},
             {"memoryPeakBytes", opt(v.memory_peak_bytes)},
             {"pids", opt(v.pids)},
             {"cpuThrottledPeriods", opt(v.cpu_throttled_periods)},
             {"cpuThrottledSeconds", opt(v.cpu_throttled_seconds)},
             {"cpuPeriods", opt(v.cpu_periods)},
             {"logDroppedLines", opt(v.log_dropped_lines)},
             {"logDroppedBytes", opt(v.log_dropped_bytes)}};
}

void from_json(const json& j, ResourceUsage& v) {
    get_opt(j, "cpuSeconds", v.cpu_seconds);
    get_opt(j, "memoryBytes", v.memory_bytes);
    get_opt(j, "memoryPeakBytes", v.memory_peak_bytes);
    get_opt(j, "pids", v.pids);
    get_opt(j, "cpuThrottledPeriods", v.cpu_throttled_periods);
    get_opt(j, "cpuThrottledSeconds", v.cpu_throttled_seconds);
    get_opt(j, "cpuPeriods", v.cpu_periods);
    get_opt(j, "logDroppedLines", v.log_dropped_lines);
    get_opt(j, "logDroppedBytes", v.log_dropped_bytes);
}

void to_json(json& j, const PortSpec& v) {
    j = json{{"host", v.host}, {"app", v.app}, {"protocol", to_string(v.protocol)}};
    if (!v.host_address.empty()) j["hostAddress"] = v.host_address;
}

void from_json(const json& j, PortSpec& v) {
    v.host = j.at("host").get<std::uint16_t>();
    v.app = j.at("app").get<std::uint16_t>();
    v.protocol = j.value("protocol", "tcp") == "udp" ? Protocol::udp : Protocol::tcp;
    v.host_address = j.value("hostAddress", "");
}

json limits_to_json(const ResourcesSpec& v) {
    return json{{"cpu", opt(v.cpu)},       {"cpuWeight", opt(v.cpu_weight)}, {"memory", opt(v.memory)},
                {"memoryHigh", opt(v.memory_high)}, {"swap", opt(v.swap)}, {"pids", opt(v.pids)},
                {"ioWeight", opt(v.io_weight)}};
}

ResourcesSpec limits_from_json(const json& j) {
    ResourcesSpec v;
    get_opt(j, "cpu", v.cpu);
    get_opt(j, "cpuWeight", v.cpu_weight);
    get_opt(j, "memory", v.memory);
    get_opt(j, "memoryHigh", v.memory_high);
    get_opt(j, "swap", v.swap);
    get_opt(j, "pids", v.pids);
    get_opt(j, "ioWeight", v.io_weight);
    return v;
}

void to_json(json& j, const AppEvent& v) {
    j = json{{"seq", v.seq}, {"time", format_rfc3339(v.time)}, {"app", v.app}, {"type", v.type},
             {"message", v.message}};
    if (!v.state.empty()) j["state"] = v.state;
    if (v.exit) j["exit"] = *v.exit;
}

void from_json(const json& j, AppEvent& v) {
    v.seq = j.at("seq").get<std::uint64_t>();
    v.time = time_from_json(j.at("time")).value_or(WallTime{});
    v.app = j.value("app", "");
    v.type = j.value("type", "");
    v.message = j.value("message", "");
    v.state = j.value("state", "");
    if (auto it = j.find("exit"); it != j.end() && !it->is_null())
        v.exit = it->get<ExitInfo>();
    else
        v.exit.reset();
}

void to_json(json& j, const AppStatus& v) {
    j = json{{"name", v.name},
             {"state", to_string(v.state)},
             {"ready", v.ready},
             {"pid", v.pid ? json(v.pid) : json(nullptr)},
             {"initPid", v.init_pid ? json(v.init_pid) : json(nullptr)},
             {"startedAt", time_to_json(v.started_at)},
             {"restarts", v.restarts},
             {"lastExit", opt(v.last_exit)},
             {"address", v.address.empty() ? json(nullptr) : json(v.address)},
             {"ports", v.ports},
             {"health", v.health},
             {"resources", json{{"limits", limits_to_json(v.limits)}, {"usage", v.usage}}},
             {"message", v.message},
             {"nextRestartAt", time_to_json(v.next_restart_at)},
             {"fileErrors", v.file_errors}};
    j["image"] = v.image ? json{{"ref", v.image->ref}, {"id", v.image->id}, {"manifest", v.image->manifest}}
                         : json(nullptr);
}

void from_json(const json& j, AppStatus& v) {
    v.name = j.at("name").get<std::string>();
    v.state = app_state_from_string(j.at("state").get<std::string>()).value_or(AppState::stopped);
    v.ready = j.value("ready", false);
    v.pid = j.contains("pid") && !j["pid"].is_null() ? j["pid"].get<pid_t>() : 0;
    v.init_pid = j.contains("initPid") && !j["initPid"].is_null() ? j["initPid"].get<pid_t>() : 0;
    v.started_at = j.contains("startedAt") ? time_from_json(j["startedAt"]) : std::nullopt;
    v.restarts = j.value("restarts", 0u);
    if (auto it = j.find("lastExit"); it != j.end() && !it->is_null())
        v.last_exit = it->get<ExitInfo>();
    else
        v.last_exit.reset();
    v.address = j.contains("address") && !j["address"].is_null() ? j["address"].get<std::string>() : "";
    v.ports = j.value("ports", std::vector<PortSpec>{});
    if (j.contains("health")) v.health = j["health"].get<HealthStatus>();
    if (auto it = j.find("resources"); it != j.end()) {
        if (it->contains("limits")) v.limits = limits_from_json((*it)["limits"]);
        if (it->contains("usage")) v.usage = (*it)["usage"].get<ResourceUsage>();
    }
    v.message = j.value("message", "");
    v.next_restart_at = j.contains("nextRestartAt") ? time_from_json(j["nextRestartAt"]) : std::nullopt;
    v.file_errors = j.value("fileErrors", std::vector<std::string>{});
    if (auto it = j.find("image"); it != j.end() && it->is_object())
        v.image = AppImage{it->value("ref", ""), it->value("id", ""), it->value("manifest", "")};
    else
        v.image.reset();
}

void to_json(json& j, const AppDetail& v) {
    to_json(j, v.status);
    j["spec"] = v.has_spec ? app_spec_to_json(v.spec) : json(nullptr);
    j["events"] = v.events;
}

void to_json(json& j, const RejectedApp& v) { j = json{{"name", v.name}, {"errors", v.errors}}; }

void from_json(const json& j, RejectedApp& v) {
    v.name = j.at("name").get<std::string>();
    v.errors = j.value("errors", std::vector<std::string>{});
}

void to_json(json& j, const ReloadReport& v) {
    j = json{{"added", v.added},         {"changed", v.changed},   {"removed", v.removed},
             {"unchanged", v.unchanged}, {"rejected", v.rejected}};
}

void from_json(const json& j, ReloadReport& v) {
    using V = std::vector<std::string>;
    v.added = j.value("added", V{});
    v.changed = j.value("changed", V{});
    v.removed = j.value("removed", V{});
    v.unchanged = j.value("unchanged", V{});
    v.rejected = j.value("rejected", std::vector<RejectedApp>{});
}

void to_json(json& j, const VersionInfo& v) {
    j = json{{"version", v.version}, {"apiVersion", v.api_version}, {"cgroupDriver", v.cgroup_driver}};
}

json error_json(std::string_view code, std::string_view message) {
    return json{{"error", json{{"code", code}, {"message", message}}}};
}

std::string exit_reason(const ExitInfo& e) {
    if (e.oom_killed) return "oomKilled";
    if (e.code < 0) return "unknown";
    // The init's own failures carry a message and its reserved codes (as docker run's
    // 125/126/127); an app that exits 127 by itself has no message.
    if (!e.message.empty() && e.signal == 0) {
        if (e.code == 125) return "launchFailed";
        if (e.code == 126 || e.code == 127) return "execFailed";
    }
    if (e.signal != 0) return "killed";
    return "exited";
}

std::string to_string(AppState s) {
    switch (s) {
        case AppState::stopped: return "stopped";
        case AppState::starting: return "starting";
        case AppState::running: return "running";
        case AppState::ready: return "ready";
        case AppState::unhealthy: return "unhealthy";
        case AppState::stopping: return "stopping";
        case AppState::backoff: return "backoff";
        case AppState::failed: return "failed";
    }
    return "unknown";
}

std::optional<AppState> app_state_from_string(std::string_view s) {
    for (auto st : {AppState::stopped, AppState::starting, AppState::running, AppState::ready, AppState::unhealthy,
                    AppState::stopping, AppState::backoff, AppState::failed})
        if (to_string(st) == s) return st;
    return std::nullopt;
}

std::string to_string(ProbeResult r) {
    switch (r) {
        case ProbeResult::unknown: return "unknown";
        case ProbeResult::success: return "success";
        case ProbeResult::failure: return "failure";
        case ProbeResult::warning: return "warning";
    }
    return "unknown";
}

}  // namespace isolated
