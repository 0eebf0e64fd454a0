// The memory floor of the daemon's dependency set (issue 19, item 4): a program that
// links exactly the libraries `isolated` links (no daemon code), starts them the way
// the daemon does at start -- an Asio io_context with two Unix-socket acceptors, a
// libnftables context that lists and makes a table, an rtnetlink socket that reads the
// links, a seccomp filter compiled to BPF, program_options parsing a command line,
// sd_notify; OpenSSL mapped but not started, as the daemon's until its first https
// probe, pull or image digest (`--openssl` starts it: one SHA-256 and one TLS client
// context, to measure what that first use costs) -- and then sleeps. Its VmRSS is what any
// daemon with these libraries costs before its own code and data; isolated-bench-daemon
// --only memory runs it beside the daemon and prints both.
//
// Kernel objects are made in a network namespace of its own (unshare), so nothing is
// left on the host. Run as root. `--pause` sleeps until killed; otherwise it prints its
// VmRSS and Pss in kB ("VmRSS 1234 Pss 567") and exits.
#include <fcntl.h>
#include <sched.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <string>
#include <thread>

#include <boost/asio/io_context.hpp>
#include <boost/asio/local/stream_protocol.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/program_options.hpp>
#include <netlink/netlink.h>
#include <netlink/route/link.h>
#include <nftables/libnftables.h>
#include <openssl/evp.h>
#include <openssl/ssl.h>
#include <seccomp.h>
#include <systemd/sd-daemon.h>

namespace {

long kb_field(const std::string& file, const std::string& key) {
    std::ifstream in(file);
    std::string line;
    while (std::getline(in, line))
        if (line.rfind(key + ":", 0) == 0) return std::atol(line.c_str() + key.size() + 1);
    return -1;
}

}  // namespace

int main(int argc, char** argv) {
    namespace po = boost::program_options;
    bool pause = false, openssl = false;
    std::string dir = "/tmp";
    po::options_description desc("rss_floor");
    desc.add_options()("pause", po::bool_switch(&pause), "sleep until killed")(
        "openssl", po::bool_switch(&openssl), "start OpenSSL (a digest, a TLS client context)")(
        "dir", po::value(&dir), "where the sockets go");
    po::variables_map vm;
    po::store(po::parse_command_line(argc, argv, desc), vm);
    po::notify(vm);

    if (::unshare(CLONE_NEWNET) != 0) {
        std::perror("unshare(CLONE_NEWNET) (run as root)");
        return 1;
    }
    sd_notify(0, "STATUS=rss floor");

    // libnftables: a context, a listing, a table with a chain and a map, as the daemon's.
    nft_ctx* nft = nft_ctx_new(NFT_CTX_DEFAULT);
    nft_ctx_buffer_output(nft);
    nft_ctx_buffer_error(nft);
    nft_run_cmd_from_buffer(nft, "list tables ip\n");
    nft_run_cmd_from_buffer(nft,
                            "add table ip floor\n"
                            "add chain ip floor prerouting { type nat hook prerouting priority -100; }\n"
                            "add map ip floor fwd { type inet_proto . inet_service : ipv4_addr . inet_service; }\n"
                            "add rule ip floor prerouting dnat ip to meta l4proto . th dport map @fwd\n");
    nft_ctx_output_set_flags(nft, NFT_CTX_OUTPUT_JSON);
    nft_run_cmd_from_buffer(nft, "list table ip floor\n");

    // rtnetlink: one socket, the links read.
    nl_sock* nl = nl_socket_alloc();
    nl_connect(nl, NETLINK_ROUTE);
    nl_cache* links = nullptr;
    rtnl_link_alloc_cache(nl, AF_UNSPEC, &links);

    // seccomp: a filter compiled to BPF, as each sandbox's plan carries.
    scmp_filter_ctx sc = seccomp_init(SCMP_ACT_ALLOW);
    seccomp_rule_add(sc, SCMP_ACT_ERRNO(EPERM), SCMP_SYS(kexec_load), 0);
    int devnull = ::open("/dev/null", O_WRONLY | O_CLOEXEC);
    seccomp_export_bpf(sc, devnull);
    seccomp_release(sc);

    // OpenSSL: mapped (the daemon links it), started only with --openssl.
    if (openssl) {
        unsigned char md[EVP_MAX_MD_SIZE];
        unsigned n = 0;
        EVP_Digest("floor", 5, md, &n, EVP_sha256(), nullptr);
        SSL_CTX_free(SSL_CTX_new(TLS_client_method()));
    }

    // Asio: the loop and the two API listeners.
    boost::asio::io_context io(1);
    using local = boost::asio::local::stream_protocol;
    std::string a = dir + "/rss-floor-" + std::to_string(::getpid()) + ".sock";
    std::string b = a + ".ro";
    local::acceptor api(io, local::endpoint(a)), ro(io, local::endpoint(b));
    api.async_accept([](boost::system::error_code, local::socket) {});
    ro.async_accept([](boost::system::error_code, local::socket) {});
    boost::asio::steady_timer t(io, std::chrono::milliseconds(pause ? 1 : 200));
    t.async_wait([&](boost::system::error_code) {
        if (!pause) io.stop();
    });
    io.run_for(std::chrono::milliseconds(300));
    ::unlink(a.c_str());
    ::unlink(b.c_str());

    if (pause) {
        // The bench reads /proc/PID/status while this sleeps.
        for (;;) ::pause();
    }
    std::printf("VmRSS %ld Pss %ld\n", kb_field("/proc/self/status", "VmRSS"),
                kb_field("/proc/self/smaps_rollup", "Pss"));
    nl_cache_free(links);
    nl_socket_free(nl);
    nft_ctx_free(nft);
    ::close(devnull);
    return 0;
}
