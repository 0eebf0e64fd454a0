// The network facade the runtime uses for `network.mode: bridge` (and `none`): one
// bridge, an address pool with sticky leases, one veth per app, and one nftables table
// with NAT out and the port forwards. Kernel objects are named so that a restarted
// daemon finds them again (bridge by name, veth-<app>, nft elements commented with
// their app), and reconcile() removes what belongs to no running app.
//
// How the runtime drives it (all on the daemon's loop thread):
//   daemon start   Network::open({bridge, subnet, state_dir}); start(); then
//                  reconcile(every defined bridge-mode app -> pinned address, adopted
//                  running apps)
//   reload         check_ports(app, ports, other defined apps' ports) per changed app;
//                  reconcile(...) with the new definitions; remove_app() for removed ones
//   launch         lease() before building the plan (address for /etc/hosts, which
//                  hosts_file_for() renders); after the clone and before "go":
//                  attach_app(name, NetnsRef::of_fd(pidfd) or of_pid(init pid), pinned,
//                  ports) for bridge mode, setup_loopback() for none
//   stop / exit    detach_app(name) (forwards go; the veth dies with the netns)
//   clean exit     shutdown_cleanup() when no app runs any more
//
// Single-threaded, synchronous and quick (netlink and nftables round trips, well under
// a few ms each); nothing here blocks on the network or on a child.
#pragma once

#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "isolated/app_spec.hpp"
#include "isolated/result.hpp"
#include "net/ipv4.hpp"
#include "net/leases.hpp"
#include "net/netlink.hpp"
#include "net/nft_ruleset.hpp"
#include "net/nftables.hpp"

namespace isolated::net {

struct NetworkConfig {
    std::string bridge = "isolated0";          ///< --bridge
    Subnet subnet{Ipv4{0x0a640000}, 24};       ///< --subnet, default 10.100.0.0/24
    std::string state_dir;                     ///< leases.json lives here; "" = memory only
    std::string table = "isolated";            ///< nftables `table ip <table>`
};

struct Attachment {
    Ipv4 address;
    std::string host_veth;
};

/// `network.address` as given in the app file: "" = from the pool.
Result<std::optional<Ipv4>> parse_pinned_address(const std::string& text);

/// The forwards one app's ports make (hostAddress must be IPv4 when given).
Result<std::vector<Forward>> forwards_for(const std::string& app, Ipv4 app_address,
                                          const std::vector<PortSpec>& ports);

class Network {
public:
    /// Loads the leases and opens the netlink socket and the nftables context in the
    /// calling thread's network namespace. Changes nothing in the kernel. A damaged
    /// leases file is not an error: `warning` (if given) says it was set aside.
    static Result<std::unique_ptr<Network>> open(NetworkConfig config, std::string* warning = nullptr);

    /// Daemon start: the bridge (created if missing, gateway address, up), ip_forward=1,
    /// route_localnet=1 on the bridge (forwards reached via 127.0.0.1), and the nftables
    /// table replaced atomically by the current definition, keeping the forward elements
    /// it held (apps still running from a previous daemon keep their forwards; call
    /// reconcile() next to drop the rest).
    Status start();

    /// The app's address (sticky; `pinned` overrides), leased now so it can go into the
    /// app's /etc/hosts before the sandbox is built.
    Result<Ipv4> lease(const std::string& app, std::optional<Ipv4> pinned = std::nullopt);

    /// Bridge mode, after the init is cloned (its netns exists) and before it execs the
    /// app: lease, port conflict check, the app's forwards (one nftables transaction,
    /// replacing any it had), then the veth pair (host end on the bridge, eth0 with the
    /// address, lo, default route). On failure nothing of this call is left behind.
    Result<Attachment> attach_app(const std::string& app, const NetnsRef& netns, std::optional<Ipv4> pinned,
                                  const std::vector<PortSpec>& ports);

