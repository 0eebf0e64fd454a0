#include "net/nft_ruleset.hpp"

#include <map>

#include <nlohmann/json.hpp>

namespace isolated::net {

std::string Forward::host_side() const {
    std::string s = host_address ? host_address->to_string() + ":" : "";
    return s + std::to_string(host_port) + "/" + to_string(protocol);
}

std::string map_name(Protocol protocol, bool address_bound) {
    return std::string("fwd_") + (protocol == Protocol::udp ? "udp" : "tcp") + (address_bound ? "_addr" : "");
}

namespace {

std::string prefix(const RulesetConfig& c) { return "ip " + c.table; }

std::string key_of(const Forward& f) {
    std::string k = f.host_address ? f.host_address->to_string() + " . " : "";
    return k + std::to_string(f.host_port);
}

std::string element_of(const Forward& f) {
    std::string e = key_of(f);
    // App names are [a-z0-9-]; anything else would not survive quoting, so leave it out.
    bool plain = !f.app.empty() && f.app.find_first_not_of("abcdefghijklmnopqrstuvwxyz0123456789-") == std::string::npos;
    if (plain) e += " comment \"" + f.app + "\"";
    return e + " : " + f.app_address.to_string() + " . " + std::to_string(f.app_port);
}

std::map<std::string, std::vector<const Forward*>> by_map(const std::vector<Forward>& forwards) {
    std::map<std::string, std::vector<const Forward*>> m;
    for (auto& f : forwards) m[map_name(f.protocol, f.host_address.has_value())].push_back(&f);
    return m;
}

}  // namespace

std::string render_table(const RulesetConfig& c, const std::vector<Forward>& elements) {
    const std::string subnet = c.subnet.to_string();
    const std::string br = "\"" + c.bridge + "\"";
    std::string t;
    t += "add table " + prefix(c) + "\n";
    t += "delete table " + prefix(c) + "\n";
    t += "table " + prefix(c) + " {\n";
    for (auto proto : {Protocol::tcp, Protocol::udp}) {
        t += "  map " + map_name(proto, false) + " { type inet_service : ipv4_addr . inet_service; }\n";
        t += "  map " + map_name(proto, true) +
             " { type ipv4_addr . inet_service : ipv4_addr . inet_service; }\n";
    }
    t += "  chain forwards {\n";
    t += "    dnat ip to ip daddr . tcp dport map @" + map_name(Protocol::tcp, true) + "\n";
    t += "    dnat ip to ip daddr . udp dport map @" + map_name(Protocol::udp, true) + "\n";
    t += "    fib daddr type local dnat ip to tcp dport map @" + map_name(Protocol::tcp, false) + "\n";
    t += "    fib daddr type local dnat ip to udp dport map @" + map_name(Protocol::udp, false) + "\n";
    t += "  }\n";
    t += "  chain prerouting {\n    type nat hook prerouting priority dstnat; policy accept;\n    jump forwards\n  }\n";
    t += "  chain output {\n    type nat hook output priority -100; policy accept;\n    jump forwards\n  }\n";
    t += "  chain postrouting {\n    type nat hook postrouting priority srcnat; policy accept;\n";
    t += "    ip saddr " + subnet + " oifname != " + br + " masquerade\n";
    t += "    ip saddr 127.0.0.0/8 oifname " + br + " masquerade\n";
    t += "    ct status dnat ip saddr " + subnet + " oifname " + br + " masquerade\n";
    t += "  }\n";
    t += "}\n";
    t += render_add_elements(c, elements);
    return t;
}

std::string render_delete_table(const RulesetConfig& c) { return "delete table " + prefix(c) + "\n"; }

std::string render_add_elements(const RulesetConfig& c, const std::vector<Forward>& forwards) {
    std::string t;
    for (auto& [map, fs] : by_map(forwards)) {
        t += "add element " + prefix(c) + " " + map + " { ";
        for (std::size_t i = 0; i < fs.size(); ++i) t += (i ? ", " : "") + element_of(*fs[i]);
        t += " }\n";
    }
    return t;
}

std::string render_delete_elements(const RulesetConfig& c, const std::vector<Forward>& forwards) {
    std::string t;
    for (auto& [map, fs] : by_map(forwards)) {
        t += "delete element " + prefix(c) + " " + map + " { ";
        for (std::size_t i = 0; i < fs.size(); ++i) t += (i ? ", " : "") + key_of(*fs[i]);
        t += " }\n";
    }
    return t;
}

namespace {

using nlohmann::json;

std::optional<std::uint16_t> port_of(const json& j) {
    if (!j.is_number_unsigned() || j.get<unsigned>() > 65535) return std::nullopt;
    return static_cast<std::uint16_t>(j.get<unsigned>());
}

// Element key forms: 8080 | {"concat": ["127.0.0.1", 8080]} | {"elem": {"val": KEY, "comment": "web"}}
bool parse_key(const json& key, bool address_bound, Forward& f) {
    const json* k = &key;
    if (key.is_object() && key.contains("elem")) {
        const json& e = key["elem"];
        if (!e.contains("val")) return false;
        if (e.contains("comment") && e["comment"].is_string()) f.app = e["comment"].get<std::string>();
        k = &e["val"];
    }
    if (address_bound) {
        if (!k->is_object() || !k->contains("concat")) return false;
        const json& c = (*k)["concat"];
        if (!c.is_array() || c.size() != 2 || !c[0].is_string()) return false;
        auto a = Ipv4::parse(c[0].get<std::string>());
        auto p = port_of(c[1]);
        if (!a || !p) return false;
        f.host_address = *a;
        f.host_port = *p;
        return true;
    }
    auto p = port_of(*k);
    if (!p) return false;
    f.host_port = *p;
    return true;
}

bool parse_value(const json& v, Forward& f) {
    if (!v.is_object() || !v.contains("concat")) return false;
    const json& c = v["concat"];
    if (!c.is_array() || c.size() != 2 || !c[0].is_string()) return false;
    auto a = Ipv4::parse(c[0].get<std::string>());
    auto p = port_of(c[1]);
    if (!a || !p) return false;
    f.app_address = *a;
    f.app_port = *p;
    return true;
}

}  // namespace

Result<TableListing> parse_table_listing(const std::string& text, const std::string& table) {
    json doc;
    try {
        doc = json::parse(text);
    } catch (const std::exception& e) {
        return Error::msg(std::string("nftables listing is not JSON: ") + e.what());
    }
    if (!doc.is_object() || !doc.contains("nftables") || !doc["nftables"].is_array())
        return Error::msg("nftables listing: no \"nftables\" array");
    TableListing out;
    for (const json& item : doc["nftables"]) {
        if (!item.is_object()) continue;
        if (item.contains("table")) {
            const json& t = item["table"];
            if (t.value("name", "") == table && t.value("family", "") == "ip") out.exists = true;
        } else if (item.contains("rule")) {
            if (item["rule"].value("table", "") == table) ++out.rules;
        } else if (item.contains("map")) {
            const json& m = item["map"];
            if (m.value("table", "") != table) continue;
            std::string name = m.value("name", "");
            std::optional<Protocol> proto;
            bool address_bound = false;
            for (auto p : {Protocol::tcp, Protocol::udp})
                for (bool a : {false, true})
                    if (name == map_name(p, a)) proto = p, address_bound = a;
            if (!proto || !m.contains("elem") || !m["elem"].is_array()) continue;
            for (const json& el : m["elem"]) {
                if (!el.is_array() || el.size() != 2) continue;
                Forward f;
                f.protocol = *proto;
                if (parse_key(el[0], address_bound, f) && parse_value(el[1], f)) out.forwards.push_back(f);
            }
        }
    }
    return out;
}

}  // namespace isolated::net
