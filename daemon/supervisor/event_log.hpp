// The daemon's event history: a bounded ring of AppEvents with sequence numbers, and
// listeners for followers (`GET /v1/events?follow=1`, journald, metrics). Pure data;
// listeners run synchronously on the loop and must not block.
#pragma once

#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <string_view>
#include <vector>

#include "isolated/api_types.hpp"

namespace isolated::supervisor {

class EventLog {
public:
    using Listener = std::function<void(const AppEvent&)>;

    /// Destroying it unsubscribes. Must not outlive the EventLog.
    class Subscription {
    public:
        Subscription(EventLog* log, std::uint64_t id) : log_(log), id_(id) {}
        Subscription(const Subscription&) = delete;
        Subscription& operator=(const Subscription&) = delete;
        ~Subscription() { log_->listeners_.erase(id_); }

    private:
        EventLog* log_;
        std::uint64_t id_;
    };

    explicit EventLog(std::size_t capacity = 2000) : capacity_(capacity) {}

    /// Assigns the next seq, stores it, tells every listener; returns it with its seq.
    AppEvent publish(AppEvent e);

    /// Stored events, oldest first; only `app`'s when non-empty; at most the last `max`.
    std::vector<AppEvent> recent(std::string_view app = {}, std::size_t max = SIZE_MAX) const;

    [[nodiscard]] std::unique_ptr<Subscription> subscribe(Listener fn);

private:
    std::size_t capacity_;
    std::uint64_t next_seq_ = 1;
    std::uint64_t next_listener_ = 1;
    std::deque<AppEvent> ring_;
    std::map<std::uint64_t, Listener> listeners_;
};

}  // namespace isolated::supervisor
