#include "net/ports.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include "isolated/unique_fd.hpp"

#include <cstdlib>
#include <sstream>

#include "sys/file.hpp"

namespace isolated::net {

namespace {

// The kernel prints each __be32 word of the address with %08X, i.e. the raw word as a
// host-order integer: on little-endian 127.0.0.1 is "0100007F".
std::optional<std::uint32_t> word(const std::string& hex8) {
    if (hex8.size() != 8) return std::nullopt;
    char* end = nullptr;
    unsigned long v = std::strtoul(hex8.c_str(), &end, 16);
    if (*end) return std::nullopt;
    return ntohl(static_cast<std::uint32_t>(v));  // now the bytes in network order, as a number
}

}  // namespace

std::vector<Listener> parse_proc_net(const std::string& content, Protocol protocol, bool ipv6) {
    std::vector<Listener> out;
    std::istringstream in(content);
    std::string line;
    std::getline(in, line);  // header
    while (std::getline(in, line)) {
        std::istringstream fields(line);
        std::string sl, local, remote, state;
        if (!(fields >> sl >> local >> remote >> state)) continue;
        // TCP: LISTEN (0A) only. UDP: any socket holds its local port.
        if (protocol == Protocol::tcp && state != "0A") continue;
        auto colon = local.find(':');
        if (colon == std::string::npos) continue;
        std::string addr = local.substr(0, colon);
        char* end = nullptr;
        unsigned long port = std::strtoul(local.c_str() + colon + 1, &end, 16);
        if (*end || port == 0 || port > 65535) continue;
        Listener l{protocol, static_cast<std::uint16_t>(port), std::nullopt};
        if (!ipv6) {
            auto w = word(addr);
            if (!w) continue;
            if (*w != 0) l.address = Ipv4{*w};
        } else {
            if (addr.size() != 32) continue;
            std::uint32_t w[4];
            bool ok = true;
            for (int i = 0; i < 4; ++i) {
                auto v = word(addr.substr(static_cast<size_t>(i) * 8, 8));
                if (!v) ok = false; else w[i] = *v;
            }
            if (!ok) continue;
            bool any = w[0] == 0 && w[1] == 0 && w[2] == 0 && w[3] == 0;
            bool mapped = w[0] == 0 && w[1] == 0 && w[2] == 0x0000ffff;
            if (mapped) l.address = Ipv4{w[3]};
            else if (!any) continue;  // a specific IPv6 address: no IPv4 forward can shadow it
        }
        out.push_back(l);
    }
    return out;
}

Result<std::vector<Listener>> read_host_listeners(const std::string& proc_net) {
    std::vector<Listener> all;
    struct Table {
        const char* name;
        Protocol protocol;
        bool ipv6;
    };
    for (auto t : {Table{"tcp", Protocol::tcp, false}, Table{"tcp6", Protocol::tcp, true},
                   Table{"udp", Protocol::udp, false}, Table{"udp6", Protocol::udp, true}}) {
        std::string path = proc_net + "/" + t.name;
        auto text = sys::read_file(path);
        if (!text) {
            if (t.ipv6 && text.error().errno_value == ENOENT) continue;  // IPv6 disabled
            return text.error();
        }
        auto part = parse_proc_net(*text, t.protocol, t.ipv6);
        all.insert(all.end(), part.begin(), part.end());
    }
    return all;
}

PortClaim claim_of(const PortSpec& spec) {
    PortClaim c{spec.protocol, spec.host, std::nullopt};
    if (!spec.host_address.empty()) {
        auto a = Ipv4::parse(spec.host_address);
        if (a && a->value != 0) c.address = *a;
    }
    return c;
}

Result<bool> port_in_use_by_host(const PortClaim& claim) {
    int type = claim.protocol == Protocol::udp ? SOCK_DGRAM : SOCK_STREAM;
    unique_fd s(::socket(AF_INET, type | SOCK_CLOEXEC, 0));
    if (!s) return os_error("socket");
    int one = 1;
    ::setsockopt(s.get(), SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    ::setsockopt(s.get(), IPPROTO_IP, IP_FREEBIND, &one, sizeof one);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(claim.port);
    a.sin_addr.s_addr = htonl(claim.address ? claim.address->value : INADDR_ANY);
    if (::bind(s.get(), reinterpret_cast<sockaddr*>(&a), sizeof a) == 0) return false;
    if (errno == EADDRINUSE) return true;
    return os_error("probe port " + std::to_string(claim.port) + "/" + to_string(claim.protocol));
}

bool overlaps(const PortClaim& a, const PortClaim& b) {
    if (a.protocol != b.protocol || a.port != b.port) return false;
    return !a.address || !b.address || *a.address == *b.address;
}

std::optional<std::string> find_port_conflict(const std::string& app, const std::vector<PortSpec>& ports,
                                              const std::map<std::string, std::vector<PortSpec>>& other_apps,
                                              const std::vector<Listener>& host_listeners) {
    auto label = [](const PortClaim& c) {
        return "port " + (c.address ? c.address->to_string() + ":" : std::string()) + std::to_string(c.port) + "/" +
               to_string(c.protocol);
    };
    for (std::size_t i = 0; i < ports.size(); ++i) {
        PortClaim mine = claim_of(ports[i]);
        for (std::size_t j = 0; j < i; ++j)
            if (overlaps(mine, claim_of(ports[j]))) return label(mine) + " is listed twice";
        for (auto& [other, their_ports] : other_apps) {
            if (other == app) continue;
            for (auto& p : their_ports)
                if (overlaps(mine, claim_of(p))) return label(mine) + " is already used by app \"" + other + "\"";
        }
        for (auto& l : host_listeners)
            if (overlaps(mine, PortClaim{l.protocol, l.port, l.address}))
                return label(mine) + " is already used by a process on the host";
    }
    return std::nullopt;
}

}  // namespace isolated::net