    /// A kept network namespace (issue 19) about to be joined by the app's next instance:
    /// whether it still is what attach_app() made -- the host end of the app's veth
    /// there, and inside the namespace eth0 with `address`. An error says what is off;
    /// the caller then makes a new namespace. Two netlink dumps and a setns there and
    /// back: well under a millisecond.
    Status check_kept(const std::string& app, const NetnsRef& netns, Ipv4 address);

    /// `network.mode: none`: lo up in the app's netns.
    static Status setup_loopback(const NetnsRef& netns) { return net::setup_loopback(netns); }

    /// The app stopped or exited: its forwards go (one transaction). The veth is left to
    /// die with the netns (deleting one costs ~20 ms of kernel time). The lease stays.
    Status detach_app(const std::string& app);

    /// The app was removed from the apps dir: detach_app() plus releasing its lease.
    Status remove_app(const std::string& app);

    /// The first conflict of `app`'s ports with another app -- those with forwards in
    /// place, plus `other_defined` (apps defined but not running; may be empty) -- or
    /// with a socket of a host process in this netns. Error text:
    /// `port 8080/tcp is already used by app "web"` / `... by a process on the host`.
    Status check_ports(const std::string& app, const std::vector<PortSpec>& ports,
                       const std::map<std::string, std::vector<PortSpec>>& other_defined = {}) const;

    /// Converges on what the daemon has: leases kept for `bridged_apps` (every defined
    /// app in bridge mode -> its pinned address, if any) and acquired for those without
    /// one, released for the others; forward elements and host-side veths on the bridge
    /// whose app is not in `running` removed. Continues past errors and reports them all.
    Status reconcile(const std::map<std::string, std::optional<Ipv4>>& bridged_apps,
                     const std::set<std::string>& running);

    /// /etc/hosts for the app (every leased app by name, its own hostname).
    std::string hosts_file_for(const std::string& app, const std::string& hostname) const;

    /// Puts back what someone changed by hand while apps run (kube-proxy's periodic
    /// resync): the bridge (re-created with its gateway address and up), the host-side
    /// veths of the `running` bridged apps re-attached to it, route_localnet and
    /// ip_forward, and the nftables table (missing, a rule count that differs, or forward
    /// elements other than the ones the daemon added for its apps -> the whole table
    /// rebuilt from those, in one transaction). Returns one line per thing repaired,
    /// empty when all was in place. Cheap when nothing changed: a few netlink and
    /// nftables round trips (above 1,000 forwards the table's contents are compared
    /// every 12th call, its existence every call). Keeps going past errors and reports
    /// the first.
    Result<std::vector<std::string>> repair(const std::set<std::string>& running);

    /// Clean daemon exit with no app running: the nftables table and the bridge go.
    Status shutdown_cleanup();

    const std::map<std::string, Ipv4>& addresses() const { return leases_.all(); }
    std::optional<Ipv4> address_of(const std::string& app) const { return leases_.find(app); }
    /// The forwards in place, as last read from or written to the kernel.
    const std::vector<Forward>& forwards() const { return forwards_; }
    const NetworkConfig& config() const { return config_; }
    /// Re-reads the table from the kernel (forwards() and rule count).
    Result<TableListing> read_table();

private:
    Network(NetworkConfig config, Leases leases, NlSocket sock, NftContext nft);
    Status replace_forwards(const std::string& app, const std::vector<Forward>& next);
    std::vector<Forward> forwards_of(const std::string& app) const;
    Status run_nft(const std::string& commands);

    NetworkConfig config_;
    RulesetConfig ruleset_;
    Leases leases_;
    NlSocket sock_;
    NftContext nft_;
    std::vector<Forward> forwards_;
    /// What the daemon put in the table, per app: what repair() restores. forwards_ is
    /// the kernel's view and follows every re-read; this follows only the daemon's own
    /// writes (start(), replace_forwards(), reconcile()).
    std::map<std::string, std::vector<Forward>> wanted_;
    /// Rules of a freshly rendered table (read back once after start()).
    std::size_t table_rules_ = 0;
    /// Above this many forwards repair() lists the whole table only every 12th call.
    static constexpr std::size_t kRepairListEvery = 1000;
    unsigned repair_checks_ = 0;
};

}  // namespace isolated::net
