// What apps see of each other and of DNS: the /etc/hosts and /etc/resolv.conf contents
// isolated writes into each sandbox (pure functions), and HostsFiles, which keeps every
// running bridged app's hosts file current as apps come and go.
#pragma once

#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "isolated/result.hpp"
#include "net/ipv4.hpp"

namespace isolated::net {

/// /etc/hosts for one app: localhost lines, the app's own hostname (on its address, or
/// 127.0.1.1 as Debian does when it has none, e.g. `network.mode: none`), then every
/// bridged app by name (sorted, the app itself included once).
///   own_address: the app's bridge address, if any
///   apps:        every bridged app -> address
std::string render_hosts(const std::string& app, const std::string& hostname, std::optional<Ipv4> own_address,
                         const std::map<std::string, Ipv4>& apps);

/// Rewrites the file at `path` to `content` in place: the same inode, so a bind mount of
/// it (the sandbox's /etc/hosts) sees the change, where a rename would leave the mount
/// on the old file. One pwrite(2) from offset 0; the file never shrinks (a shorter
/// content is padded with a comment line), so a reader sees no moment of an empty or
/// cut file, only the old or the new lines. Unchanged content is not written.
Status rewrite_in_place(const std::string& path, const std::string& content);

/// Name discovery on the bridge: the bridged apps that run now, and their hosts files.
/// Every change (an app comes, goes, or comes back with another address) rewrites the
/// hosts file of every member in place; apps that are not running are in no file.
class HostsFiles {
public:
    struct Member {
        Ipv4 address;
        std::string hostname;    ///< the app's own hostname (its file's own line)
        std::string hosts_path;  ///< the file bind-mounted as its /etc/hosts
    };
    /// The app runs on the bridge with `m.address` (again, or with another address).
    void join(const std::string& app, Member m);
    /// The app's instance ended; no-op for an app that is not a member.
    void leave(const std::string& app);
    /// The hosts file of `app` (a member or one about to join) as it should read now.
    std::string render(const std::string& app, const std::string& hostname, std::optional<Ipv4> own) const;
    const std::map<std::string, Member>& members() const { return members_; }
    /// Called for each file a rewrite could not write (the others are still written).
    std::function<void(const std::string& app, const std::string& error)> on_error;

private:
    void rewrite_all();
    std::map<std::string, Member> members_;
};

/// /etc/resolv.conf for an app. With `nameservers` configured: those, plus the host's
/// search/options lines. Otherwise the host's file without nameservers in 127.0.0.0/8 or
/// ::1 (a stub resolver on the host's loopback is unreachable from an app's netns; Docker
/// drops them the same way); if none remain, no nameserver line at all (no silent
/// fallback to a public resolver).
std::string render_resolv_conf(const std::string& host_resolv_conf, const std::vector<std::string>& nameservers = {});

}  // namespace isolated::net
