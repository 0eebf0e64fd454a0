// The supervisor's Clock on the daemon's io_context.
#pragma once

#include <boost/asio/io_context.hpp>

#include "supervisor/clock.hpp"

namespace isolated::host {

class AsioClock : public supervisor::Clock {
public:
    explicit AsioClock(boost::asio::io_context& io) : io_(io) {}
    supervisor::SteadyTime now() const override { return std::chrono::steady_clock::now(); }
    supervisor::WallTime wall_now() const override { return std::chrono::system_clock::now(); }
    std::unique_ptr<supervisor::Timer> schedule(Duration delay, std::function<void()> fn) override;
    void post(std::function<void()> fn) override;

private:
    boost::asio::io_context& io_;
};

}  // namespace isolated::host
