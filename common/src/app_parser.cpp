// One app file: JSON (with comments) -> AppSpec, or every error found, each naming the
// file, line and field. The cross-file checks are in app_set.cpp.
#include "isolated/app_parser.hpp"

#include <arpa/inet.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <limits>
#include <set>
#include <sstream>

#include <nlohmann/json.hpp>

#include "json_positions.hpp"
#include "text_hints.hpp"

namespace isolated {
namespace {

using detail::element_path;
using detail::member_path;
using nlohmann::json;
using Keys = std::initializer_list<std::string_view>;

constexpr std::uint64_t kMiB = 1ULL << 20;
// PID_MAX_LIMIT on 64-bit kernels; pids.max refuses anything larger.
constexpr std::uint64_t kPidMaxLimit = 4'194'304;

// ---- small checks on values ----------------------------------------------------------

bool is_env_name(std::string_view s) {
    if (s.empty()) return false;
    auto alpha = [](char c) { return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || c == '_'; };
    if (!alpha(s[0])) return false;
    return std::all_of(s.begin(), s.end(), [&](char c) { return alpha(c) || (c >= '0' && c <= '9'); });
}

bool all_digits(std::string_view s) {
    return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; });
}

// RFC 1123: labels of letters, digits and '-', 1..63 each, not starting or ending with '-'.
bool is_hostname(std::string_view s) {
    if (s.empty() || s.size() > 64) return false;
    size_t start = 0;
    while (start <= s.size()) {
        size_t dot = s.find('.', start);
        std::string_view label = s.substr(start, dot == std::string_view::npos ? std::string_view::npos : dot - start);
        if (label.empty() || label.size() > 63 || label.front() == '-' || label.back() == '-') return false;
        for (char c : label)
            if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '-')) return false;
        if (dot == std::string_view::npos) break;
        start = dot + 1;
    }
    return true;
}

// A user or group as useradd and systemd accept it: a name ([A-Za-z_][A-Za-z0-9_.-]*,
// optionally ending in '$', at most 32 characters) or a numeric id below (uid_t)-1.
bool is_user_part(std::string_view s) {
    if (all_digits(s)) {
        if (s.size() > 10) return false;
        return std::stoull(std::string(s)) < 0xFFFF'FFFFULL;
    }
    if (s.empty() || s.size() > 32) return false;
    if (s.back() == '$') s.remove_suffix(1);
    if (s.empty()) return false;
    char c0 = s[0];
    if (!((c0 >= 'a' && c0 <= 'z') || (c0 >= 'A' && c0 <= 'Z') || c0 == '_')) return false;
    return std::all_of(s.begin(), s.end(), [](char c) {
        return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '.' || c == '-';
    });
}

std::optional<in_addr> parse_ipv4(const std::string& s) {
    in_addr a{};
    if (inet_pton(AF_INET, s.c_str(), &a) != 1) return std::nullopt;
    return a;
}

// HTTP header field names are RFC 9110 tokens.
bool is_http_token(std::string_view s) {
    if (s.empty()) return false;
    for (char c : s) {
        if (std::isalnum(static_cast<unsigned char>(c))) continue;
        if (std::string_view("!#$%&'*+-.^_`|~").find(c) == std::string_view::npos) return false;
    }
    return true;
}

// "/a//b/" -> "/a/b"
std::string squeeze_slashes(std::string_view p) {
    std::string out;
    for (char c : p)
        if (!(c == '/' && !out.empty() && out.back() == '/')) out += c;
    if (out.size() > 1 && out.back() == '/') out.pop_back();
    return out;
}

std::string join_quoted(const std::vector<std::string>& words, const char* last_sep = "or") {
    std::string out;
    for (size_t i = 0; i < words.size(); ++i) {
        if (i > 0) out += i + 1 == words.size() ? std::string(words.size() > 2 ? ", " : " ") + last_sep + " " : ", ";
        out += '"' + words[i] + '"';
    }
    return out;
}

// "a string (\"512\")", "a number (1.5)", "an object", ...
std::string describe(const json& v) {
    switch (v.type()) {
        case json::value_t::string:
            return "a string (" + detail::quote(v.get_ref<const std::string&>()) + ")";
        case json::value_t::boolean:
            return std::string("a boolean (") + (v.get<bool>() ? "true" : "false") + ")";
        case json::value_t::number_integer:
        case json::value_t::number_unsigned:
        case json::value_t::number_float:
            return "a number (" + v.dump() + ")";
        case json::value_t::object:
            return "an object";
        case json::value_t::array:
            return "an array";
        case json::value_t::null:
            return "null";
        default:
            return "something else";
    }
}

struct Integer {
    bool negative = false;
    std::uint64_t magnitude = 0;
};

// Integers, and numbers such as 512.0 that a generator wrote with a fraction.
std::optional<Integer> as_integer(const json& v) {
    if (v.is_number_unsigned()) return Integer{false, v.get<std::uint64_t>()};
    if (v.is_number_integer()) {
        auto i = v.get<std::int64_t>();
        return i < 0 ? Integer{true, static_cast<std::uint64_t>(-(i + 1)) + 1}
                     : Integer{false, static_cast<std::uint64_t>(i)};
    }
    if (v.is_number_float()) {
        double d = v.get<double>();
        if (!std::isfinite(d) || std::trunc(d) != d || std::fabs(d) >= 18446744073709551616.0) return std::nullopt;
        return d < 0 ? Integer{true, static_cast<std::uint64_t>(-d)} : Integer{false, static_cast<std::uint64_t>(d)};
    }
    return std::nullopt;
}

// Kubernetes, Docker and Compose spellings that people bring along, and what they are
// here. With AT empty the alias holds at any level where TO is a field (a rename in
// place); otherwise only in the object at path AT ("" is the top level), and TO is the
// full path of where the setting lives instead. Typos of these names are caught too
// ("enviroment" -> "environment" -> env), after typos of real fields.
struct Alias {
    std::string_view from, to, note;
    std::optional<std::string_view> at = std::nullopt;
};
constexpr std::string_view kTop = "";
const Alias kAliases[] = {
    // In place, wherever the target field exists.
    {"httpGet", "http", ""},
    {"tcpSocket", "tcp", ""},
    {"initialDelaySeconds", "initialDelay", " It takes a duration such as \"5s\"."},
    {"periodSeconds", "period", " It takes a duration such as \"10s\"."},
    {"timeoutSeconds", "timeout", " It takes a duration such as \"1s\"."},
    {"httpHeaders", "headers", ""},
    {"depends_on", "dependsOn", ""},
    {"environment", "env", ""},
    {"workingDir", "workdir", ""},
    {"working_dir", "workdir", ""},
    {"cap_add", "capabilities", " Write \"capabilities\": {\"add\": [...]}."},
    {"cap_drop", "capabilities", " Write \"capabilities\": {\"drop\": [...]}."},
    {"readOnlyRootFilesystem", "readonlyRootfs", ""},
    {"read_only", "readonlyRootfs", ""},
    {"readOnly", "readonlyRootfs", ""},
    {"seccompProfile", "seccomp", ""},
    {"allowPrivilegeEscalation", "noNewPrivileges", " It is the opposite: \"noNewPrivileges\": true forbids it."},
    {"mountPath", "target", ""},
    {"hostPath", "source", ""},
    {"hostPort", "host", ""},
    {"containerPort", "app", ""},
    {"hostIP", "hostAddress", ""},
    {"hostIp", "hostAddress", ""},
    {"max_attempts", "maxRetries", ""},
    {"maxAttempts", "maxRetries", ""},
    // Top-level names of settings that live in a section here.
    {"readOnly", "security.readonlyRootfs", "", kTop},
    {"readonly", "security.readonlyRootfs", "", kTop},
    {"readOnlyRootFilesystem", "security.readonlyRootfs", "", kTop},
    {"read_only", "security.readonlyRootfs", "", kTop},
    {"securityContext", "security", "", kTop},
    {"capabilities", "security.capabilities", "", kTop},
    {"cap_add", "security.capabilities", " Write \"security\": {\"capabilities\": {\"add\": [...]}}.", kTop},
    {"cap_drop", "security.capabilities", " Write \"security\": {\"capabilities\": {\"drop\": [...]}}.", kTop},
    {"seccomp", "security.seccomp", "", kTop},
    {"noNewPrivileges", "security.noNewPrivileges", "", kTop},
    {"cmd", "command", " It holds the program and its arguments in one list.", kTop},
    {"entrypoint", "command", " It holds the program and its arguments in one list.", kTop},
    {"restartPolicy", "restart.policy", "", kTop},
    {"restart_policy", "restart.policy", "", kTop},
    {"ports", "network.ports", "", kTop},
    {"networkMode", "network.mode", "", kTop},
    {"network_mode", "network.mode", "", kTop},
    {"hostNetwork", "network.mode", " Write \"network\": {\"mode\": \"host\"}.", kTop},
    {"volumeMounts", "mounts", "", kTop},
    {"tmpfs", "mounts", " Write {\"type\": \"tmpfs\", \"target\": ...} there.", kTop},
    {"runAsUser", "user", "", kTop},
    {"livenessProbe", "probes.liveness", "", kTop},
    {"readinessProbe", "probes.readiness", "", kTop},
    {"startupProbe", "probes.startup", "", kTop},
    {"healthcheck", "probes", "", kTop},
    {"memory", "resources.memory", "", kTop},
    {"mem_limit", "resources.memory", "", kTop},
    {"cpu", "resources.cpu", "", kTop},
    {"cpus", "resources.cpu", "", kTop},
    {"pids_limit", "resources.pids", "", kTop},
    {"stopSignal", "stop.signal", "", kTop},
    {"stop_signal", "stop.signal", "", kTop},
    {"stopTimeout", "stop.timeout", "", kTop},
    {"stop_grace_period", "stop.timeout", "", kTop},
    {"terminationGracePeriodSeconds", "stop.timeout", " It takes a duration such as \"30s\".", kTop},
};

