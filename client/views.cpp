#include "views.hpp"

#include <cstdio>

#include "isolated/api_json.hpp"

namespace isoctl {

using isolated::AppState;
using isolated::AppStatus;
using nlohmann::json;

namespace {

std::string join(const std::vector<std::string>& v, const char* sep = ", ") {
    std::string s;
    for (const auto& x : v) {
        if (!s.empty()) s += sep;
        s += x;
    }
    return s;
}

std::string or_dash(std::string s) { return s.empty() ? "-" : s; }

bool is_up(AppState s) {
    return s == AppState::starting || s == AppState::running || s == AppState::ready || s == AppState::unhealthy ||
           s == AppState::stopping;
}

std::string uptime(const AppStatus& a, WallTime now) {
    if (!a.started_at || !is_up(a.state)) return "";
    return human_duration(std::chrono::duration_cast<std::chrono::milliseconds>(now - *a.started_at));
}

std::string cpu_seconds(double s) {
    if (s >= 120) return human_duration(std::chrono::milliseconds(static_cast<long long>(s * 1000)));
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.2fs", s);
    return buf;
}

std::string describe_probe(const isolated::ProbeStatus& p, WallTime now) {
    using isolated::ProbeResult;
    std::string s = isolated::to_string(p.result);
    std::vector<std::string> facts;
    if (p.result == ProbeResult::success && p.consecutive_successes)
        facts.push_back(std::to_string(p.consecutive_successes) + " in a row");
    else if ((p.result == ProbeResult::failure || p.result == ProbeResult::warning) && p.consecutive_failures)
        facts.push_back(std::to_string(p.consecutive_failures) + " in a row");
    if (p.last_probe_at) facts.push_back("last " + relative_time(*p.last_probe_at, now));
    if (!facts.empty()) s += " (" + join(facts) + ")";
    if (!p.message.empty()) s += ": " + p.message;
    return s;
}

std::string describe_limits(const isolated::ResourcesSpec& r) {
    std::vector<std::string> parts;
    if (r.cpu) parts.push_back("cpu " + format_cpu(*r.cpu));
    if (r.cpu_weight) parts.push_back("cpuWeight " + std::to_string(*r.cpu_weight));
    if (r.memory) parts.push_back("memory " + human_bytes(*r.memory));
    if (r.memory_high) parts.push_back("memoryHigh " + human_bytes(*r.memory_high));
    if (r.swap) parts.push_back("swap " + human_bytes(*r.swap));
    if (r.pids) parts.push_back("pids " + std::to_string(*r.pids));
    if (r.io_weight) parts.push_back("ioWeight " + std::to_string(*r.io_weight));
    return parts.empty() ? "none" : join(parts);
}

std::string describe_usage(const isolated::ResourceUsage& u, const isolated::ResourcesSpec& limits) {
    std::vector<std::string> parts;
    if (u.cpu_seconds) parts.push_back("cpu " + cpu_seconds(*u.cpu_seconds));
    if (u.memory_bytes) {
        std::string m = "memory " + human_bytes(*u.memory_bytes);
        if (limits.memory) m += " / " + human_bytes(*limits.memory);
        if (u.memory_peak_bytes) m += " (peak " + human_bytes(*u.memory_peak_bytes) + ")";
        parts.push_back(m);
    }
    if (u.pids) {
        std::string p = "pids " + std::to_string(*u.pids);
        if (limits.pids) p += " / " + std::to_string(*limits.pids);
        parts.push_back(p);
    }
    if (u.cpu_throttled_periods && *u.cpu_throttled_periods) {
        std::string t = "throttled " + std::to_string(*u.cpu_throttled_periods) + " periods";
        if (u.cpu_throttled_seconds) t += " (" + cpu_seconds(*u.cpu_throttled_seconds) + ")";
        parts.push_back(t);
    }
    // A full log dir: the app runs on, its output does not all reach the log.
    if (u.log_dropped_lines && *u.log_dropped_lines)
        parts.push_back("log lines dropped " + std::to_string(*u.log_dropped_lines) + " (" +
                        human_bytes(u.log_dropped_bytes.value_or(0)) + ")");
    return parts.empty() ? "-" : join(parts);
}

std::string pad_right(std::string s, std::size_t width) {
    std::size_t w = display_width(s);
    if (w < width) s.append(width - w, ' ');
    return s;
}

void rtrim(std::string& s) {
    while (!s.empty() && s.back() == ' ') s.pop_back();
}

}  // namespace

AppDetailView detail_from_json(const json& j) {
    AppDetailView v;
    v.status = j.get<AppStatus>();
    if (auto spec = j.find("spec"); spec != j.end() && spec->is_object()) {
        // command + args, as the app runs them (an image app without command: args only).
        for (const char* key : {"command", "args"})
            if (auto cmd = spec->find(key); cmd != spec->end() && cmd->is_array())
                for (const auto& word : *cmd) {
                    if (word.is_null())
                        ++v.hidden_args;
                    else
                        v.command.push_back(word.get<std::string>());
                }
    }
    if (auto ev = j.find("events"); ev != j.end() && ev->is_array())
        v.events = ev->get<std::vector<isolated::AppEvent>>();
    return v;
}

Color state_color(AppState s) {
    switch (s) {
        case AppState::ready: return Color::green;
        case AppState::starting:
        case AppState::running:
        case AppState::stopping: return Color::yellow;
        case AppState::unhealthy:
        case AppState::backoff:
        case AppState::failed: return Color::red;
        case AppState::stopped: return Color::dim;
    }
    return Color::none;
}

std::string render_status_table(const std::vector<AppStatus>& apps, WallTime now, bool color) {
    Table t({{"NAME"},
             {"STATE"},
             {"READY"},
             {"PID"},
             {"UPTIME"},
             {"RESTARTS"},
             {"LAST-EXIT", 32},
             {"ADDRESS", 18},
             {"PORTS", 40}});
    for (const auto& a : apps) {
        std::string last = "-";
        if (a.last_exit) last = describe_exit(*a.last_exit) + " (" + relative_time(a.last_exit->at, now) + ")";
        t.add_row({a.name,
                   Cell(isolated::to_string(a.state), state_color(a.state)),
                   a.ready ? "yes" : "no",
                   a.pid ? std::to_string(a.pid) : "-",
                   or_dash(uptime(a, now)),
                   std::to_string(a.restarts),
                   last,
                   or_dash(a.address),
                   or_dash(format_ports(a.ports))});
    }
    std::string out = t.render(color);
    // A broken app file must be seen where operators look, not only in the daemon log.
    bool first = true;
    for (const auto& a : apps) {
        if (a.file_errors.empty()) continue;
        if (first) out += "\n";
        first = false;
        bool never_accepted = a.state == AppState::failed && a.message.rfind("app file rejected", 0) == 0;
        std::string what = never_accepted ? "app file rejected" : "app file rejected; it keeps its last good definition";
        out += colorize(a.name + ": " + what + ":", Color::red, color) + "\n";
        for (const auto& e : a.file_errors) out += "  " + e + "\n";
    }
    return out;
}

std::string render_app_detail(const AppDetailView& v, WallTime now, bool color, std::size_t max_events) {
    const AppStatus& a = v.status;
    std::string out;
    constexpr std::size_t kLabel = 14;
    auto line = [&](const std::string& label, const std::string& value) {
        std::string l = pad_right(label + ":", kLabel) + value;
        rtrim(l);
        out += l + "\n";
    };
    line("Name", a.name);
    line("State", colorize(isolated::to_string(a.state), state_color(a.state), color));
    if (auto m = status_message(a); !m.empty()) line("Message", m);
    line("Ready", a.ready ? "yes" : "no");
    if (!v.command.empty())
        line("Command", shell_join(v.command) + (v.hidden_args == 0 ? std::string()
                                                 : " (" + std::to_string(v.hidden_args) +
                                                       (v.hidden_args == 1 ? " argument" : " arguments") +
                                                       " hidden: needs root or group isolated)"));
    std::string pid = a.pid ? std::to_string(a.pid) : "-";
    if (a.init_pid) pid += " (init " + std::to_string(a.init_pid) + ")";
    line("PID", pid);
    if (a.started_at && is_up(a.state))
        line("Started", format_local_time(*a.started_at) + " (" + relative_time(*a.started_at, now) + ")");
    else
        line("Started", "-");
    for (const auto& e : a.file_errors) line("File error", e);
    line("Restarts", std::to_string(a.restarts));
    if (a.last_exit) {
        const auto& e = *a.last_exit;
        std::string s = describe_exit(e);
        if (e.oom_killed && e.signal) s += " (" + isolated::signal_name(e.signal) + ")";
        if (!e.message.empty()) s += ": " + e.message;
        s += ", " + format_local_time(e.at) + " (" + relative_time(e.at, now) + ")";
        line("Last exit", s);
    } else {
        line("Last exit", "-");
    }
    if (a.next_restart_at) line("Next restart", relative_time(*a.next_restart_at, now));
    if (a.image) line("Image", a.image->ref + " (id " + a.image->id + ", manifest " + a.image->manifest + ")");
    line("Address", or_dash(a.address));
    line("Ports", or_dash(format_ports(a.ports)));
    const auto& h = a.health;
    if (!h.startup && !h.liveness && !h.readiness) {
        line("Health", "no probes");
    } else {
        out += "Health:\n";
        auto probe = [&](const char* name, const std::optional<isolated::ProbeStatus>& p) {
            if (p) line(std::string("  ") + name, describe_probe(*p, now));
        };
        probe("startup", h.startup);
        probe("liveness", h.liveness);
        probe("readiness", h.readiness);
    }
    line("Limits", describe_limits(a.limits));
    line("Usage", describe_usage(a.usage, a.limits));
    if (v.events.empty()) {
        line("Events", "none");
    } else {
        out += "Events:\n";
        std::size_t first = v.events.size() > max_events ? v.events.size() - max_events : 0;
        for (std::size_t i = first; i < v.events.size(); ++i) {
            const auto& e = v.events[i];
            std::string l = "  " + format_local_time(e.time) + "  " + pad_right(e.type, 8) + "  " + event_text(e);
            rtrim(l);
            out += l + "\n";
        }
    }
    return out;
}

std::string event_text(const isolated::AppEvent& e) {
    if (e.type == "state" && !e.state.empty()) {
        if (e.message.empty() || isolated::app_state_from_string(e.message)) return e.state;
        return e.state + ": " + e.message;
    }
    if (!e.message.empty()) return e.message;
    if (e.exit) return describe_exit(*e.exit);
    return e.state;
}

std::string status_message(const AppStatus& s) {
    // A message that only repeats a state name tells nothing the STATE does not.
    return isolated::app_state_from_string(s.message) ? std::string() : s.message;
}

std::string format_event_line(const isolated::AppEvent& e) {
    std::string l = format_local_time(e.time) + "  " + pad_right(e.app.empty() ? "-" : e.app, 12) + "  " +
                    pad_right(e.type, 8) + "  " + event_text(e);
    rtrim(l);
    return l;
}

std::string render_reload_summary(const isolated::ReloadReport& r) {
    std::string out;
    auto cat = [&](const char* label, const std::vector<std::string>& names) {
        if (!names.empty()) out += std::string(label) + ": " + join(names) + "\n";
    };
    cat("added", r.added);
    cat("changed", r.changed);
    cat("removed", r.removed);
    std::vector<std::string> rejected;
    for (const auto& x : r.rejected) rejected.push_back(x.name);
    cat("rejected", rejected);
    if (out.empty()) out = "no changes (" + std::to_string(r.unchanged.size()) + " unchanged)\n";
    return out;
}

std::string shell_join(const std::vector<std::string>& argv) {
    std::string s;
    for (const auto& a : argv) {
        if (!s.empty()) s += ' ';
        bool plain = !a.empty();
        for (char c : a)
            if (!(std::isalnum(static_cast<unsigned char>(c)) || std::string_view("-_./=:,@%+").find(c) != std::string_view::npos))
                plain = false;
        if (plain) {
            s += a;
        } else {
            s += '\'';
            for (char c : a) s += c == '\'' ? std::string("'\\''") : std::string(1, c);
            s += '\'';
        }
    }
    return s;
}

}  // namespace isoctl

