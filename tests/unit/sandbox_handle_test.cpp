// The Instance port's sandbox handle (issue 20, item 3): the init's pidfd, with its pid
// and start time, is what every user of a running sandbox gets -- `app:NAME` joins
// (through LaunchContext::peers), probes (the app's netns from the pidfd), exec probes
// and `isoctl exec` tickets -- never a pid to reopen. Fake instances carry the handles;
// the netns tests pin a child process of their own with a pidfd (no root needed).
#include <catch2/catch.hpp>

#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <boost/asio/io_context.hpp>

#include "daemon_backend.hpp"
#include "fakes/fake_runtime.hpp"
#include "fakes/manual_clock.hpp"
#include "logs/log_store.hpp"
#include "probe/probe_manager.hpp"
#include "fakes/supervisor_rig.hpp"
#include "supervisor/supervisor.hpp"
#include "sys/netns.hpp"
#include "sys/process.hpp"

using namespace isolated;
using namespace isolated::supervisor;
using isolated::test::FakeRuntime;
using isolated::test::ManualClock;

namespace {

using isolated::test::make_spec;

using Rig = isolated::test::SupervisorRig;

bool same_handle(const SandboxHandle& a, const SandboxHandle& b) {
    return a.pidfd == b.pidfd && a.pid == b.pid && a.start_time == b.start_time;
}

/// A child that waits to be killed, pinned by a pidfd; killed and reaped at the end of
/// the test whatever happens.
struct Child {
    Child() {
        pid = ::fork();
        if (pid == 0) {
            ::pause();
            ::_exit(0);
        }
        REQUIRE(pid > 0);
        auto fd = sys::pidfd_open(pid);
        REQUIRE(fd);
        pidfd = std::move(*fd);
    }
    ~Child() { reap(); }
    void reap() {
        if (pid <= 0) return;
        ::kill(pid, SIGKILL);
        ::waitpid(pid, nullptr, 0);
        pid = -1;
    }
    pid_t pid = -1;
    unique_fd pidfd;
};

ino_t inode_of_fd(int fd) {
    struct stat st{};
    REQUIRE(::fstat(fd, &st) == 0);
    return st.st_ino;
}

ino_t inode_of_path(const std::string& path) {
    struct stat st{};
    REQUIRE(::stat(path.c_str(), &st) == 0);
    return st.st_ino;
}

}  // namespace

TEST_CASE("app:NAME joins get the peer's sandbox handle through LaunchContext, for a launched and an adopted peer",
          "[sandbox-handle][supervisor]") {
    for (bool adopted : {false, true}) {
        DYNAMIC_SECTION((adopted ? "adopted" : "launched") << " peer") {
            Rig r;
            auto web = make_spec("web");
            auto side = make_spec("side");
            side.network.mode = NetworkMode::app;
            side.network.app = "web";
            if (adopted) r.runtime.recorded["web"] = {web, 0, true, {}, std::nullopt};
            r.load({web, side});
            const SandboxHandle handle{42, 4242, 777};
            auto skip = r.sup.adopt_all();
            if (adopted) {
                REQUIRE(r.runtime.last("web"));
                r.runtime.last("web")->sandbox = handle;
            }
            r.sup.start_all(skip);
            if (!adopted) {
                REQUIRE(r.runtime.last("web"));
                CHECK_FALSE(r.runtime.last("side"));  // it waits for web to run
                r.runtime.last("web")->sandbox = handle;
                r.runtime.started("web");
            }
            auto s = r.runtime.last("side");
            REQUIRE(s);
            REQUIRE(s->ctx.peers.count("web"));
            CHECK(same_handle(s->ctx.peers.at("web")->sandbox(), handle));
        }
    }
}

TEST_CASE("Supervisor::sandbox is the current instance's handle, and empty without one",
          "[sandbox-handle][supervisor]") {
    Rig r;
    r.load({make_spec("web")});
    r.sup.start_all({});
    const SandboxHandle handle{7, 1000, 99};
    r.runtime.last("web")->sandbox = handle;
    r.runtime.started("web");
    CHECK(same_handle(r.sup.sandbox("web"), handle));
    CHECK_FALSE(r.sup.sandbox("nosuch"));
    r.runtime.exit("web", 0);
    CHECK_FALSE(r.sup.sandbox("web"));
}