// "mounts[2]" -> "mounts", "network.ports[0]" -> "network.ports": aliases hold per kind of object.
std::string without_indices(std::string_view path) {
    std::string out;
    bool in_index = false;
    for (char c : path) {
        if (c == '[') in_index = true;
        else if (c == ']') in_index = false;
        else if (!in_index) out += c;
    }
    return out;
}

// ---- the validator -------------------------------------------------------------------

class Validator {
public:
    Validator(std::string file, std::string app, const detail::PositionedJson& doc, std::vector<Diagnostic>& out)
        : file_(std::move(file)), app_(std::move(app)), out_(out) {
        lines_.by_field = doc.lines;
    }

    const SourceLines& lines() const { return lines_; }

    void error(const std::string& field, std::string message) {
        out_.push_back(Diagnostic{file_, lines_.line_of(field), field, std::move(message)});
    }

    // ---- generic shapes ----

    // Reports keys of OBJ that are not in KNOWN, with a hint for near misses.
    void check_keys(const std::string& path, const json& obj, Keys known) {
        for (auto& [key, value] : obj.items()) {
            if (std::find(known.begin(), known.end(), key) != known.end()) continue;
            error(member_path(path, key), "unknown field" + unknown_field_hint(path, key, known));
        }
    }

    std::string unknown_field_hint(const std::string& path, const std::string& key, Keys known) {
        // The aliases that hold in this object.
        std::string where = without_indices(path);
        std::vector<const Alias*> aliases;
        for (auto& a : kAliases)
            if (a.at ? *a.at == where : std::find(known.begin(), known.end(), a.to) != known.end())
                aliases.push_back(&a);
        auto alias_hint = [](const Alias& a) {
            return " (did you mean \"" + std::string(a.to) + "\"?" + std::string(a.note) + ")";
        };
        for (const Alias* a : aliases)
            if (key == a->from) return alias_hint(*a);
        if (path.empty() && key == "name") return " (an app's name is its file name)";
        if (path.empty() && (key == "image" || key == "volumes"))
            return key == "image" ? " (use \"rootfs\": {\"type\": \"image\", \"image\": ...})" : " (use \"mounts\")";
        if (path == "namespaces" && (key == "net" || key == "network"))
            return " (the network namespace is set by network.mode)";
        if (path == "namespaces" && (key == "mnt" || key == "mount")) return " (every app has its own mount namespace)";
        if (path == "resources" && (key == "limits" || key == "requests"))
            return " (limits go directly in resources: {\"cpu\": \"50%\", \"memory\": \"512M\"})";
        if (path.starts_with("probes.") && key == "grpc") return " (not supported: use http, tcp or exec)";
        if (auto near = detail::closest(key, known)) return " (did you mean \"" + *near + "\"?)";
        // A misspelt alias ("enviroment") or another case of one ("ReadOnly").
        std::vector<std::string_view> froms;
        for (const Alias* a : aliases) froms.push_back(a->from);
        if (auto near = detail::closest(key, froms))
            for (const Alias* a : aliases)
                if (a->from == *near) return alias_hint(*a);
        return "";
    }

    // A field of an object; absent and null are the same ("use the default").
    static const json* field(const json& obj, const char* key) {
        auto it = obj.find(key);
        if (it == obj.end() || it->is_null()) return nullptr;
        return &*it;
    }

    bool expect_object(const std::string& path, const json& v, std::string_view example = {}) {
        if (v.is_object()) return true;
        std::string msg = "expected an object, got " + describe(v);
        if (!example.empty()) msg += " (write " + std::string(example) + ")";
        error(path, msg);
        return false;
    }

    std::optional<std::string> string_at(const std::string& path, const json& v) {
        if (v.is_string()) return v.get<std::string>();
        error(path, "expected a string, got " + describe(v));
        return std::nullopt;
    }

    std::optional<bool> bool_at(const std::string& path, const json& v) {
        if (v.is_boolean()) return v.get<bool>();
        std::string msg = "expected true or false, got " + describe(v);
        if (v.is_string() && (v == "true" || v == "false")) msg += " (write it without quotes)";
        error(path, msg);
        return std::nullopt;
    }

    std::optional<std::uint64_t> uint_at(const std::string& path, const json& v, std::uint64_t min,
                                         std::uint64_t max = std::numeric_limits<std::uint64_t>::max()) {
        auto i = as_integer(v);
        if (!i) {
            std::string msg = "expected an integer, got " + describe(v);
            if (v.is_string() && all_digits(v.get_ref<const std::string&>())) msg += " (write it without quotes)";
            error(path, msg);
            return std::nullopt;
        }
        if (i->negative || i->magnitude < min || i->magnitude > max) {
            // A limit that only reflects the field's type is not worth mentioning until it is hit.
            bool type_limit =
                max == std::numeric_limits<std::uint64_t>::max() || max == std::numeric_limits<std::uint32_t>::max();
            std::string got = " (got " + v.dump() + ")";
            if (!type_limit)
                error(path, "must be between " + std::to_string(min) + " and " + std::to_string(max) + got);
            else if (i->negative || i->magnitude < min)
                error(path, "must be at least " + std::to_string(min) + got);
            else
                error(path, "must be at most " + std::to_string(max) + got);
            return std::nullopt;
        }
        return i->magnitude;
    }

    std::optional<double> number_at(const std::string& path, const json& v) {
        if (v.is_number()) return v.get<double>();
        std::string msg = "expected a number, got " + describe(v);
        if (v.is_string() && json::parse(v.get_ref<const std::string&>(), nullptr, false).is_number())
            msg += " (write it without quotes)";
        error(path, msg);
        return std::nullopt;
    }

    std::optional<Duration> duration_at(const std::string& path, const json& v) {
        if (!v.is_string()) {
            std::string msg = "expected a duration such as \"10s\", \"500ms\" or \"5m\", got " + describe(v);
            if (v.is_number() && as_integer(v)) msg += " (did you mean \"" + v.dump() + "s\"?)";
            error(path, msg);
            return std::nullopt;
        }
        const auto& s = v.get_ref<const std::string&>();
        if (auto d = parse_duration(s)) return d;
        std::string msg = detail::quote(s) + " is not a duration";
        if (all_digits(s))
            msg += " (add a unit: \"" + s + "s\")";
        else
            msg += " (use a number and a unit: \"500ms\", \"10s\", \"5m\", \"1h\")";
        error(path, msg);
        return std::nullopt;
    }

    std::optional<std::uint64_t> size_at(const std::string& path, const json& v) {
        if (v.is_string()) {
            const auto& s = v.get_ref<const std::string&>();
            if (auto n = parse_size(s)) return n;
            error(path, detail::quote(s) + " is not a size");
            return std::nullopt;
        }
        auto i = as_integer(v);
        if (!i || i->negative) {
            error(path, "expected a size (bytes, or a string such as \"512M\"), got " + describe(v));
            return std::nullopt;
        }
        return i->magnitude;
    }

    // A word out of a fixed list, with a hint for near misses.
    std::optional<std::string> choice_at(const std::string& path, const json& v,
                                         const std::vector<std::string>& choices, std::string_view what) {
        auto s = string_at(path, v);
        if (!s) return std::nullopt;
        if (std::find(choices.begin(), choices.end(), *s) != choices.end()) return s;
        error(path, choice_error(*s, choices, what));
        return std::nullopt;
    }

