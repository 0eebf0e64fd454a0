// Small file helpers for cgroupfs with errno and the path in every error. Internal to
// daemon/cgroup/.
#pragma once

#include <sys/types.h>

#include <string>
#include <string_view>
#include <vector>

#include "isolated/result.hpp"

namespace isolated::cgroup {

Result<std::string> read_file(const std::string& path);
/// O_WRONLY|O_TRUNC without O_CREAT: a missing interface file is ENOENT (controller
/// not there), never a new regular file.
Status write_file(const std::string& path, std::string_view data);
bool exists(const std::string& path);
bool is_dir(const std::string& path);
/// mkdir; EEXIST is success with *created = false.
Status make_dir(const std::string& path, bool* created = nullptr);
/// Names of the subdirectories of `dir` (not recursive); ENOENT -> empty.
Result<std::vector<std::string>> subdirs(const std::string& dir);
/// cgroup.procs of `dir` and of every cgroup below it.
Result<std::vector<pid_t>> procs_recursive(const std::string& dir);
/// rmdir of `dir` and every cgroup below it, deepest first. ENOENT is success.
Status rmdir_recursive(const std::string& dir);

}  // namespace isolated::cgroup
