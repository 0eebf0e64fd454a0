// daemon/net pure parts: addresses, leases, the nftables ruleset text and listing
// parser, /proc/net port tables, hosts and resolv.conf rendering. No root, no kernel.
#include <catch2/catch.hpp>

#include <filesystem>

#include "net/discovery.hpp"
#include "net/ipv4.hpp"
#include "net/leases.hpp"
#include "net/netlink.hpp"
#include "net/network.hpp"
#include "net/nft_ruleset.hpp"
#include "net/ports.hpp"
#include "support/test_env.hpp"

using namespace isolated;
using namespace isolated::net;
using isolated::test::TempDir;

namespace {

Ipv4 ip(const char* s) { return *Ipv4::parse(s); }
Subnet subnet(const char* s) { return *Subnet::parse(s); }

PortSpec port(std::uint16_t host, std::uint16_t app, Protocol proto = Protocol::tcp, std::string addr = "") {
    PortSpec p;
    p.host = host;
    p.app = app;
    p.protocol = proto;
    p.host_address = std::move(addr);
    return p;
}

}  // namespace

TEST_CASE("IPv4 addresses and subnets parse and print", "[net]") {
    CHECK(ip("10.100.0.1").value == 0x0a640001u);
    CHECK(ip("10.100.0.1").to_string() == "10.100.0.1");
    CHECK_FALSE(Ipv4::parse("10.100.0"));
    CHECK_FALSE(Ipv4::parse("10.100.0.256"));
    CHECK_FALSE(Ipv4::parse(""));
    auto s = subnet("10.100.0.0/24");
    CHECK(s.gateway() == ip("10.100.0.1"));
    CHECK(s.broadcast() == ip("10.100.0.255"));
    CHECK(s.contains(ip("10.100.0.77")));
    CHECK_FALSE(s.contains(ip("10.100.1.1")));
    CHECK(s.assignable(ip("10.100.0.2")));
    CHECK_FALSE(s.assignable(ip("10.100.0.0")));
    CHECK_FALSE(s.assignable(ip("10.100.0.1")));
    CHECK_FALSE(s.assignable(ip("10.100.0.255")));
    CHECK(s.to_string() == "10.100.0.0/24");
    CHECK(NetworkConfig{}.subnet == s);
    CHECK_FALSE(Subnet::parse("10.100.0.7/24"));
    CHECK(Subnet::parse("10.100.0.7/24").error().message.find("did you mean 10.100.0.0/24") != std::string::npos);
    CHECK_FALSE(Subnet::parse("10.100.0.0"));
    CHECK_FALSE(Subnet::parse("10.100.0.0/31"));
    CHECK_FALSE(Subnet::parse("10.100.0.0/x"));
    CHECK(Subnet::parse("172.20.0.0/16"));
}

TEST_CASE("leases: lowest free address and sticky per app and released on removal", "[net][leases]") {
    Leases l(subnet("10.100.0.0/24"), "");
    CHECK(*l.acquire("web") == ip("10.100.0.2"));
    CHECK(*l.acquire("db") == ip("10.100.0.3"));
    CHECK(*l.acquire("web") == ip("10.100.0.2"));  // sticky
    CHECK(l.release("web"));
    CHECK(*l.acquire("ftp") == ip("10.100.0.2"));  // freed address reused
    CHECK(*l.acquire("web") == ip("10.100.0.4"));
    CHECK(l.holder(ip("10.100.0.3")) == std::optional<std::string>("db"));
    CHECK(l.retain_only({"web"}));
    CHECK(l.all().size() == 1);
    CHECK(l.find("web") == ip("10.100.0.4"));
}