    static std::string choice_error(const std::string& s, const std::vector<std::string>& choices,
                                    std::string_view what) {
        std::string msg = detail::quote(s) + " is not " + std::string(what) + " (use " + join_quoted(choices) + ")";
        std::vector<std::string_view> views(choices.begin(), choices.end());
        if (auto near = detail::closest(s, views)) msg.insert(msg.size() - 1, "; did you mean \"" + *near + "\"?");
        return msg;
    }

    // An array of non-empty strings (the array itself non-empty when REQUIRE_ITEMS).
    std::optional<std::vector<std::string>> strings_at(const std::string& path, const json& v, bool require_items) {
        if (!v.is_array()) {
            std::string msg = "expected an array of strings, got " + describe(v);
            // Its words, not the whole string as one argument: execve does not split.
            if (v.is_string()) {
                bool command = path == "command" || path.ends_with(".command");
                std::string hint = detail::array_hint(v.get_ref<const std::string&>(), command);
                if (hint.starts_with("[\"/bin/sh\"")) msg += " (write " + hint + " to run it through a shell)";
                else if (!hint.empty()) msg += " (write " + hint + ")";
            }
            error(path, msg);
            return std::nullopt;
        }
        if (require_items && v.empty()) {
            error(path, "must not be empty");
            return std::nullopt;
        }
        std::vector<std::string> out;
        bool ok = true;
        for (size_t i = 0; i < v.size(); ++i) {
            std::string ip = element_path(path, i);
            auto s = string_at(ip, v[i]);
            if (!s) {
                ok = false;
            } else if (s->empty()) {
                error(ip, "must not be empty");
                ok = false;
            } else {
                out.push_back(std::move(*s));
            }
        }
        if (!ok) return std::nullopt;
        return out;
    }

    // An absolute path. TARGET: a mount target, which must also be normalized and not "/".
    bool check_path(const std::string& path, const std::string& p, bool target) {
        if (p.empty() || p[0] != '/') {
            error(path, (p.empty() ? std::string("\"\"") : detail::quote(p)) + " is not an absolute path");
            return false;
        }
        if (p.find('\0') != std::string::npos) {
            error(path, "must not contain a NUL character");
            return false;
        }
        bool dots = false;
        for (size_t start = 1; start <= p.size();) {
            size_t slash = p.find('/', start);
            std::string_view part =
                std::string_view(p).substr(start, slash == std::string::npos ? std::string::npos : slash - start);
            if (part == ".." || (target && part == ".")) dots = true;
            if (slash == std::string::npos) break;
            start = slash + 1;
        }
        if (dots) {
            error(path, detail::quote(p) + (target ? " must not contain \".\" or \"..\" components"
                                                   : " must not contain \"..\" components"));
            return false;
        }
        if (target) {
            if (squeeze_slashes(p) == "/") {
                error(path, "cannot be \"/\" (the sandbox's root is set by rootfs)");
                return false;
            }
            if (squeeze_slashes(p) != p) {
                error(path, detail::quote(p) + " is not normalized (write " + detail::quote(squeeze_slashes(p)) + ")");
                return false;
            }
        }
        return true;
    }

    // "private" | "host" | "app:NAME"
    std::optional<NamespaceMode> namespace_mode_at(const std::string& path, const json& v, std::string_view kind) {
        auto s = string_at(path, v);
        if (!s) return std::nullopt;
        if (*s == "private") return NamespaceMode{NamespaceKind::private_, ""};
        if (*s == "host") return NamespaceMode{NamespaceKind::host, ""};
        if (s->starts_with("app:")) {
            auto other = app_reference(path, *s, std::string(kind) + " namespace");
            if (!other) return std::nullopt;
            return NamespaceMode{NamespaceKind::app, *other};
        }
        error(path, choice_error(*s, {"private", "host", "app:NAME"}, "a namespace mode"));
        return std::nullopt;
    }

    // The NAME of "app:NAME", which must be another valid app name.
    std::optional<std::string> app_reference(const std::string& path, const std::string& s, std::string_view what) {
        std::string other = s.substr(4);
        if (!is_valid_app_name(other)) {
            error(path,
                  detail::quote(s) + " does not name an app (" + detail::quote(other) + " is not a valid app name)");
            return std::nullopt;
        }
        if (other == app_) {
            error(path, "an app cannot join its own " + std::string(what));
            return std::nullopt;
        }
        return other;
    }

    // ---- the sections ----

    void parse_app(const json& root, AppSpec& spec) {
        if (!root.is_object()) {
            error("", "expected an object ({\"command\": [...], ...}), got " + describe(root));
            return;
        }
        check_keys("", root,
                   {"command", "args", "user", "env", "envFile", "secrets", "workdir", "hostname", "init", "autostart",
                    "rootfs", "mounts", "network", "namespaces", "resources", "restart", "stop", "probes",
                    "dependsOn", "security", "logs", "hooks"});

        // Read first: an image app may leave command, workdir and stop.signal to its image.
        if (auto* v = field(root, "rootfs")) parse_rootfs(*v, spec.rootfs);
        const bool image = spec.rootfs.type == RootfsType::image;
        if (auto* v = field(root, "command")) {
            if (auto c = strings_at("command", *v, true)) spec.command = std::move(*c);
        } else if (!image) {
            error("command", "required field is missing (the program to run and its arguments)");
        }
        if (auto* v = field(root, "args")) {
            if (auto a = strings_at("args", *v, false)) spec.args = std::move(*a);
        }
        if (image) {
            spec.workdir.clear();
            spec.stop.signal = 0;
        }
        if (auto* v = field(root, "user")) parse_user(*v, spec);
        if (auto* v = field(root, "env")) parse_env(*v, spec);
        if (auto* v = field(root, "envFile")) parse_env_files(*v, spec.env_files);
        if (auto* v = field(root, "secrets")) parse_secrets(*v, spec);
        if (auto* v = field(root, "workdir")) {
            if (auto s = string_at("workdir", *v); s && check_path("workdir", *s, false)) spec.workdir = *s;
        }
        if (auto* v = field(root, "hostname")) {
            if (auto s = string_at("hostname", *v)) {
                if (is_hostname(*s))
                    spec.hostname = *s;
                else
                    error("hostname",
                          detail::quote(*s) +
                              " is not a valid hostname (letters, digits, \"-\" and \".\", at most 64 characters)");
            }
        }
        if (auto* v = field(root, "init")) {
            if (auto b = bool_at("init", *v)) spec.init = *b;
        }
        if (auto* v = field(root, "autostart")) {
            if (auto b = bool_at("autostart", *v)) spec.autostart = *b;
        }
        if (auto* v = field(root, "mounts")) parse_mounts(*v, spec.mounts);
        if (auto* v = field(root, "network")) parse_network(*v, spec.network);
        if (auto* v = field(root, "namespaces")) parse_namespaces(*v, spec.namespaces);
        if (auto* v = field(root, "resources")) parse_resources(*v, spec.resources);
        if (auto* v = field(root, "restart")) parse_restart(*v, spec.restart);
        if (auto* v = field(root, "stop")) parse_stop(*v, spec.stop);
        if (auto* v = field(root, "probes")) parse_probes(*v, spec.probes);
        if (auto* v = field(root, "dependsOn")) parse_depends_on(*v, spec.depends_on);
        if (auto* v = field(root, "security")) parse_security(*v, spec.security);
        if (auto* v = field(root, "logs")) parse_logs(*v, spec.logs);
        if (auto* v = field(root, "hooks")) parse_hooks(*v, spec.hooks);

        // /run/secrets is the daemon's when the app has secrets: a mount there would hide them.
        if (!spec.secrets.empty()) {
            for (size_t i = 0; i < spec.mounts.size(); ++i) {
                const auto& t = spec.mounts[i].target;
                if (t == "/run/secrets" || t.starts_with("/run/secrets/") || t == "/run" || t == "/run/")
                    error(member_path(element_path("mounts", i), "target"),
                          detail::quote(t) + " would hide /run/secrets, where the app's secrets are");
            }
            if (spec.env.contains("CREDENTIALS_DIRECTORY"))
                error(member_path("env", "CREDENTIALS_DIRECTORY"),
                      "is set by isolated to /run/secrets when the app has secrets");
        }

        // The hostname lives in the UTS namespace: it cannot be set in one the app does not own.
        if (!spec.hostname.empty() && spec.namespaces.uts.kind != NamespaceKind::private_) {
            error("hostname", spec.namespaces.uts.kind == NamespaceKind::host
                                  ? "cannot be set when namespaces.uts is \"host\""
                                  : "cannot be set when namespaces.uts is \"app:" + spec.namespaces.uts.app +
                                        "\" (the hostname is " + spec.namespaces.uts.app + "'s)");
        }
    }

