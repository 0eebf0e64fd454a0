#include "interrupt.hpp"

#include <csignal>
#include <optional>

#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>

#include "transport.hpp"

namespace isoctl {

void sleep_unless_interrupted(std::chrono::milliseconds d) {
    namespace asio = boost::asio;
    struct sigaction old {};
    ::sigaction(SIGINT, nullptr, &old);
    asio::io_context ioc;
    asio::steady_timer timer(ioc, d);
    bool interrupted = false;
    // Asio hands a signal to every signal_set waiting for it, so the transport's own
    // SIGINT watch (alive between requests) does not steal this one.
    std::optional<asio::signal_set> signals;
    if (old.sa_handler != SIG_IGN) {
        signals.emplace(ioc, SIGINT);
        signals->async_wait([&](const boost::system::error_code& ec, int) {
            if (ec) return;
            interrupted = true;
            timer.cancel();
        });
    }
    timer.async_wait([&](const boost::system::error_code&) {
        if (signals) signals->cancel();
    });
    ioc.run();
    if (interrupted) throw Interrupted();
}

}  // namespace isoctl