TEST_CASE("leases: pinned addresses are validated and win", "[net][leases]") {
    Leases l(subnet("10.100.0.0/24"), "");
    CHECK(*l.acquire("web", ip("10.100.0.50")) == ip("10.100.0.50"));
    CHECK(*l.acquire("web") == ip("10.100.0.50"));
    // A different pin moves the app.
    CHECK(*l.acquire("web", ip("10.100.0.51")) == ip("10.100.0.51"));
    CHECK_FALSE(l.holder(ip("10.100.0.50")));
    auto taken = l.acquire("db", ip("10.100.0.51"));
    REQUIRE_FALSE(taken);
    CHECK(taken.error().message == "network.address 10.100.0.51 is already leased to app \"web\"");
    CHECK(l.acquire("db", ip("10.100.1.5")).error().message.find("outside the subnet 10.100.0.0/24") !=
          std::string::npos);
    CHECK(l.acquire("db", ip("10.100.0.1")).error().message.find("gateway") != std::string::npos);
    CHECK(l.acquire("db", ip("10.100.0.0")).error().message.find("network or broadcast") != std::string::npos);
    CHECK(l.acquire("db", ip("10.100.0.255")).error().message.find("network or broadcast") != std::string::npos);
    // Reserved (pinned by a defined app that has no lease yet) is skipped by the pool.
    l.set_reserved({ip("10.100.0.2"), ip("10.100.0.3")});
    CHECK(*l.acquire("db") == ip("10.100.0.4"));
}

TEST_CASE("leases: exhaustion is a clear error", "[net][leases]") {
    Leases l(subnet("10.100.0.0/30"), "");  // .0 network, .1 gateway, .2 only, .3 broadcast
    CHECK(*l.acquire("a") == ip("10.100.0.2"));
    auto r = l.acquire("b");
    REQUIRE_FALSE(r);
    CHECK(r.error().message == "no free address left in 10.100.0.0/30 for app \"b\" (1 leased)");
}

TEST_CASE("leases: persisted atomically and reloaded", "[net][leases]") {
    TempDir dir("isolated-leases");
    const std::string path = dir / "leases.json";
    {
        Leases l(subnet("10.100.0.0/24"), path);
        REQUIRE(l.acquire("web"));
        REQUIRE(l.acquire("db", ip("10.100.0.9")));
    }
    CHECK_FALSE(std::filesystem::exists(path + ".tmp"));
    auto loaded = Leases::load(subnet("10.100.0.0/24"), path);
    REQUIRE(loaded);
    CHECK(loaded->find("web") == ip("10.100.0.2"));
    CHECK(loaded->find("db") == ip("10.100.0.9"));
    CHECK(*loaded->acquire("web") == ip("10.100.0.2"));

    // Another --subnet: leases outside it are dropped.
    auto other = Leases::load(subnet("10.200.0.0/24"), path);
    REQUIRE(other);
    CHECK(other->all().empty());

    // Missing file: empty pool. Damaged (here: cut short): set aside as .bad with a
    // warning naming the file, and an empty pool -- never a daemon that cannot start.
    CHECK(Leases::load(subnet("10.100.0.0/24"), dir / "none.json")->all().empty());
    for (const std::string text : {"", "{not json", "{\"leases\": {\"web\": \"10.1", "[1]"}) {
        INFO(text);
        isolated::test::write_file(dir / "bad.json", text);
        std::string warning;
        auto bad = Leases::load(subnet("10.100.0.0/24"), dir / "bad.json", &warning);
        REQUIRE(bad);
        CHECK(bad->all().empty());
        CHECK(warning.find("bad.json\" is damaged") != std::string::npos);
        CHECK_FALSE(std::filesystem::exists(dir / "bad.json"));
        CHECK(std::filesystem::exists(dir / "bad.json.bad"));
    }
}

