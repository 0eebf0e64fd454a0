#include "net/ipv4.hpp"

#include <arpa/inet.h>

#include <charconv>

namespace isolated::net {

std::optional<Ipv4> Ipv4::parse(std::string_view text) {
    // inet_pton accepts exactly the dotted-quad form (no octal, no short forms).
    std::string s(text);
    in_addr a{};
    if (s.empty() || ::inet_pton(AF_INET, s.c_str(), &a) != 1) return std::nullopt;
    return Ipv4{ntohl(a.s_addr)};
}

std::string Ipv4::to_string() const {
    return std::to_string(value >> 24) + "." + std::to_string((value >> 16) & 0xff) + "." +
           std::to_string((value >> 8) & 0xff) + "." + std::to_string(value & 0xff);
}

Result<Subnet> Subnet::parse(std::string_view cidr) {
    auto bad = [&](const std::string& why) {
        return Error::msg("subnet \"" + std::string(cidr) + "\": " + why);
    };
    auto slash = cidr.find('/');
    if (slash == std::string_view::npos) return bad("expected ADDRESS/PREFIX, e.g. 10.100.0.0/24");
    auto addr = Ipv4::parse(cidr.substr(0, slash));
    if (!addr) return bad("not an IPv4 address");
    int prefix = -1;
    auto p = cidr.substr(slash + 1);
    auto [end, ec] = std::from_chars(p.data(), p.data() + p.size(), prefix);
    if (p.empty() || ec != std::errc() || end != p.data() + p.size()) return bad("bad prefix length");
    // /31 and /32 leave no room for a gateway plus an app; below /8 is a mistake.
    if (prefix < 8 || prefix > 30) return bad("prefix length must be between 8 and 30");
    Subnet s{*addr, prefix};
    if ((addr->value & s.mask()) != addr->value)
        return bad("host bits are set (did you mean " + Ipv4{addr->value & s.mask()}.to_string() + "/" +
                   std::to_string(prefix) + "?)");
    return s;
}

std::string Subnet::to_string() const { return network.to_string() + "/" + std::to_string(prefix); }

}  // namespace isolated::net
