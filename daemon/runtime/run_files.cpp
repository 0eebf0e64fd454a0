#include "runtime/run_files.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>

namespace isolated::runtime {

Result<unique_fd> open_dir(const std::string& path) {
    int fd = ::open(path.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) return os_error("open \"" + path + "\"");
    return unique_fd(fd);
}

Status make_dir(const std::string& path, mode_t mode) {
    if (::mkdir(path.c_str(), mode) < 0 && errno != EEXIST) return os_error("mkdir \"" + path + "\"");
    return {};
}

Status make_dirs(const std::string& path, mode_t mode) {
    if (::mkdir(path.c_str(), mode) == 0 || errno == EEXIST) return {};
    std::error_code ec;
    std::filesystem::create_directories(path, ec);
    if (ec) return Error::os(ec.value(), "mkdir \"" + path + "\"");
    ::chmod(path.c_str(), mode);
    return {};
}

std::string read_at(int dirfd, const char* name) {
    int fd = ::openat(dirfd, name, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0) return {};
    unique_fd f(fd);
    std::string out;
    char buf[1024];
    ssize_t n;
    while ((n = ::read(fd, buf, sizeof buf)) > 0) out.append(buf, static_cast<size_t>(n));
    return out;
}

Status write_at(int dirfd, const char* name, const std::string& content) {
    std::string tmp = std::string(name) + ".tmp";
    unique_fd fd(::openat(dirfd, tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0644));
    if (!fd) return os_error("create \"" + tmp + "\"");
    if (::write(fd.get(), content.data(), content.size()) != static_cast<ssize_t>(content.size()))
        return os_error("write \"" + tmp + "\"");
    if (::renameat(dirfd, tmp.c_str(), dirfd, name) < 0) return os_error("rename \"" + tmp + "\"");
    return {};
}

std::string read_file(const std::string& path) {
    unique_fd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
    std::string out;
    if (!fd) return out;
    char buf[4096];
    ssize_t n;
    while ((n = ::read(fd.get(), buf, sizeof buf)) > 0) out.append(buf, static_cast<size_t>(n));
    return out;
}

Status write_file(const std::string& path, const std::string& content) {
    // Unchanged files are not rewritten: most starts find them as the last one left them.
    {
        unique_fd cur(::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW));
        if (cur) {
            std::string have(content.size() + 1, '\0');
            ssize_t n = ::read(cur.get(), have.data(), have.size());
            if (n == static_cast<ssize_t>(content.size()) && have.compare(0, content.size(), content) == 0) return {};
        }
    }
    return write_at(AT_FDCWD, path.c_str(), content);
}

std::set<std::string> apps_having(const std::string& run_dir, const std::string& name) {
    std::set<std::string> out;
    std::string apps_dir = run_dir + "/apps";
    DIR* d = ::opendir(apps_dir.c_str());
    if (!d) return out;
    while (dirent* e = ::readdir(d)) {
        std::string app = e->d_name;
        if (app == "." || app == "..") continue;
        if (::access((apps_dir + "/" + app + "/" + name).c_str(), F_OK) == 0) out.insert(app);
    }
    ::closedir(d);
    return out;
}

}  // namespace isolated::runtime
