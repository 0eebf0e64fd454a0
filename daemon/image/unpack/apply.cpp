#include "image/unpack/apply.hpp"

#include <archive.h>
#include <archive_entry.h>
#include <dirent.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <deque>
#include <memory>
#include <optional>
#include <set>
#include <vector>

#include "image/tree.hpp"
#include "isolated/unique_fd.hpp"

namespace isolated::image::unpack {
namespace {

constexpr std::string_view whiteout_prefix = ".wh.";
constexpr std::string_view opaque_marker = ".wh..wh..opq";
constexpr int max_symlinks = 40;  // the kernel's own limit (ELOOP)

using Components = std::vector<std::string>;

std::string join(const Components& c, std::size_t n) {
    std::string s;
    for (std::size_t i = 0; i < n && i < c.size(); ++i) {
        if (!s.empty()) s += '/';
        s += c[i];
    }
    return s.empty() ? "." : s;
}
std::string join(const Components& c) { return join(c, c.size()); }

struct ArchiveDeleter {
    void operator()(archive* a) const { archive_read_free(a); }
};
using ArchivePtr = std::unique_ptr<archive, ArchiveDeleter>;

std::string error_of(archive* a, const char* fallback) {
    const char* e = archive_error_string(a);
    return e ? e : fallback;
}

/// The layer's bytes, decompressed (gzip, zstd or none) by a raw-format reader, hashed
/// on their way into the tar reader: the diff_id is checked over exactly what was
/// applied.
struct Source {
    archive* raw = nullptr;
    Sha256 hash;
    std::string error;
    bool eof = false;
    char buf[256 * 1024];
};

la_ssize_t source_read(archive*, void* client, const void** out) {
    auto* src = static_cast<Source*>(client);
    if (src->eof) return 0;
    la_ssize_t n = archive_read_data(src->raw, src->buf, sizeof src->buf);
    if (n < 0) {
        const char* e = archive_error_string(src->raw);
        src->error = e ? e : "read error";
        return -1;
    }
    if (n == 0) src->eof = true;
    src->hash.update(src->buf, static_cast<std::size_t>(n));
    *out = src->buf;
    return n;
}

class Applier {
public:
    Applier(int root_fd, std::string what, const ApplyOptions& options)
        : root_(root_fd), what_(std::move(what)), options_(options) {}

    Status apply(archive* tar, archive_entry* e);
    Status finish();
    std::uint64_t entries = 0;

private:
    Error fail(const std::string& entry, const std::string& why) const {
        return Error::msg(what_ + ": entry \"" + entry + "\": " + why);
    }
    Error fail_os(const std::string& entry, const std::string& op) const {
        int err = errno;
        return Error::os(err, what_ + ": entry \"" + entry + "\": " + op + ": " + std::strerror(err));
    }
    Result<Components> split(const std::string& entry, const std::string& path, const char* role) const;
    Result<unique_fd> open_real(const Components& real) const;
    /// Resolves `comps` (parents only, all directories) to their real location in the
    /// tree, following symlinks that stay inside, creating missing directories when
    /// `create`. nullopt (no error) when a directory is missing and !create.
    Result<std::optional<Components>> resolve_dirs(const std::string& entry, const Components& comps, bool create);
    Status clear_opaque(const std::string& entry, int dirfd, const std::string& real);
    Status set_meta(const std::string& entry, int fd, archive_entry* e, bool is_dir);
    Status set_xattrs(const std::string& entry, int fd, archive_entry* e);

