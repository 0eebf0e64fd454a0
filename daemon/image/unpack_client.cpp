#include "image/unpack_client.hpp"

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <cstring>
#include <filesystem>

#include "image/unpack_protocol.hpp"

extern char** environ;

namespace isolated::image {

std::string find_unpack_helper() {
    std::error_code ec;
    auto self = std::filesystem::read_symlink("/proc/self/exe", ec);
    if (!ec) {
        auto beside = self.parent_path() / "isolated-unpack";
        if (::access(beside.c_str(), X_OK) == 0) return beside.string();
    }
    return std::string(ISOLATED_LIBEXECDIR) + "/isolated-unpack";
}

Result<UnpackHelper> UnpackHelper::spawn(const std::string& path, const std::vector<std::string>& args, int in_fd,
                                         int fd3) {
    auto fail = [&](int err, const std::string& what) {
        return Error::os(err, what + " for the unpack helper \"" + path + "\"");
    };
    int p[2];
    if (::pipe2(p, O_CLOEXEC) != 0) return fail(errno, "pipe2");
    unique_fd rd(p[0]), wr(p[1]);
    // Out of the way of the slots they are dup2'ed to (0, 1, 3).
    unique_fd in_hi(::fcntl(in_fd, F_DUPFD_CLOEXEC, 10));
    if (!in_hi) return fail(errno, "dup");
    unique_fd wr_hi(::fcntl(wr.get(), F_DUPFD_CLOEXEC, 10));
    if (!wr_hi) return fail(errno, "dup");
    unique_fd fd3_hi;
    if (fd3 >= 0) {
        fd3_hi.reset(::fcntl(fd3, F_DUPFD_CLOEXEC, 10));
        if (!fd3_hi) return fail(errno, "dup");
    }
    wr.reset();

    std::vector<std::string> argv_s{"isolated-unpack"};
    argv_s.insert(argv_s.end(), args.begin(), args.end());
    std::vector<char*> argv;
    for (auto& a : argv_s) argv.push_back(a.data());
    argv.push_back(nullptr);

    posix_spawn_file_actions_t fa;
    posix_spawnattr_t attr;
    posix_spawn_file_actions_init(&fa);
    posix_spawnattr_init(&attr);
    posix_spawn_file_actions_adddup2(&fa, in_hi.get(), 0);
    posix_spawn_file_actions_adddup2(&fa, wr_hi.get(), 1);
    if (fd3_hi) posix_spawn_file_actions_adddup2(&fa, fd3_hi.get(), 3);
    // Every fd is CLOEXEC already; this is the belt to those braces.
    posix_spawn_file_actions_addclosefrom_np(&fa, fd3_hi ? 4 : 3);
    // Default signal dispositions: a closed pipe (the daemon gave up) ends it.
    sigset_t none, all;
    sigemptyset(&none);
    sigfillset(&all);
    posix_spawnattr_setsigmask(&attr, &none);
    posix_spawnattr_setsigdefault(&attr, &all);
    posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
    pid_t pid = -1;
    int rc = ::posix_spawn(&pid, path.c_str(), &fa, &attr, argv.data(), environ);
    posix_spawn_file_actions_destroy(&fa);
    posix_spawnattr_destroy(&attr);
    if (rc != 0) return Error::os(rc, "cannot run the unpack helper \"" + path + "\"");
    return UnpackHelper(path, pid, std::move(rd));
}

UnpackHelper::UnpackHelper(UnpackHelper&& other) noexcept
    : path_(std::move(other.path_)), pid_(other.pid_), out_(std::move(other.out_)) {
    other.pid_ = -1;
}

UnpackHelper::~UnpackHelper() {
    out_.reset();
    if (pid_ > 0) {
        ::kill(pid_, SIGKILL);
        while (::waitpid(pid_, nullptr, 0) < 0 && errno == EINTR) {
        }
    }
}

Result<bool> UnpackHelper::read_exact(void* data, std::size_t size) {
    auto* p = static_cast<char*>(data);
    std::size_t got = 0;
    while (got < size) {
        ssize_t n = ::read(out_.get(), p + got, size - got);
        if (n < 0) {
            if (errno == EINTR) continue;
            return Error::os(errno, "read from the unpack helper \"" + path_ + "\"");
        }
        if (n == 0) {
            if (got == 0) return false;
            return Error::msg("the unpack helper \"" + path_ + "\" stopped in the middle of a record");
        }
        got += static_cast<std::size_t>(n);
    }
    return true;
}

Result<std::string> UnpackHelper::read_all(std::size_t max) {
    std::string out;
    char buf[4096];
    while (true) {
        ssize_t n = ::read(out_.get(), buf, sizeof buf);
        if (n < 0) {
            if (errno == EINTR) continue;
            return Error::os(errno, "read from the unpack helper \"" + path_ + "\"");
        }
        if (n == 0) return out;
        if (out.size() + static_cast<std::size_t>(n) > max)
            return Error::msg("the unpack helper \"" + path_ + "\" wrote more than " + std::to_string(max) + " bytes");
        out.append(buf, static_cast<std::size_t>(n));
    }
}

Result<bool> UnpackHelper::read_record(char& kind, std::string& payload) {
    char head[unpack_protocol::record_header];
    auto got = read_exact(head, sizeof head);
    if (!got) return got.error();
    if (!*got) return false;
    kind = head[0];
    std::uint32_t len = 0;
    std::memcpy(&len, head + 1, sizeof len);
    if (len > unpack_protocol::max_record)
        return Error::msg("the unpack helper \"" + path_ + "\" sent a record of " + std::to_string(len) + " bytes");
    payload.resize(len);
    if (len == 0) return true;
    auto body = read_exact(payload.data(), len);
    if (!body) return body.error();
    if (!*body) return Error::msg("the unpack helper \"" + path_ + "\" stopped in the middle of a record");
    return true;
}

Status UnpackHelper::wait() {
    out_.reset();
    int status = 0;
    pid_t pid = pid_;
    pid_ = -1;
    while (::waitpid(pid, &status, 0) < 0) {
        if (errno != EINTR) return Error::os(errno, "wait for the unpack helper \"" + path_ + "\"");
    }
    if (WIFEXITED(status) && WEXITSTATUS(status) == 0) return {};
    if (WIFSIGNALED(status))
        return Error::msg("the unpack helper \"" + path_ + "\" was killed by signal " + std::to_string(WTERMSIG(status)) +
                          " (" + ::strsignal(WTERMSIG(status)) + ")");
    return Error::msg("the unpack helper \"" + path_ + "\" exited with status " + std::to_string(WEXITSTATUS(status)));
}

}  // namespace isolated::image
