#include "cgroup/fs.hpp"

#include <unistd.h>

#include "cgroup/limits.hpp"

namespace isolated::cgroup {

Result<std::vector<pid_t>> procs_recursive(const std::string& dir) {
    std::vector<pid_t> out;
    auto text = read_file(dir + "/cgroup.procs");
    if (!text) {
        if (text.error().errno_value == ENOENT && !exists(dir)) return out;
        return text.error();
    }
    size_t pos = 0;
    while (pos < text->size()) {
        size_t nl = text->find('\n', pos);
        if (nl == std::string::npos) nl = text->size();
        if (auto v = parse_u64(std::string_view(*text).substr(pos, nl - pos))) out.push_back(static_cast<pid_t>(*v));
        pos = nl + 1;
    }
    auto subs = subdirs(dir);
    if (!subs) return subs.error();
    for (auto& s : *subs) {
        auto more = procs_recursive(dir + "/" + s);
        if (!more) return more.error();
        out.insert(out.end(), more->begin(), more->end());
    }
    return out;
}

Status rmdir_recursive(const std::string& dir) {
    auto subs = subdirs(dir);
    if (!subs) return subs.error();
    for (auto& s : *subs)
        if (auto r = rmdir_recursive(dir + "/" + s); !r) return r;
    if (::rmdir(dir.c_str()) < 0 && errno != ENOENT) return os_error("rmdir \"" + dir + "\"");
    return {};
}

}  // namespace isolated::cgroup
