// Running isolated-unpack (daemon/image/unpack/, image/unpack_protocol.hpp) from the
// image worker: spawned with posix_spawn, its stdout read on a pipe, waited for. Only
// this process's fds that the helper needs reach it (stdin, stdout, stderr, fd 3).
#pragma once

#include <sys/types.h>

#include <cstddef>
#include <string>
#include <vector>

#include "isolated/result.hpp"
#include "isolated/unique_fd.hpp"

namespace isolated::image {

/// "isolated-unpack" beside the running executable (a build tree: the daemon, the
/// tests and the benchmarks), else the installed one in the libexec dir, as the
/// daemon finds isolated-init.
std::string find_unpack_helper();

/// One running isolated-unpack. Destroyed before wait(), it is killed and reaped: a
/// caller that gives up on an archive leaves no process behind.
class UnpackHelper {
public:
    /// Starts `path` with `args` (after argv[0]), `in_fd` as its stdin and `fd3` (when
    /// not -1) as its fd 3. Errors name the helper's path.
    static Result<UnpackHelper> spawn(const std::string& path, const std::vector<std::string>& args, int in_fd,
                                      int fd3 = -1);
    UnpackHelper(UnpackHelper&& other) noexcept;
    UnpackHelper& operator=(UnpackHelper&&) = delete;
    UnpackHelper(const UnpackHelper&) = delete;
    ~UnpackHelper();

    pid_t pid() const { return pid_; }
    /// Exactly `size` bytes of its output; false at its end before the first byte.
    Result<bool> read_exact(void* data, std::size_t size);
    /// Its whole output, up to `max` bytes (more is an error).
    Result<std::string> read_all(std::size_t max);
    /// One record (image/unpack_protocol.hpp) into `kind` and `payload`; false at the
    /// end of its output.
    Result<bool> read_record(char& kind, std::string& payload);
    /// Waits for it to end; an error unless it exited 0 ("the unpack helper
    /// "/usr/libexec/isolated/isolated-unpack" was killed by signal 9 (Killed)").
    Status wait();

private:
    UnpackHelper(std::string path, pid_t pid, unique_fd out) : path_(std::move(path)), pid_(pid), out_(std::move(out)) {}
    std::string path_;
    pid_t pid_ = -1;
    unique_fd out_;
};

}  // namespace isolated::image
