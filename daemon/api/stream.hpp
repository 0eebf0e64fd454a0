// The body of a streamed response (`?follow=1`): a producer (a Backend subscription
// the stream holds) pushes data; the session takes it and writes it as HTTP chunks.
// The session owns the stream and destroys it when the client goes away, which drops
// the subscription and so stops the deliveries.
#pragma once

#include <cstddef>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "api/backend.hpp"

namespace isolated::api {

class Stream {
public:
    /// `max_buffered`: output the client has not taken yet, beyond the first batch
    /// (the stored events or log tail: finite, and the client has not had a chance to
    /// read yet). Above it the stream overflows: the client reads too slowly.
    explicit Stream(std::size_t max_buffered) : max_buffered_(max_buffered) {}
    Stream(const Stream&) = delete;
    Stream& operator=(const Stream&) = delete;

    // ---- producer side ----

    /// Appends data for the client. Ignored once overflowed.
    void push(std::string_view data);
    /// No more data: the session ends the body (the last chunk) once it has written
    /// everything, and closes the connection. For answers that end (an image load's
    /// progress), unlike a follow.
    void close();
    /// Set before the response is sent: this stream will close() (its connection is
    /// then not kept alive).
    void mark_finite() { finite_ = true; }
    bool finite() const { return finite_; }
    /// Keeps the producer alive exactly as long as the stream.
    void hold(std::unique_ptr<Subscription> subscription) { subscription_ = std::move(subscription); }

    // ---- consumer (session) side ----

    /// `wake` is called after each push and on overflow. It runs inside the producer's
    /// callback (e.g. while the EventLog walks its listeners), so it must only
    /// schedule work, never destroy the stream.
    void on_data(std::function<void()> wake) { wake_ = std::move(wake); }
    /// Everything pushed since the last take.
    std::string take();
    bool overflowed() const { return overflowed_; }
    std::size_t buffered() const { return pending_.size(); }
    bool closed() const { return closed_; }

private:
    std::size_t max_buffered_;
    std::string pending_;
    bool taken_ = false;
    bool overflowed_ = false;
    bool closed_ = false;
    bool finite_ = false;
    std::function<void()> wake_;
    // Last member: destroyed first, so no delivery reaches a half-destroyed stream.
    std::unique_ptr<Subscription> subscription_;
};

}  // namespace isolated::api
