// One thread for the store's slow work (unpacking layers, deleting trees), so the
// daemon's loop never waits on it. Jobs run one at a time, in order: the store's
// mutations are serialized anyway, and one unpack at a time keeps a load from starving
// the apps of disk bandwidth. The destructor finishes the running job and drops the
// queued ones.
#pragma once

#include <condition_variable>
#include <deque>
#include <functional>
#include <mutex>
#include <thread>

namespace isolated::image {

class Worker {
public:
    Worker();
    ~Worker();
    Worker(const Worker&) = delete;
    Worker& operator=(const Worker&) = delete;

    void submit(std::function<void()> job);

private:
    void run();

    std::mutex mu_;
    std::condition_variable cv_;
    std::deque<std::function<void()>> jobs_;
    bool stopping_ = false;
    std::thread thread_;
};

}  // namespace isolated::image
