#include "probe/netns.hpp"

#include <fcntl.h>
#include <sched.h>
#include <sys/ioctl.h>
#include <sys/socket.h>

#include <cstdio>
#include <cstdlib>
#include <string>

#include "sys/process.hpp"

namespace isolated::probe {

namespace {

// include/uapi/linux/pidfd.h of Linux 6.11; the build host's headers may predate it.
constexpr unsigned long kPidfdGetNetNamespace = _IO(0xFF, 4);  // PIDFD_GET_NET_NAMESPACE

/// The loop thread's own netns, opened once. Opened lazily (not at static init) so
/// that it is the netns of the thread that probes, which is the one that runs the loop.
Result<int> home_netns() {
    static int fd = -1;
    if (fd >= 0) return fd;
    int f = ::open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
    if (f < 0) return os_error("open \"/proc/thread-self/ns/net\"");
    fd = f;
    return fd;
}

}  // namespace

Result<unique_fd> socket_in_netns(int netns_fd, int domain, int type, int protocol) {
    type |= SOCK_CLOEXEC | SOCK_NONBLOCK;
    if (netns_fd < 0) {
        int s = ::socket(domain, type, protocol);
        if (s < 0) return os_error("socket");
        return unique_fd(s);
    }
    auto home = home_netns();
    if (!home) return home.error();
    if (::setns(netns_fd, CLONE_NEWNET) != 0) return os_error("enter the app's network namespace");
    int s = ::socket(domain, type, protocol);
    int socket_errno = errno;
    if (::setns(*home, CLONE_NEWNET) != 0) {
        // Every later socket of the daemon would land in the app's namespace.
        std::perror("isolated: cannot return to the daemon's network namespace");
        std::abort();
    }
    if (s < 0) return Error::os(socket_errno, "socket in the app's network namespace");
    return unique_fd(s);
}

Result<unique_fd> netns_of_pidfd(int pidfd, pid_t pid) {
    int fd = ::ioctl(pidfd, kPidfdGetNetNamespace, 0);
    if (fd >= 0) return unique_fd(fd);  // CLOEXEC, as every nsfs fd the kernel opens
    // ENOTTY: a kernel without the ioctl (before 6.11); EOPNOTSUPP: one that cannot
    // name this namespace through it. Anything else (ESRCH: the process has exited)
    // is the answer.
    if (errno == ENOTTY || errno == EINVAL || errno == EOPNOTSUPP) return netns_of_pidfd_via_proc(pidfd, pid);
    return os_error("the network namespace of process " + std::to_string(pid));
}

Result<unique_fd> netns_of_pidfd_via_proc(int pidfd, pid_t pid) {
    if (pid <= 0) return Error::os(ESRCH, "the network namespace of process " + std::to_string(pid));
    std::string path = "/proc/" + std::to_string(pid) + "/ns/net";
    unique_fd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
    if (!fd) return os_error("open \"" + path + "\"");
    if (!sys::pidfd_alive(pidfd))
        return Error::os(ESRCH, "the network namespace of process " + std::to_string(pid) + " (it has exited)");
    return fd;
}

}  // namespace isolated::probe
