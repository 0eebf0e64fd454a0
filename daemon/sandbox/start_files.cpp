#include "sandbox/start_files.hpp"

#include <fcntl.h>
#include <linux/openat2.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <sstream>

#include "isolated/unique_fd.hpp"
#include "sys/file.hpp"

namespace isolated::sandbox {
namespace {

std::string octal(unsigned mode) {
    std::ostringstream o;
    o << '0' << std::oct << (mode & 07777);
    return o.str();
}

std::string rtrim(std::string s) {
    while (!s.empty() && (s.back() == '\n' || s.back() == '\r' || s.back() == ' ' || s.back() == '\t')) s.pop_back();
    return s;
}

}  // namespace

std::vector<std::string> StartFiles::values() const {
    std::vector<std::string> out;
    for (const auto& [name, value] : env) out.push_back(value);
    for (const auto& s : secrets) {
        out.push_back(s.content);
        out.push_back(rtrim(s.content));
        std::istringstream in(s.content);
        for (std::string line; std::getline(in, line);) out.push_back(rtrim(line));
    }
    return out;
}

Result<EnvList> read_env_files(const std::vector<EnvFileSpec>& files) {
    EnvList out;
    for (const auto& f : files) {
        const std::string what = "envFile " + f.path;
        // O_NONBLOCK: a FIFO put in the file's place must not hang the daemon.
        unique_fd fd(::open(f.path.c_str(), O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK));
        if (!fd) {
            if (errno == ENOENT && f.optional) continue;
            return os_error(what);
        }
        struct stat st;
        if (::fstat(fd.get(), &st) < 0) return os_error(what);
        if (S_ISDIR(st.st_mode)) return Error::os(EISDIR, what);
        if (!S_ISREG(st.st_mode)) return Error::msg(what + ": is not a regular file");
        if (static_cast<std::uint64_t>(st.st_size) > env_file_max_bytes)
            return Error::msg(what + ": larger than 1 MiB");
        auto text = sys::read_all(fd.get(), env_file_max_bytes);
        if (!text) return Error{text.error().errno_value, what + ": " + text.error().message};
        auto vars = parse_env_file(*text);
        if (!vars) return Error::msg(what + ": " + vars.error().message);
        for (auto& v : *vars) out.push_back(std::move(v));
    }
    return out;
}

std::optional<std::string> secret_source_problem(const struct stat& st) {
    if (S_ISDIR(st.st_mode)) return "is a directory, not a file";
    if (!S_ISREG(st.st_mode)) return "is not a regular file";
    if (st.st_uid != 0)
        return "is owned by uid " + std::to_string(st.st_uid) +
               ", not root (only root may decide what an app's secret is: chown root)";
    if (st.st_mode & (S_IWGRP | S_IWOTH))
        return "is writable by its group or by others (mode " + octal(st.st_mode) + "; chmod go-w)";
    if (static_cast<std::uint64_t>(st.st_size) > secret_max_bytes)
        return "is larger than 1 MiB (systemd's limit for a credential)";
    return std::nullopt;
}

Result<std::string> read_secret(const SecretSpec& secret) {
    const std::string what = "secret \"" + secret.name + "\" (" + secret.source + ")";
    // No symlink anywhere on the path: what is read is the file the operator named, not
    // one a link (planted or forgotten) leads to. O_NONBLOCK: a FIFO must not hang us.
    const int flags = O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NOFOLLOW | O_NONBLOCK;
    open_how how{};
    how.flags = static_cast<std::uint64_t>(flags);
    how.resolve = RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS;
    int raw = static_cast<int>(::syscall(SYS_openat2, AT_FDCWD, secret.source.c_str(), &how, sizeof how));
    if (raw < 0 && (errno == ENOSYS || errno == EPERM))  // no openat2 (Linux < 5.6, or a seccomp filter)
        raw = ::open(secret.source.c_str(), flags);
    unique_fd fd(raw);
    if (!fd) {
        if (errno == ELOOP)
            return Error::msg(what + ": is a symlink, or a directory on its path is (secrets are read without "
                                     "following symlinks: name the file itself)");
        return os_error(what);
    }
    struct stat st;
    if (::fstat(fd.get(), &st) < 0) return os_error(what);
    if (auto why = secret_source_problem(st)) return Error::msg(what + ": " + *why);
    auto content = sys::read_all(fd.get(), secret_max_bytes);
    if (!content) return Error{content.error().errno_value, what + ": " + content.error().message};
    return std::move(*content);
}

Result<StartFiles> read_start_files(const AppSpec& spec) {
    StartFiles out;
    for (const auto& f : spec.env_files) {
        auto env = read_env_files({f});
        if (!env) return env.error();
        for (auto& kv : *env) {
            if (kv.first == "CREDENTIALS_DIRECTORY" && !spec.secrets.empty())
                return Error::msg("envFile " + f.path + ": sets CREDENTIALS_DIRECTORY, which isolated sets to " +
                                  std::string(kSecretsDir) + " for an app with secrets");
            out.env.push_back(std::move(kv));
        }
    }
    std::size_t total = 0;
    for (const auto& s : spec.secrets) {
        auto content = read_secret(s);
        if (!content) return content.error();
        total += content->size();
        if (total > secrets_total_max_bytes)
            return Error::msg("secrets: together larger than 1 MiB (systemd's limit for a service's credentials); "
                              "the last one read was \"" + s.name + "\"");
        SecretFile f;
        f.name = s.name;
        f.content = std::move(*content);
        f.mode = s.mode;
        out.secrets.push_back(std::move(f));
    }
    return out;
}

}  // namespace isolated::sandbox
