// daemon/net against the real kernel: bridge, veth pairs into "apps" (child processes
// in their own network namespace), the nftables table with forwards and NAT, reconcile.
//
// Never touches the machine's network: every test first moves its own thread into a
// fresh network namespace (unshare(CLONE_NEWNET) on the test thread; TestNetns moves it
// back at the end), and the "apps" are children that unshare a namespace of their own
// from there. Bridge, veths and the nftables table live in the test's namespace and go
// away with it, whatever happens; the children die with SIGKILL by PID (and by
// PR_SET_PDEATHSIG if the test process itself dies). Traffic goes only between these
// namespaces.
#include <catch2/catch.hpp>

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstring>
#include <set>

#include "integration/harness.hpp"
#include "net/netlink.hpp"
#include "net/network.hpp"
#include "support/test_env.hpp"
#include "sys/netns.hpp"

// Failed REQUIRE(result) shows the error text.
namespace Catch {
template <typename T>
struct StringMaker<isolated::Result<T>> {
    static std::string convert(const isolated::Result<T>& r) { return r ? "ok" : r.error().to_string(); }
};
}  // namespace Catch

using namespace isolated;
using namespace isolated::net;
using namespace std::chrono_literals;
using isolated::test::TempDir;

namespace {

const std::string kBridge = "isotest0";

void require_root() {
    isolated::test::require_prerequisite(isolated::test::is_root(), "network integration tests need root");
}

ino_t netns_inode(const std::string& path = "/proc/thread-self/ns/net") {
    struct stat st {};
    ::stat(path.c_str(), &st);
    return st.st_ino;
}

// The test thread in a fresh network namespace for the scope's lifetime, lo up.
class TestNetns {
public:
    TestNetns() {
        saved_.reset(::open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC));
        REQUIRE(saved_.valid());
        REQUIRE(::unshare(CLONE_NEWNET) == 0);
        auto sock = open_route_socket();
        REQUIRE(sock);
        REQUIRE(set_link_up(sock->get(), 1, "lo"));
    }
    ~TestNetns() {
        if (::setns(saved_.get(), CLONE_NEWNET) != 0) std::abort();
    }

private:
    unique_fd saved_;
};

// A child in its own network namespace serving TCP and UDP on `port`: each TCP
// connection and each UDP datagram is answered with "<name> peer=<source address>\n".
class AppProcess {
public:
    AppProcess(std::string name, std::uint16_t port) : name_(std::move(name)) {
        int ready[2];
        REQUIRE(::pipe2(ready, O_CLOEXEC) == 0);
        pid_ = ::fork();
        REQUIRE(pid_ >= 0);
        if (pid_ == 0) {
            ::close(ready[0]);
            serve(port, ready[1]);
            ::_exit(0);
        }
        ::close(ready[1]);
        char c = 0;
        bool ok = ::read(ready[0], &c, 1) == 1 && c == 'R';
        ::close(ready[0]);
        REQUIRE(ok);
    }
    ~AppProcess() { kill(); }
    AppProcess(const AppProcess&) = delete;
    AppProcess& operator=(const AppProcess&) = delete;

