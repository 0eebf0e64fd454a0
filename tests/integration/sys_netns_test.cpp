// daemon/sys/netns: entering a network namespace for a scope, and a socket made in one.
// Needs root (unshare, setns). The namespace is made by a short-lived thread and held
// by an fd only (no /run/netns mount), so closing the fd frees it: nothing is left
// behind even when a check fails.
#include <catch2/catch.hpp>

#include <fcntl.h>
#include <linux/sockios.h>
#include <netinet/in.h>
#include <sched.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>

#include <thread>

#include "isolated/unique_fd.hpp"
#include "support/test_env.hpp"
#include "sys/netns.hpp"

using namespace isolated;

namespace {

/// The inode of a namespace fd: equal inodes, the same namespace.
ino_t inode_of(int fd) {
    struct stat st {};
    REQUIRE(::fstat(fd, &st) == 0);
    return st.st_ino;
}

/// The calling thread's network namespace.
ino_t current() {
    auto fd = sys::current_netns();
    REQUIRE(fd);
    return inode_of(fd->get());
}

/// A fresh network namespace, held by the returned fd alone: a thread unshares (only
/// itself), opens its namespace and ends.
unique_fd new_netns() {
    unique_fd out;
    int err = 0;
    std::thread([&] {
        if (::unshare(CLONE_NEWNET) != 0) {
            err = errno;
            return;
        }
        out.reset(::open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC));
        if (!out) err = errno;
    }).join();
    INFO("unshare/open: errno " << err);
    REQUIRE(out);
    return out;
}

}  // namespace

TEST_CASE("sys netns: in_netns runs in the namespace and always comes back", "[net][sys]") {
    test::require_prerequisite(test::is_root(), "entering a network namespace needs root");
    const ino_t home = current();
    unique_fd ns = new_netns();
    const ino_t there = inode_of(ns.get());
    REQUIRE(there != home);
    const auto target = sys::NetnsRef::of_fd(ns.get());

    // A function that succeeds: its value comes back, and so does the thread.
    ino_t seen = 0;
    auto ok = sys::in_netns(target, [&]() -> Result<int> {
        seen = current();
        return 7;
    });
    REQUIRE(ok);
    CHECK(*ok == 7);
    CHECK(seen == there);
    CHECK(current() == home);

    // A function that fails: its error comes back, and so does the thread.
    seen = 0;
    Status failed = sys::in_netns(target, [&]() -> Status {
        seen = current();
        return Error::os(EIO, "inside");
    });
    REQUIRE_FALSE(failed);
    CHECK(failed.error().message == "inside");
    CHECK(seen == there);
    CHECK(current() == home);

    // The scope form: inside while the switch lives.
    {
        auto sw = sys::NetnsSwitch::enter(target);
        REQUIRE(sw);
        CHECK(current() == there);
    }
    CHECK(current() == home);
}

TEST_CASE("sys netns: a namespace that cannot be entered is an error, and the thread stays home",
          "[net][sys]") {
    test::require_prerequisite(test::is_root(), "entering a network namespace needs root");
    const ino_t home = current();

    // Not a namespace fd: setns refuses it; the function never runs.
    unique_fd not_ns(::open("/dev/null", O_RDONLY | O_CLOEXEC));
    REQUIRE(not_ns);
    bool ran = false;
    Status st = sys::in_netns(sys::NetnsRef::of_fd(not_ns.get()), [&]() -> Status {
        ran = true;
        return {};
    });
    REQUIRE_FALSE(st);
    CHECK_FALSE(ran);
    CHECK(st.error().errno_value == EINVAL);
    CHECK(st.error().message == "setns into netns fd " + std::to_string(not_ns.get()));
    CHECK(current() == home);

    // A process that does not exist.
    auto gone = sys::NetnsSwitch::enter(sys::NetnsRef::of_pid(999999999));
    REQUIRE_FALSE(gone);
    CHECK(gone.error().errno_value == ENOENT);
    CHECK(gone.error().message == "open \"/proc/999999999/ns/net\"");
    CHECK(current() == home);
}

TEST_CASE("sys netns: socket_in_netns makes the socket in that namespace", "[net][sys]") {
    test::require_prerequisite(test::is_root(), "entering a network namespace needs root");
    const ino_t home = current();
    unique_fd ns = new_netns();

    auto s = sys::socket_in_netns(ns.get(), AF_INET, SOCK_STREAM);
    REQUIRE(s);
    CHECK(current() == home);
    // SIOCGSKNS: the namespace the socket belongs to.
    unique_fd sk_ns(::ioctl(s->get(), SIOCGSKNS));
    REQUIRE(sk_ns);
    CHECK(inode_of(sk_ns.get()) == inode_of(ns.get()));
    CHECK((::fcntl(s->get(), F_GETFD) & FD_CLOEXEC) != 0);
    CHECK((::fcntl(s->get(), F_GETFL) & O_NONBLOCK) != 0);

    // No netns fd: the thread's own namespace.
    auto here = sys::socket_in_netns(-1, AF_INET, SOCK_STREAM);
    REQUIRE(here);
    unique_fd here_ns(::ioctl(here->get(), SIOCGSKNS));
    REQUIRE(here_ns);
    CHECK(inode_of(here_ns.get()) == home);

    // socket(2) failing inside: the error names the namespace, the thread is back.
    auto bad = sys::socket_in_netns(ns.get(), AF_INET, SOCK_STREAM, IPPROTO_UDP);
    REQUIRE_FALSE(bad);
    CHECK(bad.error().message == "socket in netns fd " + std::to_string(ns.get()));
    CHECK(current() == home);
}

// The way home is opened once per thread and kept (NetnsSwitch); a switch inside a
// switch must still come back to where it was, not to the thread's home, and each
// thread has its own home.
TEST_CASE("sys netns: nested switches come back level by level, and each thread to its own home",
          "[net][sys]") {
    test::require_prerequisite(test::is_root(), "entering a network namespace needs root");
    const ino_t home = current();
    unique_fd a = new_netns(), b = new_netns();
    const ino_t in_a = inode_of(a.get()), in_b = inode_of(b.get());
    for (int round = 0; round < 2; ++round) {  // the second round uses the kept fd
        auto outer = sys::NetnsSwitch::enter(sys::NetnsRef::of_fd(a.get()));
        REQUIRE(outer);
        CHECK(current() == in_a);
        {
            auto inner = sys::NetnsSwitch::enter(sys::NetnsRef::of_fd(b.get()));
            REQUIRE(inner);
            CHECK(current() == in_b);
            auto moved = std::move(*inner);  // a moved-from switch does not switch back
        }
        CHECK(current() == in_a);
        auto s = sys::socket_in_netns(b.get(), AF_INET, SOCK_STREAM);
        REQUIRE(s);
        CHECK(current() == in_a);  // a switch from inside a switch returns there
    }
    CHECK(current() == home);

    // Another thread whose own namespace is `a`: its switches come back to `a`, never
    // to this thread's home.
    ino_t after = 0, during = 0;
    std::thread([&] {
        if (::setns(a.get(), CLONE_NEWNET) != 0) return;
        auto s = sys::NetnsSwitch::enter(sys::NetnsRef::of_fd(b.get()));
        if (!s) return;
        during = current();
        { auto gone = std::move(*s); }
        after = current();
    }).join();
    CHECK(during == in_b);
    CHECK(after == in_a);
    CHECK(current() == home);
}
