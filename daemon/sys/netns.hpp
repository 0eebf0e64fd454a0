// Network namespaces: naming one, entering one for a scope, and making a socket in one.
//
// A socket or a netlink socket belongs to the namespace it was created in for its whole
// life, so the daemon never *works* inside an app's namespace: the calling thread enters
// it just to create what it needs and goes back at once (NetnsSwitch restores the
// thread's namespace on every path). Everything else then runs from the daemon's own
// namespace, and the thread is never left elsewhere.
#pragma once

#include <sys/types.h>

#include <string>
#include <utility>

#include "isolated/result.hpp"
#include "isolated/unique_fd.hpp"

namespace isolated::sys {

/// Names a network namespace: a process (its /proc/PID/ns/net) or an fd, which may be
/// a netns fd (/proc/PID/ns/net, /run/netns/X) or a pidfd (setns accepts both; a pidfd
/// cannot be fooled by pid reuse). The fd stays owned by the caller.
struct NetnsRef {
    static NetnsRef of_pid(pid_t pid) { return NetnsRef{pid, -1}; }
    static NetnsRef of_fd(int fd) { return NetnsRef{-1, fd}; }
    pid_t pid = -1;
    int fd = -1;
    std::string describe() const;
};

/// Moves the calling thread into a network namespace until destroyed; the destructor
/// moves it back (and aborts the process if it cannot: a daemon thread stranded in an
/// app's namespace would act on the wrong network). Errors: `open "/proc/PID/ns/net"`,
/// `setns into netns fd N` / `setns into netns of pid N`.
class NetnsSwitch {
public:
    [[nodiscard]] static Result<NetnsSwitch> enter(const NetnsRef& target);
    NetnsSwitch(NetnsSwitch&& o) noexcept : owned_(std::move(o.owned_)), back_(std::exchange(o.back_, -1)) {}
    NetnsSwitch& operator=(NetnsSwitch&&) = delete;
    ~NetnsSwitch();

private:
    NetnsSwitch(unique_fd owned, int back) : owned_(std::move(owned)), back_(back) {}
    unique_fd owned_;  ///< the namespace to go back to, when it is not the thread's home one
    int back_ = -1;    ///< what the destructor setns()es back into; -1 = moved from
};

/// Runs `f` (returning a Result or a Status) with the calling thread inside `target`,
/// and returns what it returned; the thread is back in its own namespace afterwards,
/// whether `f` failed or not. An error entering is returned without running `f`.
template <typename F>
auto in_netns(const NetnsRef& target, F&& f) -> decltype(f()) {
    auto sw = NetnsSwitch::enter(target);
    if (!sw) return sw.error();
    return f();
}

/// A netns fd (O_RDONLY|O_CLOEXEC) of the calling thread's own network namespace.
Result<unique_fd> current_netns();

/// socket(domain, type | SOCK_CLOEXEC | SOCK_NONBLOCK, protocol) inside the network
/// namespace `netns_fd` (a netns fd or a pidfd), or in the calling thread's own one when
/// netns_fd < 0. The thread goes back at once; the socket stays in `netns_fd`'s
/// namespace, so connect and I/O then run on Asio as usual.
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

}  // namespace isolated::sys
