// The runtime's file helpers: the app's directory under the run dir, the records in it
// and the /etc files it prepares. Internal to daemon/runtime/.
#pragma once

#include <sys/types.h>

#include <set>
#include <string>

#include "isolated/result.hpp"
#include "isolated/unique_fd.hpp"

namespace isolated::runtime {

Result<unique_fd> open_dir(const std::string& path);
/// One level; an existing directory is fine.
Status make_dir(const std::string& path, mode_t mode);
/// With its parents; an existing directory is fine.
Status make_dirs(const std::string& path, mode_t mode);

/// The file NAME in DIRFD (not through a symlink); empty when it cannot be read.
std::string read_at(int dirfd, const char* name);
/// Replaces NAME in DIRFD atomically: written to NAME.tmp, then renamed over it.
Status write_at(int dirfd, const char* name, const std::string& content);

/// The file at PATH; empty when it cannot be read.
std::string read_file(const std::string& path);
/// write_at() for a path, skipped when the file already holds CONTENT.
Status write_file(const std::string& path, const std::string& content);

/// The apps (names of <run_dir>/apps/<app>/) that have the file NAME in their dir.
std::set<std::string> apps_having(const std::string& run_dir, const std::string& name);

}  // namespace isolated::runtime