    void parse_user(const json& v, AppSpec& spec) {
        auto s = string_at("user", v);
        if (!s) return;
        if (s->empty()) {
            error("user", "must not be empty (leave it out to run as root)");
            return;
        }
        auto colon = s->find(':');
        bool ok = colon == std::string::npos ? is_user_part(*s)
                                             : is_user_part(s->substr(0, colon)) && is_user_part(s->substr(colon + 1));
        if (!ok) {
            error("user", detail::quote(*s) + " is not a user (use NAME, UID, UID:GID or NAME:GROUP)");
            return;
        }
        spec.user = *s;
    }

    void parse_env(const json& v, AppSpec& spec) {
        if (!expect_object("env", v, "{\"NAME\": \"value\"}")) return;
        for (auto& [key, value] : v.items()) {
            std::string path = member_path("env", key);
            if (!is_env_name(key)) {
                error(path, detail::quote(key) +
                                " is not a valid variable name (letters, digits and \"_\", not starting with a digit)");
                continue;
            }
            if (value.is_string()) {
                spec.env[key] = value.get<std::string>();
                continue;
            }
            std::string msg = "expected a string, got " + describe(value);
            if (value.is_number() || value.is_boolean()) msg += " (quote it: \"" + value.dump() + "\")";
            error(path, msg);
        }
    }

    // "envFile": "/path" | "-/path" | [...] (systemd's EnvironmentFile=; "-" = optional).
    void parse_env_files(const json& v, std::vector<EnvFileSpec>& out) {
        auto one = [&](const std::string& path, const json& item) {
            auto s = string_at(path, item);
            if (!s) return;
            EnvFileSpec f;
            f.optional = s->starts_with("-");
            f.path = f.optional ? s->substr(1) : *s;
            if (check_path(path, f.path, false)) out.push_back(std::move(f));
        };
        if (v.is_string()) {
            one("envFile", v);
        } else if (v.is_array()) {
            for (size_t i = 0; i < v.size(); ++i) one(element_path("envFile", i), v[i]);
        } else {
            error("envFile", "expected a path or an array of paths, got " + describe(v));
        }
    }

    // "secrets": [{"source": "/etc/isolated/secrets/x", "name": "x", "mode": "0400"}]
    void parse_secrets(const json& v, AppSpec& spec) {
        if (!v.is_array()) {
            error("secrets", "expected an array of secrets ([{\"source\": \"/etc/isolated/secrets/NAME\"}]), got " +
                                 describe(v));
            return;
        }
        std::map<std::string, size_t> names;
        for (size_t i = 0; i < v.size(); ++i) {
            std::string path = element_path("secrets", i);
            const json& e = v[i];
            if (!expect_object(path, e, "{\"source\": \"/etc/isolated/secrets/NAME\"}")) continue;
            check_keys(path, e, {"source", "name", "mode"});
            SecretSpec sec;
            bool ok = true;
            if (auto* src = field(e, "source")) {
                auto s = string_at(member_path(path, "source"), *src);
                ok = s && check_path(member_path(path, "source"), *s, false);
                if (ok) sec.source = *s;
            } else {
                error(member_path(path, "source"), "required field is missing (the host file that holds the secret)");
                ok = false;
            }
            if (auto* n = field(e, "name")) {
                if (auto s = string_at(member_path(path, "name"), *n)) sec.name = *s;
                else ok = false;
            } else if (ok) {
                sec.name = sec.source.substr(sec.source.rfind('/') + 1);
            }
            if (ok && !is_file_name(sec.name)) {
                error(member_path(path, "name"),
                      (sec.name.empty() ? std::string("\"\"") : detail::quote(sec.name)) +
                          " is not a file name (letters, digits, \".\", \"_\" and \"-\"; not \".\" or \"..\")");
                ok = false;
            }
            if (auto* m = field(e, "mode")) {
                auto mode = mode_at(member_path(path, "mode"), *m);
                if (mode && *mode > 0777) {
                    error(member_path(path, "mode"), "must not have setuid, setgid or sticky bits");
                    mode.reset();
                }
                if (mode) sec.mode = *mode;
                else ok = false;
            }
            if (!ok) continue;
            if (auto [it, fresh] = names.emplace(sec.name, i); !fresh) {
                error(member_path(path, "name"),
                      detail::quote(sec.name) + " is also the name of " + element_path("secrets", it->second));
                continue;
            }
            spec.secrets.push_back(std::move(sec));
        }
    }

    static bool is_file_name(std::string_view s) {
        if (s.empty() || s.size() > 255 || s == "." || s == "..") return false;
        return std::all_of(s.begin(), s.end(), [](char c) {
            return std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '_' || c == '-';
        });
    }

    // "logs": {"maxSize": "10M", "maxFiles": 5}
    void parse_logs(const json& v, LogLimitsSpec& out) {
        if (!expect_object("logs", v, "{\"maxSize\": \"10M\", \"maxFiles\": 5}")) return;
        check_keys("logs", v, {"maxSize", "maxFiles"});
        if (auto* s = field(v, "maxSize")) {
            if (auto n = size_at("logs.maxSize", *s)) {
                if (*n < 4096)
                    error("logs.maxSize", "must be at least 4K (got " + s->dump() + ")");
                else
                    out.max_size = *n;
            }
        }
        if (auto* f = field(v, "maxFiles")) {
            if (auto n = uint_at("logs.maxFiles", *f, 1, 1000)) out.max_files = static_cast<std::uint32_t>(*n);
        }
    }

    // "hooks": {"onFailure": {"command": [...], "timeout": "30s", "user": "nobody"}, ...}
    void parse_hooks(const json& v, HooksSpec& out) {
        if (!expect_object("hooks", v)) return;
        check_keys("hooks", v, {"onFailure", "onUnhealthy", "onOOM"});
        for (auto [key, slot] : {std::pair{"onFailure", &out.on_failure}, std::pair{"onUnhealthy", &out.on_unhealthy},
                                 std::pair{"onOOM", &out.on_oom}}) {
            const json* h = field(v, key);
            if (!h) continue;
            std::string path = member_path("hooks", key);
            if (!expect_object(path, *h, "{\"command\": [\"/usr/local/bin/notify\"]}")) continue;
            check_keys(path, *h, {"command", "timeout", "user"});
            HookSpec hook;
            bool ok = true;
            if (auto* c = field(*h, "command")) {
                auto cmd = strings_at(member_path(path, "command"), *c, true);
                if (cmd && !cmd->front().starts_with("/")) {
                    error(element_path(member_path(path, "command"), 0),
                          detail::quote(cmd->front()) + " is not an absolute path (hooks run without a search path)");
                    cmd.reset();
                }
                if (cmd) hook.command = std::move(*cmd);
                else ok = false;
            } else {
                error(member_path(path, "command"), "required field is missing (the host program to run)");
                ok = false;
            }
            if (auto* t = field(*h, "timeout")) {
                auto d = duration_at(member_path(path, "timeout"), *t);
                if (d && *d <= Duration(0)) {
                    error(member_path(path, "timeout"), "must be more than 0");
                    d.reset();
                }
                if (d) hook.timeout = *d;
                else ok = false;
            }
            if (auto* u = field(*h, "user")) {
                auto s = string_at(member_path(path, "user"), *u);
                if (s) {
                    auto colon = s->find(':');
                    bool good = !s->empty() && (colon == std::string::npos
                                                    ? is_user_part(*s)
                                                    : is_user_part(s->substr(0, colon)) &&
                                                          is_user_part(s->substr(colon + 1)));
                    if (!good) {
                        error(member_path(path, "user"),
                              detail::quote(*s) + " is not a user (use NAME, UID, UID:GID or NAME:GROUP)");
                        s.reset();
                    }
                }
                if (s) hook.user = *s;
                else ok = false;
            }
            if (ok) *slot = std::move(hook);
        }
    }

