#include "net/discovery.hpp"

#include <sstream>

namespace isolated::net {

std::string render_hosts(const std::string& app, const std::string& hostname, std::optional<Ipv4> own_address,
                         const std::map<std::string, Ipv4>& apps) {
    std::string host = hostname.empty() ? app : hostname;
    std::string out;
    out += "# Written by isolated for app \"" + app + "\"; rewritten as apps come and go.\n";
    out += "127.0.0.1\tlocalhost\n";
    out += "::1\tlocalhost ip6-localhost ip6-loopback\n";
    std::string own = host == app ? host : host + " " + app;
    out += (own_address ? own_address->to_string() : std::string("127.0.1.1")) + "\t" + own + "\n";
    for (auto& [name, address] : apps) {
        if (name == app) continue;
        out += address.to_string() + "\t" + name + "\n";
    }
    return out;
}

namespace {

bool loopback_nameserver(const std::string& addr) {
    if (addr == "::1") return true;
    auto a = Ipv4::parse(addr);
    return a && (a->value >> 24) == 127;
}

}  // namespace

std::string render_resolv_conf(const std::string& host, const std::vector<std::string>& nameservers) {
    std::string out;
    std::istringstream in(host);
    std::string line;
    while (std::getline(in, line)) {
        std::istringstream words(line);
        std::string keyword, value;
        words >> keyword >> value;
        if (keyword == "nameserver") {
            if (!nameservers.empty() || loopback_nameserver(value)) continue;
        }
        out += line + "\n";
    }
    for (auto& ns : nameservers) out += "nameserver " + ns + "\n";
    return out;
}

}  // namespace isolated::net
