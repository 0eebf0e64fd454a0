// The canonical app-file form of an AppSpec: every field, defaults included, in the
// syntax of isolated.app(5). null stands for "not set" (the parser reads null as absent), so
// parse_app_text() of the dump gives back an equal spec.
#include <cstdio>

#include "isolated/api_json.hpp"

namespace isolated {
namespace {

json string_or_null(const std::string& s) { return s.empty() ? json(nullptr) : json(s); }

template <typename T>
json opt(const std::optional<T>& v) {
    return v ? json(*v) : json(nullptr);
}

std::string octal(std::uint32_t mode) {
    char buf[16];
    std::snprintf(buf, sizeof buf, "%04o", mode);
    return buf;
}

json namespace_json(const NamespaceMode& m) {
    return m.kind == NamespaceKind::app ? json("app:" + m.app) : json(to_string(m.kind));
}

json probe_json(const std::optional<ProbeSpec>& p) {
    if (!p) return nullptr;
    json j;
    switch (p->kind) {
        case ProbeKind::http: {
            json headers = json::array();
            for (const auto& h : p->headers) headers.push_back({{"name", h.name}, {"value", h.value}});
            j["http"] = {{"port", p->port}, {"path", p->path}, {"scheme", p->scheme}, {"headers", headers}};
            break;
        }
        case ProbeKind::tcp:
            j["tcp"] = {{"port", p->port}, {"expect", p->expect}};
            break;
        case ProbeKind::exec:
            j["exec"] = {{"command", p->command}};
            break;
    }
    j["initialDelay"] = format_duration(p->initial_delay);
    j["period"] = format_duration(p->period);
    j["timeout"] = format_duration(p->timeout);
    j["successThreshold"] = p->success_threshold;
    j["failureThreshold"] = p->failure_threshold;
    return j;
}

}  // namespace

json app_spec_to_json(const AppSpec& s) {
    json j;
    // An image app's unset command, workdir and stop signal are null: the image's.
    j["command"] = s.command.empty() ? json(nullptr) : json(s.command);
    j["args"] = s.args;
    j["user"] = string_or_null(s.user);
    j["env"] = s.env;
    j["envFile"] = json::array();
    for (const auto& f : s.env_files) j["envFile"].push_back((f.optional ? "-" : "") + f.path);
    j["secrets"] = json::array();
    for (const auto& sec : s.secrets)
        j["secrets"].push_back({{"source", sec.source}, {"name", sec.name}, {"mode", octal(sec.mode)}});
    j["workdir"] = string_or_null(s.workdir);
    j["hostname"] = string_or_null(s.hostname);
    j["init"] = s.init;
    j["autostart"] = s.autostart;

    j["rootfs"] = {{"type", to_string(s.rootfs.type)}};
    if (s.rootfs.type == RootfsType::directory) j["rootfs"]["path"] = s.rootfs.path;
    if (s.rootfs.type == RootfsType::image) j["rootfs"]["image"] = s.rootfs.image;
    if (s.rootfs.type != RootfsType::host) j["rootfs"]["writable"] = to_string(s.rootfs.writable);

    j["mounts"] = json::array();
    for (const auto& m : s.mounts) {
        json mj{{"type", to_string(m.type)}, {"target", m.target}};
        if (m.type == MountType::bind) {
            mj["source"] = m.source;
            mj["readonly"] = m.readonly;
            mj["create"] = m.create;
        } else {
            mj["size"] = opt(m.size);
            mj["mode"] = m.mode ? json(octal(*m.mode)) : json(nullptr);
        }
        j["mounts"].push_back(std::move(mj));
    }

    json net{{"mode", s.network.mode == NetworkMode::app ? "app:" + s.network.app : to_string(s.network.mode)}};
    if (s.network.mode == NetworkMode::bridge) {
        net["address"] = string_or_null(s.network.address);
        net["ports"] = json::array();
        for (const auto& p : s.network.ports)
            net["ports"].push_back({{"host", p.host},
                                    {"app", p.app},
                                    {"protocol", to_string(p.protocol)},
                                    {"hostAddress", string_or_null(p.host_address)}});
    }
    j["network"] = std::move(net);

    const auto& ns = s.namespaces;
    j["namespaces"] = {
        {"pid", namespace_json(ns.pid)},
        {"ipc", namespace_json(ns.ipc)},
        {"uts", namespace_json(ns.uts)},
        {"user",
         ns.user.enabled ? json{{"uid", ns.user.uid}, {"gid", ns.user.gid}, {"count", ns.user.count}} : json("none")}};

    const auto& r = s.resources;
    j["resources"] = {{"cpu", opt(r.cpu)},           {"cpuWeight", opt(r.cpu_weight)},
                      {"memory", opt(r.memory)},     {"memoryHigh", opt(r.memory_high)},
                      {"swap", opt(r.swap)},         {"pids", opt(r.pids)},
                      {"ioWeight", opt(r.io_weight)}};

    const auto& b = s.restart.backoff;
    j["restart"] = {{"policy", to_string(s.restart.policy)},
                    {"backoff",
                     {{"initial", format_duration(b.initial)},
                      {"max", format_duration(b.max)},
                      {"factor", b.factor},
                      {"resetAfter", format_duration(b.reset_after)},
                      {"jitter", b.jitter}}},
                    {"maxRetries", opt(s.restart.max_retries)}};

    // A name when it reads back as the same signal ("SIGTERM"); real-time signals as numbers.
    std::string sig = signal_name(s.stop.signal);
    j["stop"] = {{"signal", s.stop.signal == 0                  ? json(nullptr)
                            : parse_signal(sig) == s.stop.signal ? json(sig)
                                                                 : json(s.stop.signal)},
                 {"timeout", format_duration(s.stop.timeout)}};

    j["probes"] = {{"liveness", probe_json(s.probes.liveness)},
                   {"readiness", probe_json(s.probes.readiness)},
                   {"startup", probe_json(s.probes.startup)}};

    j["dependsOn"] = s.depends_on;

    const auto& sec = s.security;
    j["security"] = {{"capabilities", {{"add", sec.cap_add}, {"drop", sec.cap_drop}}},
                     {"seccomp", sec.seccomp == SeccompMode::path ? sec.seccomp_path : to_string(sec.seccomp)},
                     {"noNewPrivileges", sec.no_new_privileges},
                     {"readonlyRootfs", opt(sec.readonly_rootfs)}};

    j["logs"] = {{"maxSize", opt(s.logs.max_size)}, {"maxFiles", opt(s.logs.max_files)}};
    auto hook = [](const std::optional<HookSpec>& h) -> json {
        if (!h) return nullptr;
        return {{"command", h->command}, {"timeout", format_duration(h->timeout)}, {"user", h->user}};
    };
    j["hooks"] = {{"onFailure", hook(s.hooks.on_failure)},
                  {"onUnhealthy", hook(s.hooks.on_unhealthy)},
                  {"onOOM", hook(s.hooks.on_oom)}};
    return j;
}

}  // namespace isolated
