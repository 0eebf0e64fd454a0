#include "cgroup/fs.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cgroup/limits.hpp"
#include "isolated/unique_fd.hpp"

namespace isolated::cgroup {

Result<std::string> read_file(const std::string& path) {
    unique_fd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
    if (!fd) return os_error("open \"" + path + "\"");
    std::string out;
    char buf[4096];
    while (true) {
        ssize_t n = ::read(fd.get(), buf, sizeof buf);
        if (n < 0) {
            if (errno == EINTR) continue;
            return os_error("read \"" + path + "\"");
        }
        if (n == 0) break;
        out.append(buf, static_cast<size_t>(n));
    }
    return out;
}

Status write_file(const std::string& path, std::string_view data) {
    unique_fd fd(::open(path.c_str(), O_WRONLY | O_TRUNC | O_CLOEXEC));
    if (!fd) return os_error("open \"" + path + "\"");
    // cgroupfs takes one value per write(2); a short write would be a kernel bug.
    ssize_t n;
    do n = ::write(fd.get(), data.data(), data.size());
    while (n < 0 && errno == EINTR);
    if (n < 0) return os_error("write \"" + std::string(data) + "\" to \"" + path + "\"");
    return {};
}

bool exists(const std::string& path) {
    struct stat st;
    return ::stat(path.c_str(), &st) == 0;
}

bool is_dir(const std::string& path) {
    struct stat st;
    return ::stat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode);
}

Status make_dir(const std::string& path, bool* created) {
    if (created) *created = false;
    if (::mkdir(path.c_str(), 0755) == 0) {
        if (created) *created = true;
        return {};
    }
    if (errno == EEXIST && is_dir(path)) return {};
    return os_error("mkdir \"" + path + "\"");
}

Result<std::vector<std::string>> subdirs(const std::string& dir) {
    std::vector<std::string> out;
    DIR* d = ::opendir(dir.c_str());
    if (!d) {
        if (errno == ENOENT) return out;
        return os_error("opendir \"" + dir + "\"");
    }
    while (auto* e = ::readdir(d)) {
        std::string n = e->d_name;
        if (n == "." || n == "..") continue;
        if (e->d_type == DT_DIR || (e->d_type == DT_UNKNOWN && is_dir(dir + "/" + n))) out.push_back(n);
    }
    ::closedir(d);
    return out;
}

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
