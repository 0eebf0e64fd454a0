// Files and directories: the one home of the daemon's read/write/mkdir helpers. Every
// error carries the errno and the path ("open \"/x\": ENOENT ..."); nothing logs.
//
// Writes come in the variants the callers need, each named for what it guarantees:
//   write_existing        one write(2) into a file that must exist (cgroupfs, /proc/sys)
//   replace_file_at       NAME.tmp + rename: readers see the old or the new file, never
//                         a part; not durable across a power cut (run-dir files)
//   replace_file_durably  the same plus fsync of the file and of its directory
//                         (state-dir files that must survive a crash: leases.json)
//   update_file           replace_file_at unless the file already holds the content
#pragma once

#include <sys/types.h>

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "isolated/result.hpp"
#include "isolated/unique_fd.hpp"

namespace isolated::sys {

/// Reads `fd` from its offset to its end. More than `max` bytes is an error ("larger
/// than 1 MiB", errno 0: a file that grew past its fstat counts too); a read error is
/// `read` with the errno (the caller adds what was read).
Result<std::string> read_all(int fd, std::size_t max = SIZE_MAX);

/// The whole file. Errors: `open "PATH"`, `read "PATH"` (also a file over `max` bytes:
/// a record the daemon reads back is capped, so a damaged or planted one cannot make
/// it allocate without bound).
Result<std::string> read_file(const std::string& path, std::size_t max = SIZE_MAX);

/// The whole file `name` under `dirfd` (AT_FDCWD: a path), not following a symlink as
/// its last component (O_NOFOLLOW): for files in directories the daemon owns, where a
/// link is never ours. Errors: `open "NAME"`, `read "NAME"` (also over `max` bytes).
Result<std::string> read_file_at(int dirfd, const std::string& name, std::size_t max = SIZE_MAX);

/// One write(2) of `data` to a file that must already exist: O_WRONLY|O_TRUNC without
/// O_CREAT, so a missing kernel interface file (a cgroup controller that is not there,
/// a sysctl of another kernel) is ENOENT, never a new regular file. cgroupfs and
/// /proc/sys take one value per write; a short write is EIO. Error: `write "DATA" to
/// "PATH"` (so never give it a secret).
Status write_existing(const std::string& path, std::string_view data);

/// Replaces `name` under `dirfd` (AT_FDCWD: a path) by a file of exactly `mode` holding
/// `content`: writes NAME.tmp (O_NOFOLLOW) and renames it over NAME. The temp file is
/// removed when a step fails. Errors: `create "TMP"`, `chmod "TMP"`, `write "TMP"`,
/// `rename "TMP"`.
Status replace_file_at(int dirfd, const std::string& name, std::string_view content, mode_t mode = 0644);

/// replace_file_at(AT_FDCWD, path) made durable: fsyncs the temp file before the rename
/// and the directory after it (the rename is durable only once the directory entry is).
/// Errors: `create "TMP"`, `write "TMP"`, `fsync "TMP"`, `rename "TMP" to "PATH"`.
Status replace_file_durably(const std::string& path, std::string_view content);

/// replace_file_at(AT_FDCWD, path, content), skipped when the file (not a symlink)
/// already holds exactly `content`: most starts find their files as the last one left
/// them.
Status update_file(const std::string& path, std::string_view content);

/// open(2) of a directory: O_RDONLY|O_DIRECTORY|O_CLOEXEC (usable with *at() calls and
/// as clone3's cgroup fd). Error: `open "PATH"`.
Result<unique_fd> open_dir(const std::string& path);

bool exists(const std::string& path);
bool is_dir(const std::string& path);

/// mkdir(2) with `mode` (less the umask); a directory already there is success with
/// *created = false (anything else there is EEXIST). Error: `mkdir "PATH"`.
Status make_dir(const std::string& path, mode_t mode = 0755, bool* created = nullptr);

/// mkdir -p: makes `path` and every missing parent (parents 0777 less the umask, as
/// mkdir -p). `path` itself, when made here, is then chmod()ed to exactly `mode`;
/// directories already there are left as they are. Error: `mkdir "DIR"`, the first
/// directory that could not be made.
Status make_dirs(const std::string& path, mode_t mode);

/// Names of the subdirectories of `dir` (not recursive, unsorted); a missing `dir` is
/// an empty list. Error: `opendir "DIR"`.
Result<std::vector<std::string>> subdirs(const std::string& dir);

}  // namespace isolated::sys