    void parse_rootfs(const json& v, RootfsSpec& out) {
        if (!expect_object("rootfs", v,
                           "{\"type\": \"host\"}, {\"type\": \"directory\", \"path\": ...} or "
                           "{\"type\": \"image\", \"image\": ...}"))
            return;
        check_keys("rootfs", v, {"type", "path", "image", "writable"});
        std::optional<RootfsType> type;
        if (auto* t = field(v, "type")) {
            if (auto s = choice_at("rootfs.type", *t, {"host", "directory", "image"}, "a rootfs type"))
                type = rootfs_type_from_string(*s);
        } else {
            error("rootfs.type", "required field is missing (\"host\", \"directory\" or \"image\")");
        }
        if (type) out.type = *type;
        if (auto* p = field(v, "path")) {
            if (type && type != RootfsType::directory) {
                error("rootfs.path", "only valid with \"type\": \"directory\"");
            } else if (auto s = string_at("rootfs.path", *p); s && check_path("rootfs.path", *s, false)) {
                out.path = *s;
            }
        } else if (type == RootfsType::directory) {
            error("rootfs.path", "required field is missing (the rootfs directory on the host)");
        }
        if (auto* i = field(v, "image")) {
            if (type && type != RootfsType::image) {
                error("rootfs.image", "only valid with \"type\": \"image\"");
            } else if (auto s = string_at("rootfs.image", *i); s && check_image_ref(*s)) {
                out.image = *s;
            }
        } else if (type == RootfsType::image) {
            error("rootfs.image",
                  "required field is missing (an image in the store: \"postgres:16\", "
                  "\"name@sha256:...\" or an image id \"sha256:...\")");
        }
        if (auto* w = field(v, "writable")) {
            if (type == RootfsType::host) {
                error("rootfs.writable", "only valid with \"type\": \"directory\" or \"image\"");
            } else if (auto s = choice_at("rootfs.writable", *w, {"overlay", "readonly"}, "a rootfs mode")) {
                out.writable = *rootfs_writable_from_string(*s);
            }
        }
    }

    // The shape of an image reference; its grammar (distribution/reference) is checked
    // where it is resolved, by the daemon's image store.
    bool check_image_ref(const std::string& s) {
        bool ok = !s.empty() && s.size() <= 512 && std::all_of(s.begin(), s.end(), [](char c) {
            return std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '_' || c == '-' || c == '/' ||
                   c == ':' || c == '@';
        });
        if (!ok)
            error("rootfs.image", (s.empty() ? std::string("\"\"") : detail::quote(s)) +
                                      " is not an image reference (name[:tag], name@sha256:... or sha256:<id>)");
        return ok;
    }

    void parse_mounts(const json& v, std::vector<MountSpec>& out) {
        if (!v.is_array()) {
            error("mounts", "expected an array of mounts, got " + describe(v));
            return;
        }
        std::map<std::string, size_t> targets;
        for (size_t i = 0; i < v.size(); ++i) {
            std::string path = element_path("mounts", i);
            MountSpec m;
            if (!parse_mount(path, v[i], m)) continue;
            if (auto [it, fresh] = targets.emplace(m.target, i); !fresh) {
                error(member_path(path, "target"),
                      detail::quote(m.target) + " is also the target of " + element_path("mounts", it->second));
                continue;
            }
            out.push_back(std::move(m));
        }
    }

    bool parse_mount(const std::string& path, const json& v, MountSpec& m) {
        if (!expect_object(path, v, "{\"type\": \"bind\", \"source\": ..., \"target\": ...}")) return false;
        check_keys(path, v, {"type", "source", "target", "readonly", "create", "size", "mode"});
        size_t errors_before = out_.size();
        std::optional<MountType> type;
        if (auto* t = field(v, "type")) {
            if (auto s = choice_at(member_path(path, "type"), *t, {"bind", "tmpfs"}, "a mount type"))
                type = mount_type_from_string(*s);
        } else {
            error(member_path(path, "type"), "required field is missing (\"bind\" or \"tmpfs\")");
        }
        if (type) m.type = *type;
        auto only_for = [&](const char* key, MountType valid_for) {
            const json* f = field(v, key);
            if (f && type && *type != valid_for) {
                error(member_path(path, key), "only valid for " + to_string(valid_for) + " mounts");
                return static_cast<const json*>(nullptr);
            }
            return f;
        };

        if (auto* t = field(v, "target")) {
            std::string p = member_path(path, "target");
            if (auto s = string_at(p, *t); s && check_path(p, *s, true)) m.target = *s;
        } else {
            error(member_path(path, "target"), "required field is missing (where it appears in the sandbox)");
        }
        if (auto* s = only_for("source", MountType::bind)) {
            std::string p = member_path(path, "source");
            if (auto str = string_at(p, *s); str && check_path(p, *str, false)) m.source = *str;
        } else if (type == MountType::bind && !field(v, "source")) {
            error(member_path(path, "source"), "required field is missing (the host path to bind)");
        }
        if (auto* r = only_for("readonly", MountType::bind)) {
            if (auto b = bool_at(member_path(path, "readonly"), *r)) m.readonly = *b;
        }
        if (auto* c = only_for("create", MountType::bind)) {
            if (auto b = bool_at(member_path(path, "create"), *c)) m.create = *b;
        }
        if (auto* s = only_for("size", MountType::tmpfs)) {
            std::string p = member_path(path, "size");
            if (auto n = size_at(p, *s)) {
                if (*n == 0)
                    error(p, "must be more than 0 (the kernel reads 0 as \"no limit\"; leave it out for the default)");
                else
                    m.size = *n;
            }
        }
        if (auto* md = only_for("mode", MountType::tmpfs)) m.mode = mode_at(member_path(path, "mode"), *md);
        return out_.size() == errors_before;
    }