TEST_CASE("nftables: the table is one fixed set of rules with forwards as map elements", "[net][nft]") {
    RulesetConfig c{"isolated", "isolated0", subnet("10.100.0.0/24")};
    std::vector<Forward> fwd = {
        {"web", Protocol::tcp, std::nullopt, 8080, ip("10.100.0.2"), 80},
        {"web", Protocol::udp, std::nullopt, 5353, ip("10.100.0.2"), 53},
        {"db", Protocol::tcp, ip("127.0.0.1"), 5432, ip("10.100.0.3"), 5432},
    };
    std::string t = render_table(c, fwd);
    CHECK(t.rfind("add table ip isolated\ndelete table ip isolated\ntable ip isolated {\n", 0) == 0);
    CHECK(t.find("map fwd_tcp { type inet_service : ipv4_addr . inet_service; }") != std::string::npos);
    CHECK(t.find("map fwd_udp_addr { type ipv4_addr . inet_service : ipv4_addr . inet_service; }") !=
          std::string::npos);
    CHECK(t.find("dnat ip to ip daddr . tcp dport map @fwd_tcp_addr") != std::string::npos);
    CHECK(t.find("fib daddr type local dnat ip to udp dport map @fwd_udp") != std::string::npos);
    CHECK(t.find("type nat hook prerouting priority dstnat") != std::string::npos);
    CHECK(t.find("type nat hook output priority -100") != std::string::npos);
    CHECK(t.find("ip saddr 10.100.0.0/24 oifname != \"isolated0\" masquerade") != std::string::npos);
    CHECK(t.find("ip saddr 127.0.0.0/8 oifname \"isolated0\" masquerade") != std::string::npos);
    CHECK(t.find("ct status dnat ip saddr 10.100.0.0/24 oifname \"isolated0\" masquerade") != std::string::npos);
    CHECK(t.find("add element ip isolated fwd_tcp { 8080 comment \"web\" : 10.100.0.2 . 80 }") !=
          std::string::npos);
    CHECK(t.find("add element ip isolated fwd_tcp_addr { 127.0.0.1 . 5432 comment \"db\" : 10.100.0.3 . 5432 }") !=
          std::string::npos);

    // Adding 1000 forwards adds elements, not rules.
    std::vector<Forward> many;
    for (std::uint16_t p = 10000; p < 11000; ++p)
        many.push_back({"web", Protocol::tcp, std::nullopt, p, ip("10.100.0.2"), p});
    auto rules = [](const std::string& text) {
        return std::count(text.begin(), text.end(), '\n');
    };
    CHECK(rules(render_table(c, many)) == rules(render_table(c, {})) + 1);

    CHECK(render_delete_elements(c, {fwd[0], fwd[2]}) ==
          "delete element ip isolated fwd_tcp { 8080 }\ndelete element ip isolated fwd_tcp_addr { 127.0.0.1 . 5432 }\n");
    CHECK(fwd[2].host_side() == "127.0.0.1:5432/tcp");
    CHECK(fwd[1].host_side() == "5353/udp");
}

TEST_CASE("nftables: the JSON listing gives back the elements and their apps", "[net][nft]") {
    // `nft -j list table ip isolated` from nftables 1.0.6, trimmed.
    const std::string listing = R"({"nftables": [
      {"metainfo": {"version": "1.0.6", "json_schema_version": 1}},
      {"table": {"family": "ip", "name": "isolated", "handle": 1}},
      {"map": {"family": "ip", "name": "fwd_tcp", "table": "isolated", "type": "inet_service", "handle": 5,
               "map": "ipv4_addr . inet_service",
               "elem": [[{"elem": {"val": 8080, "comment": "web"}}, {"concat": ["10.100.0.2", 80]}],
                        [9090, {"concat": ["10.100.0.4", 90]}]]}},
      {"map": {"family": "ip", "name": "fwd_udp_addr", "table": "isolated", "type": ["ipv4_addr", "inet_service"],
               "handle": 6, "map": "ipv4_addr . inet_service",
               "elem": [[{"elem": {"val": {"concat": ["127.0.0.1", 5353]}, "comment": "dns"}},
                         {"concat": ["10.100.0.3", 53]}]]}},
      {"map": {"family": "ip", "name": "other", "table": "isolated", "type": "inet_service", "handle": 7,
               "map": "ipv4_addr . inet_service", "elem": [[1, {"concat": ["10.100.0.9", 1]}]]}},
      {"chain": {"family": "ip", "table": "isolated", "name": "forwards", "handle": 9}},
      {"rule": {"family": "ip", "table": "isolated", "chain": "forwards", "handle": 10, "expr": []}},
      {"rule": {"family": "ip", "table": "isolated", "chain": "forwards", "handle": 11, "expr": []}},
      {"rule": {"family": "ip", "table": "someone-else", "chain": "x", "handle": 12, "expr": []}}
    ]})";
    auto l = parse_table_listing(listing);
    REQUIRE(l);
    CHECK(l->exists);
    CHECK(l->rules == 2);
    REQUIRE(l->forwards.size() == 3);
    CHECK(l->forwards[0] == Forward{"web", Protocol::tcp, std::nullopt, 8080, ip("10.100.0.2"), 80});
    CHECK(l->forwards[1] == Forward{"", Protocol::tcp, std::nullopt, 9090, ip("10.100.0.4"), 90});
    CHECK(l->forwards[2] == Forward{"dns", Protocol::udp, ip("127.0.0.1"), 5353, ip("10.100.0.3"), 53});

    auto none = parse_table_listing(R"({"nftables": [{"metainfo": {}}]})");
    REQUIRE(none);
    CHECK_FALSE(none->exists);
    CHECK_FALSE(parse_table_listing("nope"));
}

