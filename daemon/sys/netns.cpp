#include "sys/netns.hpp"

#include <fcntl.h>
#include <sched.h>
#include <sys/ioctl.h>
#include <sys/socket.h>

#include <cstdio>
#include <cstdlib>

#include "sys/process.hpp"

namespace isolated::sys {

namespace {

// include/uapi/linux/pidfd.h of Linux 6.11; the build host's headers may predate it.
constexpr unsigned long kPidfdGetNetNamespace = _IO(0xFF, 4);  // PIDFD_GET_NET_NAMESPACE

}  // namespace

std::string NetnsRef::describe() const {
    if (fd >= 0) return "netns fd " + std::to_string(fd);
    return "netns of pid " + std::to_string(pid);
}

Result<unique_fd> current_netns() {
    // thread-self, not self: setns() moves one thread, and it is this thread's.
    unique_fd fd(::open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC));
    if (!fd) return os_error("open \"/proc/thread-self/ns/net\"");
    return fd;
}

namespace {

// Switches this thread is inside (nested ones included).
thread_local int switch_depth = 0;
// The thread's own network namespace, opened at its first switch and kept: outside any
// switch a daemon thread is always in it (only NetnsSwitch moves a thread's netns), so
// the way back need not be looked up again at every switch -- an HTTP or TCP probe
// switches twice per run, and the /proc/thread-self open and close cost as much as
// the two setns calls.
thread_local unique_fd home_netns;

}  // namespace

Result<NetnsSwitch> NetnsSwitch::enter(const NetnsRef& target) {
    unique_fd owned;
    int back = -1;
    if (switch_depth == 0) {
        if (!home_netns) {
            auto h = current_netns();
            if (!h) return h.error();
            home_netns = std::move(*h);
        }
        back = home_netns.get();
    } else {
        auto saved = current_netns();
        if (!saved) return saved.error();
        owned = std::move(*saved);
        back = owned.get();
    }
    unique_fd by_pid;
    int fd = target.fd;
    if (fd < 0) {
        std::string path = "/proc/" + std::to_string(target.pid) + "/ns/net";
        by_pid.reset(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
        if (!by_pid) return os_error("open \"" + path + "\"");
        fd = by_pid.get();
    }
    if (::setns(fd, CLONE_NEWNET) != 0) return os_error("setns into " + target.describe());
    ++switch_depth;
    return NetnsSwitch(std::move(owned), back);
}

NetnsSwitch::~NetnsSwitch() {
    if (back_ < 0) return;  // moved from
    if (::setns(back_, CLONE_NEWNET) != 0) {
        // Every later socket of the daemon would land in the app's namespace.
        std::fprintf(stderr, "isolated: cannot return to the daemon's network namespace: errno %d\n", errno);
        std::abort();
    }
    --switch_depth;
}

Result<unique_fd> socket_in_netns(int netns_fd, int domain, int type, int protocol) {
    type |= SOCK_CLOEXEC | SOCK_NONBLOCK;
    if (netns_fd < 0) {
        unique_fd s(::socket(domain, type, protocol));
        if (!s) return os_error("socket");
        return s;
    }
    const auto target = NetnsRef::of_fd(netns_fd);
    return in_netns(target, [&]() -> Result<unique_fd> {
        unique_fd s(::socket(domain, type, protocol));
        if (!s) return os_error("socket in " + target.describe());
        return s;
    });
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
    if (!pidfd_alive(pidfd))
        return Error::os(ESRCH, "the network namespace of process " + std::to_string(pid) + " (it has exited)");
    return fd;
}

}  // namespace isolated::sys
