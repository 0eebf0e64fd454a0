// The text of isolated's nftables table, and the parsing of its JSON listing. Pure:
// nftables.hpp runs these through libnftables.
//
// One table (`table ip isolated`) holds everything:
//   maps      fwd_tcp / fwd_udp           host port            -> app address . app port
//             fwd_tcp_addr / fwd_udp_addr host address . port  -> app address . app port
//   chains    forwards     the four `dnat ... map` lookups (address-bound first); the
//                          any-address maps only for packets to a local address, so an
//                          app's traffic to port 8080 elsewhere is not hijacked
//             prerouting   (nat, dstnat)  -> forwards: other machines and other apps
//             output       (nat, -100)    -> forwards: the host itself, 127.0.0.1 too
//             postrouting  (nat, srcnat)  masquerade: subnet -> out of the bridge (NAT
//                          out), 127/8 -> bridge (localhost forwards; needs
//                          route_localnet on the bridge), dnat'ed subnet -> bridge
//                          (hairpin: app -> forward -> app on the same bridge)
// The rule count is fixed; forwards are map elements, so the lookup cost does not grow
// with their number (bench/RESULTS.md, "Port forwards": 10,000 cost what 10 do), where
// one DNAT rule per forward would be matched one after the other.
// Each element carries its app's name as its comment, which is how a restarted daemon
// knows whose elements it finds.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "isolated/app_spec.hpp"
#include "isolated/result.hpp"
#include "net/ipv4.hpp"

namespace isolated::net {

struct Forward {
    std::string app;                  ///< owner (element comment); "" when found without one
    Protocol protocol = Protocol::tcp;
    std::optional<Ipv4> host_address; ///< nullopt: every local address
    std::uint16_t host_port = 0;
    Ipv4 app_address;
    std::uint16_t app_port = 0;
    bool operator==(const Forward&) const = default;

    /// "8080/tcp" or "127.0.0.1:8080/tcp"
    std::string host_side() const;
};

struct RulesetConfig {
    std::string table = "isolated";
    std::string bridge = "isolated0";
    Subnet subnet;
};

/// fwd_tcp, fwd_udp, fwd_tcp_addr, fwd_udp_addr
std::string map_name(Protocol protocol, bool address_bound);

/// One transaction that replaces the table (if any) with a fresh one holding `elements`:
/// `add table` + `delete table` + the definition + the elements. Atomic: packets see the
/// old table or the new one, never none.
std::string render_table(const RulesetConfig& config, const std::vector<Forward>& elements);
/// `delete table` (the caller checks it exists).
std::string render_delete_table(const RulesetConfig& config);
/// `add element` commands, one per map touched.
std::string render_add_elements(const RulesetConfig& config, const std::vector<Forward>& forwards);
/// `delete element` commands (keys only), one per map touched.
std::string render_delete_elements(const RulesetConfig& config, const std::vector<Forward>& forwards);

struct TableListing {
    bool exists = false;
    std::vector<Forward> forwards;  ///< elements of the four maps
    std::size_t rules = 0;          ///< rule count over all chains
};
/// Parses `nft -j list table ip NAME` (libnftables JSON output).
Result<TableListing> parse_table_listing(const std::string& json, const std::string& table = "isolated");

}  // namespace isolated::net