TEST_CASE("forwards are built from the app's ports", "[net]") {
    auto f = forwards_for("web", ip("10.100.0.2"), {port(8080, 80), port(53, 53, Protocol::udp, "127.0.0.1")});
    REQUIRE(f);
    REQUIRE(f->size() == 2);
    CHECK((*f)[0] == Forward{"web", Protocol::tcp, std::nullopt, 8080, ip("10.100.0.2"), 80});
    CHECK((*f)[1] == Forward{"web", Protocol::udp, ip("127.0.0.1"), 53, ip("10.100.0.2"), 53});
    CHECK_FALSE(forwards_for("web", ip("10.100.0.2"), {port(8080, 80, Protocol::tcp, "::1")}));
    CHECK(*parse_pinned_address("") == std::nullopt);
    CHECK(*parse_pinned_address("10.100.0.7") == ip("10.100.0.7"));
    CHECK_FALSE(parse_pinned_address("web"));
}

TEST_CASE("host-side veth names fit IFNAMSIZ and differ per app", "[net]") {
    CHECK(veth_name_for("web") == "veth-web");
    CHECK(veth_name_for("postgres1") == "veth-postgres1");
    auto long1 = veth_name_for("postgres-primary");
    auto long2 = veth_name_for("postgres-replica");
    CHECK(long1.size() == 15);
    CHECK(long1.rfind("veth-po-", 0) == 0);
    CHECK(long1 != long2);
    CHECK(veth_name_for(std::string(32, 'a')).size() == 15);
}

TEST_CASE("/proc/net tables: listeners and their addresses", "[net][ports]") {
    // Captured from a little-endian machine; tcp: LISTEN on 127.0.0.1:8080 and 0.0.0.0:22,
    // one ESTABLISHED (not a listener).
    const std::string tcp =
        "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n"
        "   0: 0100007F:1F90 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 1234 1 0 100 0 0 10 0\n"
        "   1: 00000000:0016 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 1235 1 0 100 0 0 10 0\n"
        "   2: 0100007F:A1B2 0100007F:1F90 01 00000000:00000000 00:00000000 00000000     0        0 1236 1 0 20 4 30 10 -1\n";
    auto l = parse_proc_net(tcp, Protocol::tcp, false);
    REQUIRE(l.size() == 2);
    CHECK(l[0] == Listener{Protocol::tcp, 8080, ip("127.0.0.1")});
    CHECK(l[1] == Listener{Protocol::tcp, 22, std::nullopt});

    // tcp6: [::]:80 (any), [::ffff:10.0.0.5]:443 (v4-mapped), [::1]:631 (not shadowed by IPv4)
    const std::string tcp6 =
        "  sl  local_address                         remote_address                        st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n"
        "   0: 00000000000000000000000000000000:0050 00000000000000000000000000000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 1 1 0 100 0 0 10 0\n"
        "   1: 0000000000000000FFFF00000500000A:01BB 00000000000000000000000000000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 2 1 0 100 0 0 10 0\n"
        "   2: 00000000000000000000000001000000:0277 00000000000000000000000000000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 3 1 0 100 0 0 10 0\n";
    auto l6 = parse_proc_net(tcp6, Protocol::tcp, true);
    REQUIRE(l6.size() == 2);
    CHECK(l6[0] == Listener{Protocol::tcp, 80, std::nullopt});
    CHECK(l6[1] == Listener{Protocol::tcp, 443, ip("10.0.0.5")});

    // udp: every bound socket counts (state 07 = unconnected).
    const std::string udp =
        "   sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode ref pointer drops\n"
        "  100: 00000000:14E9 00000000:0000 07 00000000:00000000 00:00000000 00000000     0        0 77 2 0 0\n";
    auto lu = parse_proc_net(udp, Protocol::udp, false);
    REQUIRE(lu.size() == 1);
    CHECK(lu[0] == Listener{Protocol::udp, 5353, std::nullopt});
}