// ---- isoctl top -----------------------------------------------------------------------

namespace isoctl {

std::optional<double> cpu_percent(std::optional<double> before, std::optional<double> after,
                                  std::chrono::duration<double> wall) {
    if (!before || !after || wall.count() <= 0 || *after < *before) return std::nullopt;
    return (*after - *before) / wall.count() * 100.0;
}

std::vector<TopRow> top_rows(const UsageSample* before, const UsageSample& now, const std::vector<std::string>& names) {
    auto find = [](const UsageSample& s, const std::string& name) -> const AppStatus* {
        for (const auto& a : s.apps)
            if (a.name == name) return &a;
        return nullptr;
    };
    auto row = [&](const AppStatus& a) {
        TopRow r;
        r.name = a.name;
        r.state = a.state;
        r.memory_bytes = a.usage.memory_bytes;
        r.memory_limit_bytes = a.limits.memory;
        if (r.memory_bytes && r.memory_limit_bytes && *r.memory_limit_bytes > 0)
            r.memory_percent =
                static_cast<double>(*r.memory_bytes) / static_cast<double>(*r.memory_limit_bytes) * 100.0;
        r.pids = a.usage.pids;
        r.restarts = a.restarts;
        if (before) {
            // Another run of the app has a new cgroup whose counter started from zero.
            const AppStatus* b = find(*before, a.name);
            if (b && b->started_at == a.started_at && b->pid == a.pid)
                r.cpu_percent = cpu_percent(b->usage.cpu_seconds, a.usage.cpu_seconds, now.at - before->at);
        }
        return r;
    };
    std::vector<TopRow> rows;
    if (names.empty()) {
        for (const auto& a : now.apps) rows.push_back(row(a));
    } else {
        for (const auto& n : names)
            if (const AppStatus* a = find(now, n)) rows.push_back(row(*a));
    }
    return rows;
}

std::string format_percent(double percent) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.2f%%", percent);
    return buf;
}

