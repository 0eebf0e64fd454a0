// The files an app's sandbox is built from that the daemon prepares at each start,
// under <run_dir>/apps/<app>/: etc/hosts, etc/hostname and etc/resolv.conf (bound
// read-only into the sandbox), the root staging dir, the directories of bind mounts
// with "create", and a fresh overlay upper layer under <state_dir>/overlay/<app>/.
// Internal to daemon/runtime/.
#pragma once

#include <string>

#include "isolated/app_spec.hpp"
#include "isolated/result.hpp"

namespace isolated::runtime {

/// BRIDGE_HOSTS: the app's /etc/hosts when it is on the bridge (net::HostsFiles
/// renders it); empty otherwise. STATE_DIR: the daemon's state dir (the overlay).
Status prepare_app_files(const AppSpec& spec, const std::string& app_dir, const std::string& state_dir,
                         const std::string& bridge_hosts);

/// /etc/hosts of an app that is neither on the host's network nor on the bridge.
std::string loopback_hosts(const std::string& hostname);

/// The host's resolv.conf without loopback nameservers, which mean nothing inside a
/// network namespace of its own (Docker drops them too).
std::string sandbox_resolv_conf(const std::string& host);

}  // namespace isolated::runtime
