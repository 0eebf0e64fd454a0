// Sockets created inside another network namespace. A socket belongs to the netns it
// was created in for its whole life, so the loop thread enters the app's netns just
// for socket(2) and returns at once; connect and I/O then run on Asio as usual. This
// reaches the app's loopback whatever its network mode (bridge, none, app:NAME).
#pragma once

#include "isolated/result.hpp"
#include "isolated/unique_fd.hpp"

namespace isolated::probe {

/// socket(domain, type | SOCK_CLOEXEC | SOCK_NONBLOCK, protocol) inside the network
/// namespace `netns_fd` (an fd of /proc/PID/ns/net or a pidfd), or in the calling
/// thread's own netns when netns_fd < 0. The thread's netns is saved on first use
/// (/proc/thread-self/ns/net) and always restored; if restoring fails the process
/// aborts rather than run on in the wrong namespace. Call from the loop thread.
Result<unique_fd> socket_in_netns(int netns_fd, int domain, int type, int protocol = 0);

/// open("/proc/PID/ns/net"), CLOEXEC.
Result<unique_fd> open_netns_of(int pid);

}  // namespace isolated::probe