    std::optional<std::uint32_t> mode_at(const std::string& path, const json& v) {
        if (v.is_string()) {
            const auto& s = v.get_ref<const std::string&>();
            bool octal = !s.empty() && s.size() <= 5 &&
                         std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '7'; });
            unsigned long mode = octal ? std::stoul(s, nullptr, 8) : 0;
            if (!octal || mode > 07777) {
                error(path, detail::quote(s) + " is not an octal mode such as \"1777\" or \"0755\"");
                return std::nullopt;
            }
            return static_cast<std::uint32_t>(mode);
        }
        if (v.is_number()) {
            // As Kubernetes' defaultMode: a JSON number is the mode's value (0755 is 493).
            auto i = as_integer(v);
            if (!i || i->negative || i->magnitude > 07777) {
                error(path,
                      v.dump() +
                          " is not a mode (JSON numbers are decimal: write modes as octal strings such as \"1777\")");
                return std::nullopt;
            }
            return static_cast<std::uint32_t>(i->magnitude);
        }
        error(path, "expected an octal string such as \"1777\", got " + describe(v));
        return std::nullopt;
    }

    void parse_network(const json& v, NetworkSpec& out) {
        if (!expect_object("network", v, v.is_string() ? "{\"mode\": " + v.dump() + "}" : std::string())) return;
        check_keys("network", v, {"mode", "address", "ports"});
        bool mode_ok = true;
        if (auto* m = field(v, "mode")) {
            mode_ok = false;
            if (auto s = string_at("network.mode", *m)) {
                if (*s == "bridge" || *s == "host" || *s == "none") {
                    out.mode = *s == "bridge" ? NetworkMode::bridge
                               : *s == "host" ? NetworkMode::host
                                              : NetworkMode::none;
                    mode_ok = true;
                } else if (s->starts_with("app:")) {
                    if (auto other = app_reference("network.mode", *s, "network namespace")) {
                        out.mode = NetworkMode::app;
                        out.app = *other;
                        mode_ok = true;
                    }
                } else {
                    error("network.mode", choice_error(*s, {"bridge", "host", "none", "app:NAME"}, "a network mode"));
                }
            }
        }
        std::string mode_name = out.mode == NetworkMode::app ? "app:" + out.app : to_string(out.mode);
        auto bridge_only = [&](const char* key) {
            const json* f = field(v, key);
            if (f && mode_ok && out.mode != NetworkMode::bridge) {
                error(member_path("network", key), "only allowed in bridge mode (mode is \"" + mode_name + "\")");
                return static_cast<const json*>(nullptr);
            }
            return f;
        };
        if (auto* a = bridge_only("address")) {
            if (auto s = string_at("network.address", *a)) {
                auto ip = parse_ipv4(*s);
                if (!ip) {
                    error("network.address", detail::quote(*s) + " is not an IPv4 address");
                } else {
                    std::uint32_t h = ntohl(ip->s_addr);
                    if (h == 0 || h == 0xFFFF'FFFF || (h >> 24) == 127 || (h >> 28) == 0xE)
                        error("network.address", detail::quote(*s) + " cannot be an app's address");
                    else
                        out.address = *s;
                }
            }
        }
        if (auto* p = bridge_only("ports")) parse_ports(*p, out.ports);
    }

    void parse_ports(const json& v, std::vector<PortSpec>& out) {
        if (!v.is_array()) {
            error("network.ports", "expected an array of ports, got " + describe(v));
            return;
        }
        std::vector<std::pair<PortSpec, size_t>> seen;
        for (size_t i = 0; i < v.size(); ++i) {
            std::string path = element_path("network.ports", i);
            PortSpec port;
            if (!parse_port(path, v[i], port)) continue;
            bool duplicate = false;
            for (auto& [other, j] : seen) {
                if (other.protocol == port.protocol && other.host == port.host &&
                    (other.host_address.empty() || port.host_address.empty() ||
                     other.host_address == port.host_address)) {
                    error(member_path(path, "host"), to_string(port.protocol) + " port " + std::to_string(port.host) +
                                                         " is already forwarded by " +
                                                         element_path("network.ports", j));
                    duplicate = true;
                    break;
                }
            }
            if (duplicate) continue;
            seen.emplace_back(port, i);
            out.push_back(port);
        }
    }

    bool parse_port(const std::string& path, const json& v, PortSpec& port) {
        if (!expect_object(path, v, "{\"host\": 8080, \"app\": 80}")) return false;
        check_keys(path, v, {"host", "app", "protocol", "hostAddress"});
        size_t errors_before = out_.size();
        if (auto* h = field(v, "host")) {
            if (auto n = uint_at(member_path(path, "host"), *h, 1, 65535)) port.host = static_cast<std::uint16_t>(*n);
        } else {
            error(member_path(path, "host"), "required field is missing (the port on the host)");
        }
        if (auto* a = field(v, "app")) {
            if (auto n = uint_at(member_path(path, "app"), *a, 1, 65535)) port.app = static_cast<std::uint16_t>(*n);
        } else {
            port.app = port.host;
        }
        if (auto* p = field(v, "protocol")) {
            if (auto s = choice_at(member_path(path, "protocol"), *p, {"tcp", "udp"}, "a protocol"))
                port.protocol = *protocol_from_string(*s);
        }
        if (auto* a = field(v, "hostAddress")) {
            std::string p = member_path(path, "hostAddress");
            if (auto s = string_at(p, *a)) {
                if (!parse_ipv4(*s))
                    error(p, detail::quote(*s) + " is not an IPv4 address");
                else if (*s != "0.0.0.0")  // every address, as when left out
                    port.host_address = *s;
            }
        }
        return out_.size() == errors_before;
    }

    void parse_namespaces(const json& v, NamespacesSpec& out) {
        if (!expect_object("namespaces", v)) return;
        check_keys("namespaces", v, {"pid", "ipc", "uts", "user"});
        for (auto [key, slot] : {std::pair{"pid", &out.pid}, std::pair{"ipc", &out.ipc}, std::pair{"uts", &out.uts}}) {
            if (auto* f = field(v, key)) {
                if (auto m = namespace_mode_at(member_path("namespaces", key), *f, key)) *slot = *m;
            }
        }
        if (auto* u = field(v, "user")) parse_user_namespace(*u, out.user);
    }

    void parse_user_namespace(const json& v, UserNamespaceSpec& out) {
        const std::string path = "namespaces.user";
        if (v.is_string()) {
            if (v == "none") return;
            error(path, detail::quote(v.get<std::string>()) +
                            " is not a user namespace (use \"none\" or {\"uid\": 100000, \"count\": 65536})");
            return;
        }
        if (!v.is_object()) {
            error(path,
                  "expected \"none\" or a mapping such as {\"uid\": 100000, \"count\": 65536}, got " + describe(v));
            return;
        }
        check_keys(path, v, {"uid", "gid", "count"});
        constexpr std::uint64_t kIds = 1ULL << 32;
        std::optional<std::uint64_t> uid, gid, count = 65536;
        // Mapping root inside to host id 0 would make the sandbox's root the host's root.
        auto first_id = [&](const char* key) -> std::optional<std::uint64_t> {
            std::string fp = member_path(path, key);
            const json& f = *field(v, key);
            if (auto i = as_integer(f); i && !i->negative && i->magnitude == 0) {
                error(fp,
                      std::string("must be more than 0 (") + key + " 0 would make the sandbox's root the host's root)");
                return std::nullopt;
            }
            return uint_at(fp, f, 1, kIds - 2);
        };
        if (field(v, "uid"))
            uid = first_id("uid");
        else
            error(path + ".uid", "required field is missing (the first host uid of the mapping)");
        gid = field(v, "gid") ? first_id("gid") : uid;
        if (auto* f = field(v, "count")) count = uint_at(path + ".count", *f, 1, kIds - 1);
        if (!uid || !gid || !count) return;
        bool ok = true;
        for (auto [key, first] : {std::pair{"uid", *uid}, std::pair{"gid", *gid}}) {
            if (first + *count <= kIds) continue;
            if (std::string_view(key) == "gid" && !field(v, "gid") && !ok) continue;  // said once for the uid
            error(path + (field(v, "count") ? ".count" : std::string(".") + key),
                  std::string(key) + " " + std::to_string(first) + " + count " + std::to_string(*count) +
                      " goes past the last id, 4294967295");
            ok = false;
        }
        if (!ok) return;
        out.enabled = true;
        out.uid = static_cast<std::uint32_t>(*uid);
        out.gid = static_cast<std::uint32_t>(*gid);
        out.count = static_cast<std::uint32_t>(*count);
    }

    void parse_resources(const json& v, ResourcesSpec& out) {
        if (!expect_object("resources", v)) return;
        check_keys("resources", v, {"cpu", "cpuWeight", "memory", "memoryHigh", "swap", "pids", "ioWeight"});
        if (auto* c = field(v, "cpu")) parse_cpu(*c, out);
        if (auto* w = field(v, "cpuWeight")) {
            if (auto n = uint_at("resources.cpuWeight", *w, 1, 10000)) out.cpu_weight = static_cast<std::uint32_t>(*n);
        }
        auto memory_at = [&](const char* key) -> std::optional<std::uint64_t> {
            std::string path = member_path("resources", key);
            auto n = size_at(path, *field(v, key));
            if (n && *n < kMiB) {
                std::string msg =
                    "must be at least 1M: the kernel needs some room for the app's own pages, and less "
                    "is almost always a typo";
                const json& raw = *field(v, key);
                if (raw.is_number() || (raw.is_string() && all_digits(raw.get_ref<const std::string&>())))
                    msg += " (plain numbers are bytes: did you mean \"" + std::to_string(*n) + "M\"?)";
                error(path, msg);
                return std::nullopt;
            }
            return n;
        };
        if (field(v, "memory")) out.memory = memory_at("memory");
        if (field(v, "memoryHigh")) out.memory_high = memory_at("memoryHigh");
        if (out.memory && out.memory_high && *out.memory_high > *out.memory)
            error("resources.memoryHigh", "must not be more than resources.memory (" + format_size(*out.memory_high) +
                                              " > " + format_size(*out.memory) + ")");
        if (auto* s = field(v, "swap")) out.swap = size_at("resources.swap", *s);
        if (auto* p = field(v, "pids")) out.pids = uint_at("resources.pids", *p, 1, kPidMaxLimit);
        if (auto* w = field(v, "ioWeight")) {
            if (auto n = uint_at("resources.ioWeight", *w, 1, 10000)) out.io_weight = static_cast<std::uint32_t>(*n);
        }
    }

    void parse_cpu(const json& v, ResourcesSpec& out) {
        const std::string path = "resources.cpu";
        std::optional<double> cores;
        if (v.is_number()) {
            cores = v.get<double>();
        } else if (v.is_string()) {
            const auto& s = v.get_ref<const std::string&>();
            cores = parse_cpu_percent(s);
            if (!cores && s.size() > 1 && s.back() == 'm' && all_digits(s.substr(0, s.size() - 1)))
                cores = std::stod(s.substr(0, s.size() - 1)) / 1000.0;  // Kubernetes millicores: "500m"
            if (!cores && !s.empty() && s.find_first_not_of("0123456789.") == std::string::npos &&
                std::count(s.begin(), s.end(), '.') <= 1 && s != ".")
                cores = std::stod(s);  // Docker's --cpus="1.5"
            if (!cores) {
                error(path, detail::quote(s) +
                                " is not a CPU amount (use \"50%\" of one core or a number of cores such as 1.5)");
                return;
            }
        } else {
            error(path, "expected a number of cores or a percentage such as \"50%\", got " + describe(v));
            return;
        }
        if (!(*cores > 0) || *cores > 1024) {
            error(path, "must be more than 0 and at most 1024 cores (got " + v.dump() + ")");
            return;
        }
        out.cpu = cores;
    }

    void parse_restart(const json& v, RestartSpec& out) {
        if (!expect_object("restart", v, v.is_string() ? "{\"policy\": " + v.dump() + "}" : std::string())) return;
        check_keys("restart", v, {"policy", "backoff", "maxRetries"});
        if (auto* p = field(v, "policy")) {
            if (auto s = choice_at("restart.policy", *p, {"always", "on-failure", "never"}, "a restart policy"))
                out.policy = *restart_policy_from_string(*s);
        }
        if (auto* m = field(v, "maxRetries")) {
            if (auto n = uint_at("restart.maxRetries", *m, 0, std::numeric_limits<std::uint32_t>::max()))
                out.max_retries = static_cast<std::uint32_t>(*n);
        }
        auto* b = field(v, "backoff");
        if (!b || !expect_object("restart.backoff", *b)) return;
        const std::string path = "restart.backoff";
        check_keys(path, *b, {"initial", "max", "factor", "resetAfter", "jitter"});
        BackoffSpec& bo = out.backoff;
        bool initial_ok = true, max_ok = true;
        if (auto* f = field(*b, "initial")) {
            initial_ok = false;
            if (auto d = duration_at(path + ".initial", *f)) {
                if (d->count() == 0)
                    error(path + ".initial", "must be more than 0s");
                else
                    bo.initial = *d, initial_ok = true;
            }
        }
        if (auto* f = field(*b, "max")) {
            auto d = duration_at(path + ".max", *f);
            max_ok = d.has_value();
            if (d) bo.max = *d;
        }
        if (initial_ok && max_ok && bo.initial > bo.max)
            error(path + ".initial", format_duration(bo.initial) + " is longer than " + path + ".max (" +
                                         format_duration(bo.max) + (field(*b, "max") ? "" : ", the default") + ")");
        if (auto* f = field(*b, "factor")) {
            if (auto x = number_at(path + ".factor", *f)) {
                if (*x < 1)
                    error(path + ".factor", "must be at least 1 (got " + f->dump() + ")");
                else
                    bo.factor = *x;
            }
        }
        if (auto* f = field(*b, "resetAfter")) {
            if (auto d = duration_at(path + ".resetAfter", *f)) bo.reset_after = *d;
        }
        if (auto* f = field(*b, "jitter")) {
            if (auto x = number_at(path + ".jitter", *f)) {
                if (*x < 0 || *x > 1)
                    error(path + ".jitter",
                          "must be between 0 and 1 (a fraction: 0.1 is ±10 %; got " + f->dump() + ")");
                else
                    bo.jitter = *x;
            }
        }
    }

    void parse_stop(const json& v, StopSpec& out) {
        if (!expect_object("stop", v)) return;
        check_keys("stop", v, {"signal", "timeout"});
        if (auto* s = field(v, "signal")) {
            if (s->is_string()) {
                const auto& name = s->get_ref<const std::string&>();
                if (auto sig = parse_signal(name))
                    out.signal = *sig;
                else
                    error("stop.signal", signal_error(name));
            } else if (s->is_number()) {
                if (auto n = uint_at("stop.signal", *s, 1, 64)) out.signal = static_cast<int>(*n);
            } else {
                error("stop.signal", "expected a signal such as \"SIGTERM\", got " + describe(*s));
            }
        }
        if (auto* t = field(v, "timeout")) {
            if (auto d = duration_at("stop.timeout", *t)) out.timeout = *d;
        }
    }

    void parse_probes(const json& v, ProbesSpec& out) {
        if (!expect_object("probes", v)) return;
        check_keys("probes", v, {"liveness", "readiness", "startup"});
        for (auto [key, slot] : {std::pair{"liveness", &out.liveness}, std::pair{"readiness", &out.readiness},
                                 std::pair{"startup", &out.startup}}) {
            if (auto* p = field(v, key)) {
                ProbeSpec probe;
                if (parse_probe(member_path("probes", key), key, *p, probe)) *slot = std::move(probe);
            }
        }
    }

    bool parse_probe(const std::string& path, std::string_view which, const json& v, ProbeSpec& p) {
        if (!expect_object(path, v, "{\"tcp\": {\"port\": 80}}")) return false;
        check_keys(
            path, v,
            {"http", "tcp", "exec", "initialDelay", "period", "timeout", "successThreshold", "failureThreshold"});
        size_t errors_before = out_.size();
        std::vector<std::string> kinds;
        for (const char* k : {"http", "tcp", "exec"})
            if (field(v, k)) kinds.push_back(k);
        if (kinds.empty()) {
            error(path, "needs one of \"http\", \"tcp\" or \"exec\"");
        } else if (kinds.size() > 1) {
            error(path, "has " + join_quoted(kinds, "and") + "; give exactly one");
        } else {
            const std::string kpath = member_path(path, kinds[0]);
            const json& k = *field(v, kinds[0].c_str());
            p.kind = *probe_kind_from_string(kinds[0]);
            if (p.kind == ProbeKind::http)
                parse_http_probe(kpath, k, p);
            else if (p.kind == ProbeKind::tcp)
                parse_tcp_probe(kpath, k, p);
            else
                parse_exec_probe(kpath, k, p);
        }
        if (auto* f = field(v, "initialDelay")) {
            if (auto d = duration_at(path + ".initialDelay", *f)) p.initial_delay = *d;
        }
        for (auto [key, slot] : {std::pair{"period", &p.period}, std::pair{"timeout", &p.timeout}}) {
            if (auto* f = field(v, key)) {
                std::string fp = member_path(path, key);
                if (auto d = duration_at(fp, *f)) {
                    if (*d < std::chrono::milliseconds(100))
                        error(fp, "must be at least 100ms (got " + format_duration(*d) + ")");
                    else
                        *slot = *d;
                }
            }
        }
        if (auto* f = field(v, "successThreshold")) {
            std::string fp = path + ".successThreshold";
            if (auto n = uint_at(fp, *f, 1, std::numeric_limits<std::uint32_t>::max())) {
                if (*n != 1 && which != "readiness")
                    error(fp, "must be 1 for " + std::string(which) + " probes (as in Kubernetes; got " +
                                  std::to_string(*n) + ")");
                else
                    p.success_threshold = static_cast<std::uint32_t>(*n);
            }
        }
        if (auto* f = field(v, "failureThreshold")) {
            if (auto n = uint_at(path + ".failureThreshold", *f, 1, std::numeric_limits<std::uint32_t>::max()))
                p.failure_threshold = static_cast<std::uint32_t>(*n);
        }
        return out_.size() == errors_before;
    }

    void probe_port(const std::string& path, const json& v, ProbeSpec& p) {
        if (auto* f = field(v, "port")) {
            if (auto n = uint_at(path + ".port", *f, 1, 65535)) p.port = static_cast<std::uint16_t>(*n);
        } else {
            error(path + ".port", "required field is missing (the app's port to probe)");
        }
    }

    void parse_http_probe(const std::string& path, const json& v, ProbeSpec& p) {
        if (!expect_object(path, v, "{\"port\": 80, \"path\": \"/healthz\"}")) return;
        check_keys(path, v, {"port", "path", "scheme", "headers"});
        probe_port(path, v, p);
        if (auto* f = field(v, "path")) {
            if (auto s = string_at(path + ".path", *f)) {
                if (!s->starts_with('/'))
                    error(path + ".path", detail::quote(*s) + " must start with \"/\"");
                else if (s->find_first_of(" \r\n\t") != std::string::npos)
                    error(path + ".path",
                          detail::quote(*s) + " must not contain spaces or line breaks (escape them as %20)");
                else
                    p.path = *s;
            }
        }
        if (auto* f = field(v, "scheme")) {
            if (auto s = choice_at(path + ".scheme", *f, {"http", "https"}, "a scheme")) p.scheme = *s;
        }
        if (auto* f = field(v, "headers")) parse_headers(path + ".headers", *f, p.headers);
    }

    void parse_headers(const std::string& path, const json& v, std::vector<HttpHeader>& out) {
        if (!v.is_array()) {
            error(path,
                  "expected a list such as [{\"name\": \"Host\", \"value\": \"example.org\"}], got " + describe(v));
            return;
        }
        for (size_t i = 0; i < v.size(); ++i) {
            std::string hp = element_path(path, i);
            if (!expect_object(hp, v[i], "{\"name\": ..., \"value\": ...}")) continue;
            check_keys(hp, v[i], {"name", "value"});
            HttpHeader h;
            bool ok = true;
            if (auto* n = field(v[i], "name")) {
                auto s = string_at(hp + ".name", *n);
                if (s && !is_http_token(*s)) error(hp + ".name", detail::quote(*s) + " is not a valid header name");
                ok = s && is_http_token(*s);
                if (ok) h.name = *s;
            } else {
                error(hp + ".name", "required field is missing");
                ok = false;
            }
            if (auto* val = field(v[i], "value")) {
                auto s = string_at(hp + ".value", *val);
                if (s && s->find_first_of("\r\n") != std::string::npos) {
                    error(hp + ".value", "must not contain line breaks");
                    s.reset();
                }
                if (s) h.value = *s;
                ok = ok && s;
            } else {
                error(hp + ".value", "required field is missing (\"\" removes a default header)");
                ok = false;
            }
            if (ok) out.push_back(std::move(h));
        }
    }

    void parse_tcp_probe(const std::string& path, const json& v, ProbeSpec& p) {
        if (!expect_object(path, v, "{\"port\": 21}")) return;
        check_keys(path, v, {"port", "expect"});
        probe_port(path, v, p);
        if (auto* f = field(v, "expect")) {
            if (auto s = string_at(path + ".expect", *f)) p.expect = *s;
        }
    }

    void parse_exec_probe(const std::string& path, const json& v, ProbeSpec& p) {
        if (!expect_object(path, v, "{\"command\": [\"/bin/check\"]}")) return;
        check_keys(path, v, {"command"});
        if (auto* f = field(v, "command")) {
            if (auto c = strings_at(path + ".command", *f, true)) p.command = std::move(*c);
        } else {
            error(path + ".command", "required field is missing (the program to run in the sandbox)");
        }
    }

    void parse_depends_on(const json& v, std::vector<std::string>& out) {
        if (!v.is_array()) {
            std::string msg = "expected an array of app names, got " + describe(v);
            if (v.is_string()) msg += " (write [" + v.dump() + "])";
            error("dependsOn", msg);
            return;
        }
        std::map<std::string, size_t> seen;
        for (size_t i = 0; i < v.size(); ++i) {
            std::string path = element_path("dependsOn", i);
            auto s = string_at(path, v[i]);
            if (!s) continue;
            if (!is_valid_app_name(*s))
                error(path, detail::quote(*s) + " is not a valid app name");
            else if (*s == app_)
                error(path, "an app cannot depend on itself");
            else if (auto [it, fresh] = seen.emplace(*s, i); !fresh)
                error(path, detail::quote(*s) + " is already listed at " + element_path("dependsOn", it->second));
            else
                out.push_back(*s);
        }
    }

    void parse_security(const json& v, SecuritySpec& out) {
        if (!expect_object("security", v)) return;
        check_keys("security", v, {"capabilities", "seccomp", "noNewPrivileges", "readonlyRootfs"});
        if (auto* c = field(v, "capabilities")) {
            if (expect_object("security.capabilities", *c, "{\"add\": [\"NET_ADMIN\"], \"drop\": [\"ALL\"]}")) {
                check_keys("security.capabilities", *c, {"add", "drop"});
                if (auto* a = field(*c, "add")) parse_capabilities("security.capabilities.add", *a, out.cap_add);
                if (auto* d = field(*c, "drop")) parse_capabilities("security.capabilities.drop", *d, out.cap_drop);
                for (auto& cap : out.cap_add)
                    if (cap != "ALL" && std::find(out.cap_drop.begin(), out.cap_drop.end(), cap) != out.cap_drop.end())
                        error("security.capabilities", cap + " is both added and dropped");
            }
        }
        if (auto* s = field(v, "seccomp")) {
            if (auto str = string_at("security.seccomp", *s)) {
                if (*str == "default") {
                    out.seccomp = SeccompMode::default_;
                } else if (*str == "unconfined") {
                    out.seccomp = SeccompMode::unconfined;
                } else if (str->starts_with('/')) {
                    if (check_path("security.seccomp", *str, false)) {
                        out.seccomp = SeccompMode::path;
                        out.seccomp_path = *str;
                    }
                } else {
                    error("security.seccomp", detail::quote(*str) +
                                                  " is not a seccomp profile (use \"default\", \"unconfined\" or an "
                                                  "absolute path to a profile)");
                }
            }
        }
        if (auto* n = field(v, "noNewPrivileges")) {
            if (auto b = bool_at("security.noNewPrivileges", *n)) out.no_new_privileges = *b;
        }
        if (auto* r = field(v, "readonlyRootfs")) {
            if (auto b = bool_at("security.readonlyRootfs", *r)) out.readonly_rootfs = *b;
        }
    }

    void parse_capabilities(const std::string& path, const json& v, std::vector<std::string>& out) {
        auto names = strings_at(path, v, false);
        if (!names) return;
        for (size_t i = 0; i < names->size(); ++i) {
            auto cap = normalize_capability((*names)[i]);
            if (!cap) {
                std::string msg = detail::quote((*names)[i]) + " is not a Linux capability";
                std::string upper;
                for (char c : (*names)[i]) upper += static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
                if (!upper.starts_with("CAP_")) upper = "CAP_" + upper;
                std::vector<std::string_view> known(capability_names().begin(), capability_names().end());
                if (auto near = detail::closest(upper, known))
                    msg += " (did you mean \"" + *near + "\"?)";
                else
                    msg += " (names such as \"NET_ADMIN\" or \"CAP_NET_ADMIN\", or \"ALL\")";
                error(element_path(path, i), msg);
                continue;
            }
            if (std::find(out.begin(), out.end(), *cap) == out.end()) out.push_back(*cap);
        }
    }

private:
    std::string file_, app_;
    SourceLines lines_;
    std::vector<Diagnostic>& out_;
};

