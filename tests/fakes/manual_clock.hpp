// A Clock that only moves when the test says so. Timers fire in due order from
// advance(); posted callbacks run from run_posted() (and from advance()).
#pragma once

#include <map>
#include <memory>
#include <vector>

#include "supervisor/clock.hpp"

namespace isolated::test {

class ManualClock : public supervisor::Clock {
public:
    supervisor::SteadyTime now() const override { return now_; }
    supervisor::WallTime wall_now() const override {
        return supervisor::WallTime(std::chrono::seconds(1'700'000'000)) +
               std::chrono::duration_cast<supervisor::WallTime::duration>(now_.time_since_epoch());
    }

    std::unique_ptr<supervisor::Timer> schedule(Duration delay, std::function<void()> fn) override {
        auto id = next_id_++;
        timers_.emplace(id, Entry{now_ + delay, std::move(fn)});
        return std::make_unique<Handle>(this, id);
    }

    void post(std::function<void()> fn) override { posted_.push_back(std::move(fn)); }

    /// Runs posted callbacks until none are left.
    void run_posted() {
        while (!posted_.empty()) {
            auto batch = std::move(posted_);
            posted_.clear();
            for (auto& fn : batch) fn();
        }
    }

    /// Moves time forward by `d`, firing every timer that falls due, in order.
    void advance(Duration d) {
        auto until = now_ + d;
        run_posted();
        for (;;) {
            auto next = timers_.end();
            for (auto it = timers_.begin(); it != timers_.end(); ++it)
                if (it->second.due <= until && (next == timers_.end() || it->second.due < next->second.due))
                    next = it;
            if (next == timers_.end()) break;
            now_ = std::max(now_, next->second.due);
            auto fn = std::move(next->second.fn);
            timers_.erase(next);
            fn();
            run_posted();
        }
        now_ = until;
    }

    std::size_t pending_timers() const { return timers_.size(); }

    /// Time until the earliest timer, or nullopt.
    std::optional<Duration> next_due() const {
        std::optional<Duration> best;
        for (auto& [id, e] : timers_) {
            auto d = std::chrono::duration_cast<Duration>(e.due - now_);
            if (!best || d < *best) best = d;
        }
        return best;
    }

private:
    struct Entry {
        supervisor::SteadyTime due;
        std::function<void()> fn;
    };
    struct Handle : supervisor::Timer {
        Handle(ManualClock* c, std::uint64_t id) : c(c), id(id) {}
        ~Handle() override { c->timers_.erase(id); }
        ManualClock* c;
        std::uint64_t id;
    };

    supervisor::SteadyTime now_{std::chrono::hours(1)};
    std::uint64_t next_id_ = 1;
    std::map<std::uint64_t, Entry> timers_;
    std::vector<std::function<void()>> posted_;
};

}  // namespace isolated::test
