#include "runtime/instance_resources.hpp"

#include "host/log.hpp"
#include "sys/crash_point.hpp"

namespace isolated::runtime {

// The order matters:
//  1. The kill first: whatever is still in the cgroup (a probe, an escaped process, the
//     descendants of an init that is gone) must be dead before anything it uses goes,
//     and a cgroup with live tasks can be neither removed nor trusted to have counted
//     its last OOM kill.
//  2. The OOM counter before the removal, which takes memory.events (v1:
//     memory.oom_control) with it: an OOM kill is read, never guessed from exit code 137.
//  3. The cgroup removed (remove() waits out killed tasks that are still exiting).
//  4. The forwards only once no process of the app is left to answer them: a restart
//     attaches the next instance with the same ports right after on_exit. The lease
//     stays (sticky), the veth dies with the network namespace.
//  5. Last, the app leaves the other apps' /etc/hosts.
// With a kept sandbox (issue 19) 4 and 5 wait for HostRuntime::release_sandbox(): the
// next instance answers at the same address, in the same network namespace.
// Errors are not returned: a cgroup that cannot be removed must not keep the forwards
// in place, and none of it changes how the instance ended.
void InstanceResources::release(ExitInfo* exit) {
    if (cgroup) {
        (void)cgroup->kill();
        if (exit)
            if (auto n = cgroup->oom_kills(); n && *n > 0) {
                exit->oom_killed = true;
                if (exit->message.empty()) exit->message = "killed by the OOM killer (memory limit)";
            }
        // A cgroup that stays busy (a process someone froze, one stuck in the kernel)
        // does not hold the rest up: it is named in a warning and removed at the app's
        // next start (whose launch fails, backing off, while it is still busy) or by the
        // reconcile at the next daemon start (systemd leaves such a cgroup and warns).
        sys::crash_point("stop.before-cgroup-remove");
        if (auto st = cgroup->remove(); !st)
            host::log_warning(app, "cgroup " + cgroup->describe() + " not removed: " + st.error().to_string());
        cgroup.reset();
    }
    if (network) {
        if (!keep_sandbox) (void)network->detach_app(app);
        network = nullptr;
    }
    if (hosts) {
        if (!keep_sandbox) hosts->leave(app);
        hosts.reset();
    }
    if (images) {
        images->release(app);
        images = nullptr;
    }
}

}  // namespace isolated::runtime
