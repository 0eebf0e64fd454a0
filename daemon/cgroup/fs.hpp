// cgroupfs helpers beyond plain files: every process below a cgroup, removing a cgroup
// tree. Plain reads, writes and mkdirs are sys/file.hpp's (writes: sys::write_existing,
// which never creates a missing interface file). Internal to daemon/cgroup/.
#pragma once

#include <sys/types.h>

#include <string>
#include <string_view>
#include <vector>

#include "isolated/result.hpp"
#include "sys/file.hpp"

namespace isolated::cgroup {

// The drivers read, test and list cgroupfs through these by their plain names.
using sys::exists;
using sys::is_dir;
using sys::read_file;
using sys::subdirs;

/// cgroup.procs of `dir` and of every cgroup below it.
Result<std::vector<pid_t>> procs_recursive(const std::string& dir);
/// rmdir of `dir` and every cgroup below it, deepest first. ENOENT is success.
Status rmdir_recursive(const std::string& dir);

}  // namespace isolated::cgroup
