// isoctl import kube: Kubernetes manifests -> app files (+ the files ConfigMaps and
// Secrets hold) + a warning for every field that does not carry over. The rules are in
// docs/DECISIONS.md, "Moving to Kubernetes (issue 15)".
#include <algorithm>
#include <cmath>
#include <regex>
#include <set>

#include "isolated/api_json.hpp"
#include "isolated/app_parser.hpp"
#include "kube/kube.hpp"

namespace isoctl::kube {

using isolated::AppSpec;

namespace {

constexpr std::int64_t kUnlimitedRetries = 2147483647;
constexpr std::int64_t kJobDefaultBackoffLimit = 6;  // Kubernetes' default
constexpr std::uint32_t kUserNsBase = 100000;

const ojson* get(const ojson& o, const char* key) {
    if (!o.is_object()) return nullptr;
    auto it = o.find(key);
    if (it == o.end() || it->is_null()) return nullptr;
    return &*it;
}
std::string str(const ojson& o, const char* key, std::string fallback = {}) {
    auto* v = get(o, key);
    return v && v->is_string() ? v->get<std::string>() : fallback;
}
std::optional<std::int64_t> num(const ojson& o, const char* key) {
    auto* v = get(o, key);
    if (v && v->is_number_integer()) return v->get<std::int64_t>();
    return std::nullopt;
}
bool flag(const ojson& o, const char* key) {
    auto* v = get(o, key);
    return v && v->is_boolean() && v->get<bool>();
}

std::string qt(const std::string& s) { return "\"" + s + "\""; }

/// "$$" is Kubernetes' escape for "$"; "$(VAR)" a reference it expands.
std::string unescape_dollar(const std::string& s, bool& has_ref) {
    std::string out;
    for (std::size_t i = 0; i < s.size(); ++i) {
        if (s[i] == '$' && i + 1 < s.size() && s[i + 1] == '$') {
            out += '$';
            ++i;
            continue;
        }
        if (s[i] == '$' && i + 1 < s.size() && s[i + 1] == '(') has_ref = true;
        out += s[i];
    }
    return out;
}

/// A Kubernetes quantity in base units: "500m" -> 0.5, "128Mi" -> 134217728, "1G" -> 1e9.
std::optional<double> quantity(const ojson& v) {
    if (v.is_number()) return v.get<double>();
    if (!v.is_string()) return std::nullopt;
    static const std::regex re("^([0-9]+(\\.[0-9]*)?|\\.[0-9]+)(m|k|M|G|T|P|E|Ki|Mi|Gi|Ti|Pi|Ei|[eE][-+]?[0-9]+)?$");
    std::smatch m;
    std::string s = v.get<std::string>();
    if (!std::regex_match(s, m, re)) return std::nullopt;
    double x = std::stod(m[1].str());
    std::string u = m[3].str();
    const std::map<std::string, double> mult = {
        {"", 1},           {"m", 1e-3},       {"k", 1e3},        {"M", 1e6},        {"G", 1e9},
        {"T", 1e12},       {"P", 1e15},       {"E", 1e18},       {"Ki", 1024.0},    {"Mi", 1048576.0},
        {"Gi", 1073741824.0}, {"Ti", 1099511627776.0}, {"Pi", 1125899906842624.0}, {"Ei", 1152921504606846976.0}};
    if (auto it = mult.find(u); it != mult.end()) return x * it->second;
    return x * std::pow(10.0, std::stod(u.substr(1)));
}

/// Lower case, [a-z0-9-], at most 32: an app name from a Kubernetes name.
std::string app_name_of(const std::string& k8s) {
    std::string s;
    for (char ch : k8s) {
        char c = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
        s += ((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9')) ? c : '-';
    }
    while (!s.empty() && s.front() == '-') s.erase(s.begin());
    if (s.size() > 32) s.resize(32);
    while (!s.empty() && s.back() == '-') s.pop_back();
    return s.empty() ? "app" : s;
}

/// systemd EnvironmentFile= text that parse_env_file reads back as VARS.
std::string env_file_text(const std::vector<std::pair<std::string, std::string>>& vars) {
    std::string out;
    for (const auto& [n, v] : vars) {
        out += n + "=";
        if (v.find('\'') == std::string::npos) {
            out += "'" + v + "'";
        } else {
            out += '"';
            for (char ch : v) {
                if (ch == '"' || ch == '\\' || ch == '`' || ch == '$') out += '\\';
                out += ch;
            }
            out += '"';
        }
        out += "\n";
    }
    return out;
}

bool env_name_ok(const std::string& n) {
    static const std::regex re("^[A-Za-z_][A-Za-z0-9_]*$");
    return std::regex_match(n, re);
}

struct Workload {
    std::string kind, name, source;
    ojson template_labels;
    const ojson* pod = nullptr;  ///< the Pod spec
    std::string base;            ///< its path: "spec" or "spec.template.spec"
    const ojson* doc = nullptr;
};

struct PodApps {
    const Workload* w = nullptr;
    std::vector<std::string> apps;                       ///< root first
    std::map<std::string, std::pair<std::string, int>> named_ports;  ///< port name -> app, number
    std::map<std::pair<int, std::string>, std::string> port_owner;   ///< (port, proto) -> app
};

struct Importer {
    const ImportOptions& opt;
    ImportResult& out;
    std::map<std::string, const ojson*> config_maps, secrets;
    std::set<std::string> written;
    std::set<std::pair<std::string, int>> host_ports;  ///< (proto, port) forwarded

    void warn(const std::string& app, const std::string& field, const std::string& msg) {
        out.warnings.push_back({app, field, msg});
    }
    void unknown(const std::string& app, const ojson& obj, const std::string& path, const std::set<std::string>& known,
                 const std::set<std::string>& silent = {}) {
        if (!obj.is_object()) return;
        for (const auto& [k, v] : obj.items()) {
            if (v.is_null() || known.count(k) || silent.count(k)) continue;
            warn(app, path + "." + k, "not carried over (isolated has no such setting)");
        }
    }
    void write(const std::string& path, const std::string& content, std::uint32_t mode) {
        if (!written.insert(path).second) return;
        out.files.push_back({path, content, mode});
    }

    /// The data of a ConfigMap or Secret (decoded): key -> bytes. nullopt when it is not given.
    std::optional<std::map<std::string, std::string>> data_of(const std::string& app, const std::string& kind,
                                                              const std::string& name, const std::string& field) {
        auto& index = kind == "Secret" ? secrets : config_maps;
        auto it = index.find(name);
        if (it == index.end()) return std::nullopt;
        std::map<std::string, std::string> data;
        if (auto* d = get(*it->second, "data"))
            for (const auto& [k, v] : d->items()) {
                if (!v.is_string()) continue;
                if (kind == "Secret") {
                    if (auto bytes = base64_decode(v.get<std::string>(), true)) data[k] = std::move(*bytes);
                    else warn(app, field, "Secret " + name + " key " + k + " is not base64: left out");
                } else {
                    data[k] = v.get<std::string>();
                }
            }
        for (const char* key : {"binaryData", "stringData"})
            if (auto* d = get(*it->second, key))
                for (const auto& [k, v] : d->items()) {
                    if (!v.is_string()) continue;
                    if (std::string(key) == "stringData") {
                        data[k] = v.get<std::string>();
                        continue;
                    }
                    if (auto bytes = base64_decode(v.get<std::string>(), true)) data[k] = std::move(*bytes);
                    else warn(app, field, kind + " " + name + " key " + k + " is not base64: left out");
                }
        return data;
    }

    std::optional<isolated::ProbeSpec> probe(const std::string& app, const ojson& p, const std::string& f,
                                             const PodApps& pa, const ojson& container) {
        isolated::ProbeSpec s;
        auto port_of = [&](const ojson& v, const std::string& pf) -> std::optional<int> {
            if (v.is_number_integer()) return v.get<int>();
            if (v.is_string()) {
                for (const auto& cp : get(container, "ports") ? container["ports"] : ojson::array())
                    if (str(cp, "name") == v.get<std::string>() && num(cp, "containerPort"))
                        return int(*num(cp, "containerPort"));
                if (auto it = pa.named_ports.find(v.get<std::string>()); it != pa.named_ports.end())
                    return it->second.second;
            }
            warn(app, pf, "port " + v.dump() + " is not a port number or a named containerPort: the probe is left out");
            return std::nullopt;
        };
        if (auto* h = get(p, "httpGet")) {
            s.kind = isolated::ProbeKind::http;
            auto port = port_of(get(*h, "port") ? (*h)["port"] : ojson(), f + ".httpGet.port");
            if (!port) return std::nullopt;
            s.port = static_cast<std::uint16_t>(*port);
            s.path = str(*h, "path", "/");
            if (s.path.empty() || s.path[0] != '/') s.path = "/" + s.path;
            s.scheme = str(*h, "scheme", "HTTP") == "HTTPS" ? "https" : "http";
            if (auto* hs = get(*h, "httpHeaders"))
                for (const auto& hd : *hs) s.headers.push_back({str(hd, "name"), str(hd, "value")});
            unknown(app, *h, f + ".httpGet", {"port", "path", "scheme", "httpHeaders"});
        } else if (auto* t = get(p, "tcpSocket")) {
            s.kind = isolated::ProbeKind::tcp;
            auto port = port_of(get(*t, "port") ? (*t)["port"] : ojson(), f + ".tcpSocket.port");
            if (!port) return std::nullopt;
            s.port = static_cast<std::uint16_t>(*port);
            unknown(app, *t, f + ".tcpSocket", {"port"});
        } else if (auto* e = get(p, "exec")) {
            s.kind = isolated::ProbeKind::exec;
            if (auto* c = get(*e, "command"))
                for (const auto& a : *c) s.command.push_back(a.is_string() ? a.get<std::string>() : a.dump());
            if (s.command.empty()) {
                warn(app, f + ".exec.command", "empty: the probe is left out");
                return std::nullopt;
            }
        } else {
            warn(app, f, "only httpGet, tcpSocket and exec probes carry over: the probe is left out");
            return std::nullopt;
        }
        auto secs = [&](const char* key, isolated::Duration& into) {
            if (auto v = num(p, key)) into = std::chrono::seconds(*v);
        };
        secs("initialDelaySeconds", s.initial_delay);
        secs("periodSeconds", s.period);
        secs("timeoutSeconds", s.timeout);
        if (auto v = num(p, "successThreshold")) s.success_threshold = static_cast<std::uint32_t>(*v);
        if (auto v = num(p, "failureThreshold")) s.failure_threshold = static_cast<std::uint32_t>(*v);
        unknown(app, p, f,
                {"httpGet", "tcpSocket", "exec", "initialDelaySeconds", "periodSeconds", "timeoutSeconds",
                 "successThreshold", "failureThreshold"});
        return s;
    }

    // ---- the image and the command: THE one place that decides them ----------------------
    // A container's image is the app's: "rootfs": {"type": "image", "image": REF}, the
    // reference as the manifest writes it (the daemon resolves it as a runtime would,
    // Docker's normalization). What the image leaves to the app file is then the
    // image's, as in Kubernetes: no workingDir is its WorkingDir, no command its
    // Entrypoint (args replacing its Cmd), its StopSignal. A container without an image
    // (not valid Kubernetes, but a Pod template may leave it to a mutating webhook) runs
    // on the host's file system and must name its program.
    void image_of(AppSpec& spec, const ojson& c, const std::string& f) {
        const ojson* img = get(c, "image");
        if (img && img->is_string() && !img->get<std::string>().empty()) {
            spec.rootfs.type = isolated::RootfsType::image;
            spec.rootfs.image = img->get<std::string>();
            spec.workdir.clear();
            spec.stop.signal = 0;
        } else if (img) {
            warn(spec.name, f + ".image", img->dump() + " is not an image reference: the app runs on the host's file system");
        }
    }

    /// command -> command, args -> args: the same meaning in both (command replaces the
    /// Entrypoint, args the Cmd; an app file without an image appends args to command).
    bool command_of(AppSpec& spec, const ojson& c, const std::string& f) {
        bool ref = false;
        for (const auto& [key, into] : {std::pair<const char*, std::vector<std::string>*>{"command", &spec.command},
                                        {"args", &spec.args}})
            if (auto* v = get(c, key); v && v->is_array())
                for (const auto& a : *v) into->push_back(unescape_dollar(a.is_string() ? a.get<std::string>() : a.dump(), ref));
        if (ref)
            warn(spec.name, f + ".command", "$(VAR) references are not expanded by isolated: they are passed as written");
        if (spec.rootfs.type != isolated::RootfsType::image && spec.command.empty()) {
            out.errors.push_back({spec.name, f + ".command",
                                  "not given, and no image whose entrypoint would run: the manifest must name the program"});
            return false;
        }
        return true;
    }

    void container(AppSpec& spec, const ojson& c, const std::string& f, const Workload& w, const PodApps& pa,
                   const ojson& pod_sc) {
        const std::string& app = spec.name;
        image_of(spec, c, f);
        if (auto v = get(c, "workingDir"); v && v->is_string()) spec.workdir = v->get<std::string>();

        // volumes first: secrets at /run/secrets decide about CREDENTIALS_DIRECTORY
        std::map<std::string, const ojson*> volumes;
        if (auto* vs = get(*w.pod, "volumes"))
            for (const auto& v : *vs) volumes[str(v, "name")] = &v;
        std::set<std::string> claim_templates;
        if (w.kind == "StatefulSet")
            if (auto* vct = get((*w.doc)["spec"], "volumeClaimTemplates"))
                for (const auto& t : *vct) claim_templates.insert(str(get(t, "metadata") ? t["metadata"] : ojson(), "name"));
        std::set<std::string> targets;
        if (auto* vms = get(c, "volumeMounts")) {
            std::size_t i = 0;
            for (const auto& vm : *vms) {
                mount(spec, vm, f + ".volumeMounts[" + std::to_string(i++) + "]", volumes, claim_templates, w, targets);
            }
        }

        if (auto* env = get(c, "env")) {
            std::size_t i = 0;
            for (const auto& e : *env) {
                std::string ef = f + ".env[" + std::to_string(i++) + "]";
                std::string n = str(e, "name");
                if (get(e, "valueFrom")) {
                    warn(app, ef + ".valueFrom", "not carried over: give " + n + " a value (or an envFile)");
                    continue;
                }
                bool ref = false;
                std::string v = unescape_dollar(str(e, "value"), ref);
                if (ref) warn(app, ef + ".value", "$(VAR) references are not expanded by isolated");
                if (n == "CREDENTIALS_DIRECTORY" && v == "/run/secrets" && !spec.secrets.empty()) continue;
                spec.env[n] = v;
            }
        }
        if (auto* ef = get(c, "envFrom")) {
            std::size_t i = 0;
            for (const auto& e : *ef) {
                std::string fld = f + ".envFrom[" + std::to_string(i++) + "]";
                if (get(e, "prefix")) warn(app, fld + ".prefix", "not carried over: the names are used as they are");
                const ojson* ref = get(e, "secretRef");
                std::string kind = "Secret";
                if (!ref) {
                    ref = get(e, "configMapRef");
                    kind = "ConfigMap";
                }
                if (!ref) continue;
                std::string name = str(*ref, "name");
                std::string path = opt.out_dir + "/env/" + name + ".env";
                auto data = data_of(app, kind, name, fld);
                if (data) {
                    std::vector<std::pair<std::string, std::string>> vars;
                    for (const auto& [k, v] : *data) {
                        if (env_name_ok(k))
                            vars.emplace_back(k, v);
                        else
                            warn(app, fld, kind + " " + name + " key " + qt(k) + " is not a variable name: left out");
                    }
                    write(path, env_file_text(vars), kind == "Secret" ? 0600 : 0644);
                } else {
                    warn(app, fld, kind + " " + name + " is not among the manifests: write its variables to " + path);
                }
                spec.env_files.push_back({path, flag(*ref, "optional")});
            }
        }

        if (!command_of(spec, c, f)) return;

        if (auto* ports = get(c, "ports")) {
            std::size_t i = 0;
            for (const auto& p : *ports) {
                std::string pf = f + ".ports[" + std::to_string(i++) + "]";
                std::string proto = str(p, "protocol", "TCP");
                if (proto != "TCP" && proto != "UDP") {
                    warn(app, pf + ".protocol", proto + " is not carried over (tcp and udp only)");
                    continue;
                }
                auto hp = num(p, "hostPort");
                auto cp = num(p, "containerPort");
                if (hp && cp) {
                    isolated::PortSpec ps;
                    ps.host = static_cast<std::uint16_t>(*hp);
                    ps.app = static_cast<std::uint16_t>(*cp);
                    ps.protocol = proto == "UDP" ? isolated::Protocol::udp : isolated::Protocol::tcp;
                    ps.host_address = str(p, "hostIP");
                    if (ps.host_address == "0.0.0.0") ps.host_address.clear();
                    add_forward(pa, ps, pf + ".hostPort");
                }
                unknown(app, p, pf, {"containerPort", "hostPort", "hostIP", "protocol", "name"});
            }
        }

        if (auto* res = get(c, "resources")) {
            const ojson lim = get(*res, "limits") ? (*res)["limits"] : ojson::object();
            const ojson req = get(*res, "requests") ? (*res)["requests"] : ojson::object();
            if (auto* cpu = get(lim, "cpu")) {
                if (auto q = quantity(*cpu); q && *q > 0) spec.resources.cpu = std::round(*q * 1000.0) / 1000.0;
                else warn(app, f + ".resources.limits.cpu", cpu->dump() + " is not a CPU quantity: left out");
            }
            if (auto* mem = get(lim, "memory")) {
                if (auto q = quantity(*mem); q && *q >= 1048576) spec.resources.memory = static_cast<std::uint64_t>(std::ceil(*q));
                else warn(app, f + ".resources.limits.memory", mem->dump() + " is not a memory quantity of 1Mi or more: left out");
            }
            for (const auto& [k, v] : lim.items())
                if (k != "cpu" && k != "memory") warn(app, f + ".resources.limits." + k, "not carried over");
            for (const auto& [k, v] : req.items()) {
                auto l = lim.find(k);
                if (l == lim.end() || quantity(*l) != quantity(v))
                    warn(app, f + ".resources.requests." + k, "isolated has limits only: a request is not carried over");
            }
            unknown(app, *res, f + ".resources", {"limits", "requests"});
        }

        const std::pair<const char*, std::optional<isolated::ProbeSpec>*> probes[] = {
            {"livenessProbe", &spec.probes.liveness},
            {"readinessProbe", &spec.probes.readiness},
            {"startupProbe", &spec.probes.startup}};
        for (const auto& [key, into] : probes)
            if (auto* p = get(c, key)) *into = probe(app, *p, f + "." + key, pa, c);

        // securityContext: the container's over the Pod's
        ojson sc = pod_sc.is_object() ? pod_sc : ojson::object();
        const std::set<std::string> sc_known = {"runAsUser", "runAsGroup", "capabilities", "seccompProfile",
                                                "allowPrivilegeEscalation", "readOnlyRootFilesystem", "privileged",
                                                "runAsNonRoot"};
        unknown(app, sc, w.base + ".securityContext", sc_known);
        if (auto* csc = get(c, "securityContext")) {
            unknown(app, *csc, f + ".securityContext", sc_known);
            for (const auto& [k, v] : csc->items()) sc[k] = v;
        }
        auto uid = num(sc, "runAsUser");
        auto gid = num(sc, "runAsGroup");
        if (uid || gid) spec.user = std::to_string(uid.value_or(0)) + (gid ? ":" + std::to_string(*gid) : "");
        if (auto* caps = get(sc, "capabilities")) {
            for (const auto& [key, into] : {std::pair<const char*, std::vector<std::string>*>{"add", &spec.security.cap_add},
                                            {"drop", &spec.security.cap_drop}})
                if (auto* list = get(*caps, key))
                    for (const auto& cap : *list) {
                        auto n = cap.is_string() ? isolated::normalize_capability(cap.get<std::string>()) : std::nullopt;
                        if (n && std::find(into->begin(), into->end(), *n) == into->end())
                            into->push_back(*n);
                        else if (!n)
                            warn(app, f + ".securityContext.capabilities." + key, cap.dump() + " is not a capability: left out");
                    }
        }
        if (auto* sp = get(sc, "seccompProfile")) {
            std::string type = str(*sp, "type");
            if (type == "Unconfined") {
                spec.security.seccomp = isolated::SeccompMode::unconfined;
            } else if (type == "Localhost") {
                spec.security.seccomp = isolated::SeccompMode::path;
                spec.security.seccomp_path = "/var/lib/kubelet/seccomp/" + str(*sp, "localhostProfile");
                warn(app, f + ".securityContext.seccompProfile",
                     "a node-local profile: put it at " + spec.security.seccomp_path + " (or change the app file)");
            }
        }
        if (auto* ape = get(sc, "allowPrivilegeEscalation"); ape && ape->is_boolean())
            spec.security.no_new_privileges = !ape->get<bool>();
        // Read-only is the host rootfs's default, writable an image's (as Kubernetes').
        if (auto* ro = get(sc, "readOnlyRootFilesystem"); ro && ro->is_boolean()) {
            bool host = spec.rootfs.type == isolated::RootfsType::host;
            if (ro->get<bool>() != host) spec.security.readonly_rootfs = ro->get<bool>();
        }
        if (flag(sc, "privileged"))
            warn(app, f + ".securityContext.privileged", "isolated runs no privileged apps: add the capabilities it needs");
        if (flag(sc, "runAsNonRoot") && !uid)
            warn(app, f + ".securityContext.runAsNonRoot", "without runAsUser the app runs as root: set user");

        unknown(app, c, f,
                {"name", "image", "command", "args", "workingDir", "env", "envFrom", "ports", "resources", "livenessProbe",
                 "readinessProbe", "startupProbe", "securityContext", "volumeMounts"},
                {"imagePullPolicy", "terminationMessagePath", "terminationMessagePolicy"});
    }

    void add_forward(const PodApps& pa, isolated::PortSpec ps, const std::string& field) {
        // The Pod's network is its root app's: forwards go there.
        AppSpec& root = out.apps[pa.apps.front()];
        std::string proto = isolated::to_string(ps.protocol);
        for (const auto& existing : root.network.ports)
            if (existing.app == ps.app && existing.protocol == ps.protocol) return;
        if (!host_ports.insert({proto, ps.host}).second) {
            warn(root.name, field, "host port " + std::to_string(ps.host) + "/" + proto + " is taken by another app: left out");
            return;
        }
        if (root.network.mode != isolated::NetworkMode::bridge) {
            warn(root.name, field, "hostNetwork: no port forwards needed");
            return;
        }
        root.network.ports.push_back(ps);
    }

    void mount(AppSpec& spec, const ojson& vm, const std::string& f, const std::map<std::string, const ojson*>& volumes,
               const std::set<std::string>& claim_templates, const Workload& w, std::set<std::string>& targets) {
        const std::string& app = spec.name;
        std::string name = str(vm, "name"), target = str(vm, "mountPath"), sub = str(vm, "subPath");
        bool ro = flag(vm, "readOnly");
        unknown(app, vm, f, {"name", "mountPath", "readOnly", "subPath"});
        if (!targets.insert(target).second) {
            warn(app, f, "a second mount on " + target + ": left out");
            return;
        }
        auto join = [&](std::string dir) { return sub.empty() ? dir : dir + "/" + sub; };
        isolated::MountSpec m;
        m.target = target;
        m.readonly = ro;
        auto it = volumes.find(name);
        if (it == volumes.end()) {
            if (claim_templates.count(name)) {
                m.source = join(opt.out_dir + "/volumes/" + w.name + "-" + name);
                m.create = true;
                spec.mounts.push_back(m);
            } else {
                warn(app, f, "volume " + qt(name) + " is not in the Pod: left out");
            }
            return;
        }
        const ojson& v = *it->second;
        const std::string vf = w.base + ".volumes[" + name + "]";
        if (auto* cm = get(v, "configMap")) {
            std::string cmname = str(*cm, "name");
            std::string dir = opt.out_dir + "/files/" + cmname;
            write_items(app, "ConfigMap", cmname, *cm, dir, 0644, vf);
            m.source = join(dir);
            m.readonly = true;
        } else if (auto* sec = get(v, "secret")) {
            std::string sname = str(*sec, "secretName");
            std::string dir = opt.out_dir + "/secrets/" + sname;
            if (target == "/run/secrets" && sub.empty()) {
                // isolated's own secrets: one file each, with its mode.
                auto data = data_of(app, "Secret", sname, vf);
                if (!data) warn(app, vf, "Secret " + sname + " is not among the manifests: write its files under " + dir);
                std::uint32_t def = static_cast<std::uint32_t>(num(*sec, "defaultMode").value_or(0644));
                std::vector<std::pair<std::string, std::pair<std::string, std::uint32_t>>> items;
                if (auto* is = get(*sec, "items"))
                    for (const auto& item : *is)
                        items.push_back({str(item, "key"), {str(item, "path"), static_cast<std::uint32_t>(num(item, "mode").value_or(def))}});
                else if (data)
                    for (const auto& [k, _] : *data) items.push_back({k, {k, def}});
                for (const auto& [key, pm] : items) {
                    std::string src = dir + "/" + key;
                    if (data) {
                        if (auto d = data->find(key); d != data->end())
                            write(src, d->second, 0600);
                        else
                            warn(app, vf, "Secret " + sname + " has no key " + qt(key) + ": write it to " + src);
                    }
                    spec.secrets.push_back({src, pm.first, pm.second & 07777});
                }
                return;
            }
            write_items(app, "Secret", sname, *sec, dir, 0600, vf);
            m.source = join(dir);
            m.readonly = true;
        } else if (auto* pvc = get(v, "persistentVolumeClaim")) {
            m.source = join(opt.out_dir + "/volumes/" + str(*pvc, "claimName"));
            m.create = true;
            m.readonly = ro || flag(*pvc, "readOnly");
        } else if (auto* hp = get(v, "hostPath")) {
            m.source = join(str(*hp, "path"));
            m.create = str(*hp, "type") == "DirectoryOrCreate";
        } else if (auto* ed = get(v, "emptyDir")) {
            m.type = isolated::MountType::tmpfs;
            m.readonly = false;
            if (ro) warn(app, f + ".readOnly", "a tmpfs is writable");
            if (!sub.empty()) warn(app, f + ".subPath", "an emptyDir becomes its own tmpfs: subPath is not carried over");
            if (str(*ed, "medium") != "Memory")
                warn(app, vf + ".emptyDir.medium", "a disk-backed emptyDir becomes a tmpfs (memory)");
            if (auto* sl = get(*ed, "sizeLimit")) {
                if (auto q = quantity(*sl); q && *q >= 1) m.size = static_cast<std::uint64_t>(std::ceil(*q));
            }
        } else {
            warn(app, vf, "only configMap, secret, persistentVolumeClaim, hostPath and emptyDir volumes carry over: " +
                              target + " is left out");
            return;
        }
        spec.mounts.push_back(m);
    }

    void write_items(const std::string& app, const std::string& kind, const std::string& name, const ojson& vol,
                     const std::string& dir, std::uint32_t file_mode, const std::string& vf) {
        auto data = data_of(app, kind, name, vf);
        if (!data) {
            warn(app, vf, kind + " " + name + " is not among the manifests: put its files in " + dir);
            return;
        }
        auto def = num(vol, "defaultMode");
        auto mode_of = [&](std::optional<std::int64_t> m) {
            std::uint32_t x = static_cast<std::uint32_t>(m ? *m : def.value_or(0644));
            // The owner's bits are what the app (root or its user) reads; secrets stay private.
            return kind == "Secret" ? (x & 0100 ? 0700u : 0600u) : x & 0777;
        };
        if (auto* items = get(vol, "items")) {
            for (const auto& item : *items) {
                std::string key = str(item, "key"), path = str(item, "path", key);
                if (path.find("..") != std::string::npos || path.empty() || path[0] == '/') {
                    warn(app, vf, kind + " " + name + " item path " + qt(path) + " is not allowed: left out");
                    continue;
                }
                if (auto d = data->find(key); d != data->end())
                    write(dir + "/" + path, d->second, mode_of(num(item, "mode")));
                else
                    warn(app, vf, kind + " " + name + " has no key " + qt(key));
            }
        } else {
            for (const auto& [k, v] : *data) write(dir + "/" + k, v, mode_of(std::nullopt));
        }
        (void)file_mode;
    }

    void workload(const Workload& w, std::vector<PodApps>& pods) {
        const ojson& pod = *w.pod;
        const std::string label = app_name_of(w.name);
        // restart policy from the kind
        isolated::RestartSpec restart;
        bool autostart = true;
        const ojson& spec = get(*w.doc, "spec") ? (*w.doc)["spec"] : ojson::object();
        if (w.kind == "Deployment" || w.kind == "StatefulSet") {
            auto replicas = num(spec, "replicas").value_or(1);
            if (replicas == 0) autostart = false;
            if (replicas > 1) warn(label, "spec.replicas", std::to_string(replicas) + ": isolated runs one instance");
            unknown(label, spec, "spec", {"replicas", "selector", "template", "volumeClaimTemplates"},
                    {"strategy", "serviceName", "revisionHistoryLimit", "progressDeadlineSeconds", "minReadySeconds",
                     "podManagementPolicy", "updateStrategy", "persistentVolumeClaimRetentionPolicy"});
        } else if (w.kind == "Job") {
            std::string rp = str(pod, "restartPolicy", "Never");
            auto limit = num(spec, "backoffLimit").value_or(kJobDefaultBackoffLimit);
            if (rp == "Never" && limit == 0) {
                restart.policy = isolated::RestartPolicy::never;
            } else {
                restart.policy = isolated::RestartPolicy::on_failure;
                if (limit != kUnlimitedRetries) restart.max_retries = static_cast<std::uint32_t>(limit);
            }
            if (flag(spec, "suspend")) autostart = false;
            for (const char* k : {"completions", "parallelism"})
                if (num(spec, k).value_or(1) > 1) warn(label, std::string("spec.") + k, "isolated runs one instance");
            unknown(label, spec, "spec", {"backoffLimit", "suspend", "completions", "parallelism", "template"},
                    {"selector", "manualSelector", "completionMode"});
        } else {  // Pod
            std::string rp = str(pod, "restartPolicy", "Always");
            restart.policy = rp == "Never"       ? isolated::RestartPolicy::never
                             : rp == "OnFailure" ? isolated::RestartPolicy::on_failure
                                                 : isolated::RestartPolicy::always;
        }
        if ((w.kind == "Deployment" || w.kind == "StatefulSet") && str(pod, "restartPolicy", "Always") != "Always")
            warn(label, w.base + ".restartPolicy", "a " + w.kind + " always restarts");

        const ojson containers = get(pod, "containers") ? pod["containers"] : ojson::array();
        if (containers.empty()) {
            out.errors.push_back({label, w.base + ".containers", "no containers"});
            return;
        }
        PodApps pa;
        pa.w = &w;
        // App names: the workload's for one container; the containers' for several.
        for (std::size_t i = 0; i < containers.size(); ++i) {
            std::string n = containers.size() == 1 ? label : app_name_of(str(containers[i], "name"));
            if (out.apps.count(n) || std::find(pa.apps.begin(), pa.apps.end(), n) != pa.apps.end()) {
                std::string alt = app_name_of(label + "-" + n);
                warn(n, w.base + ".containers[" + std::to_string(i) + "].name",
                     "the app name " + qt(n) + " is taken: this one is " + qt(alt));
                n = alt;
            }
            if (n != (containers.size() == 1 ? w.name : str(containers[i], "name")))
                warn(n, w.base + ".containers[" + std::to_string(i) + "].name",
                     "not an app name as it is: the app is " + qt(n));
            pa.apps.push_back(n);
            for (const auto& p : get(containers[i], "ports") ? containers[i]["ports"] : ojson::array()) {
                if (auto cp = num(p, "containerPort")) {
                    pa.port_owner[{int(*cp), str(p, "protocol", "TCP")}] = n;
                    if (!str(p, "name").empty()) pa.named_ports[str(p, "name")] = {n, int(*cp)};
                }
            }
        }
        const std::string root = pa.apps.front();
        const ojson pod_sc = get(pod, "securityContext") ? pod["securityContext"] : ojson::object();
        for (std::size_t i = 0; i < containers.size(); ++i) {
            AppSpec& s = out.apps[pa.apps[i]];
            s.name = pa.apps[i];
            s.restart = restart;
            s.autostart = autostart;
            if (flag(pod, "hostNetwork")) {
                s.network.mode = isolated::NetworkMode::host;
                s.namespaces.uts.kind = isolated::NamespaceKind::host;
            } else if (i > 0) {
                s.network.mode = isolated::NetworkMode::app;
                s.network.app = root;
                s.namespaces.uts = {isolated::NamespaceKind::app, root};
            }
            if (i > 0) s.namespaces.ipc = {isolated::NamespaceKind::app, root};
            if (flag(pod, "hostIPC")) s.namespaces.ipc = {isolated::NamespaceKind::host, ""};
            if (flag(pod, "hostPID"))
                s.namespaces.pid = {isolated::NamespaceKind::host, ""};
            else if (i > 0 && flag(pod, "shareProcessNamespace"))
                s.namespaces.pid = {isolated::NamespaceKind::app, root};
            if (auto* hu = get(pod, "hostUsers"); hu && hu->is_boolean() && !hu->get<bool>())
                s.namespaces.user = {true, kUserNsBase, kUserNsBase, 65536};
            if (auto g = num(pod, "terminationGracePeriodSeconds")) s.stop.timeout = std::chrono::seconds(*g);
            if (i == 0 && s.namespaces.uts.kind == isolated::NamespaceKind::private_) {
                std::string h = str(pod, "hostname");
                if (!str(pod, "subdomain").empty()) h += "." + str(pod, "subdomain");
                if (h != s.name) s.hostname = h;
            }
        }
        pods.push_back(pa);
        for (std::size_t i = 0; i < containers.size(); ++i)
            container(out.apps[pa.apps[i]], containers[i], w.base + ".containers[" + std::to_string(i) + "]", w,
                      pods.back(), pod_sc);
        unknown(label, pod, w.base,
                {"containers", "volumes", "restartPolicy", "hostname", "subdomain", "shareProcessNamespace", "hostNetwork",
                 "hostPID", "hostIPC", "hostUsers", "terminationGracePeriodSeconds", "securityContext"},
                {"dnsPolicy", "schedulerName", "automountServiceAccountToken", "enableServiceLinks"});
    }

    void service(const ojson& svc, const std::string& source, std::vector<PodApps>& pods) {
        const std::string name = str(get(svc, "metadata") ? svc["metadata"] : ojson(), "name");
        const std::string who = "Service/" + name;
        const ojson spec = get(svc, "spec") ? svc["spec"] : ojson::object();
        std::string type = str(spec, "type", "ClusterIP");
        auto* sel = get(spec, "selector");
        PodApps* target = nullptr;
        if (type != "ExternalName" && sel && sel->is_object() && !sel->empty())
            for (auto& pa : pods) {
                bool match = true;
                for (const auto& [k, v] : sel->items())
                    if (!pa.w->template_labels.contains(k) || pa.w->template_labels[k] != v) match = false;
                if (match) {
                    target = &pa;
                    break;
                }
            }
        if (!target) {
            warn(who, "spec.selector", "selects none of the imported workloads: not carried over");
            return;
        }
        const std::string& root = target->apps.front();
        if (name != root)
            warn(root, who + " metadata.name",
                 "apps find each other by app name: clients that used " + qt(name) + " must use " + qt(root));
        std::size_t i = 0;
        for (const auto& p : get(spec, "ports") ? spec["ports"] : ojson::array()) {
            std::string pf = who + " spec.ports[" + std::to_string(i++) + "]";
            std::string proto = str(p, "protocol", "TCP");
            auto port = num(p, "port");
            if (!port || (proto != "TCP" && proto != "UDP")) continue;
            int tgt = int(*port);
            if (auto* tp = get(p, "targetPort")) {
                if (tp->is_number_integer())
                    tgt = tp->get<int>();
                else if (auto it = target->named_ports.find(tp->get<std::string>()); it != target->named_ports.end())
                    tgt = it->second.second;
                else {
                    warn(root, pf + ".targetPort", tp->dump() + " names no containerPort: left out");
                    continue;
                }
            }
            isolated::PortSpec ps;
            ps.app = static_cast<std::uint16_t>(tgt);
            ps.host = static_cast<std::uint16_t>(num(p, "nodePort").value_or(*port));
            ps.protocol = proto == "UDP" ? isolated::Protocol::udp : isolated::Protocol::tcp;
            add_forward(*target, ps, pf);
        }
        unknown(root, spec, who + " spec", {"type", "selector", "ports"},
                {"clusterIP", "clusterIPs", "ipFamilies", "ipFamilyPolicy", "sessionAffinity", "internalTrafficPolicy",
                 "externalTrafficPolicy"});
        (void)source;
    }
};

const std::vector<std::string> kKeyOrder = {"command", "args", "user", "env", "envFile", "secrets", "workdir", "hostname",
                                            "init", "autostart", "rootfs", "mounts", "network", "namespaces",
                                            "resources", "restart", "stop", "probes", "dependsOn", "security",
                                            "logs", "hooks"};

ojson diff(const ojson& v, const ojson& def) {
    if (!v.is_object() || !def.is_object()) return v;
    ojson o = ojson::object();
    for (const auto& [k, x] : v.items()) {
        auto d = def.find(k);
        if (d != def.end() && *d == x) continue;
        o[k] = d == def.end() ? x : diff(x, *d);
    }
    return o;
}

}  // namespace

ojson minimal_app_json(const AppSpec& spec) {
    AppSpec def;
    def.name = spec.name;
    // Probes are compared with a default probe of their own kind.
    for (auto [have, into] : {std::pair{&spec.probes.liveness, &def.probes.liveness},
                              {&spec.probes.readiness, &def.probes.readiness}, {&spec.probes.startup, &def.probes.startup}})
        if (*have) {
            isolated::ProbeSpec p;
            p.kind = (*have)->kind;
            *into = p;
        }
    // An image app leaves command, workdir and the stop signal to its image.
    const bool image = spec.rootfs.type == isolated::RootfsType::image;
    if (image) {
        def.workdir.clear();
        def.stop.signal = 0;
    }
    ojson v = ojson::parse(isolated::app_spec_to_json(spec).dump());
    ojson d = ojson::parse(isolated::app_spec_to_json(def).dump());
    ojson o = ojson::object();
    for (const auto& k : kKeyOrder) {
        if (!v.contains(k)) continue;
        if (k == "command" && image && spec.command.empty()) continue;
        if (k == "command" || !d.contains(k) || v[k] != d[k]) o[k] = d.contains(k) && k != "command" ? diff(v[k], d[k]) : v[k];
    }
    // The rootfs whole (its type names the rest), "writable" only when not the default.
    if (image) {
        o["rootfs"] = {{"type", "image"}, {"image", spec.rootfs.image}};
        if (spec.rootfs.writable != isolated::RootfsWritable::overlay) o["rootfs"]["writable"] = "readonly";
    }
    return o;
}

ImportResult import_kube(const std::vector<Manifest>& manifests, const ImportOptions& options) {
    ImportResult out;
    Importer im{options, out, {}, {}, {}, {}};
    std::vector<const Manifest*> flat;
    std::vector<Manifest> listed;  // items of kind: List
    listed.reserve(manifests.size() * 4);
    for (const auto& m : manifests) {
        if (str(m.body, "kind") == "List" && get(m.body, "items")) {
            for (const auto& item : m.body["items"]) listed.push_back({m.source, item});
        }
    }
    for (const auto& m : manifests)
        if (str(m.body, "kind") != "List") flat.push_back(&m);
    for (const auto& m : listed) flat.push_back(&m);

    std::vector<Workload> workloads;
    std::vector<const Manifest*> services;
    for (const auto* m : flat) {
        const ojson& b = m->body;
        std::string kind = str(b, "kind");
        std::string name = str(get(b, "metadata") ? b["metadata"] : ojson(), "name");
        if (kind == "ConfigMap") {
            im.config_maps[name] = &b;
        } else if (kind == "Secret") {
            im.secrets[name] = &b;
        } else if (kind == "Service") {
            services.push_back(m);
        } else if (kind == "PersistentVolumeClaim") {
            // A directory under out_dir/volumes when a Pod mounts it: nothing to do here.
        } else if (kind == "Pod" || kind == "Deployment" || kind == "StatefulSet" || kind == "Job") {
            Workload w;
            w.kind = kind;
            w.name = name;
            w.source = m->source;
            w.doc = &b;
            if (kind == "Pod") {
                w.base = "spec";
                w.pod = get(b, "spec");
                w.template_labels = get(b, "metadata") && get(b["metadata"], "labels") ? b["metadata"]["labels"] : ojson::object();
            } else {
                w.base = "spec.template.spec";
                const ojson* t = get(b, "spec") ? get(b["spec"], "template") : nullptr;
                w.pod = t ? get(*t, "spec") : nullptr;
                w.template_labels = t && get(*t, "metadata") && get((*t)["metadata"], "labels") ? (*t)["metadata"]["labels"]
                                                                                               : ojson::object();
            }
            if (!w.pod) {
                out.errors.push_back({kind + "/" + name, w.base, "missing"});
                continue;
            }
            workloads.push_back(w);
        } else {
            out.warnings.push_back({kind + "/" + name, "kind", qt(kind) + " is not imported (" + m->source + ")"});
        }
    }
    std::vector<PodApps> pods;
    pods.reserve(workloads.size());
    for (const auto& w : workloads) im.workload(w, pods);
    for (const auto* s : services) im.service(s->body, s->source, pods);

    // An app that failed (no command) is not written; neither are the apps of its Pod.
    std::set<std::string> failed;
    for (const auto& e : out.errors) failed.insert(e.app);
    for (const auto& pa : pods)
        for (const auto& a : pa.apps)
            if (failed.count(a))
                for (const auto& b : pa.apps) failed.insert(b);
    for (const auto& f : failed) out.apps.erase(f);

    // Each app file must read back as the spec it was made from, and the set must pass
    // the cross-file checks, as isoctl validate would.
    for (auto it = out.apps.begin(); it != out.apps.end();) {
        ojson j = minimal_app_json(it->second);
        auto parsed = isolated::parse_app_text(it->first, j.dump(), it->first + ".json");
        if (!parsed.spec || !parsed.errors.empty()) {
            for (const auto& d : parsed.errors) out.errors.push_back({it->first, d.field, d.message});
            it = out.apps.erase(it);
            continue;
        }
        out.app_files[it->first] = j;
        ++it;
    }
    for (const auto& [name, diags] : isolated::check_app_set(out.apps))
        for (const auto& d : diags) out.errors.push_back({name, d.field, d.message});
    return out;
}

}  // namespace isoctl::kube
