// What an instance holds outside its own processes -- its cgroup, its forwards on the
// bridge, its place in the other apps' /etc/hosts -- and the one way they are given
// back, whichever way the instance ends: its exit (Watch), a launch that fails after the
// clone (HostRuntime::launch), an instance that ended while no daemon watched it
// (HostRuntime::adopt). Internal to daemon/runtime/.
#pragma once

#include <memory>
#include <string>

#include "cgroup/cgroup.hpp"
#include "isolated/api_types.hpp"
#include "net/discovery.hpp"
#include "net/network.hpp"
#include "runtime/image_source.hpp"

namespace isolated::runtime {

struct InstanceResources {
    std::string app;
    std::unique_ptr<cgroup::AppCgroup> cgroup;  ///< nullptr: no cgroup driver
    net::Network* network = nullptr;            ///< set once the app is attached to the bridge
    std::shared_ptr<net::HostsFiles> hosts;     ///< set once the app is in the others' hosts files
    ImageSource* images = nullptr;              ///< set while an image app's image is marked used by it
    /// The instance runs in its app's kept sandbox (kept_sandbox.hpp): its forwards and
    /// its place in the others' /etc/hosts belong to the sandbox, not to the instance,
    /// and stay for the next instance; HostRuntime::release_sandbox() gives them back.
    bool keep_sandbox = false;

    /// Kills what is left in the cgroup, reads its OOM counter into EXIT (nullptr: no
    /// exit to tell, a launch that failed), removes the cgroup, takes the app's forwards
    /// out of the nftables table, the app out of the others' /etc/hosts (both
    /// not with keep_sandbox), and unmarks its image. Every step
    /// is tried whatever the one before gave; what fails is left for the next launch
    /// or the reconcile at daemon start. Released once: a second call finds nothing.
    void release(ExitInfo* exit);
};

}  // namespace isolated::runtime
