// IPv4 addresses and subnets as plain values (host byte order inside), parsed from and
// printed to dotted quads. Pure: no sockets.
#pragma once

#include <compare>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "isolated/result.hpp"

namespace isolated::net {

struct Ipv4 {
    std::uint32_t value = 0;  ///< host byte order: 10.0.0.1 == 0x0a000001

    static std::optional<Ipv4> parse(std::string_view text);
    std::string to_string() const;
    auto operator<=>(const Ipv4&) const = default;
};

/// A CIDR block, e.g. 10.100.0.0/24. The gateway (the bridge's own address) is the
/// first host address, as in Docker and Podman.
struct Subnet {
    Ipv4 network;
    int prefix = 24;

    /// "10.100.0.0/24"; host bits set ("10.100.0.7/24") or prefix outside 8..30 is an error.
    static Result<Subnet> parse(std::string_view cidr);
    std::string to_string() const;

    std::uint32_t mask() const { return prefix == 0 ? 0 : ~std::uint32_t{0} << (32 - prefix); }
    bool contains(Ipv4 a) const { return (a.value & mask()) == network.value; }
    Ipv4 gateway() const { return Ipv4{network.value + 1}; }
    Ipv4 broadcast() const { return Ipv4{network.value | ~mask()}; }
    /// An address apps may hold: inside, not the network, gateway or broadcast address.
    bool assignable(Ipv4 a) const {
        return contains(a) && a != network && a != gateway() && a != broadcast();
    }
    bool operator==(const Subnet&) const = default;
};

}  // namespace isolated::net
