#include "inspect_view.hpp"

#include <algorithm>
#include <map>
#include <vector>

#include "isolated/units.hpp"
#include "output.hpp"
#include "views.hpp"

namespace isoctl {

using oj = nlohmann::ordered_json;

namespace {

/// The order of an app file's keys as isolated.app(5) and the canonical JSON write
/// them, by object (path with "[]" for list items, "*" for any probe); the daemon's
/// JSON objects come with sorted keys. Keys not listed follow in their own order.
const std::vector<std::string>& key_order(const std::string& path) {
    static const std::map<std::string, std::vector<std::string>> orders = {
        {"",
         {"command", "args", "user", "env", "envFile", "workdir", "hostname", "init", "autostart", "rootfs", "mounts",
          "network", "namespaces", "resources", "restart", "stop", "probes", "dependsOn", "security", "secrets",
          "logs", "hooks"}},
        {"rootfs", {"type", "path", "image", "writable"}},
        {"mounts[]", {"type", "source", "target", "readonly", "create", "size", "mode"}},
        {"network", {"mode", "address", "ports"}},
        {"network.ports[]", {"host", "app", "protocol", "hostAddress"}},
        {"namespaces", {"pid", "ipc", "uts", "user"}},
        {"namespaces.user", {"uid", "gid", "count"}},
        {"resources", {"cpu", "cpuWeight", "memory", "memoryHigh", "swap", "pids", "ioWeight"}},
        {"restart", {"policy", "backoff", "maxRetries"}},
        {"restart.backoff", {"initial", "max", "factor", "resetAfter", "jitter"}},
        {"stop", {"signal", "timeout"}},
        {"probes", {"liveness", "readiness", "startup"}},
        {"probes.*",
         {"http", "tcp", "exec", "initialDelay", "period", "timeout", "successThreshold", "failureThreshold"}},
        {"probes.*.http", {"port", "path", "scheme", "headers"}},
        {"probes.*.http.headers[]", {"name", "value"}},
        {"probes.*.tcp", {"port", "expect"}},
        {"security", {"capabilities", "seccomp", "noNewPrivileges", "readonlyRootfs"}},
        {"security.capabilities", {"add", "drop"}},
    };
    static const std::vector<std::string> none;
    auto it = orders.find(path);
    return it == orders.end() ? none : it->second;
}

oj in_file_order(const oj& v, const std::string& path) {
    if (v.is_array()) {
        oj out = oj::array();
        for (const auto& item : v) out.push_back(in_file_order(item, path + "[]"));
        return out;
    }
    if (!v.is_object()) return v;
    auto child = [&](const std::string& key) {
        if (path == "probes") return std::string("probes.*");
        return path.empty() ? key : path + "." + key;
    };
    oj out = oj::object();
    for (const auto& key : key_order(path))
        if (v.contains(key)) out[key] = in_file_order(v[key], child(key));
    for (const auto& [key, value] : v.items())
        if (!out.contains(key)) out[key] = in_file_order(value, child(key));
    return out;
}

}  // namespace

oj effective_definition(const oj& spec, const std::string& name) {
    oj d = in_file_order(spec, "");
    if (!d.is_object()) return d;
    auto null_at = [&](const oj& obj, const char* key) { return !obj.contains(key) || obj[key].is_null(); };
    if (null_at(d, "user")) d["user"] = "root";
    if (null_at(d, "hostname")) d["hostname"] = name;
    if (d.contains("security") && d["security"].is_object() && null_at(d["security"], "readonlyRootfs")) {
        bool host = d.contains("rootfs") && d["rootfs"].is_object() && d["rootfs"].value("type", "") == "host";
        d["security"]["readonlyRootfs"] = host;
    }
    return d;
}

namespace {

/// Fields whose integers are byte sizes, and the cpu field (cores).
bool is_size_key(const std::string& path) {
    static const char* keys[] = {"resources.memory", "resources.memoryHigh", "resources.swap", "mounts[].size"};
    return std::any_of(std::begin(keys), std::end(keys), [&](const char* k) { return path == k; });
}

bool is_scalar(const oj& v) { return !v.is_object() && !v.is_array(); }

std::string scalar_text(const oj& v, const std::string& path) {
    if (v.is_null()) return "-";
    if (v.is_string()) return v.get<std::string>().empty() ? "\"\"" : v.get<std::string>();
    if (v.is_boolean()) return v.get<bool>() ? "true" : "false";
    if (v.is_number_unsigned() && is_size_key(path)) return isolated::format_size(v.get<std::uint64_t>());
    if (v.is_number() && path == "resources.cpu") return format_cpu(v.get<double>());
    return v.dump();
}

/// A list shown on one line: a command as a shell would take it, other words joined.
std::string inline_list(const oj& list, const std::string& key) {
    std::vector<std::string> words;
    if (key == "command") {
        // null: an argument the read-only socket hides from users outside group isolated.
        std::string s;
        for (const auto& w : list)
            s += (s.empty() ? "" : " ") +
                 (w.is_null() ? std::string("<hidden>")
                              : shell_join({w.is_string() ? w.get<std::string>() : w.dump()}));
        return s;
    }
    for (const auto& w : list) words.push_back(w.is_string() ? w.get<std::string>() : w.dump());
    std::string s;
    for (const auto& w : words) s += (s.empty() ? "" : ", ") + w;
    return s;
}

bool all_scalars(const oj& list) { return std::all_of(list.begin(), list.end(), is_scalar); }

void render_object(const oj& obj, const std::string& indent, const std::string& path, std::string& out,
                   const std::string& first_indent);

void render_value(const std::string& key, const oj& v, const std::string& indent, const std::string& path,
                  std::size_t key_width, std::string& out, const std::string& lead) {
    std::string label = lead + key + ":";
    auto pad = [&](std::string s) {
        std::size_t want = lead.size() + key_width + 1;
        if (s.size() < want + 1) s.append(want + 1 - s.size(), ' ');
        else s += ' ';
        return s;
    };
    if (is_scalar(v)) {
        out += pad(label) + scalar_text(v, path) + "\n";
    } else if (v.empty()) {
        out += pad(label) + "-\n";
    } else if (v.is_array() && all_scalars(v)) {
        out += pad(label) + inline_list(v, key) + "\n";
    } else if (v.is_array()) {
        out += label + "\n";
        for (const auto& item : v) {
            if (item.is_object() && !item.empty())
                render_object(item, indent + "    ", path + "[]", out, indent + "  - ");
            else
                out += indent + "  - " + (is_scalar(item) ? scalar_text(item, path + "[]") : item.dump()) + "\n";
        }
    } else {
        out += label + "\n";
        render_object(v, indent + "  ", path, out, indent + "  ");
    }
}

/// `first_indent` replaces `indent` on the first line (a list item's "- ").
void render_object(const oj& obj, const std::string& indent, const std::string& path, std::string& out,
                   const std::string& first_indent) {
    std::size_t width = 0;
    for (const auto& [k, v] : obj.items()) width = std::max(width, k.size());
    bool first = true;
    for (const auto& [k, v] : obj.items()) {
        std::string lead = first ? first_indent : indent;
        first = false;
        render_value(k, v, indent, path.empty() ? k : path + "." + k, width, out, lead);
    }
}

}  // namespace

std::string render_definition(const oj& definition) {
    std::string out;
    if (definition.is_object()) render_object(definition, "", "", out, "");
    return out;
}

}  // namespace isoctl
