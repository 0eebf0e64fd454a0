// Sockets created inside another network namespace. A socket belongs to the netns it
// was created in for its whole life, so the loop thread enters the app's netns just
// for socket(2) and returns at once; connect and I/O then run on Asio as usual. This
// reaches the app's loopback whatever its network mode (bridge, none, app:NAME).
#pragma once

#include <sys/types.h>

#include "isolated/result.hpp"
#include "isolated/unique_fd.hpp"

namespace isolated::probe {

/// socket(domain, type | SOCK_CLOEXEC | SOCK_NONBLOCK, protocol) inside the network
/// namespace `netns_fd` (an fd of /proc/PID/ns/net or a pidfd), or in the calling
/// thread's own netns when netns_fd < 0. The thread's netns is saved on first use
/// (/proc/thread-self/ns/net) and always restored; if restoring fails the process
/// aborts rather than run on in the wrong namespace. Call from the loop thread.
Result<unique_fd> socket_in_netns(int netns_fd, int domain, int type, int protocol = 0);

/// The network namespace of the process behind `pidfd` (whose pid is `pid`), as a netns
/// fd (CLOEXEC), never another process's: ioctl(PIDFD_GET_NET_NAMESPACE) (Linux 6.11),
/// or on older kernels netns_of_pidfd_via_proc(). An error once the process has exited.
Result<unique_fd> netns_of_pidfd(int pidfd, pid_t pid);

/// The fallback: opens /proc/PID/ns/net, then keeps it only if the pidfd's process has
/// not been reaped since (pidfd_send_signal 0): until it is, the pid cannot name
/// another process, so what was opened was its namespace. This closes the pid-reuse
/// race of opening by pid alone (an adopted init is reaped by its parent, not by the
/// daemon, and its pid may be recycled before the daemon sees its exit).
Result<unique_fd> netns_of_pidfd_via_proc(int pidfd, pid_t pid);

}  // namespace isolated::probe
