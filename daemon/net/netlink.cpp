#include "net/netlink.hpp"

#include <arpa/inet.h>
#include <linux/if.h>  // IFNAMSIZ, IFF_UP (not <net/if.h>: it clashes)
#include <unistd.h>

#include <cstdio>
#include <cstring>

#include <linux/if_bridge.h>
#include <linux/if_link.h>
#include <linux/rtnetlink.h>

#include <netlink/addr.h>
#include <netlink/attr.h>
#include <netlink/errno.h>
#include <netlink/msg.h>
#include <netlink/netlink.h>
#include <netlink/route/addr.h>
#include <netlink/route/link.h>
#include <netlink/route/link/bridge.h>
#include <netlink/route/link/veth.h>
#include <netlink/route/nexthop.h>
#include <netlink/route/route.h>
#include <netlink/socket.h>

#include "sys/file.hpp"
#include "sys/netns.hpp"

namespace isolated::net {

void NlSocketFree::operator()(nl_sock* s) const { nl_socket_free(s); }

namespace {

struct LinkFree {
    void operator()(rtnl_link* l) const { rtnl_link_put(l); }
};
struct VethFree {
    void operator()(rtnl_link* l) const { rtnl_link_veth_release(l); }
};
struct AddrFree {
    void operator()(rtnl_addr* a) const { rtnl_addr_put(a); }
};
struct RouteFree {
    void operator()(rtnl_route* r) const { rtnl_route_put(r); }
};
struct NlAddrFree {
    void operator()(nl_addr* a) const { nl_addr_put(a); }
};
struct CacheFree {
    void operator()(nl_cache* c) const { nl_cache_free(c); }
};
using Link = std::unique_ptr<rtnl_link, LinkFree>;
using Veth = std::unique_ptr<rtnl_link, VethFree>;
using Addr = std::unique_ptr<rtnl_addr, AddrFree>;
using Route = std::unique_ptr<rtnl_route, RouteFree>;
using NlAddr = std::unique_ptr<nl_addr, NlAddrFree>;
using Cache = std::unique_ptr<nl_cache, CacheFree>;

// libnl folds errno into its own codes; map back the ones callers can act on.
int nle_errno(int nle) {
    switch (nle < 0 ? -nle : nle) {
        case NLE_EXIST: return EEXIST;
        case NLE_NODEV: return ENODEV;
        case NLE_OBJ_NOTFOUND: return ENOENT;
        case NLE_PERM: return EPERM;
        case NLE_NOACCESS: return EACCES;
        case NLE_BUSY: return EBUSY;
        case NLE_INVAL: return EINVAL;
        case NLE_RANGE: return ERANGE;
        case NLE_NOMEM: return ENOMEM;
        case NLE_OPNOTSUPP: return EOPNOTSUPP;
        case NLE_AGAIN: return EAGAIN;
        case NLE_INTR: return EINTR;
        case NLE_NOADDR: return EADDRNOTAVAIL;
        default: return 0;
    }
}

Error nl_error(int nle, const std::string& what) {
    int e = nle_errno(nle);
    if (e) return Error::os(e, "netlink: " + what);
    return Error::msg("netlink: " + what + ": " + nl_geterror(nle));
}

bool is_missing(int nle) {
    int n = nle < 0 ? -nle : nle;
    return n == NLE_NODEV || n == NLE_OBJ_NOTFOUND;
}

NlAddr make_addr(Ipv4 a, int prefix) {
    std::uint32_t be = htonl(a.value);
    NlAddr addr(nl_addr_build(AF_INET, &be, sizeof be));
    if (addr) nl_addr_set_prefixlen(addr.get(), prefix);
    return addr;
}

LinkInfo info_of(rtnl_link* l) {
    LinkInfo i;
    if (const char* n = rtnl_link_get_name(l)) i.name = n;
    i.index = rtnl_link_get_ifindex(l);
    i.master = rtnl_link_get_master(l);
    if (const char* t = rtnl_link_get_type(l)) i.type = t;
    i.up = (rtnl_link_get_flags(l) & IFF_UP) != 0;
    return i;
}

Status add_default_route(nl_sock* sock, int ifindex, Ipv4 gateway) {
    Route route(rtnl_route_alloc());
    NlAddr dst = make_addr(Ipv4{0}, 0);
    NlAddr gw = make_addr(gateway, 32);
    rtnl_nexthop* nh = rtnl_route_nh_alloc();
    if (!route || !dst || !gw || !nh) {
        if (nh) rtnl_route_nh_free(nh);
        return Error::os(ENOMEM, "netlink: default route");
    }
    rtnl_route_set_family(route.get(), AF_INET);
    rtnl_route_set_table(route.get(), RT_TABLE_MAIN);
    rtnl_route_set_protocol(route.get(), RTPROT_STATIC);
    rtnl_route_set_scope(route.get(), RT_SCOPE_UNIVERSE);
    rtnl_route_set_dst(route.get(), dst.get());
    rtnl_route_nh_set_ifindex(nh, ifindex);
    rtnl_route_nh_set_gateway(nh, gw.get());
    rtnl_route_add_nexthop(route.get(), nh);  // the route owns nh from here
    // NLM_F_REPLACE: a second setup of the same namespace converges instead of failing.
    if (int err = rtnl_route_add(sock, route.get(), NLM_F_REPLACE); err < 0)
        return nl_error(err, "add default route via " + gateway.to_string());
    return {};
}

// Bridge port flags travel as AF_BRIDGE RTM_SETLINK with IFLA_PROTINFO (what `ip link
// set X type bridge_slave hairpin on` sends); libnl has no plain setter for them.
Status set_hairpin(nl_sock* sock, int ifindex, const std::string& name) {
    std::unique_ptr<nl_msg, void (*)(nl_msg*)> msg(nlmsg_alloc_simple(RTM_SETLINK, NLM_F_REQUEST | NLM_F_ACK),
                                                  nlmsg_free);
    if (!msg) return Error::os(ENOMEM, "netlink: hairpin");
    ifinfomsg ifi{};
    ifi.ifi_family = AF_BRIDGE;
    ifi.ifi_index = ifindex;
    if (nlmsg_append(msg.get(), &ifi, sizeof ifi, NLMSG_ALIGNTO) < 0) return Error::os(ENOMEM, "netlink: hairpin");
    nlattr* nest = nla_nest_start(msg.get(), IFLA_PROTINFO | NLA_F_NESTED);
    if (!nest || nla_put_u8(msg.get(), IFLA_BRPORT_MODE, 1) < 0) return Error::os(ENOMEM, "netlink: hairpin");
    nla_nest_end(msg.get(), nest);
    if (int err = nl_send_auto(sock, msg.get()); err < 0) return nl_error(err, "set hairpin on \"" + name + "\"");
    if (int err = nl_wait_for_ack(sock); err < 0) return nl_error(err, "set hairpin on \"" + name + "\"");
    return {};
}

}  // namespace

Result<NlSocket> open_route_socket() {
    NlSocket sock(nl_socket_alloc());
    if (!sock) return Error::os(ENOMEM, "netlink: nl_socket_alloc");
    // nl_connect creates the socket with SOCK_CLOEXEC (libnl >= 3.2.28).
    if (int err = nl_connect(sock.get(), NETLINK_ROUTE); err < 0) return nl_error(err, "connect NETLINK_ROUTE");
    return sock;
}

Result<NetnsHandles> open_in_netns(const NetnsRef& target) {
    return sys::in_netns(target, [&]() -> Result<NetnsHandles> {
        NetnsHandles h;
        auto netns = sys::current_netns();
        if (!netns) return Error{netns.error().errno_value, "open the netns of " + target.describe()};
        h.netns = std::move(*netns);
        auto sock = open_route_socket();
        if (!sock) return sock.error();
        h.sock = std::move(*sock);
        return h;
    });
}

Result<std::vector<LinkInfo>> list_links(nl_sock* sock) {
    nl_cache* raw = nullptr;
    if (int err = rtnl_link_alloc_cache(sock, AF_UNSPEC, &raw); err < 0) return nl_error(err, "list links");
    Cache cache(raw);
    std::vector<LinkInfo> out;
    for (nl_object* o = nl_cache_get_first(cache.get()); o; o = nl_cache_get_next(o))
        out.push_back(info_of(reinterpret_cast<rtnl_link*>(o)));
    return out;
}

Result<std::optional<LinkInfo>> find_link(nl_sock* sock, const std::string& name) {
    rtnl_link* raw = nullptr;
    int err = rtnl_link_get_kernel(sock, 0, name.c_str(), &raw);
    if (err < 0) {
        if (is_missing(err)) return std::optional<LinkInfo>{};
        return nl_error(err, "get link \"" + name + "\"");
    }
    Link link(raw);
    return std::optional<LinkInfo>(info_of(link.get()));
}

Status delete_link(nl_sock* sock, const std::string& name) {
    Link link(rtnl_link_alloc());
    if (!link) return Error::os(ENOMEM, "netlink: delete link");
    rtnl_link_set_name(link.get(), name.c_str());
    int err = rtnl_link_delete(sock, link.get());
    if (err < 0 && !is_missing(err)) return nl_error(err, "delete link \"" + name + "\"");
    return {};
}

Status set_link_up(nl_sock* sock, int ifindex, const std::string& name) {
    Link orig(rtnl_link_alloc()), change(rtnl_link_alloc());
    if (!orig || !change) return Error::os(ENOMEM, "netlink: set link up");
    rtnl_link_set_ifindex(orig.get(), ifindex);
    rtnl_link_set_flags(change.get(), IFF_UP);
    if (int err = rtnl_link_change(sock, orig.get(), change.get(), 0); err < 0)
        return nl_error(err, "set link \"" + name + "\" up");
    return {};
}

Status add_address(nl_sock* sock, int ifindex, Ipv4 address, int prefix, const std::string& name) {
    Addr addr(rtnl_addr_alloc());
    NlAddr local = make_addr(address, prefix);
    if (!addr || !local) return Error::os(ENOMEM, "netlink: add address");
    rtnl_addr_set_ifindex(addr.get(), ifindex);
    rtnl_addr_set_family(addr.get(), AF_INET);
    if (int err = rtnl_addr_set_local(addr.get(), local.get()); err < 0) return nl_error(err, "address");
    rtnl_addr_set_prefixlen(addr.get(), prefix);
    // NLM_F_REPLACE: an address already there is not an error (inet_rtm_newaddr).
    if (int err = rtnl_addr_add(sock, addr.get(), NLM_F_REPLACE); err < 0)
        return nl_error(err, "add address " + address.to_string() + "/" + std::to_string(prefix) + " to \"" + name +
                                 "\"");
    return {};
}

Result<bool> has_address(nl_sock* sock, int ifindex, Ipv4 address, int prefix) {
    nl_cache* raw = nullptr;
    if (int err = rtnl_addr_alloc_cache(sock, &raw); err < 0) return nl_error(err, "list addresses");
    Cache cache(raw);
    std::uint32_t want = htonl(address.value);
    for (nl_object* o = nl_cache_get_first(cache.get()); o; o = nl_cache_get_next(o)) {
        auto* a = reinterpret_cast<rtnl_addr*>(o);
        if (rtnl_addr_get_ifindex(a) != ifindex || rtnl_addr_get_family(a) != AF_INET) continue;
        if (rtnl_addr_get_prefixlen(a) != prefix) continue;
        nl_addr* local = rtnl_addr_get_local(a);
        if (local && nl_addr_get_len(local) == sizeof want &&
            std::memcmp(nl_addr_get_binary_addr(local), &want, sizeof want) == 0)
            return true;
    }
    return false;
}

Status attach_to_bridge(nl_sock* sock, int ifindex, int bridge_index, const std::string& name) {
    if (int err = rtnl_link_enslave_ifindex(sock, bridge_index, ifindex); err < 0)
        return nl_error(err, "attach \"" + name + "\" to the bridge");
    return set_hairpin(sock, ifindex, name);
}

Result<int> ensure_bridge(nl_sock* sock, const std::string& name, Ipv4 gateway, int prefix) {
    auto found = find_link(sock, name);
    if (!found) return found.error();
    if (!*found) {
        Link br(rtnl_link_bridge_alloc());
        if (!br) return Error::os(ENOMEM, "netlink: bridge");
        rtnl_link_set_name(br.get(), name.c_str());
        rtnl_link_set_flags(br.get(), IFF_UP);
        // A fixed MAC (locally administered, from the gateway address): a bridge made
        // again after someone deleted it answers the apps' ARP entries for the gateway
        // at once, instead of after their neighbour cache times out. Set at creation,
        // it also keeps the bridge from taking on its lowest port's MAC.
        const unsigned char mac[6] = {0x0a, 0x58,
                                      static_cast<unsigned char>(gateway.value >> 24),
                                      static_cast<unsigned char>(gateway.value >> 16),
                                      static_cast<unsigned char>(gateway.value >> 8),
                                      static_cast<unsigned char>(gateway.value)};
        NlAddr lladdr(nl_addr_build(AF_LLC, mac, sizeof mac));
        if (!lladdr) return Error::os(ENOMEM, "netlink: bridge");
        rtnl_link_set_addr(br.get(), lladdr.get());
        if (int err = rtnl_link_add(sock, br.get(), NLM_F_CREATE | NLM_F_EXCL); err < 0 && -err != NLE_EXIST)
            return nl_error(err, "create bridge \"" + name + "\"");
        found = find_link(sock, name);
        if (!found) return found.error();
        if (!*found) return Error::os(ENODEV, "netlink: bridge \"" + name + "\" vanished after creation");
    }
    const LinkInfo& br = **found;
    if (br.type != "bridge")
        return Error::msg("netlink: \"" + name + "\" exists and is not a bridge (type \"" + br.type +
                          "\"); pick another --bridge");
    if (auto st = add_address(sock, br.index, gateway, prefix, name); !st) return st.error();
    if (!br.up)
        if (auto st = set_link_up(sock, br.index, name); !st) return st.error();
    return br.index;
}

Status setup_veth(nl_sock* host, const NetnsRef& target, const VethRequest& rq) {
    if (rq.host_name.empty() || rq.host_name.size() >= IFNAMSIZ)
        return Error::msg("netlink: bad veth name \"" + rq.host_name + "\"");
    auto ns = open_in_netns(target);
    if (!ns) return ns.error();
    auto bridge = find_link(host, rq.bridge);
    if (!bridge) return bridge.error();
    if (!*bridge) return Error::os(ENODEV, "netlink: bridge \"" + rq.bridge + "\" is missing");

    auto create = [&]() -> int {
        Veth veth(rtnl_link_veth_alloc());
        if (!veth) return -NLE_NOMEM;
        rtnl_link_set_name(veth.get(), rq.host_name.c_str());
        rtnl_link_set_master(veth.get(), (*bridge)->index);
        rtnl_link_set_flags(veth.get(), IFF_UP);
        rtnl_link* peer = rtnl_link_veth_get_peer(veth.get());
        rtnl_link_set_name(peer, "eth0");
        rtnl_link_set_ns_fd(peer, ns->netns.get());
        // eth0's MAC follows from its address (0a:58:<ipv4>, the CNI bridge plugin's
        // scheme): an app restarted on the same address keeps its MAC, so the host's
        // neighbour cache, still REACHABLE for the previous instance, stays right
        // instead of black-holing forwarded traffic for up to ~45 s.
        const unsigned char mac[6] = {0x0a, 0x58,
                                      static_cast<unsigned char>(rq.address.value >> 24),
                                      static_cast<unsigned char>(rq.address.value >> 16),
                                      static_cast<unsigned char>(rq.address.value >> 8),
                                      static_cast<unsigned char>(rq.address.value)};
        nl_addr* lladdr = nl_addr_build(AF_LLC, mac, sizeof mac);
        if (!lladdr) {
            rtnl_link_put(peer);
            return -NLE_NOMEM;
        }
        rtnl_link_set_addr(peer, lladdr);
        nl_addr_put(lladdr);
        // One queue each way on both ends, asked for at creation. Unasked, the kernel
        // allocates a queue per possible CPU and then shrinks the pair to one
        // (veth_init_queues), and shrinking waits for an RCU grace period per end
        // (synchronize_net): two expedited grace periods on every networked start, ~1.5
        // ms on a busy 2-CPU machine. The result is the same single queue either way.
        for (rtnl_link* end : {veth.get(), peer}) {
            rtnl_link_set_num_tx_queues(end, 1);
            rtnl_link_set_num_rx_queues(end, 1);
        }
        // Not IFF_UP on the peer here: with a master on the host end and the peer in
        // another netns, kernel 6.18 answers ENOTCONN to a peer created up (`ip link add
        // X master BR type veth peer name eth0 netns PID up` fails the same way). eth0
        // goes up below, from inside.
        int err = rtnl_link_add(host, veth.get(), NLM_F_CREATE | NLM_F_EXCL);
        rtnl_link_put(peer);  // rtnl_link_veth_get_peer took a reference
        return err;
    };
    int err = create();
    if (-err == NLE_EXIST) {
        // Left over by a previous instance (its netns may still be dying: the kernel
        // cleans namespaces up asynchronously) or by a setup that failed half-way: a
        // veth on our bridge. Anything else of that name is someone else's (Docker
        // refuses a clashing name too, CNI's bridge plugin fails on EEXIST): never
        // deleted, the start fails naming it, and the supervisor backs off.
        auto clash = find_link(host, rq.host_name);
        if (!clash) return clash.error();
        if (*clash && ((*clash)->type != "veth" || (*clash)->master != (*bridge)->index))
            return Error::os(EEXIST, "netlink: interface \"" + rq.host_name + "\" already exists and is not " +
                                         "isolated's (type \"" + (*clash)->type + "\", not on bridge \"" +
                                         rq.bridge + "\"); remove or rename it");
        if (auto st = delete_link(host, rq.host_name); !st) return st.error();
        err = create();
    }
    if (err < 0)
        return nl_error(err, "create veth \"" + rq.host_name + "\" with eth0 in " + target.describe());

    // From here a failure leaves a veth whose app will not start: remove it.
    auto fail = [&](Error e) -> Status {
        (void)delete_link(host, rq.host_name);
        return e;
    };
    // Hairpin on the port: when br_netfilter is loaded (Docker loads it; this machine
    // has it), a packet from an app to its own forward is DNAT'ed at the bridge and
    // bridged back out of the port it came in on, which the bridge refuses unless the
    // port is in hairpin mode. Without br_netfilter the packet is routed and this is moot.
    {
        auto hostend = find_link(host, rq.host_name);
        if (!hostend) return fail(hostend.error());
        if (!*hostend) return fail(Error::os(ENODEV, "netlink: \"" + rq.host_name + "\" vanished after creation"));
        if (auto st = set_hairpin(host, (*hostend)->index, rq.host_name); !st) return fail(st.error());
    }
    nl_sock* in = ns->sock.get();
    auto eth0 = find_link(in, "eth0");
    if (!eth0) return fail(eth0.error());
    if (!*eth0) return fail(Error::os(ENODEV, "netlink: eth0 missing in " + target.describe()));
    if (!(*eth0)->up)
        if (auto st = set_link_up(in, (*eth0)->index, "eth0"); !st) return fail(st.error());
    if (auto st = add_address(in, (*eth0)->index, rq.address, rq.prefix, "eth0"); !st) return fail(st.error());
    // lo is ifindex 1 in every namespace (registered first, net/core/dev.c).
    if (auto st = set_link_up(in, 1, "lo"); !st) return fail(st.error());
    if (auto st = add_default_route(in, (*eth0)->index, rq.gateway); !st) return fail(st.error());
    return {};
}

Status setup_loopback(const NetnsRef& target) {
    auto ns = open_in_netns(target);
    if (!ns) return ns.error();
    return set_link_up(ns->sock.get(), 1, "lo");
}

std::string veth_name_for(const std::string& app) {
    if (app.size() <= 9) return "veth-" + app;
    std::uint32_t h = 2166136261u;  // FNV-1a
    for (unsigned char c : app) h = (h ^ c) * 16777619u;
    char hex[9];
    std::snprintf(hex, sizeof hex, "%08x", h);
    return "veth-" + app.substr(0, 2) + "-" + std::string(hex + 1);
}

Status write_sysctl(const std::string& key, const std::string& value) {
    return sys::write_existing("/proc/sys/" + key, value);
}

Result<std::string> read_sysctl(const std::string& key) {
    auto s = sys::read_file("/proc/sys/" + key);
    if (!s) return s;
    while (!s->empty() && (s->back() == '\n' || s->back() == ' ')) s->pop_back();
    return s;
}

}  // namespace isolated::net
