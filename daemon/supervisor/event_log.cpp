#include "supervisor/event_log.hpp"

namespace isolated::supervisor {

AppEvent EventLog::publish(AppEvent e) {
    e.seq = next_seq_++;
    ring_.push_back(e);
    while (ring_.size() > capacity_) ring_.pop_front();
    const AppEvent& stored = e;  // the ring may change under listeners that publish
    // A listener may unsubscribe itself (or another) while we iterate: walk by key.
    for (auto it = listeners_.begin(); it != listeners_.end();) {
        auto id = it->first;
        auto fn = it->second;  // copy: the entry may be erased by the call
        fn(stored);
        it = listeners_.upper_bound(id);
    }
    return e;
}

std::vector<AppEvent> EventLog::recent(std::string_view app, std::size_t max) const {
    std::vector<AppEvent> out;
    for (auto it = ring_.rbegin(); it != ring_.rend() && out.size() < max; ++it)
        if (app.empty() || it->app == app) out.push_back(*it);
    return {out.rbegin(), out.rend()};
}

std::unique_ptr<EventLog::Subscription> EventLog::subscribe(Listener fn) {
    auto id = next_listener_++;
    listeners_.emplace(id, std::move(fn));
    return std::make_unique<Subscription>(this, id);
}

}  // namespace isolated::supervisor