    int root_;
    std::string what_;
    ApplyOptions options_;
    /// Real paths this layer wrote: an opaque directory keeps them (it hides lower
    /// content only, and the tar may list a directory's new entries before its marker).
    std::set<std::string> written_;
    struct DirTimes {
        Components real;
        timespec times[2];
    };
    /// Directory mtimes, set when the layer is done (writing into a directory changes
    /// its mtime).
    std::vector<DirTimes> dir_times_;
    /// The last entry's parent, resolved: a tar lists a directory's files together, so
    /// most entries reuse it instead of walking the path again (openat2 + fstatat per
    /// component, then an open of the directory). Only the exact same parent path hits;
    /// whiteouts and opaque markers drop it. An entry that replaces something replaces
    /// a child of this directory, never the directory or its ancestors (those are
    /// entries with another parent, which re-resolve and take the slot).
    struct Parent {
        Components parents;
        Components real;
        unique_fd dir;
    };
    std::optional<Parent> parent_;
};

Result<Components> Applier::split(const std::string& entry, const std::string& path, const char* role) const {
    if (!path.empty() && path[0] == '/')
        return fail(entry, std::string(role) + " is an absolute path (\"" + path + "\"): refused, it would leave the image");
    Components out;
    std::size_t i = 0;
    while (i <= path.size()) {
        auto j = path.find('/', i);
        if (j == std::string::npos) j = path.size();
        std::string c = path.substr(i, j - i);
        i = j + 1;
        if (c.empty() || c == ".") continue;
        if (c == "..")
            return fail(entry, std::string(role) + " has a \"..\" component (\"" + path + "\"): refused, it would climb out of the image");
        out.push_back(std::move(c));
    }
    return out;
}

Result<unique_fd> Applier::open_real(const Components& real) const {
    open_how how{};
    how.flags = O_PATH | O_DIRECTORY | O_CLOEXEC;
    // `real` has no symlinks left (resolve_dirs followed them): any found now is a
    // change behind our back, refused; and nothing resolves above the root.
    how.resolve = RESOLVE_IN_ROOT | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS;
    std::string p = join(real);
    int fd = static_cast<int>(::syscall(SYS_openat2, root_, p.c_str(), &how, sizeof how));
    if (fd < 0) return os_error("openat2 \"" + p + "\"");
    return unique_fd(fd);
}

Result<std::optional<Components>> Applier::resolve_dirs(const std::string& entry, const Components& comps,
                                                         bool create) {
    Components real;
    std::deque<std::string> todo(comps.begin(), comps.end());
    int links = 0;
    auto dir = open_real(real);
    if (!dir) return fail(entry, dir.error().to_string());
    unique_fd cur = std::move(*dir);
    while (!todo.empty()) {
        std::string c = std::move(todo.front());
        todo.pop_front();
        if (c.empty() || c == ".") continue;
        if (c == "..") {
            // Only a symlink's target gets here (entry names with ".." are refused).
            if (real.empty()) return fail(entry, "a symlink in its path climbs above the image's root: refused");
            real.pop_back();
        } else {
            struct stat st{};
            if (::fstatat(cur.get(), c.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) {
                if (errno != ENOENT) return fail_os(entry, "stat \"" + join(real) + "/" + c + "\"");
                if (!create) return std::optional<Components>{};
                if (::mkdirat(cur.get(), c.c_str(), 0755) != 0)
                    return fail_os(entry, "mkdir \"" + join(real) + "/" + c + "\"");
                real.push_back(c);
                written_.insert(join(real));
            } else if (S_ISDIR(st.st_mode)) {
                real.push_back(c);
            } else if (S_ISLNK(st.st_mode)) {
                if (++links > max_symlinks) return fail(entry, "too many levels of symlinks in its path");
                char target[PATH_MAX + 1];
                ssize_t n = ::readlinkat(cur.get(), c.c_str(), target, PATH_MAX);
                if (n < 0) return fail_os(entry, "readlink \"" + join(real) + "/" + c + "\"");
                std::string t(target, static_cast<std::size_t>(n));
                if (!t.empty() && t[0] == '/')
                    return fail(entry, "its parent \"" + join(real) + "/" + c + "\" is a symlink to \"" + t +
                                           "\", outside the image: refused");
                std::deque<std::string> parts;
                std::size_t i = 0;
                while (i <= t.size()) {
                    auto j = t.find('/', i);
                    if (j == std::string::npos) j = t.size();
                    parts.push_back(t.substr(i, j - i));
                    i = j + 1;
                }
                // Check the climb before following, for the message.
                long depth = static_cast<long>(real.size());
                for (const auto& p : parts) {
                    if (p == "..") --depth;
                    else if (!p.empty() && p != ".") ++depth;
                    if (depth < 0)
                        return fail(entry, "its parent \"" + join(real) + "/" + c + "\" is a symlink to \"" + t +
                                               "\", which climbs out of the image: refused");
                }
                todo.insert(todo.begin(), parts.begin(), parts.end());
            } else {
                return fail(entry, "its parent \"" + join(real) + "/" + c + "\" is not a directory");
            }
        }
        auto next = open_real(real);
        if (!next) return fail(entry, next.error().to_string());
        cur = std::move(*next);
    }
    return std::optional<Components>(std::move(real));
}

Status Applier::clear_opaque(const std::string& entry, int dirfd, const std::string& real) {
    int dup = ::openat(dirfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dup < 0) return fail_os(entry, "open \"" + real + "\"");
    DIR* d = ::fdopendir(dup);
    if (!d) {
        ::close(dup);
        return fail_os(entry, "opendir \"" + real + "\"");
    }
    std::vector<std::string> names;
    while (dirent* ent = ::readdir(d)) {
        std::string n = ent->d_name;
        if (n != "." && n != "..") names.push_back(n);
    }
    ::closedir(d);
    for (const auto& n : names) {
        std::string path = real == "." ? n : real + "/" + n;
        if (written_.count(path)) {
            // Written by this layer: kept, but if it is a directory its lower content
            // is hidden too.
            struct stat st{};
            if (::fstatat(dirfd, n.c_str(), &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISDIR(st.st_mode)) {
                unique_fd sub(::openat(dirfd, n.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
                if (!sub) return fail_os(entry, "open \"" + path + "\"");
                if (auto r = clear_opaque(entry, sub.get(), path); !r) return r;
            }
            continue;
        }
        if (auto r = remove_tree_at(dirfd, n); !r) return fail(entry, r.error().to_string());
    }
    return {};
}

Status Applier::set_xattrs(const std::string& entry, int fd, archive_entry* e) {
    archive_entry_xattr_reset(e);
    const char* name = nullptr;
    const void* value = nullptr;
    size_t size = 0;
    while (archive_entry_xattr_next(e, &name, &value, &size) == ARCHIVE_OK) {
        if (!name) continue;
        std::string n = name;
        if (!options_.privileged && n.rfind("user.", 0) != 0) continue;
        if (::fsetxattr(fd, name, value, size, 0) != 0) {
            // A file system without xattrs (or without this namespace) cannot hold it;
            // the image still runs the way it would on such a file system.
            if (errno == EOPNOTSUPP) continue;
            return fail_os(entry, "set xattr \"" + n + "\"");
        }
    }
    return {};
}

Status Applier::set_meta(const std::string& entry, int fd, archive_entry* e, bool is_dir) {
    // Owner first: chown clears setuid/setgid and security.capability, which come after.
    if (options_.privileged && ::fchown(fd, archive_entry_uid(e), archive_entry_gid(e)) != 0)
        return fail_os(entry, "chown");
    if (::fchmod(fd, archive_entry_perm(e) & 07777) != 0) return fail_os(entry, "chmod");
    if (auto r = set_xattrs(entry, fd, e); !r) return r;
    timespec times[2];
    times[1].tv_sec = archive_entry_mtime(e);
    times[1].tv_nsec = archive_entry_mtime_nsec(e);
    if (archive_entry_atime_is_set(e)) {
        times[0].tv_sec = archive_entry_atime(e);
        times[0].tv_nsec = archive_entry_atime_nsec(e);
    } else {
        times[0] = times[1];
    }
    if (is_dir) return {};  // set by finish()
    if (::futimens(fd, times) != 0) return fail_os(entry, "set times");
    return {};
}

Status Applier::apply(archive* tar, archive_entry* e) {
    ++entries;
    const char* raw_name = archive_entry_pathname(e);
    std::string entry = raw_name ? raw_name : "";
    auto comps = split(entry, entry, "its path");
    if (!comps) return comps.error();
    const mode_t type = archive_entry_filetype(e);
    const char* hardlink = archive_entry_hardlink(e);

    if (comps->empty()) {
        // "./": the root directory's own metadata.
        if (hardlink || type != AE_IFDIR) return fail(entry, "names the image's root but is not a directory");
        unique_fd fd(::openat(root_, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC));
        if (!fd) return fail_os(entry, "open the root");
        if (auto r = set_meta(entry, fd.get(), e, true); !r) return r;
        DirTimes t{{}, {}};
        t.times[1] = {archive_entry_mtime(e), archive_entry_mtime_nsec(e)};
        t.times[0] = t.times[1];
        dir_times_.push_back(t);
        return {};
    }

    std::string name = comps->back();
    Components parents(comps->begin(), comps->end() - 1);

    // Whiteouts: only remove what lower layers made.
    if (name == opaque_marker || name.rfind(whiteout_prefix, 0) == 0) parent_.reset();
    if (name == opaque_marker) {
        auto real = resolve_dirs(entry, parents, true);
        if (!real) return real.error();
        auto dir = open_real(**real);
        if (!dir) return fail(entry, dir.error().to_string());
        unique_fd rd(::openat(dir->get(), ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC));
        if (!rd) return fail_os(entry, "open \"" + join(**real) + "\"");
        return clear_opaque(entry, rd.get(), join(**real));
    }
    if (name.rfind(whiteout_prefix, 0) == 0) {
        std::string victim = name.substr(whiteout_prefix.size());
        // AUFS' own metadata (.wh..wh.plnk, .wh..wh.aufs): not part of the image.
        if (victim.rfind(".wh.", 0) == 0) return {};
        if (victim.empty() || victim == "." || victim == "..") return fail(entry, "is a whiteout of nothing");
        auto real = resolve_dirs(entry, parents, false);
        if (!real) return real.error();
        if (!*real) return {};  // its directory is not there: nothing to hide
        auto dir = open_real(**real);
        if (!dir) return fail(entry, dir.error().to_string());
        unique_fd rd(::openat(dir->get(), ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC));
        if (!rd) return fail_os(entry, "open \"" + join(**real) + "\"");
        if (auto r = remove_tree_at(rd.get(), victim); !r) return fail(entry, r.error().to_string());
        return {};
    }

    if (!parent_ || parent_->parents != parents) {
        parent_.reset();
        auto real = resolve_dirs(entry, parents, true);
        if (!real) return real.error();
        auto parent_path = open_real(**real);
        if (!parent_path) return fail(entry, parent_path.error().to_string());
        // O_PATH fds do not take *at() creation calls on every kernel: a real dir fd.
        unique_fd pd(::openat(parent_path->get(), ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC));
        if (!pd) return fail_os(entry, "open \"" + join(**real) + "\"");
        parent_ = Parent{parents, std::move(**real), std::move(pd)};
    }
    const int dirfd = parent_->dir.get();
    Components real_path = parent_->real;
    real_path.push_back(name);
    const std::string real_str = join(real_path);

    // What is there now goes, unless a directory meets a directory (its content and
    // the new metadata merge).
    struct stat old{};
    bool exists = ::fstatat(dirfd, name.c_str(), &old, AT_SYMLINK_NOFOLLOW) == 0;
    if (!exists && errno != ENOENT) return fail_os(entry, "stat");
    const bool want_dir = !hardlink && type == AE_IFDIR;
    if (exists && !(want_dir && S_ISDIR(old.st_mode))) {
        if (auto r = remove_tree_at(dirfd, name); !r) return fail(entry, r.error().to_string());
    }
    written_.insert(real_str);

    if (hardlink) {
        std::string target_name = hardlink;
        auto target = split(entry, target_name, "its hardlink target");
        if (!target) return target.error();
        if (target->empty()) return fail(entry, "is a hardlink to the image's root directory");
        Components tparents(target->begin(), target->end() - 1);
        auto treal = resolve_dirs(entry, tparents, false);
        if (!treal) return treal.error();
        if (!*treal) return fail(entry, "is a hardlink to \"" + target_name + "\", which is not in the image");
        auto tdir = open_real(**treal);
        if (!tdir) return fail(entry, tdir.error().to_string());
        unique_fd td(::openat(tdir->get(), ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC));
        if (!td) return fail_os(entry, "open \"" + join(**treal) + "\"");
        struct stat tst{};
        if (::fstatat(td.get(), target->back().c_str(), &tst, AT_SYMLINK_NOFOLLOW) != 0)
            return fail(entry, "is a hardlink to \"" + target_name + "\", which is not in the image");
        if (S_ISDIR(tst.st_mode)) return fail(entry, "is a hardlink to a directory (\"" + target_name + "\")");
        if (::linkat(td.get(), target->back().c_str(), dirfd, name.c_str(), 0) != 0)
            return fail_os(entry, "link to \"" + target_name + "\"");
        return {};
    }

    switch (type) {
        case AE_IFREG: {
            unique_fd fd(::openat(dirfd, name.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600));
            if (!fd) return fail_os(entry, "create");
            const void* buf = nullptr;
            size_t size = 0;
            la_int64_t offset = 0;
            off_t end = 0;
            int r;
            while ((r = archive_read_data_block(tar, &buf, &size, &offset)) == ARCHIVE_OK) {
                const char* p = static_cast<const char*>(buf);
                off_t at = static_cast<off_t>(offset);
                end = std::max(end, at + static_cast<off_t>(size));
                while (size > 0) {
                    ssize_t n = ::pwrite(fd.get(), p, size, at);
                    if (n < 0) {
                        if (errno == EINTR) continue;
                        return fail_os(entry, "write");
                    }
                    p += n;
                    at += n;
                    size -= static_cast<size_t>(n);
                }
            }
            if (r != ARCHIVE_EOF) {
                const char* es = archive_error_string(tar);
                return fail(entry, std::string("reading its data: ") + (es ? es : "archive error"));
            }
            // Sparse files: the size is the entry's, whatever the last block was. Only
            // then: a truncate to the size the file has already is not free on ext4.
            if (end != static_cast<off_t>(archive_entry_size(e)) &&
                ::ftruncate(fd.get(), static_cast<off_t>(archive_entry_size(e))) != 0)
                return fail_os(entry, "truncate");
            return set_meta(entry, fd.get(), e, false);
        }
        case AE_IFDIR: {
            if (!exists || !S_ISDIR(old.st_mode)) {
                if (::mkdirat(dirfd, name.c_str(), 0700) != 0) return fail_os(entry, "mkdir");
            }
            unique_fd fd(::openat(dirfd, name.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
            if (!fd) return fail_os(entry, "open");
            if (auto r = set_meta(entry, fd.get(), e, true); !r) return r;
            DirTimes t{real_path, {}};
            t.times[1] = {archive_entry_mtime(e), archive_entry_mtime_nsec(e)};
            t.times[0] = t.times[1];
            dir_times_.push_back(std::move(t));
            return {};
        }
        case AE_IFLNK: {
            const char* target = archive_entry_symlink(e);
            if (!target) return fail(entry, "is a symlink without a target");
            // Kept as written: it is resolved later inside the sandbox's root, never by us.
            if (::symlinkat(target, dirfd, name.c_str()) != 0) return fail_os(entry, "symlink");
            if (options_.privileged &&
                ::fchownat(dirfd, name.c_str(), archive_entry_uid(e), archive_entry_gid(e), AT_SYMLINK_NOFOLLOW) != 0)
                return fail_os(entry, "chown");
            timespec times[2];
            times[1] = {archive_entry_mtime(e), archive_entry_mtime_nsec(e)};
            times[0] = times[1];
            if (::utimensat(dirfd, name.c_str(), times, AT_SYMLINK_NOFOLLOW) != 0) return fail_os(entry, "set times");
            return {};
        }
        case AE_IFCHR:
        case AE_IFBLK:
        case AE_IFIFO: {
            if (type != AE_IFIFO && !options_.privileged) return {};  // devices need root
            mode_t kind = type == AE_IFCHR ? S_IFCHR : type == AE_IFBLK ? S_IFBLK : S_IFIFO;
            dev_t dev = type == AE_IFIFO ? 0 : makedev(archive_entry_rdevmajor(e), archive_entry_rdevminor(e));
            if (::mknodat(dirfd, name.c_str(), kind | 0600, dev) != 0) return fail_os(entry, "mknod");
            // A device or fifo cannot be opened for its metadata without side effects:
            // O_PATH is enough for fchownat/fchmodat by path under the parent.
            if (options_.privileged &&
                ::fchownat(dirfd, name.c_str(), archive_entry_uid(e), archive_entry_gid(e), AT_SYMLINK_NOFOLLOW) != 0)
                return fail_os(entry, "chown");
            if (::fchmodat(dirfd, name.c_str(), archive_entry_perm(e) & 07777, 0) != 0) return fail_os(entry, "chmod");
            timespec times[2];
            times[1] = {archive_entry_mtime(e), archive_entry_mtime_nsec(e)};
            times[0] = times[1];
            if (::utimensat(dirfd, name.c_str(), times, AT_SYMLINK_NOFOLLOW) != 0) return fail_os(entry, "set times");
            return {};
        }
        default:
            return fail(entry, "has an unsupported file type (socket or unknown)");
    }
}

Status Applier::finish() {
    // Deepest first, so setting a parent's time comes after its children's changes.
    for (auto it = dir_times_.rbegin(); it != dir_times_.rend(); ++it) {
        auto fd = open_real(it->real);
        if (!fd) continue;  // removed by a later whiteout in the same layer
        unique_fd d(::openat(fd->get(), ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC));
        if (d) ::futimens(d.get(), it->times);
    }
    return {};
}

}  // namespace

Result<LayerResult> apply_layer(int root_fd, int layer_fd, const std::string& what,
                                const std::optional<Digest>& diff_id, const ApplyOptions& options) {
    ArchivePtr raw(archive_read_new());
    // Only what the image spec allows (plain, gzip, zstd): no "all", which includes
    // filters that run external programs on the hostile bytes.
    archive_read_support_filter_gzip(raw.get());
    archive_read_support_filter_zstd(raw.get());
    archive_read_support_format_raw(raw.get());
    if (archive_read_open_fd(raw.get(), layer_fd, 256 * 1024) != ARCHIVE_OK)
        return Error::msg(what + ": " + error_of(raw.get(), "cannot open"));
    archive_entry* re = nullptr;
    int r = archive_read_next_header(raw.get(), &re);
    if (r == ARCHIVE_EOF) return Error::msg(what + ": the layer is empty (not a tar)");
    if (r != ARCHIVE_OK) return Error::msg(what + ": " + error_of(raw.get(), "cannot read"));

    auto src = std::make_unique<Source>();
    src->raw = raw.get();
    ArchivePtr tar(archive_read_new());
    archive_read_support_format_tar(tar.get());
    archive_read_support_format_gnutar(tar.get());
    if (archive_read_open(tar.get(), src.get(), nullptr, source_read, nullptr) != ARCHIVE_OK)
        return Error::msg(what + ": " + (!src->error.empty() ? src->error : error_of(tar.get(), "not a tar")));

    Applier applier(root_fd, what, options);
    archive_entry* e = nullptr;
    while (true) {
        r = archive_read_next_header(tar.get(), &e);
        if (r == ARCHIVE_EOF) break;
        if (r == ARCHIVE_WARN) {
            // Non-fatal (an unknown pax keyword): the entry itself is fine.
        } else if (r != ARCHIVE_OK) {
            std::string why = !src->error.empty() ? src->error : error_of(tar.get(), "archive error");
            return Error::msg(what + ": after " + std::to_string(applier.entries) + " entries: " + why);
        }
        if (auto st = applier.apply(tar.get(), e); !st) {
            if (!src->error.empty()) return Error::msg(what + ": " + src->error);
            return st.error();
        }
    }
    if (auto st = applier.finish(); !st) return st.error();
    // The rest of the stream (the tar's end-of-archive blocks and any padding) counts
    // for the digest too.
    const void* dummy = nullptr;
    while (true) {
        la_ssize_t n = source_read(nullptr, src.get(), &dummy);
        if (n == 0) break;
        if (n < 0) return Error::msg(what + ": " + src->error);
    }
    LayerResult out;
    out.entries = applier.entries;
    out.uncompressed_bytes = src->hash.bytes();
    out.diff_id = src->hash.finish();
    if (diff_id && out.diff_id != *diff_id)
        return Error::msg(what + ": its content's digest " + out.diff_id.str() + " does not match the config's diff_id " +
                          diff_id->str());
    return out;
}

}  // namespace isolated::image::unpack
