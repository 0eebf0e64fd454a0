#include "runtime/run_files.hpp"

#include <unistd.h>

#include "sys/file.hpp"

namespace isolated::runtime {

std::set<std::string> apps_having(const std::string& run_dir, const std::string& name) {
    std::set<std::string> out;
    std::string apps_dir = run_dir + "/apps";
    auto apps = sys::subdirs(apps_dir);
    if (!apps) return out;
    for (const auto& app : *apps)
        if (::access((apps_dir + "/" + app + "/" + name).c_str(), F_OK) == 0) out.insert(app);
    return out;
}

}  // namespace isolated::runtime
