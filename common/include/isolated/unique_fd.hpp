// RAII owner of a file descriptor. Every fd in the project is CLOEXEC from birth and
// owned by one of these (or handed to an Asio descriptor, which owns it from then on).
#pragma once

#include <unistd.h>

#include <utility>

namespace isolated {

class unique_fd {
public:
    unique_fd() = default;
    explicit unique_fd(int fd) : fd_(fd) {}
    unique_fd(const unique_fd&) = delete;
    unique_fd& operator=(const unique_fd&) = delete;
    unique_fd(unique_fd&& o) noexcept : fd_(o.release()) {}
    unique_fd& operator=(unique_fd&& o) noexcept {
        if (this != &o) reset(o.release());
        return *this;
    }
    ~unique_fd() { reset(); }

    /// The descriptor, still owned.
    int get() const { return fd_; }
    bool valid() const { return fd_ >= 0; }
    explicit operator bool() const { return valid(); }

    /// Gives up ownership without closing.
    int release() { return std::exchange(fd_, -1); }

    /// Closes the current descriptor (if any) and owns `fd`.
    void reset(int fd = -1) {
        if (fd_ >= 0) ::close(fd_);
        fd_ = fd;
    }

private:
    int fd_ = -1;
};

}  // namespace isolated
