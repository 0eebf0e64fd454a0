// Internal to daemon/cgroup/: the cgroupfs building blocks the drivers share. The
// systemd driver reuses the v2/v1 handles on the scope's cgroup for counters and kill.
#pragma once

#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <string>

#include "cgroup/cgroup.hpp"
#include "cgroup/layout.hpp"

namespace isolated::cgroup {

using MkdirHook = std::function<void(const std::string&)>;

/// mkdir of `dir` and any missing parent below `base` (which must exist); the hook runs
/// for each directory created.
Status make_dirs(const std::string& base, const std::string& rel, const MkdirHook& hook);

/// Polls `done` every millisecond for at most `limit`; returns its last value.
bool poll_for(const std::function<bool()>& done, std::chrono::milliseconds limit);

/// rmdir (recursive) retried while EBUSY, calling `kill` before each retry, for up to
/// ~1 s: a SIGKILLed task keeps its cgroup populated until it has finished exiting.
Status remove_with_retry(const std::vector<std::string>& dirs, const std::function<Status()>& kill);

// ---- v2 ---------------------------------------------------------------------------------
/// Handle on an existing v2 cgroup directory.
Result<std::unique_ptr<AppCgroup>> open_v2(const std::string& app, const std::string& dir);
Status apply_v2_limits(const std::string& dir, const ResourcesSpec& spec);
Status kill_v2(const std::string& dir);
Result<std::unique_ptr<Manager>> make_v2_manager(const Layout& layout, const ManagerOptions& opts);

// ---- v1 ---------------------------------------------------------------------------------
/// controller ("cpu", "memory", ...) -> the app's directory in that controller's mount.
using V1Dirs = std::map<std::string, std::string>;
std::vector<std::string> unique_dirs(const V1Dirs& dirs);
Result<std::unique_ptr<AppCgroup>> open_v1(const std::string& app, const V1Dirs& dirs);
Status apply_v1_limits(const V1Dirs& dirs, const ResourcesSpec& spec);
Status kill_v1(const V1Dirs& dirs);
Result<std::unique_ptr<Manager>> make_v1_manager(const Layout& layout, const ManagerOptions& opts);

// ---- systemd, none ----------------------------------------------------------------------
Result<std::unique_ptr<Manager>> make_systemd_manager(const Layout& layout, const ManagerOptions& opts);
std::unique_ptr<Manager> make_null_manager();

}  // namespace isolated::cgroup
