// The real transport: HTTP/1.1 over the daemon's Unix socket with Boost.Beast, one
// connection per request. Blocking from the caller's view; internally each step runs
// on a private io_context with a deadline, because Beast's synchronous calls cannot
// time out. Ctrl-C (SIGINT) while waiting throws Interrupted.
#pragma once

#include <memory>
#include <string>

#include "transport.hpp"

namespace isoctl {

inline constexpr const char* kDefaultSocket = "/run/isolated/isolated.sock";

class UnixSocketTransport final : public Transport {
public:
    /// `catch_sigint`: turn SIGINT into Interrupted while this object lives (the real
    /// binary); tests leave the signal alone.
    explicit UnixSocketTransport(std::string socket_path, bool catch_sigint = true);
    ~UnixSocketTransport() override;

    Response request(const Request& req) override;
    Response stream(const Request& req, const std::function<void(std::string_view)>& on_data) override;

private:
    struct Impl;
    std::unique_ptr<Impl> impl_;
};

}  // namespace isoctl
