#include "image/tree.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <set>
#include <utility>

#include "isolated/unique_fd.hpp"

namespace isolated::image {
namespace {

Status remove_children(int fd, const std::string& what) {
    int dup = ::fcntl(fd, F_DUPFD_CLOEXEC, 0);
    if (dup < 0) return os_error("dup \"" + what + "\"");
    DIR* dir = ::fdopendir(dup);
    if (!dir) {
        ::close(dup);
        return os_error("opendir \"" + what + "\"");
    }
    Status result;
    while (true) {
        errno = 0;
        dirent* ent = ::readdir(dir);
        if (!ent) {
            if (errno) result = os_error("readdir \"" + what + "\"");
            break;
        }
        std::string n = ent->d_name;
        if (n == "." || n == "..") continue;
        if (auto st = remove_tree_at(fd, n); !st) {
            result = st;
            break;
        }
    }
    ::closedir(dir);
    return result;
}

void usage(int fd, std::set<std::pair<dev_t, ino_t>>& seen, std::uint64_t& total, int depth) {
    if (depth > 4096) return;
    int dup = ::fcntl(fd, F_DUPFD_CLOEXEC, 0);
    if (dup < 0) return;
    DIR* dir = ::fdopendir(dup);
    if (!dir) {
        ::close(dup);
        return;
    }
    while (dirent* ent = ::readdir(dir)) {
        std::string n = ent->d_name;
        if (n == "." || n == "..") continue;
        struct stat st{};
        if (::fstatat(fd, n.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) continue;
        if (st.st_nlink > 1 && !S_ISDIR(st.st_mode) && !seen.insert({st.st_dev, st.st_ino}).second) continue;
        total += static_cast<std::uint64_t>(st.st_blocks) * 512;
        if (S_ISDIR(st.st_mode)) {
            unique_fd sub(::openat(fd, n.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
            if (sub) usage(sub.get(), seen, total, depth + 1);
        }
    }
    ::closedir(dir);
}

}  // namespace

Status remove_tree_at(int dirfd, const std::string& name) {
    struct stat st{};
    if (::fstatat(dirfd, name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) {
        if (errno == ENOENT) return {};
        return os_error("stat \"" + name + "\"");
    }
    if (S_ISDIR(st.st_mode)) {
        unique_fd fd(::openat(dirfd, name.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
        if (!fd) return os_error("open \"" + name + "\"");
        // A tree made read-only (the store's rootfs) must become writable to be emptied.
        if ((st.st_mode & S_IWUSR) == 0 || (st.st_mode & S_IXUSR) == 0) ::fchmod(fd.get(), 0700);
        if (auto r = remove_children(fd.get(), name); !r) return r;
        if (::unlinkat(dirfd, name.c_str(), AT_REMOVEDIR) != 0 && errno != ENOENT)
            return os_error("rmdir \"" + name + "\"");
        return {};
    }
    if (::unlinkat(dirfd, name.c_str(), 0) != 0 && errno != ENOENT) return os_error("unlink \"" + name + "\"");
    return {};
}

std::uint64_t tree_disk_usage(const std::string& path) {
    unique_fd fd(::open(path.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
    if (!fd) return 0;
    std::set<std::pair<dev_t, ino_t>> seen;
    std::uint64_t total = 0;
    usage(fd.get(), seen, total, 0);
    return total;
}

}  // namespace isolated::image