TEST_CASE("an exec ticket names the init by its instance's handle: pid and start time",
          "[sandbox-handle][exec]") {
    Rig r;
    r.load({make_spec("web")});
    r.sup.start_all({});
    boost::asio::io_context io;
    logs::LogStore logs(io, "/nonexistent");
    DaemonBackend backend(r.sup, r.events, logs, "/nonexistent", "none");
    backend.set_exec_planner([](const AppSpec&, const std::vector<std::string>&, bool) { return std::string("plan"); },
                             "/usr/libexec/isolated/isolated-init");
    // Running, but without a sandbox handle: nothing to enter.
    r.runtime.started("web");
    auto ticket = backend.exec_ticket("web", {"true"}, false);
    REQUIRE_FALSE(ticket);
    CHECK(ticket.error().status == 409);

    r.runtime.last("web")->sandbox = {7, 1000, 12345};
    ticket = backend.exec_ticket("web", {"true"}, false);
    REQUIRE(ticket);
    CHECK(ticket->init_pid == 1000);
    CHECK(ticket->init_start == 12345);
    CHECK(ticket->plan == "plan");

    // A start time the runtime could not read would leave isoctl unable to tell the init
    // from a process that took its pid over: no ticket.
    r.runtime.last("web")->sandbox.start_time = 0;
    ticket = backend.exec_ticket("web", {"true"}, false);
    REQUIRE_FALSE(ticket);
    CHECK(ticket.error().status == 500);

    r.runtime.last("web")->sandbox.start_time = 12345;
    r.runtime.exit("web", 0);
    ticket = backend.exec_ticket("web", {"true"}, false);
    REQUIRE_FALSE(ticket);
    CHECK(ticket.error().status == 409);
}

TEST_CASE("the netns of a pidfd's process, never of whoever has its pid later", "[sandbox-handle][probe]") {
    Child child;
    const ino_t expected = inode_of_path("/proc/" + std::to_string(child.pid) + "/ns/net");
    SECTION("PIDFD_GET_NET_NAMESPACE, or /proc on older kernels") {
        auto fd = sys::netns_of_pidfd(child.pidfd.get(), child.pid);
        REQUIRE(fd);
        CHECK(inode_of_fd(fd->get()) == expected);
        CHECK((::fcntl(fd->get(), F_GETFD) & FD_CLOEXEC) != 0);
    }
    SECTION("the /proc fallback") {
        auto fd = sys::netns_of_pidfd_via_proc(child.pidfd.get(), child.pid);
        REQUIRE(fd);
        CHECK(inode_of_fd(fd->get()) == expected);
    }
    SECTION("a reaped process has none, even when its pid names a live process") {
        const pid_t old_pid = child.pid;
        child.reap();
        auto fd = sys::netns_of_pidfd(child.pidfd.get(), old_pid);
        REQUIRE_FALSE(fd);
        // The race the fallback closes: the pid now names another process (this one
        // stands in for it), whose /proc/PID/ns/net opens fine -- the pidfd says no.
        auto by_proc = sys::netns_of_pidfd_via_proc(child.pidfd.get(), ::getpid());
        REQUIRE_FALSE(by_proc);
        CHECK(by_proc.error().errno_value == ESRCH);
    }
}

TEST_CASE("probes reach the app's netns through its sandbox handle, and fail clearly without one",
          "[sandbox-handle][probe]") {
    Child child;
    FakeRuntime rt;
    auto spec = make_spec("web");
    spec.network.mode = NetworkMode::bridge;
    InstanceCallbacks callbacks;
    callbacks.on_exit = [](const ExitInfo&) {};
    auto inst = rt.launch(spec, {}, std::move(callbacks));
    REQUIRE(inst);
    auto resolve = probe::netns_of_init(nullptr);

    // No handle: never the daemon's own netns, which would probe the host's loopback.
    auto none = resolve(spec, **inst);
    REQUIRE_FALSE(none);
    CHECK_THAT(none.error().to_string(), Catch::Contains("sandbox has ended"));

    rt.last("web")->sandbox = {child.pidfd.get(), child.pid, 1};
    auto target = resolve(spec, **inst);
    REQUIRE(target);
    REQUIRE(target->netns);
    CHECK(inode_of_fd(target->netns.get()) == inode_of_path("/proc/" + std::to_string(child.pid) + "/ns/net"));

    // The host network: the daemon's own netns, handle or not.
    auto host = spec;
    host.network.mode = NetworkMode::host;
    auto own = resolve(host, **inst);
    REQUIRE(own);
    CHECK_FALSE(own->netns);
}