TEST_CASE("port conflicts name the app or the host process", "[net][ports]") {
    std::map<std::string, std::vector<PortSpec>> others = {{"web", {port(8080, 80)}},
                                                           {"dns", {port(53, 53, Protocol::udp, "127.0.0.1")}}};
    std::vector<Listener> host = {{Protocol::tcp, 22, std::nullopt}, {Protocol::tcp, 631, ip("127.0.0.1")}};

    CHECK(find_port_conflict("api", {port(8080, 8080)}, others, host) ==
          std::optional<std::string>("port 8080/tcp is already used by app \"web\""));
    CHECK(find_port_conflict("api", {port(22, 22)}, others, host) ==
          std::optional<std::string>("port 22/tcp is already used by a process on the host"));
    // Same port, other protocol: fine. Different specific addresses: fine.
    CHECK_FALSE(find_port_conflict("api", {port(8080, 80, Protocol::udp)}, others, host));
    CHECK_FALSE(find_port_conflict("api", {port(53, 53, Protocol::udp, "10.0.0.1")}, others, host));
    CHECK(find_port_conflict("api", {port(53, 53, Protocol::udp)}, others, host) ==
          std::optional<std::string>("port 53/udp is already used by app \"dns\""));
    CHECK(find_port_conflict("api", {port(631, 631, Protocol::tcp, "127.0.0.1")}, others, host) ==
          std::optional<std::string>("port 127.0.0.1:631/tcp is already used by a process on the host"));
    CHECK_FALSE(find_port_conflict("api", {port(631, 631, Protocol::tcp, "10.1.1.1")}, others, host));
    // An app never conflicts with itself; a port listed twice does.
    CHECK_FALSE(find_port_conflict("web", {port(8080, 80)}, others, {}));
    CHECK(find_port_conflict("api", {port(9000, 1), port(9000, 2)}, {}, {}) ==
          std::optional<std::string>("port 9000/tcp is listed twice"));
}

TEST_CASE("/etc/hosts lists every bridged app and the app's own hostname", "[net][discovery]") {
    std::map<std::string, Ipv4> apps = {{"web", ip("10.100.0.2")}, {"db", ip("10.100.0.3")}};
    std::string h = render_hosts("web", "www", ip("10.100.0.2"), apps);
    CHECK(h.find("127.0.0.1\tlocalhost\n") != std::string::npos);
    CHECK(h.find("::1\tlocalhost ip6-localhost ip6-loopback\n") != std::string::npos);
    CHECK(h.find("10.100.0.2\twww web\n") != std::string::npos);
    CHECK(h.find("10.100.0.3\tdb\n") != std::string::npos);
    CHECK(h.find("10.100.0.2\tweb\n") == std::string::npos);  // own line only once

    std::string none = render_hosts("batch", "batch", std::nullopt, apps);
    CHECK(none.find("127.0.1.1\tbatch\n") != std::string::npos);
    CHECK(none.find("10.100.0.2\tweb\n") != std::string::npos);
}

TEST_CASE("resolv.conf: the host's minus loopback nameservers unless configured", "[net][discovery]") {
    const std::string host =
        "# generated\nsearch example.com\nnameserver 127.0.0.53\nnameserver 192.0.2.53\nnameserver ::1\n"
        "options edns0\n";
    CHECK(render_resolv_conf(host) == "# generated\nsearch example.com\nnameserver 192.0.2.53\noptions edns0\n");
    CHECK(render_resolv_conf("nameserver 127.0.0.53\nsearch lan\n") == "search lan\n");
    CHECK(render_resolv_conf(host, {"9.9.9.9"}) ==
          "# generated\nsearch example.com\noptions edns0\nnameserver 9.9.9.9\n");
}
