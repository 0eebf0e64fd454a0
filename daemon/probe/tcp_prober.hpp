// TCP probe (kubelet's tcp.go plus a banner check): success when the connection is
// established -- an app that closes it at once still counts -- and, with `expect`,
// when the first bytes the app sends within the timeout start with it (the FTP "220").
#pragma once

#include <memory>
#include <string>

#include <boost/asio/io_context.hpp>

#include "probe/prober.hpp"

namespace isolated::probe {

namespace detail {
struct NetOp;
}

struct TcpTarget {
    int netns_fd = -1;               ///< borrowed; -1 = the daemon's netns
    std::string host = "127.0.0.1";  ///< an IP literal
    std::uint16_t port = 0;
    std::string expect;              ///< banner prefix; "" = connect only
};

class TcpProber : public Prober {
public:
    TcpProber(boost::asio::io_context& io, TcpTarget target);
    ~TcpProber() override;
    void run(Duration timeout, Done done) override;

private:
    boost::asio::io_context& io_;
    TcpTarget target_;
    std::shared_ptr<detail::NetOp> op_;
};

}  // namespace isolated::probe
