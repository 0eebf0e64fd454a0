// Where the cgroup hierarchies are: parsing /proc/self/mountinfo and /proc/self/cgroup,
// and the detection that picks a driver. Pure functions plus one reader, so unit tests
// run them on fixture text and fixture trees.
#pragma once

#include <map>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "cgroup/cgroup.hpp"
#include "isolated/result.hpp"

namespace isolated::cgroup {

struct MountEntry {
    std::string root;         ///< field 4: the hierarchy path shown at the mount point
    std::string mount_point;  ///< field 5, octal escapes (\040) decoded
    std::string fstype;       ///< after the "-" separator
    std::vector<std::string> super_options;
};

/// Every line of a mountinfo file; malformed lines are skipped.
std::vector<MountEntry> parse_mountinfo(std::string_view text);

struct ProcCgroupEntry {
    int id = 0;                            ///< hierarchy id, 0 for the unified hierarchy
    std::vector<std::string> controllers;  ///< "cpu", "name=systemd"; empty for 0::
    std::string path;                      ///< relative to the hierarchy root
};

/// /proc/PID/cgroup ("4:memory:/a/b", "0::/x").
std::vector<ProcCgroupEntry> parse_proc_cgroup(std::string_view text);

/// The v1 controllers the v1 driver uses, in the order it uses them.
inline const std::vector<std::string>& v1_controllers() {
    static const std::vector<std::string> c{"cpu", "cpuacct", "memory", "pids", "freezer"};
    return c;
}
/// The v2 controllers isolated enables for its apps.
inline const std::vector<std::string>& v2_controllers() {
    static const std::vector<std::string> c{"cpu", "memory", "pids", "io"};
    return c;
}

struct Layout {
    /// The cgroup2 mount (fs_prefix applied); /sys/fs/cgroup on pure v2 hosts,
    /// /sys/fs/cgroup/unified on hybrid ones.
    std::optional<std::string> unified;
    std::string unified_mount_root = "/";     ///< mountinfo root of that mount
    std::set<std::string> unified_controllers;///< <unified>/cgroup.controllers
    /// v1 controller -> its mount point (fs_prefix applied). Co-mounted controllers
    /// (cpu,cpuacct) share a mount point.
    std::map<std::string, std::string> v1;
    std::map<std::string, std::string> v1_mount_root;
    /// This process's cgroup in the unified hierarchy, relative to `unified`
    /// ("/" = the mount's root); nullopt when not in one.
    std::optional<std::string> own_unified;
    bool systemd_booted = false;              ///< <prefix>/run/systemd/system is a directory
};

/// Builds a Layout from already-read file contents (pure): mountinfo, the process's
/// cgroup file and the unified mount's cgroup.controllers.
Layout layout_from(std::string_view mountinfo, std::string_view proc_cgroup, const std::string& fs_prefix,
                   bool systemd_booted, const std::string& unified_controllers_text);

/// Reads <proc_self>/mountinfo and <proc_self>/cgroup and the files they point to.
Result<Layout> detect_layout(const std::string& fs_prefix, const std::string& proc_self);

/// The driver "auto" resolves to on this layout.
Driver auto_driver(const Layout& l);

/// True for a valid app name ([a-z0-9][a-z0-9-]{0,31}): what reconcile may remove.
bool is_app_name(std::string_view s);

/// The subtree of <root> that holds the hooks' cgroups (v1, v2): never an app name.
inline constexpr const char* kHooksDir = "_hooks";
/// True for a hook cgroup's name, "<app>.<word>" ("web.failure"): the dot keeps it
/// apart from every app name (and so from reconcile), also as a systemd scope name.
bool is_hook_name(std::string_view s);

/// "/a/b" relative to a mount whose root is `mount_root` -> the path below the mount
/// point, or nullopt when the path is outside what the mount shows.
std::optional<std::string> relative_to_mount(const std::string& path, const std::string& mount_root);

}  // namespace isolated::cgroup
