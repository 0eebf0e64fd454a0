#include "host/asio_clock.hpp"

#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>

namespace isolated::host {
namespace {

class AsioTimer : public supervisor::Timer {
public:
    AsioTimer(boost::asio::io_context& io, Duration delay, std::function<void()> fn)
        : timer_(std::make_shared<boost::asio::steady_timer>(io)), armed_(std::make_shared<bool>(true)) {
        timer_->expires_after(delay);
        // The handler owns the timer object. cancel() alone is not enough: a wait that
        // already completed has its handler queued with success, so the flag decides.
        timer_->async_wait([t = timer_, armed = armed_, fn = std::move(fn)](boost::system::error_code ec) {
            if (!ec && *armed) fn();
        });
    }
    ~AsioTimer() override {
        *armed_ = false;
        timer_->cancel();
    }

private:
    std::shared_ptr<boost::asio::steady_timer> timer_;
    std::shared_ptr<bool> armed_;
};

}  // namespace

std::unique_ptr<supervisor::Timer> AsioClock::schedule(Duration delay, std::function<void()> fn) {
    return std::make_unique<AsioTimer>(io_, delay, std::move(fn));
}

void AsioClock::post(std::function<void()> fn) { boost::asio::post(io_, std::move(fn)); }

}  // namespace isolated::host
