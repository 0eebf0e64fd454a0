#include "sys/file.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

namespace isolated::sys {

namespace {

std::string quoted(const std::string& path) { return "\"" + path + "\""; }

std::string size_text(std::size_t bytes) {
    constexpr std::size_t mib = std::size_t{1} << 20;
    if (bytes % mib == 0) return std::to_string(bytes / mib) + " MiB";
    return std::to_string(bytes) + " bytes";
}

/// Writes all of `data`, retrying EINTR and short writes. False with errno set.
bool write_all(int fd, std::string_view data) {
    while (!data.empty()) {
        ssize_t n = ::write(fd, data.data(), data.size());
        if (n < 0) {
            if (errno == EINTR) continue;
            return false;
        }
        data.remove_prefix(static_cast<std::size_t>(n));
    }
    return true;
}

/// The directory holding `path` ("." for a bare name).
std::string parent_of(const std::string& path) {
    auto slash = path.rfind('/');
    if (slash == std::string::npos) return ".";
    return slash == 0 ? "/" : path.substr(0, slash);
}

/// Writes NAME.tmp under dirfd, optionally fsynced, and renames it over NAME. The temp
/// file goes on every failure. `rename_error` builds the rename's message.
Status replace(int dirfd, const std::string& name, std::string_view content, bool durable,
               const std::string& rename_what, mode_t mode = 0644) {
    const std::string tmp = name + ".tmp";
    unique_fd fd(::openat(dirfd, tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, mode));
    if (!fd) return os_error("create " + quoted(tmp));
    auto fail = [&](const std::string& what) {
        Error err = os_error(what);
        ::unlinkat(dirfd, tmp.c_str(), 0);
        return err;
    };
    // Exactly MODE, whatever the umask or a temp file left by a crash had, before any
    // byte is written (a 0600 file's content must never be readable by others).
    if (::fchmod(fd.get(), mode) != 0) return fail("chmod " + quoted(tmp));
    if (!write_all(fd.get(), content)) return fail("write " + quoted(tmp));
    if (durable && ::fsync(fd.get()) != 0) return fail("fsync " + quoted(tmp));
    fd.reset();
    if (::renameat(dirfd, tmp.c_str(), dirfd, name.c_str()) != 0) return fail(rename_what);
    return {};
}

}  // namespace

Result<std::string> read_all(int fd, std::size_t max) {
    std::string out;
    char buf[16384];
    for (;;) {
        ssize_t n = ::read(fd, buf, sizeof buf);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) return os_error("read");
        if (n == 0) return out;
        out.append(buf, static_cast<std::size_t>(n));
        if (out.size() > max) return Error::msg("larger than " + size_text(max));
    }
}

Result<std::string> read_file(const std::string& path, std::size_t max) {
    unique_fd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
    if (!fd) return os_error("open " + quoted(path));
    auto text = read_all(fd.get(), max);
    if (!text) return Error{text.error().errno_value, "read " + quoted(path)};
    return text;
}

Result<std::string> read_file_at(int dirfd, const std::string& name, std::size_t max) {
    unique_fd fd(::openat(dirfd, name.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW));
    if (!fd) return os_error("open " + quoted(name));
    auto text = read_all(fd.get(), max);
    if (!text) return Error{text.error().errno_value, "read " + quoted(name)};
    return text;
}

Status write_existing(const std::string& path, std::string_view data) {
    unique_fd fd(::open(path.c_str(), O_WRONLY | O_TRUNC | O_CLOEXEC));
    if (!fd) return os_error("open " + quoted(path));
    ssize_t n;
    do n = ::write(fd.get(), data.data(), data.size());
    while (n < 0 && errno == EINTR);
    const std::string what = "write " + quoted(std::string(data)) + " to " + quoted(path);
    if (n < 0) return os_error(what);
    // The kernel takes such a value whole or not at all; a part would be a kernel bug.
    if (static_cast<std::size_t>(n) != data.size()) return Error::os(EIO, what);
    return {};
}

Status replace_file_at(int dirfd, const std::string& name, std::string_view content, mode_t mode) {
    return replace(dirfd, name, content, /*durable=*/false, "rename " + quoted(name + ".tmp"), mode);
}

Status replace_file_durably(const std::string& path, std::string_view content) {
    if (auto st = replace(AT_FDCWD, path, content, /*durable=*/true,
                          "rename " + quoted(path + ".tmp") + " to " + quoted(path));
        !st)
        return st;
    unique_fd dir(::open(parent_of(path).c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    if (dir) (void)::fsync(dir.get());
    return {};
}

Status update_file(const std::string& path, std::string_view content) {
    {
        unique_fd cur(::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW));
        if (cur) {
            // One byte more than wanted: a longer file is not a match.
            std::string have(content.size() + 1, '\0');
            ssize_t n = ::read(cur.get(), have.data(), have.size());
            if (n == static_cast<ssize_t>(content.size()) && have.compare(0, content.size(), content) == 0) return {};
        }
    }
    return replace_file_at(AT_FDCWD, path, content);
}

Result<unique_fd> open_dir(const std::string& path) {
    unique_fd fd(::open(path.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    if (!fd) return os_error("open " + quoted(path));
    return fd;
}

bool exists(const std::string& path) {
    struct stat st;
    return ::stat(path.c_str(), &st) == 0;
}

bool is_dir(const std::string& path) {
    struct stat st;
    return ::stat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode);
}

Status make_dir(const std::string& path, mode_t mode, bool* created) {
    if (created) *created = false;
    if (::mkdir(path.c_str(), mode) == 0) {
        if (created) *created = true;
        return {};
    }
    if (errno == EEXIST && is_dir(path)) return {};
    return os_error("mkdir " + quoted(path));
}

Status make_dirs(const std::string& path_in, mode_t mode) {
    std::string path = path_in;
    while (path.size() > 1 && path.back() == '/') path.pop_back();
    if (path.empty()) return Error::os(ENOENT, "mkdir \"\"");
    // Each prefix ending before a '/' is a parent; the last is `path` itself.
    for (std::size_t slash = path.find('/', 1); slash != std::string::npos; slash = path.find('/', slash + 1)) {
        if (path[slash - 1] == '/') continue;  // "a//b"
        if (auto st = make_dir(path.substr(0, slash), 0777); !st) return st;
    }
    bool created = false;
    if (auto st = make_dir(path, mode, &created); !st) return st;
    // Exactly `mode`, whatever the umask took away.
    if (created && ::chmod(path.c_str(), mode) != 0) return os_error("chmod " + quoted(path));
    return {};
}

Result<std::vector<std::string>> subdirs(const std::string& dir) {
    std::vector<std::string> out;
    DIR* d = ::opendir(dir.c_str());
    if (!d) {
        if (errno == ENOENT) return out;
        return os_error("opendir " + quoted(dir));
    }
    while (auto* e = ::readdir(d)) {
        std::string n = e->d_name;
        if (n == "." || n == "..") continue;
        if (e->d_type == DT_DIR || (e->d_type == DT_UNKNOWN && is_dir(dir + "/" + n))) out.push_back(n);
    }
    ::closedir(d);
    return out;
}

}  // namespace isolated::sys
