// Links, addresses and routes over rtnetlink (libnl-route-3): the bridge, each app's
// veth pair, the in-netns side (eth0, lo, default route). Every libnl object and socket
// is owned by an RAII handle; every function returns Result and never logs.
//
// Work inside an app's network namespace goes through a netlink socket *opened* in that
// namespace: the calling thread setns()es in, opens the socket (and an fd of the netns),
// and setns()es back at once (sys::in_netns restores it on every path). The socket keeps
// talking to the namespace it was created in, so the rest runs from the daemon's own
// namespace and the thread is never left elsewhere.
#pragma once

#include <sys/types.h>

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "isolated/result.hpp"
#include "isolated/unique_fd.hpp"
#include "net/ipv4.hpp"
#include "sys/netns.hpp"

struct nl_sock;

namespace isolated::net {

struct NlSocketFree {
    void operator()(nl_sock* s) const;
};
using NlSocket = std::unique_ptr<nl_sock, NlSocketFree>;

/// A connected NETLINK_ROUTE socket in the calling thread's network namespace.
Result<NlSocket> open_route_socket();

// The network module's callers name a namespace as net::NetnsRef (sys/netns.hpp).
using sys::NetnsRef;

/// A route socket and a netns fd opened inside `target`; the thread is back home.
struct NetnsHandles {
    NlSocket sock;
    unique_fd netns;  ///< a real netns fd (usable as IFLA_NET_NS_FD), CLOEXEC
};
Result<NetnsHandles> open_in_netns(const NetnsRef& target);

struct LinkInfo {
    std::string name;
    int index = 0;
    int master = 0;    ///< ifindex of the bridge it is enslaved to, 0 if none
    std::string type;  ///< "veth", "bridge", ... ("" for plain devices)
    bool up = false;
};

Result<std::vector<LinkInfo>> list_links(nl_sock* sock);
/// nullopt when there is no such link.
Result<std::optional<LinkInfo>> find_link(nl_sock* sock, const std::string& name);
/// Deletes a link by name; a link that is already gone is success.
Status delete_link(nl_sock* sock, const std::string& name);
/// Sets IFF_UP on a link.
Status set_link_up(nl_sock* sock, int ifindex, const std::string& name_for_errors);
/// Adds `address/prefix` to a link; an address already there is success.
Status add_address(nl_sock* sock, int ifindex, Ipv4 address, int prefix, const std::string& name_for_errors);

/// Whether the link has `address/prefix`.
Result<bool> has_address(nl_sock* sock, int ifindex, Ipv4 address, int prefix);
/// Enslaves the link to the bridge and puts the port in hairpin mode (what setup_veth
/// does for a new host end).
Status attach_to_bridge(nl_sock* sock, int ifindex, int bridge_index, const std::string& name_for_errors);

/// Creates the bridge if missing (a link of another type with that name is an error),
/// gives it `gateway/prefix` and sets it up. Returns its ifindex. A bridge created here
/// gets the MAC 0a:58:<gateway> (the apps' scheme): a bridge deleted by hand and made
/// again keeps the MAC the apps' neighbour caches hold for their gateway.
Result<int> ensure_bridge(nl_sock* sock, const std::string& name, Ipv4 gateway, int prefix);

struct VethRequest {
    std::string host_name;  ///< e.g. veth-web (<= 15 chars)
    std::string bridge;
    Ipv4 address;           ///< the app's address on eth0
    int prefix = 24;
    Ipv4 gateway;           ///< default route via
};

/// One veth pair: the host end attached to the bridge and up, the peer created directly
/// inside `target` as eth0 (so it never collides with the host's own eth0), with the
/// address, up, lo up, default route via the gateway. A host end left over with the same
/// name (a previous instance whose netns is still being torn down, or a half-done setup:
/// a veth on `bridge`) is deleted and the creation retried once; an interface of that
/// name that is not ours (another type, or not on our bridge) is never touched: the
/// setup fails with EEXIST and a message naming it.
Status setup_veth(nl_sock* host, const NetnsRef& target, const VethRequest& request);

/// `network.mode: none`: only lo, up.
Status setup_loopback(const NetnsRef& target);

/// The host-side veth name of an app: "veth-<app>" when the app name has at most 9
/// characters, else "veth-<2 chars>-<7 hex of a hash>" (interface names are at most
/// 15 characters; the two forms never collide because their lengths differ).
std::string veth_name_for(const std::string& app);

/// Writes a sysctl under /proc/sys (in the calling thread's network namespace for
/// net.*), e.g. write_sysctl("net/ipv4/ip_forward", "1").
Status write_sysctl(const std::string& key, const std::string& value);
Result<std::string> read_sysctl(const std::string& key);

}  // namespace isolated::net
