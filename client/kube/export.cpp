// isoctl export kube: app definitions -> Kubernetes manifests + a warning for every loss.
// The mapping rules are listed in docs/DECISIONS.md, "Moving to Kubernetes (issue 15)".
#include <algorithm>
#include <cmath>
#include <functional>
#include <set>

#include "isolated/app_parser.hpp"
#include "isolated/env_file.hpp"
#include "isolated/units.hpp"
#include "kube/kube.hpp"

namespace isoctl::kube {

using isolated::AppSpec;

std::string Warning::to_string() const {
    std::string s = app;
    if (!field.empty()) s += ": " + field;
    return s + ": " + message;
}

namespace {

constexpr const char* kNameLabel = "app.kubernetes.io/name";
// What Kubernetes' Job reads as "retry for ever" (backoffLimit is an int32): isolated's
// on-failure without maxRetries.
constexpr std::int64_t kUnlimitedRetries = 2147483647;
// The id mapping import_kube gives hostUsers: false (the cluster chooses its own).
constexpr std::uint32_t kImportUserNsBase = 100000;

struct Ctx {
    const ExportOptions& opt;
    HostView& host;
    ExportResult& out;
    void warn(const std::string& app, const std::string& field, const std::string& msg) {
        out.warnings.push_back({app, field, msg});
    }
    void error(const std::string& app, const std::string& field, const std::string& msg) {
        out.errors.push_back({app, field, msg});
    }
};

std::string qt(const std::string& s) { return "\"" + s + "\""; }

std::int64_t ceil_seconds(isolated::Duration d) { return (d.count() + 999) / 1000; }

/// Whole seconds, rounded up, with a warning naming FIELD when that changed the value.
std::int64_t seconds_up(Ctx& c, const std::string& app, const std::string& field, isolated::Duration d) {
    auto ms = d.count();
    std::int64_t s = ceil_seconds(d);
    if (s * 1000 != ms)
        c.warn(app, field,
               isolated::format_duration(d) + " rounded up to " + std::to_string(s) +
                   "s (Kubernetes counts whole seconds)");
    return s;
}

/// A DNS-1123 label from free text: "/var/log/nginx" -> "var-log-nginx".
std::string slug(const std::string& text) {
    std::string s;
    for (char ch : text) {
        char c = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
        if ((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'))
            s += c;
        else if (!s.empty() && s.back() != '-')
            s += '-';
    }
    while (!s.empty() && s.back() == '-') s.pop_back();
    return s.empty() ? "root" : s;
}

/// APP-what, at most 63 characters (a volume name is a DNS label), unique among USED.
std::string object_name(const std::string& app, const std::string& what, std::set<std::string>& used) {
    std::string base = app + "-" + what;
    if (base.size() > 60) base.resize(60);
    while (!base.empty() && base.back() == '-') base.pop_back();
    std::string name = base;
    for (int i = 2; used.count(name); ++i) name = base + "-" + std::to_string(i);
    used.insert(name);
    return name;
}

/// Kubernetes expands $(VAR) in command, args and env values; $$ is its escape.
std::string escape_dollar(const std::string& s) {
    std::string out;
    for (std::size_t i = 0; i < s.size(); ++i) {
        if (s[i] == '$' && i + 1 < s.size() && (s[i + 1] == '(' || s[i + 1] == '$')) out += '$';
        out += s[i];
    }
    return out;
}

std::string cpu_quantity(double cores, bool& rounded) {
    double milli = cores * 1000.0;
    auto m = static_cast<std::int64_t>(std::ceil(milli - 1e-6));
    rounded = std::fabs(static_cast<double>(m) - milli) > 1e-6;
    if (m % 1000 == 0) return std::to_string(m / 1000);
    return std::to_string(m) + "m";
}

std::string memory_quantity(std::uint64_t bytes) {
    const std::pair<std::uint64_t, const char*> units[] = {
        {1ull << 40, "Ti"}, {1ull << 30, "Gi"}, {1ull << 20, "Mi"}, {1ull << 10, "Ki"}};
    for (const auto& [n, suffix] : units)
        if (bytes >= n && bytes % n == 0) return std::to_string(bytes / n) + suffix;
    return std::to_string(bytes);
}

bool default_backoff(const isolated::BackoffSpec& b) { return b == isolated::BackoffSpec{}; }

// ---- the image: THE one place that decides a container's image ----------------------------
// --image APP=REF wins, written as given (the user names what the cluster pulls). Else an
// image app's own rootfs.image, fully qualified as the store normalizes it
// ("nginx:1.27" -> "docker.io/library/nginx:1.27"), as podman generate kube writes the
// names of its store: a runtime then resolves no short name (CRI-O and podman ask their
// search registries; containerd assumes docker.io). With --pin: name@<the manifest digest
// the store recorded>. An image id names nothing a cluster can pull: the store's name
// for it is used. host and directory apps have no image: --image is required.
std::optional<std::string> image_for(Ctx& c, const AppSpec& app) {
    if (auto it = c.opt.images.find(app.name); it != c.opt.images.end()) return it->second;
    if (app.rootfs.type != isolated::RootfsType::image) {
        std::string what = app.rootfs.type == isolated::RootfsType::host
                               ? "the app runs on the host's file system"
                               : "the app's rootfs is the directory " + app.rootfs.path;
        c.error(app.name, "rootfs", what + ", which is no image: give --image " + app.name + "=REF");
        return std::nullopt;
    }
    const std::string& ref = app.rootfs.image;
    ImageName name = parse_image_name(ref);
    if (name.id.empty() && !c.opt.pin) return name.str();
    std::string why;
    auto stored = c.host.stored_image(ref, why);
    if (!stored) {
        c.error(app.name, "rootfs.image",
                (c.opt.pin ? "--pin needs the manifest digest from the image store: "
                           : "an image id is no name a cluster can pull, and the store cannot name it: ") +
                    why + " (--config names the daemon's state dir; or give --image " + app.name + "=REF)");
        return std::nullopt;
    }
    if (!name.id.empty()) {
        if (stored->refs.empty()) {
            c.error(app.name, "rootfs.image",
                    "the image " + ref + " has no name in the store, and a cluster pulls by name: give --image " +
                        app.name + "=REF");
            return std::nullopt;
        }
        name = parse_image_name(stored->refs.front());
    }
    if (!c.opt.pin) return name.str();
    return name.name + "@" + stored->manifest;
}

bool effective_readonly_root(const AppSpec& a) {
    if (a.security.readonly_rootfs) return *a.security.readonly_rootfs;
    if (a.rootfs.type == isolated::RootfsType::host) return true;
    return a.rootfs.writable == isolated::RootfsWritable::readonly;  // directory and image
}

// ---- probes ----------------------------------------------------------------------------------
ojson probe(Ctx& c, const AppSpec& app, const std::string& which, const isolated::ProbeSpec& p) {
    const std::string f = "probes." + which;
    ojson j = ojson::object();
    switch (p.kind) {
        case isolated::ProbeKind::http: {
            ojson h = {{"path", p.path}, {"port", p.port}, {"scheme", p.scheme == "https" ? "HTTPS" : "HTTP"}};
            if (!p.headers.empty()) {
                h["httpHeaders"] = ojson::array();
                for (const auto& hd : p.headers) h["httpHeaders"].push_back({{"name", hd.name}, {"value", hd.value}});
            }
            j["httpGet"] = h;
            break;
        }
        case isolated::ProbeKind::tcp:
            j["tcpSocket"] = {{"port", p.port}};
            if (!p.expect.empty())
                c.warn(app.name, f + ".tcp.expect",
                       "a tcpSocket probe only connects: the banner " + qt(p.expect) + " is not checked");
            break;
        case isolated::ProbeKind::exec:
            j["exec"] = {{"command", p.command}};
            break;
    }
    j["initialDelaySeconds"] = seconds_up(c, app.name, f + ".initialDelay", p.initial_delay);
    j["periodSeconds"] = std::max<std::int64_t>(1, seconds_up(c, app.name, f + ".period", p.period));
    j["timeoutSeconds"] = std::max<std::int64_t>(1, seconds_up(c, app.name, f + ".timeout", p.timeout));
    j["successThreshold"] = p.success_threshold;
    j["failureThreshold"] = p.failure_threshold;
    return j;
}

// ---- the Pod's volumes and one container -----------------------------------------------------
struct PodBuild {
    ojson volumes = ojson::array();
    std::vector<ojson> side_documents;  ///< ConfigMaps, Secrets, PVCs, in the order made
    std::set<std::string> names;        ///< volume and object names in use
    bool writable_volumes = false;
};

ojson secret_doc(const std::string& name) {
    return {{"apiVersion", "v1"}, {"kind", "Secret"}, {"metadata", {{"name", name}}}, {"type", "Opaque"}};
}

/// A read-only bind: a ConfigMap built from the files. false when they cannot be read.
bool config_map_volume(Ctx& c, PodBuild& pod, const AppSpec& app, std::size_t i, ojson& mount) {
    const auto& m = app.mounts[i];
    const std::string f = "mounts[" + std::to_string(i) + "].source";
    std::string why;
    auto tree = c.host.read_tree(m.source, why);
    if (!tree) {
        c.warn(app.name, f, m.source + " cannot be read (" + why + ") to build a ConfigMap: it becomes a PersistentVolumeClaim");
        return false;
    }
    std::string name = object_name(app.name, slug(m.target), pod.names);
    ojson cm = {{"apiVersion", "v1"}, {"kind", "ConfigMap"}, {"metadata", {{"name", name}}}};
    ojson data = ojson::object(), binary = ojson::object(), items = ojson::array();
    std::set<std::string> keys;
    std::size_t total = 0;
    for (const auto& file : tree->files) {
        std::string key;
        for (char ch : file.path)
            key += (std::isalnum(static_cast<unsigned char>(ch)) || ch == '-' || ch == '.' || ch == '_') ? ch : '_';
        std::string k = key;
        for (int n = 2; keys.count(k); ++n) k = key + "_" + std::to_string(n);
        keys.insert(k);
        total += file.content.size();
        bool text = true;
        for (unsigned char ch : file.content)
            if (ch == 0) text = false;
        // Valid UTF-8 goes to data; anything else to binaryData.
        if (text) {
            try {
                (void)ojson(file.content).dump();
            } catch (const ojson::exception&) {
                text = false;
            }
        }
        if (text)
            data[k] = file.content;
        else
            binary[k] = base64_encode(file.content);
        ojson item = {{"key", k}, {"path", file.path}};
        if (file.executable) item["mode"] = 0755;
        items.push_back(item);
    }
    for (const auto& s : tree->skipped)
        c.warn(app.name, f, m.source + "/" + s + " is not a regular file: it is not in ConfigMap " + name);
    if (total > 1000000)
        c.warn(app.name, f,
               "ConfigMap " + name + " holds " + std::to_string(total) + " bytes: more than Kubernetes' 1 MiB");
    if (!data.empty()) cm["data"] = data;
    if (!binary.empty()) cm["binaryData"] = binary;
    pod.side_documents.push_back(cm);
    ojson cmv = {{"name", name}, {"items", items}};
    pod.volumes.push_back({{"name", name}, {"configMap", cmv}});
    mount["name"] = name;
    if (tree->single_file && !tree->files.empty()) mount["subPath"] = tree->files[0].path;
    return true;
}

void pvc_volume(Ctx& c, PodBuild& pod, const AppSpec& app, std::size_t i, ojson& mount) {
    const auto& m = app.mounts[i];
    std::string name = object_name(app.name, slug(m.target), pod.names);
    ojson pvc = {{"apiVersion", "v1"},
                 {"kind", "PersistentVolumeClaim"},
                 {"metadata", {{"name", name}}},
                 {"spec", {{"accessModes", {"ReadWriteOnce"}}, {"resources", {{"requests", {{"storage", c.opt.pvc_size}}}}}}}};
    if (!c.opt.storage_class.empty()) pvc["spec"]["storageClassName"] = c.opt.storage_class;
    pod.side_documents.push_back(pvc);
    pod.volumes.push_back({{"name", name}, {"persistentVolumeClaim", {{"claimName", name}}}});
    mount["name"] = name;
    c.warn(app.name, "mounts[" + std::to_string(i) + "].source",
           "the host directory " + m.source + " becomes the empty PersistentVolumeClaim " + name +
               ": copy its data there (or use --host-paths on a one-node cluster)");
}

ojson container(Ctx& c, PodBuild& pod, const AppSpec& app, const std::string& image) {
    ojson k = ojson::object();
    k["name"] = app.name;
    k["image"] = image;
    // command replaces the image's Entrypoint, args its Cmd, in both: what an image app
    // leaves unset (command, args, workdir) is the image's in the cluster as well.
    for (const auto& [key, list] : {std::pair<const char*, const std::vector<std::string>*>{"command", &app.command},
                                    {"args", &app.args}}) {
        if (list->empty()) continue;
        ojson a = ojson::array();
        for (const auto& arg : *list) a.push_back(escape_dollar(arg));
        k[key] = a;
    }
    if (!app.workdir.empty()) k["workingDir"] = app.workdir;

    // env, envFile, secrets
    std::map<std::string, std::string> env;
    for (const auto& [n, v] : app.env) env[n] = escape_dollar(v);
    if (!app.secrets.empty()) env["CREDENTIALS_DIRECTORY"] = "/run/secrets";
    if (!env.empty()) {
        k["env"] = ojson::array();
        for (const auto& [n, v] : env) k["env"].push_back({{"name", n}, {"value", v}});
    }
    if (!app.env_files.empty()) {
        k["envFrom"] = ojson::array();
        for (std::size_t i = 0; i < app.env_files.size(); ++i) {
            const auto& ef = app.env_files[i];
            const std::string f = "envFile[" + std::to_string(i) + "]";
            std::string name = object_name(app.name, "env", pod.names);
            ojson s = secret_doc(name);
            if (c.opt.include_secret_values) {
                std::string why;
                auto text = c.host.read_file(ef.path, why);
                auto parsed = text ? isolated::parse_env_file(*text) : isolated::Result<isolated::EnvList>(isolated::Error::msg(why));
                if (parsed) {
                    ojson data = ojson::object();
                    for (const auto& [n, v] : *parsed) data[n] = base64_encode(v);
                    s["data"] = data;
                } else {
                    c.warn(app.name, f, ef.path + ": " + parsed.error().message + ": Secret " + name + " is left empty");
                }
            } else {
                c.warn(app.name, f,
                       "values are not exported without --include-secret-values: fill Secret " + name +
                           " (kubectl create secret generic " + name + " --from-env-file=" + ef.path + ")");
            }
            pod.side_documents.push_back(s);
            ojson ref = {{"name", name}};
            if (ef.optional) ref["optional"] = true;
            k["envFrom"].push_back({{"secretRef", ref}});
        }
    }

    // ports (bridge apps only have them; joined apps share the Pod's)
    if (!app.network.ports.empty()) {
        k["ports"] = ojson::array();
        for (std::size_t i = 0; i < app.network.ports.size(); ++i) {
            const auto& p = app.network.ports[i];
            ojson port = {{"containerPort", p.app}, {"protocol", p.protocol == isolated::Protocol::udp ? "UDP" : "TCP"}};
            if (c.opt.host_ports) {
                port["hostPort"] = p.host;
                if (!p.host_address.empty() && p.host_address != "0.0.0.0") port["hostIP"] = p.host_address;
            } else if (!p.host_address.empty() && p.host_address != "0.0.0.0") {
                c.warn(app.name, "network.ports[" + std::to_string(i) + "].hostAddress",
                       "only with --host-ports (hostIP)");
            }
            k["ports"].push_back(port);
        }
    }

    // resources
    const auto& r = app.resources;
    if (r.cpu || r.memory) {
        ojson lim = ojson::object();
        if (r.cpu) {
            bool rounded = false;
            lim["cpu"] = cpu_quantity(*r.cpu, rounded);
            if (rounded)
                c.warn(app.name, "resources.cpu", "rounded up to " + lim["cpu"].get<std::string>() + " (millicores)");
        }
        if (r.memory) lim["memory"] = memory_quantity(*r.memory);
        k["resources"] = {{"limits", lim}, {"requests", lim}};
    }
    auto lost = [&](bool set, const char* field, const std::string& why) {
        if (set) c.warn(app.name, field, why);
    };
    lost(r.cpu_weight.has_value(), "resources.cpuWeight", "no Kubernetes field (requests.cpu sets the share)");
    lost(r.memory_high.has_value(), "resources.memoryHigh", "no Kubernetes field (memory.high is the kubelet's)");
    lost(r.swap.has_value(), "resources.swap", "no per-container swap limit in Kubernetes");
    lost(r.pids.has_value(), "resources.pids", "no per-container pids limit in Kubernetes (the kubelet's podPidsLimit is per node)");
    lost(r.io_weight.has_value(), "resources.ioWeight", "no Kubernetes field");

    // probes
    if (app.probes.liveness) k["livenessProbe"] = probe(c, app, "liveness", *app.probes.liveness);
    if (app.probes.readiness) k["readinessProbe"] = probe(c, app, "readiness", *app.probes.readiness);
    if (app.probes.startup) k["startupProbe"] = probe(c, app, "startup", *app.probes.startup);

    // securityContext
    ojson sc = ojson::object();
    if (!app.user.empty()) {
        auto colon = app.user.find(':');
        std::string u = app.user.substr(0, colon);
        std::string g = colon == std::string::npos ? "" : app.user.substr(colon + 1);
        auto numeric = [](const std::string& s) {
            return !s.empty() && std::all_of(s.begin(), s.end(), [](char ch) { return ch >= '0' && ch <= '9'; });
        };
        std::string why;
        std::optional<std::uint32_t> uid, gid;
        if (numeric(u))
            uid = static_cast<std::uint32_t>(std::stoul(u));
        else if ((uid = c.host.user_id(app, u, why)) && g.empty())
            gid = c.host.user_gid(app, u, why);
        if (!g.empty()) gid = numeric(g) ? std::optional<std::uint32_t>(std::stoul(g)) : c.host.group_id(app, g, why);
        if (uid) sc["runAsUser"] = *uid;
        if (gid) sc["runAsGroup"] = *gid;
        if (!uid || (!g.empty() && !gid))
            c.warn(app.name, "user", qt(app.user) + " cannot be made numeric (" + why + "): runAsUser/runAsGroup left out");
    }
    const auto& sec = app.security;
    if (!sec.cap_add.empty() || !sec.cap_drop.empty()) {
        auto strip = [](const std::vector<std::string>& caps) {
            ojson a = ojson::array();
            for (const auto& cap : caps) a.push_back(cap.rfind("CAP_", 0) == 0 ? cap.substr(4) : cap);
            return a;
        };
        sc["capabilities"] = ojson::object();
        if (!sec.cap_add.empty()) sc["capabilities"]["add"] = strip(sec.cap_add);
        if (!sec.cap_drop.empty()) sc["capabilities"]["drop"] = strip(sec.cap_drop);
    }
    switch (sec.seccomp) {
        case isolated::SeccompMode::default_:
            sc["seccompProfile"] = {{"type", "RuntimeDefault"}};
            break;
        case isolated::SeccompMode::unconfined:
            sc["seccompProfile"] = {{"type", "Unconfined"}};
            break;
        case isolated::SeccompMode::path: {
            std::string base = sec.seccomp_path.substr(sec.seccomp_path.rfind('/') + 1);
            sc["seccompProfile"] = {{"type", "Localhost"}, {"localhostProfile", base}};
            c.warn(app.name, "security.seccomp",
                   "copy " + sec.seccomp_path + " to every node's kubelet seccomp directory as " + base);
            break;
        }
    }
    sc["allowPrivilegeEscalation"] = !sec.no_new_privileges;
    sc["readOnlyRootFilesystem"] = effective_readonly_root(app);
    k["securityContext"] = sc;

    // volumes
    ojson mounts = ojson::array();
    for (std::size_t i = 0; i < app.mounts.size(); ++i) {
        const auto& m = app.mounts[i];
        const std::string f = "mounts[" + std::to_string(i) + "]";
        ojson vm = {{"name", ""}, {"mountPath", m.target}};
        if (m.type == isolated::MountType::tmpfs) {
            std::string name = object_name(app.name, slug(m.target), pod.names);
            ojson ed = {{"medium", "Memory"}};
            if (m.size) ed["sizeLimit"] = memory_quantity(*m.size);
            pod.volumes.push_back({{"name", name}, {"emptyDir", ed}});
            vm["name"] = name;
            if (m.mode && *m.mode != 01777)
                c.warn(app.name, f + ".mode", "an emptyDir's mode is the cluster's (0777)");
        } else if (c.opt.host_paths) {
            std::string name = object_name(app.name, slug(m.target), pod.names);
            ojson hp = {{"path", m.source}};
            if (m.create) hp["type"] = "DirectoryOrCreate";
            pod.volumes.push_back({{"name", name}, {"hostPath", hp}});
            vm["name"] = name;
            if (m.readonly) vm["readOnly"] = true;
            if (!m.readonly) pod.writable_volumes = true;
        } else if (m.readonly && config_map_volume(c, pod, app, i, vm)) {
            vm["readOnly"] = true;
        } else {
            pvc_volume(c, pod, app, i, vm);
            if (m.readonly) vm["readOnly"] = true;
            pod.writable_volumes = true;
        }
        mounts.push_back(vm);
    }
    if (!app.secrets.empty()) {
        std::string name = object_name(app.name, "secrets", pod.names);
        ojson s = secret_doc(name);
        ojson data = ojson::object(), items = ojson::array();
        for (std::size_t i = 0; i < app.secrets.size(); ++i) {
            const auto& sp = app.secrets[i];
            items.push_back({{"key", sp.name}, {"path", sp.name}, {"mode", sp.mode}});
            if (c.opt.include_secret_values) {
                std::string why;
                if (auto text = c.host.read_file(sp.source, why))
                    data[sp.name] = base64_encode(*text);
                else
                    c.warn(app.name, "secrets[" + std::to_string(i) + "]",
                           sp.source + " cannot be read (" + why + "): Secret " + name + " lacks " + sp.name);
            } else {
                c.warn(app.name, "secrets[" + std::to_string(i) + "]",
                       "values are not exported without --include-secret-values: fill Secret " + name +
                           " (kubectl create secret generic " + name + " --from-file=" + sp.name + "=" + sp.source +
                           ")");
            }
        }
        if (!data.empty()) s["data"] = data;
        pod.side_documents.push_back(s);
        pod.volumes.push_back({{"name", name}, {"secret", {{"secretName", name}, {"items", items}}}});
        mounts.push_back({{"name", name}, {"mountPath", "/run/secrets"}, {"readOnly", true}});
    }
    if (!mounts.empty()) k["volumeMounts"] = mounts;

    // what has no Kubernetes field
    if (!default_backoff(app.restart.backoff))
        c.warn(app.name, "restart.backoff", "the kubelet's restart backoff (10s doubling to 5m) is not configurable");
    // 0: an image app's unset signal, the image's StopSignal -- which the runtimes honour too.
    if (app.stop.signal != 15 && app.stop.signal != 0)
        c.warn(app.name, "stop.signal",
               isolated::signal_name(app.stop.signal) +
                   ": a Pod is stopped with SIGTERM (lifecycle.stopSignal needs Kubernetes 1.33+ with ContainerStopSignals)");
    if (!app.depends_on.empty())
        c.warn(app.name, "dependsOn", "no start order in Kubernetes: the app must wait for what it needs itself");
    if (!app.init)
        c.warn(app.name, "init", "no Pod field (the command is PID 1 there, as init: false asks): import gives true");
    if (app.logs.max_size || app.logs.max_files)
        c.warn(app.name, "logs", "log rotation is the kubelet's (containerLogMaxSize, containerLogMaxFiles)");
    if (app.hooks.on_failure) c.warn(app.name, "hooks.onFailure", "no Kubernetes equivalent (alert on the Pod instead)");
    if (app.hooks.on_unhealthy) c.warn(app.name, "hooks.onUnhealthy", "no Kubernetes equivalent (alert on the Pod instead)");
    if (app.hooks.on_oom) c.warn(app.name, "hooks.onOOM", "no Kubernetes equivalent (alert on the Pod instead)");
    if (!app.network.address.empty())
        c.warn(app.name, "network.address", "a Pod's address is the cluster's: reach it by its Service name");
    return k;
}

// ---- pods ------------------------------------------------------------------------------------
/// The apps an app refers to with app:NAME.
std::vector<std::string> refs(const AppSpec& a) {
    std::vector<std::string> r;
    if (a.network.mode == isolated::NetworkMode::app) r.push_back(a.network.app);
    for (const auto* ns : {&a.namespaces.pid, &a.namespaces.ipc, &a.namespaces.uts})
        if (ns->kind == isolated::NamespaceKind::app) r.push_back(ns->app);
    return r;
}

void export_pod(Ctx& c, const std::map<std::string, AppSpec>& apps, const std::vector<std::string>& members) {
    const AppSpec& root = apps.at(members.front());
    PodBuild pod;
    pod.names.insert(root.name);
    ojson containers = ojson::array();
    bool ok = true;
    for (const auto& name : members) {
        const AppSpec& app = apps.at(name);
        auto image = image_for(c, app);
        if (!image) {
            ok = false;
            continue;
        }
        containers.push_back(container(c, pod, app, *image));
    }
    if (!ok) return;

    ojson spec = ojson::object();
    ojson labels = {{kNameLabel, root.name}};
    // Pod-wide settings come from the root app; the members' that differ are warned.
    bool share_pid = false;
    for (const auto& name : members)
        if (apps.at(name).namespaces.pid.kind == isolated::NamespaceKind::app) share_pid = true;
    std::int64_t grace = 0;
    for (const auto& name : members) {
        const AppSpec& a = apps.at(name);
        grace = std::max(grace, seconds_up(c, a.name, "stop.timeout", a.stop.timeout));
        if (name == root.name) continue;
        auto joined = [&](const isolated::NamespaceMode& m) {
            return m.kind == isolated::NamespaceKind::app && m.app == root.name;
        };
        if (!(a.network.mode == isolated::NetworkMode::app && a.network.app == root.name))
            c.warn(a.name, "network", "in " + root.name + "'s Pod, so it shares " + root.name + "'s network");
        if (!joined(a.namespaces.ipc))
            c.warn(a.name, "namespaces.ipc", "the containers of a Pod share one IPC namespace (" + root.name + "'s)");
        if (!joined(a.namespaces.uts))
            c.warn(a.name, "namespaces.uts", "the containers of a Pod share one UTS namespace (" + root.name + "'s)");
        if (share_pid && !joined(a.namespaces.pid))
            c.warn(a.name, "namespaces.pid", "shareProcessNamespace puts every container of the Pod in one pid namespace");
        if (a.restart.policy != root.restart.policy || a.restart.max_retries != root.restart.max_retries)
            c.warn(a.name, "restart", "a Pod restarts by " + root.name + "'s policy");
        if (a.autostart != root.autostart) c.warn(a.name, "autostart", "a Pod starts as a whole, as " + root.name);
        if (a.namespaces.user != root.namespaces.user)
            c.warn(a.name, "namespaces.user", "hostUsers is per Pod: " + root.name + "'s applies");
    }
    for (const auto& name : members) {
        const AppSpec& a = apps.at(name);
        if (ceil_seconds(a.stop.timeout) != grace) {
            c.warn(a.name, "stop.timeout", "the Pod's terminationGracePeriodSeconds is the longest of its apps: " +
                                               std::to_string(grace) + "s");
        }
    }

    if (root.network.mode == isolated::NetworkMode::host) {
        spec["hostNetwork"] = true;
        if (root.namespaces.uts.kind != isolated::NamespaceKind::host)
            c.warn(root.name, "namespaces.uts", "hostNetwork shares the host's UTS namespace (and hostname) too");
    } else if (root.network.mode == isolated::NetworkMode::none) {
        c.warn(root.name, "network.mode", "\"none\" has no Pod equivalent: a Pod always has a network");
    }
    if (root.namespaces.pid.kind == isolated::NamespaceKind::host) spec["hostPID"] = true;
    if (root.namespaces.ipc.kind == isolated::NamespaceKind::host) spec["hostIPC"] = true;
    if (root.namespaces.uts.kind == isolated::NamespaceKind::host && root.network.mode != isolated::NetworkMode::host)
        c.warn(root.name, "namespaces.uts", "no hostUTS in Kubernetes without hostNetwork");
    if (share_pid) spec["shareProcessNamespace"] = true;
    if (root.namespaces.user.enabled) {
        spec["hostUsers"] = false;
        const auto& u = root.namespaces.user;
        if (u.uid != kImportUserNsBase || u.gid != kImportUserNsBase || u.count != 65536)
            c.warn(root.name, "namespaces.user", "the id mapping is the cluster's (hostUsers: false)");
    }
    if (root.network.mode != isolated::NetworkMode::host && root.namespaces.uts.kind == isolated::NamespaceKind::private_) {
        std::string h = root.effective_hostname();
        if (h.find('.') != std::string::npos) {
            c.warn(root.name, "hostname", "a Pod's hostname is one DNS label: " + qt(h.substr(0, h.find('.'))));
            h.resize(h.find('.'));
        }
        spec["hostname"] = h;
    }
    if (grace != 30) spec["terminationGracePeriodSeconds"] = grace;
    spec["containers"] = containers;
    if (!pod.volumes.empty()) spec["volumes"] = pod.volumes;

    ojson workload;
    const auto& rs = root.restart;
    if (rs.policy == isolated::RestartPolicy::always) {
        if (rs.max_retries)
            c.warn(root.name, "restart.maxRetries", "a Deployment restarts for ever (there is no retry limit)");
        ojson dspec = {{"replicas", root.autostart ? 1 : 0}, {"selector", {{"matchLabels", labels}}}};
        if (pod.writable_volumes) dspec["strategy"] = {{"type", "Recreate"}};
        dspec["template"] = {{"metadata", {{"labels", labels}}}, {"spec", spec}};
        workload = {{"apiVersion", "apps/v1"}, {"kind", "Deployment"}, {"metadata", {{"name", root.name}, {"labels", labels}}},
                    {"spec", dspec}};
    } else {
        ojson tspec = {{"restartPolicy", rs.policy == isolated::RestartPolicy::never ? "Never" : "OnFailure"}};
        tspec.update(spec);
        std::int64_t limit = rs.policy == isolated::RestartPolicy::never
                                 ? 0
                                 : (rs.max_retries ? std::int64_t(*rs.max_retries) : kUnlimitedRetries);
        if (rs.policy == isolated::RestartPolicy::never && rs.max_retries)
            c.warn(root.name, "restart.maxRetries", "meaningless with policy never (backoffLimit 0)");
        ojson jspec = {{"backoffLimit", limit}};
        if (!root.autostart) jspec["suspend"] = true;
        jspec["template"] = {{"metadata", {{"labels", labels}}}, {"spec", tspec}};
        workload = {{"apiVersion", "batch/v1"}, {"kind", "Job"}, {"metadata", {{"name", root.name}, {"labels", labels}}},
                    {"spec", jspec}};
    }

    for (auto& d : pod.side_documents) c.out.documents.push_back(std::move(d));
    // A Service per app with forwards, named after it: the names apps found in their
    // /etc/hosts are Service names in the cluster. Its port is the app's port (what
    // the other apps used); the host port is hostPort (--host-ports) or nodePort.
    for (const auto& name : members) {
        const AppSpec& a = apps.at(name);
        if (a.network.mode != isolated::NetworkMode::bridge || a.network.ports.empty()) continue;
        ojson ports = ojson::array();
        std::set<std::pair<int, std::string>> seen;
        for (std::size_t i = 0; i < a.network.ports.size(); ++i) {
            const auto& p = a.network.ports[i];
            std::string proto = p.protocol == isolated::Protocol::udp ? "UDP" : "TCP";
            if (!seen.insert({p.app, proto}).second) {
                c.warn(a.name, "network.ports[" + std::to_string(i) + "]",
                       "a second forward to port " + std::to_string(p.app) + ": a Service port is unique");
                continue;
            }
            ojson sp = {{"name", slug(isolated::to_string(p.protocol) + "-" + std::to_string(p.app))},
                        {"port", p.app},
                        {"targetPort", p.app},
                        {"protocol", proto}};
            bool node_port = c.opt.service_type != "ClusterIP";
            if (node_port && p.host >= 30000 && p.host <= 32767) {
                sp["nodePort"] = p.host;
            } else if (!c.opt.host_ports) {
                c.warn(a.name, "network.ports[" + std::to_string(i) + "].host",
                       "host port " + std::to_string(p.host) + " is not carried over" +
                           (node_port ? " (outside the NodePort range 30000-32767)" : "") +
                           ": the app is reached as " + a.name + ":" + std::to_string(p.app) +
                           " in the cluster (--host-ports keeps it as hostPort)");
            }
            ports.push_back(sp);
        }
        c.out.documents.push_back({{"apiVersion", "v1"},
                                   {"kind", "Service"},
                                   {"metadata", {{"name", a.name}, {"labels", labels}}},
                                   {"spec", {{"type", c.opt.service_type}, {"selector", labels}, {"ports", ports}}}});
    }
    c.out.documents.push_back(workload);
}

}  // namespace

ExportResult export_kube(const std::map<std::string, AppSpec>& apps, const ExportOptions& options, HostView& host) {
    ExportResult out;
    Ctx c{options, host, out};
    // Apps joined by app:NAME are one Pod, whose root is the app they join (the one of
    // the group that joins nobody).
    std::map<std::string, std::string> parent;
    for (const auto& [name, a] : apps) parent[name] = name;
    std::function<std::string(const std::string&)> find = [&](const std::string& n) {
        return parent[n] == n ? n : parent[n] = find(parent[n]);
    };
    for (const auto& [name, a] : apps)
        for (const auto& r : refs(a))
            if (apps.count(r)) parent[find(name)] = find(r);
    std::map<std::string, std::vector<std::string>> groups;
    for (const auto& name : isolated::start_order(apps)) groups[find(name)].push_back(name);
    std::vector<std::vector<std::string>> pods;
    for (auto& [_, members] : groups) {
        // The root first: an app that joins nobody (start order puts it first anyway).
        auto root = std::find_if(members.begin(), members.end(), [&](const std::string& n) { return refs(apps.at(n)).empty(); });
        if (root != members.end()) std::rotate(members.begin(), root, root + 1);
        pods.push_back(members);
    }
    std::sort(pods.begin(), pods.end());
    for (const auto& members : pods) export_pod(c, apps, members);
    if (!out.errors.empty()) out.documents.clear();
    return out;
}

}  // namespace isoctl::kube