    void kill() {
        if (pid_ <= 0) return;
        ::kill(pid_, SIGKILL);
        ::waitpid(pid_, nullptr, 0);
        pid_ = -1;
    }
    pid_t pid() const { return pid_; }
    NetnsRef netns() const { return NetnsRef::of_pid(pid_); }

private:
    void serve(std::uint16_t port, int ready) {
        ::prctl(PR_SET_PDEATHSIG, SIGKILL);
        if (::unshare(CLONE_NEWNET) != 0) ::_exit(10);
        int t = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        int u = ::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
        int one = 1;
        ::setsockopt(t, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
        sockaddr_in a{};
        a.sin_family = AF_INET;
        a.sin_port = htons(port);
        if (::bind(t, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 || ::listen(t, 64) != 0) ::_exit(11);
        if (::bind(u, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) ::_exit(12);
        if (::write(ready, "R", 1) != 1) ::_exit(13);
        ::close(ready);
        for (;;) {
            pollfd p[2] = {{t, POLLIN, 0}, {u, POLLIN, 0}};
            if (::poll(p, 2, -1) < 0) continue;
            char reply[128], buf[512];
            sockaddr_in peer{};
            socklen_t len = sizeof peer;
            if (p[0].revents & POLLIN) {
                int c = ::accept4(t, reinterpret_cast<sockaddr*>(&peer), &len, SOCK_CLOEXEC);
                if (c >= 0) {
                    int n = std::snprintf(reply, sizeof reply, "%s peer=%s\n", name_.c_str(),
                                          ::inet_ntoa(peer.sin_addr));
                    (void)::write(c, reply, static_cast<size_t>(n));
                    ::close(c);
                }
            }
            if (p[1].revents & POLLIN) {
                len = sizeof peer;
                if (::recvfrom(u, buf, sizeof buf, 0, reinterpret_cast<sockaddr*>(&peer), &len) >= 0) {
                    int n = std::snprintf(reply, sizeof reply, "%s peer=%s\n", name_.c_str(),
                                          ::inet_ntoa(peer.sin_addr));
                    (void)::sendto(u, reply, static_cast<size_t>(n), 0, reinterpret_cast<sockaddr*>(&peer), len);
                }
            }
        }
    }

    std::string name_;
    pid_t pid_ = -1;
};

sockaddr_in endpoint(const std::string& address, std::uint16_t port) {
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(port);
    ::inet_pton(AF_INET, address.c_str(), &a.sin_addr);
    return a;
}

// Connects from the calling thread's netns; returns what the server sent ("" on failure).
std::string tcp_ask(const std::string& address, std::uint16_t port) {
    unique_fd s(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
    timeval tv{3, 0};
    ::setsockopt(s.get(), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    ::setsockopt(s.get(), SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    auto a = endpoint(address, port);
    if (::connect(s.get(), reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) return "";
    std::string out;
    char buf[256];
    ssize_t n;
    while ((n = ::read(s.get(), buf, sizeof buf)) > 0) out.append(buf, static_cast<size_t>(n));
    return out;
}

std::string udp_ask(const std::string& address, std::uint16_t port) {
    unique_fd s(::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0));
    timeval tv{3, 0};
    ::setsockopt(s.get(), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    auto a = endpoint(address, port);
    if (::sendto(s.get(), "?", 1, 0, reinterpret_cast<sockaddr*>(&a), sizeof a) != 1) return "";
    char buf[256];
    ssize_t n = ::recv(s.get(), buf, sizeof buf, 0);
    return n > 0 ? std::string(buf, static_cast<size_t>(n)) : "";
}

template <typename F>
auto in_netns(const AppProcess& app, F&& f) {
    auto sw = sys::NetnsSwitch::enter(app.netns());
    REQUIRE(sw);
    return f();
}

std::unique_ptr<Network> open_network(const std::string& state_dir = "") {
    NetworkConfig c;
    c.bridge = kBridge;
    c.state_dir = state_dir;
    auto n = Network::open(c);
    REQUIRE(n);
    return std::move(*n);
}

PortSpec port(std::uint16_t host, std::uint16_t app, Protocol proto = Protocol::tcp, std::string addr = "") {
    PortSpec p;
    p.host = host;
    p.app = app;
    p.protocol = proto;
    p.host_address = std::move(addr);
    return p;
}

std::size_t count_links(const std::string& prefix) {
    auto sock = open_route_socket();
    REQUIRE(sock);
    auto links = list_links(sock->get());
    REQUIRE(links);
    std::size_t n = 0;
    for (auto& l : *links)
        if (l.name.rfind(prefix, 0) == 0) ++n;
    return n;
}

// Descriptors of this process without FD_CLOEXEC.
std::set<int> inheritable_fds() {
    std::set<int> out;
    for (int fd = 0; fd < 1024; ++fd) {
        int flags = ::fcntl(fd, F_GETFD);
        if (flags >= 0 && !(flags & FD_CLOEXEC)) out.insert(fd);
    }
    return out;
}

// The test left nothing in the namespace it came from.
void check_nothing_left_outside() {
    CHECK(count_links(kBridge) == 0);
    CHECK(count_links("veth-t") == 0);
}

}  // namespace

TEST_CASE("net: bridge created with its gateway and up and start is repeatable and cleanup removes bridge and table",
          "[net][integration]") {
    require_root();
    const ino_t home = netns_inode();
    {
        TestNetns ns;
        auto before = inheritable_fds();
        auto net = open_network();
        REQUIRE(net->start());
        REQUIRE(net->start());  // adopts what it finds
        CHECK(inheritable_fds() == before);  // every socket the module holds is CLOEXEC
        auto sock = open_route_socket();
        auto br = find_link(sock->get(), kBridge);
        REQUIRE(br);
        REQUIRE(*br);
        CHECK((*br)->type == "bridge");
        CHECK((*br)->up);
        CHECK(*read_sysctl("net/ipv4/ip_forward") == "1");
        CHECK(*read_sysctl("net/ipv4/conf/" + kBridge + "/route_localnet") == "1");
        auto addr = isolated::test::run({"ip", "-4", "-o", "addr", "show", "dev", kBridge});
        CHECK(addr.out.find("10.100.0.1/24") != std::string::npos);
        auto table = isolated::test::run({"nft", "list", "table", "ip", "isolated"});
        CHECK(table.code == 0);
        CHECK(table.out.find("map fwd_tcp") != std::string::npos);

        REQUIRE(net->shutdown_cleanup());
        CHECK_FALSE(*find_link(sock->get(), kBridge));
        CHECK(isolated::test::run({"nft", "list", "table", "ip", "isolated"}).code != 0);
        REQUIRE(net->shutdown_cleanup());  // nothing there: still fine

        // A link of another type under the bridge's name is refused, not reused.
        REQUIRE(isolated::test::run({"ip", "link", "add", kBridge, "type", "veth", "peer", "name", "isotest0p"}).code == 0);
        auto wrong = net->start();
        REQUIRE_FALSE(wrong);
        CHECK(wrong.error().message.find("\"isotest0\" exists and is not a bridge (type \"veth\")") != std::string::npos);
        REQUIRE(delete_link(sock->get(), kBridge));
    }
    CHECK(netns_inode() == home);
    check_nothing_left_outside();
}

TEST_CASE("net: two bridged apps get veth and address and route and reach each other", "[net][integration]") {
    require_root();
    const ino_t home = netns_inode();
    {
        TestNetns ns;
        const ino_t test_ns = netns_inode();
        TempDir state("isolated-net");
        auto net = open_network(state.path());
        REQUIRE(net->start());
        AppProcess web("web", 80), db("db", 5432);

        auto a = net->attach_app("web", web.netns(), std::nullopt, {});
        REQUIRE(a);
        CHECK(a->address.to_string() == "10.100.0.2");
        CHECK(a->host_veth == "veth-web");
        CHECK(netns_inode() == test_ns);  // the thread is back
        auto b = net->attach_app("db", db.netns(), Ipv4::parse("10.100.0.20"), {});
        REQUIRE(b);
        CHECK(b->address.to_string() == "10.100.0.20");

        // Host end on the bridge and up; eth0 inside with the address and default route.
        auto sock = open_route_socket();
        auto br = *find_link(sock->get(), kBridge);
        auto veth = *find_link(sock->get(), "veth-web");
        REQUIRE(veth);
        CHECK(veth->master == br->index);
        CHECK(veth->up);
        std::string inside = in_netns(web, [] {
            return isolated::test::run({"ip", "-4", "-o", "addr"}).out + isolated::test::run({"ip", "route"}).out;
        });
        CHECK(inside.find("eth0    inet 10.100.0.2/24") != std::string::npos);
        CHECK(inside.find("lo    inet 127.0.0.1/8") != std::string::npos);
        CHECK(inside.find("default via 10.100.0.1 dev eth0") != std::string::npos);

        // App to app by address, host to app, app to itself over lo.
        CHECK(in_netns(web, [] { return tcp_ask("10.100.0.20", 5432); }) == "db peer=10.100.0.2\n");
        CHECK(in_netns(db, [] { return tcp_ask("10.100.0.2", 80); }) == "web peer=10.100.0.20\n");
        CHECK(tcp_ask("10.100.0.2", 80) == "web peer=10.100.0.1\n");
        CHECK(in_netns(web, [] { return tcp_ask("127.0.0.1", 80); }) == "web peer=127.0.0.1\n");

        // Discovery: each app's hosts file names both.
        std::string hosts = net->hosts_file_for("web", "web");
        CHECK(hosts.find("10.100.0.2\tweb\n") != std::string::npos);
        CHECK(hosts.find("10.100.0.20\tdb\n") != std::string::npos);

        // The app dies: its netns takes the veth along (nothing to delete on stop).
        REQUIRE(net->detach_app("web"));
        web.kill();
        CHECK(isolated::test::wait_until([&] { return !*find_link(sock->get(), "veth-web"); }, 5s));

        // Leases survive a daemon restart (a new Network on the same state dir).
        auto again = open_network(state.path());
        CHECK(again->address_of("web") == Ipv4::parse("10.100.0.2"));
        CHECK(again->address_of("db") == Ipv4::parse("10.100.0.20"));
    }
    CHECK(netns_inode() == home);
    check_nothing_left_outside();
}

TEST_CASE("net: port forwards reach the app from localhost and the bridge address and another app and outside and NAT goes out",
          "[net][integration]") {
    require_root();
    {
        TestNetns ns;
        auto net = open_network();
        REQUIRE(net->start());
        AppProcess web("web", 80), other("other", 1), client("client", 9000);

        auto a = net->attach_app("web", web.netns(), std::nullopt,
                                 {port(8080, 80), port(5353, 80, Protocol::udp), port(8443, 80, Protocol::tcp,
                                                                                         "127.0.0.1")});
        REQUIRE(a);
        REQUIRE(net->attach_app("other", other.netns(), std::nullopt, {}));

        // A "client host" on a second bridge of the test namespace (192.168.77.0/24),
        // wired with the module's own veth code.
        auto sock = open_route_socket();
        REQUIRE(ensure_bridge(sock->get(), "isotest-out", *Ipv4::parse("192.168.77.1"), 24));
        REQUIRE(setup_veth(sock->get(), client.netns(),
                           VethRequest{"veth-tclient", "isotest-out", *Ipv4::parse("192.168.77.2"), 24,
                                       *Ipv4::parse("192.168.77.1")}));

        // From the host itself: 127.0.0.1 (route_localnet + masquerade to the gateway)
        // and the bridge address.
        CHECK(tcp_ask("127.0.0.1", 8080) == "web peer=10.100.0.1\n");
        CHECK(tcp_ask("10.100.0.1", 8080) == "web peer=10.100.0.1\n");
        CHECK(udp_ask("127.0.0.1", 5353) == "web peer=10.100.0.1\n");
        // Bound to one host address: only there.
        CHECK(tcp_ask("127.0.0.1", 8443) == "web peer=10.100.0.1\n");
        CHECK(tcp_ask("10.100.0.1", 8443) == "");
        // From another app through the host's address (hairpin, masqueraded), and from
        // the app itself through its own forward.
        CHECK(in_netns(other, [] { return tcp_ask("10.100.0.1", 8080); }) == "web peer=10.100.0.1\n");
        CHECK(in_netns(other, [] { return udp_ask("10.100.0.1", 5353); }) == "web peer=10.100.0.1\n");
        CHECK(in_netns(web, [] { return tcp_ask("10.100.0.1", 8080); }) == "web peer=10.100.0.1\n");
        // From outside: the client keeps its own address (DNAT only).
        CHECK(in_netns(client, [] { return tcp_ask("192.168.77.1", 8080); }) == "web peer=192.168.77.2\n");
        // An app reaching out is masqueraded to the host's outgoing address.
        CHECK(in_netns(web, [] { return tcp_ask("192.168.77.2", 9000); }) == "client peer=192.168.77.1\n");
        // The forward is only for local destinations: the app's traffic to port 8080 of
        // a remote address is not redirected.
        CHECK(in_netns(other, [] { return tcp_ask("192.168.77.2", 8080); }) == "");

        // Removing the forwards: the port is closed again; the app itself still answers.
        REQUIRE(net->detach_app("web"));
        CHECK(tcp_ask("127.0.0.1", 8080) == "");
        CHECK(tcp_ask("10.100.0.2", 80) == "web peer=10.100.0.1\n");
    }
    check_nothing_left_outside();
}

TEST_CASE("net: 1000 forwards are map elements so the rule count stays and removing an app takes exactly its elements",
          "[net][integration]") {
    require_root();
    {
        TestNetns ns;
        auto net = open_network();
        REQUIRE(net->start());
        AppProcess web("web", 80), db("db", 5432);
        auto rules_before = net->read_table()->rules;

        std::vector<PortSpec> many;
        for (std::uint16_t p = 20000; p < 21000; ++p) many.push_back(port(p, 80));
        REQUIRE(net->attach_app("web", web.netns(), std::nullopt, many));
        REQUIRE(net->attach_app("db", db.netns(), std::nullopt, {port(5432, 5432), port(5432, 5432, Protocol::udp)}));

        auto listing = net->read_table();
        REQUIRE(listing);
        CHECK(listing->rules == rules_before);
        CHECK(listing->forwards.size() == 1002);
        CHECK(tcp_ask("127.0.0.1", 20999) == "web peer=10.100.0.1\n");
        CHECK(tcp_ask("127.0.0.1", 5432) == "db peer=10.100.0.1\n");
        auto nft_rules = isolated::test::run({"sh", "-c", "nft list table ip isolated | grep -c -E 'dnat|masquerade|jump'"});
        CHECK(nft_rules.out == "9\n");  // 4 dnat, 2 jumps, 3 masquerade

        REQUIRE(net->detach_app("web"));
        listing = net->read_table();
        REQUIRE(listing->forwards.size() == 2);
        for (auto& f : listing->forwards) CHECK(f.app == "db");
        CHECK(tcp_ask("127.0.0.1", 5432) == "db peer=10.100.0.1\n");

        // Changing an app's ports replaces its elements in one go.
        REQUIRE(net->attach_app("db", db.netns(), std::nullopt, {port(15432, 5432)}));
        listing = net->read_table();
        REQUIRE(listing->forwards.size() == 1);
        CHECK(listing->forwards[0].host_port == 15432);
    }
    check_nothing_left_outside();
}

TEST_CASE("net: port conflicts with another app's forward and with a host listener", "[net][integration]") {
    require_root();
    {
        TestNetns ns;
        auto net = open_network();
        REQUIRE(net->start());
        AppProcess web("web", 80), api("api", 80);
        REQUIRE(net->attach_app("web", web.netns(), std::nullopt, {port(8080, 80)}));

        auto clash = net->attach_app("api", api.netns(), std::nullopt, {port(8080, 80)});
        REQUIRE_FALSE(clash);
        CHECK(clash.error().message == "app \"api\": port 8080/tcp is already used by app \"web\"");
        CHECK(net->forwards().size() == 1);
        CHECK(count_links("veth-api") == 0);

        // A process of the host listening on 127.0.0.1:7070 in this namespace.
        unique_fd s(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
        auto a = endpoint("127.0.0.1", 7070);
        REQUIRE(::bind(s.get(), reinterpret_cast<sockaddr*>(&a), sizeof a) == 0);
        REQUIRE(::listen(s.get(), 1) == 0);
        auto st = net->check_ports("api", {port(7070, 80)});
        REQUIRE_FALSE(st);
        CHECK(st.error().message == "app \"api\": port 7070/tcp is already used by a process on the host");
        CHECK(net->check_ports("api", {port(7070, 80, Protocol::udp)}));
        CHECK(net->check_ports("api", {port(7070, 80, Protocol::tcp, "10.100.0.1")}));
        // Defined but not running apps count when the caller lists them (reload).
        auto defined = net->check_ports("api", {port(9000, 80)}, {{"batch", {port(9000, 1)}}});
        REQUIRE_FALSE(defined);
        CHECK(defined.error().message == "app \"api\": port 9000/tcp is already used by app \"batch\"");
    }
    check_nothing_left_outside();
}

TEST_CASE("net: reconcile removes stray veths and stale elements and keeps running apps and leases follow the apps",
          "[net][integration]") {
    require_root();
    {
        TestNetns ns;
        TempDir state("isolated-net");
        auto net = open_network(state.path());
        REQUIRE(net->start());
        AppProcess web("web", 80), db("db", 5432), ghost("ghost", 1);
        REQUIRE(net->attach_app("web", web.netns(), std::nullopt, {port(8080, 80)}));
        REQUIRE(net->attach_app("db", db.netns(), std::nullopt, {port(5432, 5432)}));
        REQUIRE(net->attach_app("ghost", ghost.netns(), std::nullopt, {port(7777, 1)}));

        // The daemon "restarts": a new Network adopts the table and the leases.
        net.reset();
        auto next = open_network(state.path());
        REQUIRE(next->start());
        CHECK(next->forwards().size() == 3);
        CHECK(tcp_ask("127.0.0.1", 8080) == "web peer=10.100.0.1\n");

        // Only web and db run now; ghost's netns is still alive (its process lingers), so
        // its veth is a stray. db stays defined; ghost was removed from the apps dir.
        REQUIRE(next->reconcile({{"web", std::nullopt}, {"db", std::nullopt}, {"pinned", Ipv4::parse("10.100.0.50")}},
                                {"web", "db"}));
        auto listing = next->read_table();
        REQUIRE(listing->forwards.size() == 2);
        for (auto& f : listing->forwards) CHECK(f.app != "ghost");
        CHECK(count_links("veth-ghost") == 0);
        CHECK(count_links("veth-web") == 1);
        CHECK(count_links("veth-db") == 1);
        CHECK(in_netns(ghost, [] { return count_links("eth0"); }) == 0);  // went with its peer
        CHECK_FALSE(next->address_of("ghost"));
        CHECK(next->address_of("pinned") == Ipv4::parse("10.100.0.50"));
        CHECK(next->addresses().size() == 3);
        CHECK(tcp_ask("127.0.0.1", 8080) == "web peer=10.100.0.1\n");
        CHECK(tcp_ask("127.0.0.1", 7777) == "");

        // Nothing running: everything goes but the leases of defined apps.
        REQUIRE(next->reconcile({{"web", std::nullopt}}, {}));
        CHECK(next->read_table()->forwards.empty());
        CHECK(count_links("veth-") == 0);
        CHECK(next->addresses().size() == 1);
        REQUIRE(next->shutdown_cleanup());
    }
    check_nothing_left_outside();
}

TEST_CASE("net: restarting an app whose old veth still exists and loopback-only apps", "[net][integration]") {
    require_root();
    {
        TestNetns ns;
        auto net = open_network();
        REQUIRE(net->start());
        AppProcess first("first", 80), second("second", 80), lonely("lonely", 80);
        REQUIRE(net->attach_app("web", first.netns(), std::nullopt, {port(8080, 80)}));
        // The new instance comes up while the old netns (and veth-web) still exists.
        auto again = net->attach_app("web", second.netns(), std::nullopt, {port(8080, 80)});
        REQUIRE(again);
        CHECK(again->address.to_string() == "10.100.0.2");
        CHECK(tcp_ask("127.0.0.1", 8080) == "second peer=10.100.0.1\n");
        CHECK(net->read_table()->forwards.size() == 1);

        REQUIRE(Network::setup_loopback(lonely.netns()));
        CHECK(in_netns(lonely, [] { return tcp_ask("127.0.0.1", 80); }) == "lonely peer=127.0.0.1\n");
        CHECK(in_netns(lonely, [] { return count_links("eth0"); }) == 0);

        // A netns that is gone is an error, and the thread stays home.
        const ino_t test_ns = netns_inode();
        auto gone = net->attach_app("late", NetnsRef::of_pid(999999999), std::nullopt, {port(9999, 1)});
        REQUIRE_FALSE(gone);
        CHECK(gone.error().to_string().find("/proc/999999999/ns/net") != std::string::npos);
        CHECK(netns_inode() == test_ns);
        CHECK(net->read_table()->forwards.size() == 1);  // late's forward rolled back
    }
    check_nothing_left_outside();
}