std::string app_name_rule() {
    return "lower-case letters, digits and \"-\", starting with a letter or digit, at most 32 characters";
}

}  // namespace

std::string Diagnostic::to_string() const {
    std::string location = file;
    if (line > 0) location += (file.empty() ? "line " : ":") + std::to_string(line);
    std::string out;
    for (const std::string* part : std::initializer_list<const std::string*>{&location, &field, &message}) {
        if (part->empty()) continue;
        if (!out.empty()) out += ": ";
        out += *part;
    }
    return out;
}

ParsedApp parse_app_text(std::string_view name, std::string_view text, const std::string& file) {
    ParsedApp result;
    auto& errors = result.errors;
    if (!is_valid_app_name(name))
        errors.push_back(Diagnostic{
            file, 0, "", detail::quote(std::string(name)) + " is not a valid app name (" + app_name_rule() + ")"});

    detail::PositionedJson doc = detail::parse_positioned(text);
    if (doc.syntax_error) {
        errors.push_back(Diagnostic{file, doc.syntax_error->line, "", doc.syntax_error->message});
        return result;
    }
    for (auto& d : doc.duplicates)
        errors.push_back(
            Diagnostic{file, d.line, d.field,
                       "given twice (first on line " + std::to_string(d.first_line) + "); JSON keeps only the last"});

    AppSpec spec;
    spec.name = std::string(name);
    spec.source_file = file;
    Validator validator(file, spec.name, doc, errors);
    validator.parse_app(doc.value, spec);
    spec.source_lines = validator.lines();

    std::stable_sort(errors.begin(), errors.end(),
                     [](const Diagnostic& a, const Diagnostic& b) { return a.line < b.line; });
    if (errors.empty()) result.spec = std::move(spec);
    return result;
}

ParsedApp parse_app_file(const std::string& path, const LoadOptions& options) {
    std::string base = std::filesystem::path(path).filename().string();
    std::string name = base.ends_with(".json") ? base.substr(0, base.size() - 5) : base;
    std::error_code ec;
    if (std::filesystem::is_directory(path, ec))
        return ParsedApp{std::nullopt, {Diagnostic{path, 0, "", "cannot read: is a directory"}}};
    std::ifstream in(path, std::ios::binary);
    if (!in) {
        int err = errno;
        return ParsedApp{std::nullopt, {Diagnostic{path, 0, "", std::string("cannot read: ") + std::strerror(err)}}};
    }
    std::ostringstream text;
    text << in.rdbuf();
    if (in.bad()) {
        int err = errno;
        return ParsedApp{std::nullopt, {Diagnostic{path, 0, "", std::string("cannot read: ") + std::strerror(err)}}};
    }
    ParsedApp parsed = parse_app_text(name, text.str(), path);
    if (parsed.spec) {
        parsed.errors = check_app_options(*parsed.spec, options);
        if (!parsed.errors.empty()) parsed.spec.reset();
    }
    return parsed;
}

}  // namespace isolated
