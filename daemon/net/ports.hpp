// Host port conflicts: a forward's host port taken by another app's forward or by a
// socket of a host process in the daemon's network namespace (/proc/thread-self/net/
// {tcp,tcp6,udp,udp6}; TCP counts listening sockets, UDP every bound socket).
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "isolated/app_spec.hpp"
#include "isolated/result.hpp"
#include "net/ipv4.hpp"

namespace isolated::net {

struct Listener {
    Protocol protocol = Protocol::tcp;
    std::uint16_t port = 0;
    /// nullopt: every address (0.0.0.0, ::, or a non-v4-mapped IPv6 any). Specific IPv6
    /// addresses other than v4-mapped ones are not listed: an IPv4 DNAT cannot shadow them.
    std::optional<Ipv4> address;
    bool operator==(const Listener&) const = default;
};

/// Parses one /proc/net/{tcp,udp}[6] table. `ipv6` selects the address format.
std::vector<Listener> parse_proc_net(const std::string& content, Protocol protocol, bool ipv6);

/// Reads the four tables of the calling thread's network namespace.
Result<std::vector<Listener>> read_host_listeners(const std::string& proc_net = "/proc/thread-self/net");

/// A host-side claim: what one forward takes (address nullopt = every local address).
struct PortClaim {
    Protocol protocol = Protocol::tcp;
    std::uint16_t port = 0;
    std::optional<Ipv4> address;
};
PortClaim claim_of(const PortSpec& spec);  ///< hostAddress "" or not IPv4: every address

bool overlaps(const PortClaim& a, const PortClaim& b);

/// Whether a host process holds the claim's port, by trying to bind it in the calling
/// thread's netns (SO_REUSEADDR, so only a listening TCP socket or a bound UDP socket
/// refuses it; IP_FREEBIND, so a host address that is not configured is no error).
/// Cheap per port (a few syscalls) where reading /proc/net/tcp walks the kernel's whole
/// socket hash (about a millisecond per table here, whatever the namespace).
Result<bool> port_in_use_by_host(const PortClaim& claim);

/// The first conflict of `app`'s ports, as the message an operator sees:
///   port 8080/tcp is already used by app "web"
///   port 8080/tcp is already used by a process on the host
///   port 8080/tcp is listed twice
/// `other_apps` maps every other app to its ports (the app itself is skipped).
std::optional<std::string> find_port_conflict(const std::string& app, const std::vector<PortSpec>& ports,
                                              const std::map<std::string, std::vector<PortSpec>>& other_apps,
                                              const std::vector<Listener>& host_listeners);

}  // namespace isolated::net
