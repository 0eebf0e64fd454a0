#include "api/stream.hpp"

#include <utility>

namespace isolated::api {

void Stream::push(std::string_view data) {
    if (overflowed_ || data.empty()) return;
    pending_.append(data);
    if (taken_ && pending_.size() > max_buffered_) {
        overflowed_ = true;
        pending_.clear();
        pending_.shrink_to_fit();
    }
    if (wake_) wake_();
}

void Stream::close() {
    if (closed_) return;
    closed_ = true;
    if (wake_) wake_();
}

std::string Stream::take() {
    taken_ = true;
    return std::exchange(pending_, {});
}

}  // namespace isolated::api
