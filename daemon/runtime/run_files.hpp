// The runtime's own look at the run dir: which apps have a given record. File and
// directory helpers in general are sys/file.hpp's. Internal to daemon/runtime/.
#pragma once

#include <set>
#include <string>

namespace isolated::runtime {

/// The apps (names of <run_dir>/apps/<app>/) that have the file NAME in their dir.
std::set<std::string> apps_having(const std::string& run_dir, const std::string& name);

}  // namespace isolated::runtime
