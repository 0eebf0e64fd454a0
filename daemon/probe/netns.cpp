#include "probe/netns.hpp"

#include <fcntl.h>
#include <sched.h>
#include <sys/socket.h>

#include <cstdio>
#include <cstdlib>
#include <string>

namespace isolated::probe {

namespace {

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

Result<unique_fd> open_netns_of(int pid) {
    std::string path = "/proc/" + std::to_string(pid) + "/ns/net";
    int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) return os_error("open \"" + path + "\"");
    return unique_fd(fd);
}

}  // namespace isolated::probe
