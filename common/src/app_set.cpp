// What spans app files: references between apps (dependsOn, "app:NAME"), cycles among
// them, host ports and pinned addresses used twice; loading a directory; start order.
#include <arpa/inet.h>

#include <algorithm>
#include <filesystem>
#include <functional>
#include <set>

#include "isolated/app_parser.hpp"
#include "text_hints.hpp"

namespace isolated {
namespace {

namespace fs = std::filesystem;

// An edge of the start-order graph: FROM must start after TO.
struct Reference {
    std::string to;
    std::string field;  ///< "dependsOn[1]", "network.mode", "namespaces.pid"
};

std::vector<Reference> references_of(const AppSpec& spec) {
    std::vector<Reference> refs;
    for (size_t i = 0; i < spec.depends_on.size(); ++i)
        refs.push_back({spec.depends_on[i], "dependsOn[" + std::to_string(i) + "]"});
    if (spec.network.mode == NetworkMode::app) refs.push_back({spec.network.app, "network.mode"});
    for (auto [key, ns] : {std::pair{"pid", &spec.namespaces.pid}, std::pair{"ipc", &spec.namespaces.ipc},
                           std::pair{"uts", &spec.namespaces.uts}})
        if (ns->kind == NamespaceKind::app) refs.push_back({ns->app, std::string("namespaces.") + key});
    return refs;
}

// Errors about references and cycles reject an app for what it says itself; conflicts
// (a port or address also used by another app) depend on which other apps are accepted,
// so load_app_dir settles the former first.
enum class BlameKind { reference, conflict };

struct Blame {
    std::string app;
    BlameKind kind;
    Diagnostic diagnostic;
};

Diagnostic at(const AppSpec& spec, const std::string& field, std::string message) {
    return Diagnostic{spec.source_file, spec.source_lines.line_of(field), field, std::move(message)};
}

// Shortest cycle through START among the apps of its strongly connected component.
std::vector<std::string> cycle_through(const std::string& start,
                                       const std::map<std::string, std::set<std::string>>& edges,
                                       const std::set<std::string>& component) {
    std::map<std::string, std::string> parent;
    std::vector<std::string> queue{start};
    for (size_t i = 0; i < queue.size(); ++i) {
        const std::string node = queue[i];
        for (const auto& next : edges.at(node)) {
            if (!component.count(next)) continue;
            if (next == start) {
                std::vector<std::string> path{start};
                for (std::string n = node; n != start; n = parent.at(n)) path.insert(path.begin() + 1, n);
                path.push_back(start);
                return path;
            }
            if (parent.emplace(next, node).second) queue.push_back(next);
        }
    }
    return {};
}

// Tarjan's strongly connected components with more than one member.
std::vector<std::set<std::string>> cycles(const std::map<std::string, std::set<std::string>>& edges) {
    std::map<std::string, int> index, low;
    std::vector<std::string> stack;
    std::set<std::string> on_stack;
    std::vector<std::set<std::string>> out;
    int counter = 0;
    std::function<void(const std::string&)> visit = [&](const std::string& v) {
        index[v] = low[v] = counter++;
        stack.push_back(v);
        on_stack.insert(v);
        for (const auto& w : edges.at(v)) {
            if (!index.count(w)) {
                visit(w);
                low[v] = std::min(low[v], low[w]);
            } else if (on_stack.count(w)) {
                low[v] = std::min(low[v], index[w]);
            }
        }
        if (low[v] == index[v]) {
            std::set<std::string> component;
            std::string w;
            do {
                w = stack.back();
                stack.pop_back();
                on_stack.erase(w);
                component.insert(w);
            } while (w != v);
            if (component.size() > 1) out.push_back(std::move(component));
        }
    };
    for (const auto& [v, _] : edges)
        if (!index.count(v)) visit(v);
    return out;
}

// Edges between known apps only.
std::map<std::string, std::set<std::string>> graph_of(const std::map<std::string, AppSpec>& apps) {
    std::map<std::string, std::set<std::string>> edges;
    for (const auto& [name, spec] : apps) {
        auto& out = edges[name];
        for (const auto& r : references_of(spec))
            if (apps.count(r.to) && r.to != name) out.insert(r.to);
    }
    return edges;
}

struct Cidr {
    std::uint32_t network;  ///< host byte order
    int prefix;
};

// "10.100.0.0/24" with no host bits set, as the daemon's --subnet; nullopt otherwise.
std::optional<Cidr> parse_subnet(const std::string& text) {
    auto slash = text.find('/');
    if (slash == std::string::npos) return std::nullopt;
    std::string addr = text.substr(0, slash), bits = text.substr(slash + 1);
    in_addr a{};
    if (inet_pton(AF_INET, addr.c_str(), &a) != 1 || bits.empty() || bits.size() > 2 ||
        !std::all_of(bits.begin(), bits.end(), [](char c) { return c >= '0' && c <= '9'; }))
        return std::nullopt;
    int prefix = std::stoi(bits);
    if (prefix < 8 || prefix > 30) return std::nullopt;
    std::uint32_t network = ntohl(a.s_addr), mask = ~0u << (32 - prefix);
    if ((network & ~mask) != 0) return std::nullopt;
    return Cidr{network, prefix};
}

bool addresses_overlap(const std::string& a, const std::string& b) { return a.empty() || b.empty() || a == b; }

// Who keeps a host port or pinned address that two apps want, best first: incumbents,
// then older files, then names. File times break the tie among newcomers so that the
// outcome does not hang on names (adding "aaa.json" must not unseat "web"), and among
// incumbents so that the app whose file changed to clash is the one refused.
std::vector<std::string> precedence(const std::map<std::string, AppSpec>& apps, const LoadOptions& options) {
    using Time = fs::file_time_type;
    struct Rank {
        bool newcomer;
        Time written;
        std::string name;
        auto operator<=>(const Rank&) const = default;
    };
    std::vector<Rank> ranks;
    for (const auto& [name, spec] : apps) {
        std::error_code ec;
        Time t = spec.source_file.empty() ? Time::max() : fs::last_write_time(spec.source_file, ec);
        if (ec) t = Time::max();
        ranks.push_back({!options.incumbents.count(name), t, name});
    }
    std::sort(ranks.begin(), ranks.end());
    std::vector<std::string> order;
    for (auto& r : ranks) order.push_back(std::move(r.name));
    return order;
}

std::vector<Blame> check_set(const std::map<std::string, AppSpec>& apps, const std::set<std::string>& rejected,
                             const LoadOptions& options) {
    std::vector<Blame> blames;

    // References to apps that are not there.
    for (const auto& [name, spec] : apps) {
        for (const auto& r : references_of(spec)) {
            if (apps.count(r.to)) continue;
            bool was_rejected = rejected.count(r.to) > 0;
            std::string message;
            if (r.field.starts_with("dependsOn"))
                message = was_rejected ? "depends on \"" + r.to + "\", which was rejected"
                                       : "\"" + r.to + "\" is not a known app";
            else
                message = "\"app:" + r.to + "\" names " +
                          (was_rejected ? "\"" + r.to + "\", which was rejected" : "an unknown app");
            blames.push_back({name, BlameKind::reference, at(spec, r.field, message)});
        }
    }

    // Cycles: every member is blamed, on the reference that leads round the cycle.
    auto edges = graph_of(apps);
    for (const auto& component : cycles(edges)) {
        for (const auto& name : component) {
            auto path = cycle_through(name, edges, component);
            if (path.size() < 2) continue;
            const AppSpec& spec = apps.at(name);
            std::string field;
            for (const auto& r : references_of(spec))
                if (r.to == path[1]) {
                    field = r.field;
                    break;
                }
            std::string shown;
            for (const auto& n : path) shown += (shown.empty() ? "" : " -> ") + n;
            blames.push_back({name, BlameKind::reference, at(spec, field, "dependency cycle: " + shown)});
        }
    }

    // Host ports and pinned addresses: each app is checked against those that rank
    // before it (precedence), and blamed for what they already hold.
    std::vector<std::string> order = precedence(apps, options);
    for (size_t li = 0; li < order.size(); ++li) {
        const std::string& later = order[li];
        const AppSpec& b = apps.at(later);
        if (b.network.mode != NetworkMode::bridge) continue;
        for (size_t i = 0; i < b.network.ports.size(); ++i) {
            const PortSpec& p = b.network.ports[i];
            for (size_t ei = 0; ei < li; ++ei) {
                const std::string& earlier = order[ei];
                const AppSpec& a = apps.at(earlier);
                if (a.network.mode != NetworkMode::bridge) continue;
                auto clash = std::find_if(a.network.ports.begin(), a.network.ports.end(), [&](const PortSpec& q) {
                    return q.protocol == p.protocol && q.host == p.host &&
                           addresses_overlap(q.host_address, p.host_address);
                });
                if (clash == a.network.ports.end()) continue;
                std::string where = !clash->host_address.empty() ? clash->host_address : p.host_address;
                std::string field = "network.ports[" + std::to_string(i) + "].host";
                blames.push_back({later, BlameKind::conflict,
                                  at(b, field,
                                     to_string(p.protocol) + " port " + std::to_string(p.host) +
                                         (where.empty() ? "" : " on " + where) + " is already forwarded by app \"" +
                                         earlier + "\"")});
                break;
            }
        }
        if (b.network.address.empty()) continue;
        for (size_t ei = 0; ei < li; ++ei) {
            const AppSpec& a = apps.at(order[ei]);
            if (a.network.mode == NetworkMode::bridge && a.network.address == b.network.address) {
                blames.push_back({later, BlameKind::conflict,
                                  at(b, "network.address",
                                     b.network.address + " is already the address of app \"" + order[ei] + "\"")});
                break;
            }
        }
    }

    std::stable_sort(blames.begin(), blames.end(), [](const Blame& x, const Blame& y) {
        return std::tie(x.app, x.diagnostic.line) < std::tie(y.app, y.diagnostic.line);
    });
    return blames;
}

}  // namespace

std::map<std::string, std::vector<Diagnostic>> check_app_set(const std::map<std::string, AppSpec>& apps,
                                                             const LoadOptions& options) {
    std::map<std::string, std::vector<Diagnostic>> out;
    for (auto& b : check_set(apps, {}, options)) out[b.app].push_back(std::move(b.diagnostic));
    return out;
}

std::vector<Diagnostic> check_app_options(const AppSpec& spec, const LoadOptions& options) {
    std::vector<Diagnostic> out;
    if (spec.network.mode != NetworkMode::bridge || spec.network.address.empty()) return out;
    auto subnet = parse_subnet(options.subnet);
    in_addr a{};
    if (!subnet || inet_pton(AF_INET, spec.network.address.c_str(), &a) != 1) return out;
    // As the daemon's address pool sees it (daemon/net/ipv4.hpp): the bridge's gateway is
    // the first host address. Known now, it is a bad file rather than an endless backoff.
    std::uint32_t host = ntohl(a.s_addr), mask = subnet->prefix == 0 ? 0 : ~0u << (32 - subnet->prefix);
    std::string shown = spec.network.address, net = options.subnet;
    std::string message;
    if ((host & mask) != subnet->network)
        message = shown + " is outside the subnet " + net + " of the bridge (setting subnet)";
    else if (host == subnet->network)
        message = shown + " is the network address of " + net;
    else if (host == (subnet->network | ~mask))
        message = shown + " is the broadcast address of " + net;
    else if (host == subnet->network + 1)
        message = shown + " is the bridge's own address (the gateway of " + net + ")";
    if (!message.empty()) out.push_back(at(spec, "network.address", message));
    return out;
}

AppDir load_app_dir(const std::string& dir, const LoadOptions& options) {
    AppDir result;
    std::error_code ec;
    fs::directory_iterator it(dir, ec);
    if (ec) {
        result.rejected[""].push_back(Diagnostic{dir, 0, "", "cannot read the apps directory: " + ec.message()});
        return result;
    }
    std::set<std::string> rejected_names;
    for (; it != fs::directory_iterator(); it.increment(ec)) {
        std::string file = it->path().filename().string();
        // Hidden files and editor leftovers (.#web.json, web.json~, web.json.swp) are not apps.
        if (file.starts_with(".") || !file.ends_with(".json")) continue;
        std::string name = file.substr(0, file.size() - 5);
        std::string label = (fs::path(dir) / file).string();
        ParsedApp parsed = parse_app_file(label, options);
        std::string key = is_valid_app_name(name) ? name : file;
        if (parsed.spec) {
            result.apps.emplace(name, std::move(*parsed.spec));
        } else {
            result.rejected[key] = std::move(parsed.errors);
            rejected_names.insert(key);
        }
    }
    if (ec) result.rejected[""].push_back(Diagnostic{dir, 0, "", "cannot read the apps directory: " + ec.message()});

    // Settle until nothing more is blamed: a rejected app can leave another's reference
    // dangling. References are settled before conflicts, so that an app is not rejected
    // for a port that only a rejected app wanted.
    for (;;) {
        auto blames = check_set(result.apps, rejected_names, options);
        if (blames.empty()) break;
        bool any_reference =
            std::any_of(blames.begin(), blames.end(), [](const Blame& b) { return b.kind == BlameKind::reference; });
        std::set<std::string> out;
        for (const auto& b : blames)
            if (!any_reference || b.kind == BlameKind::reference) out.insert(b.app);
        for (auto& b : blames)
            if (out.count(b.app)) result.rejected[b.app].push_back(std::move(b.diagnostic));
        for (const auto& name : out) {
            result.apps.erase(name);
            rejected_names.insert(name);
        }
    }
    return result;
}

std::vector<std::string> start_order(const std::map<std::string, AppSpec>& apps) {
    auto edges = graph_of(apps);
    std::map<std::string, size_t> waiting_on;               // unstarted dependencies
    std::map<std::string, std::vector<std::string>> users;  // who waits on whom
    for (const auto& [name, deps] : edges) {
        waiting_on[name] = deps.size();
        for (const auto& d : deps) users[d].push_back(name);
    }
    std::set<std::string> ready;
    for (const auto& [name, n] : waiting_on)
        if (n == 0) ready.insert(name);
    std::vector<std::string> order;
    while (!ready.empty()) {
        std::string next = *ready.begin();
        ready.erase(ready.begin());
        order.push_back(next);
        for (const auto& u : users[next])
            if (--waiting_on[u] == 0) ready.insert(u);
    }
    // What is left is in a cycle or waits on one: last, by name.
    for (const auto& [name, n] : waiting_on)
        if (n > 0) order.push_back(name);
    return order;
}

}  // namespace isolated
