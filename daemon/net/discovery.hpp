// What apps see of each other and of DNS: the /etc/hosts and /etc/resolv.conf contents
// isolated writes into each sandbox. Pure functions; the runtime writes the files.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "net/ipv4.hpp"

namespace isolated::net {

/// /etc/hosts for one app: localhost lines, the app's own hostname (on its address, or
/// 127.0.1.1 as Debian does when it has none, e.g. `network.mode: none`), then every
/// bridged app by name (sorted, the app itself included once).
///   own_address: the app's bridge address, if any
///   apps:        every bridged app -> address
std::string render_hosts(const std::string& app, const std::string& hostname, std::optional<Ipv4> own_address,
                         const std::map<std::string, Ipv4>& apps);

/// /etc/resolv.conf for an app. With `nameservers` configured: those, plus the host's
/// search/options lines. Otherwise the host's file without nameservers in 127.0.0.0/8 or
/// ::1 (a stub resolver on the host's loopback is unreachable from an app's netns; Docker
/// drops them the same way); if none remain, no nameserver line at all (no silent
/// fallback to a public resolver).
std::string render_resolv_conf(const std::string& host_resolv_conf, const std::vector<std::string>& nameservers = {});

}  // namespace isolated::net