std::string render_top_table(const std::vector<TopRow>& rows, bool color) {
    Table t({{"NAME"}, {"STATE"}, {"CPU %"}, {"MEM USAGE / LIMIT"}, {"MEM %"}, {"PIDS"}, {"RESTARTS"}});
    for (const auto& r : rows) {
        std::string mem = "-";
        if (r.memory_bytes)
            mem = human_bytes(*r.memory_bytes) + " / " +
                  (r.memory_limit_bytes ? human_bytes(*r.memory_limit_bytes) : std::string("-"));
        t.add_row({r.name,
                   Cell(isolated::to_string(r.state), state_color(r.state)),
                   r.cpu_percent ? format_percent(*r.cpu_percent) : "-",
                   mem,
                   r.memory_percent ? format_percent(*r.memory_percent) : "-",
                   r.pids ? std::to_string(*r.pids) : "-",
                   std::to_string(r.restarts)});
    }
    return t.render(color);
}

nlohmann::json top_json(const std::vector<TopRow>& rows) {
    auto opt = [](const auto& v) { return v ? json(*v) : json(nullptr); };
    json apps = json::array();
    for (const auto& r : rows)
        apps.push_back({{"name", r.name},
                        {"state", isolated::to_string(r.state)},
                        {"cpuPercent", opt(r.cpu_percent)},
                        {"memoryBytes", opt(r.memory_bytes)},
                        {"memoryLimitBytes", opt(r.memory_limit_bytes)},
                        {"memoryPercent", opt(r.memory_percent)},
                        {"pids", opt(r.pids)},
                        {"restarts", r.restarts}});
    return json{{"apps", apps}};
}

}  // namespace isoctl
