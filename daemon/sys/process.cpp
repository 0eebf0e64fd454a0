#include "sys/process.hpp"

#include <sys/ioctl.h>

#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <exception>
#include <fstream>
#include <set>
#include <sstream>
#include <string>
#include <vector>

namespace isolated::sys {

Result<unique_fd> pidfd_open(pid_t pid) {
    int fd = static_cast<int>(::syscall(SYS_pidfd_open, pid, 0));
    if (fd < 0) return os_error("pidfd_open " + std::to_string(pid));
    // pidfds are always O_CLOEXEC (pidfd_open(2)).
    return unique_fd(fd);
}

Status pidfd_send_signal(int pidfd, int sig) {
    if (::syscall(SYS_pidfd_send_signal, pidfd, sig, nullptr, 0) < 0)
        return os_error("pidfd_send_signal " + std::to_string(sig));
    return {};
}

namespace {

// include/uapi/linux/pidfd.h of Linux 6.15; the build host's headers may predate it.
// The first version of the struct (PIDFD_INFO_SIZE_VER0, 64 bytes) already holds the
// exit code; the kernel accepts any size from it up.
struct PidfdInfoV0 {
    std::uint64_t mask;
    std::uint64_t cgroupid;
    std::uint32_t pid, tgid, ppid, ruid, rgid, euid, egid, suid, sgid, fsuid, fsgid;
    std::int32_t exit_code;
};
static_assert(sizeof(PidfdInfoV0) == 64);
constexpr std::uint64_t kPidfdInfoExit = 1u << 3;  // PIDFD_INFO_EXIT
constexpr unsigned long kPidfdGetInfo = _IOWR(0xFF, 11, PidfdInfoV0);  // PIDFD_GET_INFO

}  // namespace

std::optional<int> pidfd_exit_status(int pidfd) {
    PidfdInfoV0 info{};
    info.mask = kPidfdInfoExit;
    if (::ioctl(pidfd, kPidfdGetInfo, &info) < 0) return std::nullopt;
    if (!(info.mask & kPidfdInfoExit)) return std::nullopt;
    return info.exit_code;
}

std::vector<pid_t> children_of(pid_t pid) {
    std::vector<pid_t> out;
    std::string task_dir = "/proc/" + std::to_string(pid) + "/task";
    DIR* d = ::opendir(task_dir.c_str());
    if (!d) return out;
    while (auto* e = ::readdir(d)) {
        if (e->d_name[0] < '0' || e->d_name[0] > '9') continue;
        std::ifstream f(task_dir + "/" + e->d_name + "/children");
        pid_t c;
        while (f >> c) out.push_back(c);
    }
    ::closedir(d);
    return out;
}

void kill_descendants(pid_t root, int max_rounds) {
    for (int round = 0; round < max_rounds; ++round) {
        std::vector<pid_t> stack = children_of(root);
        if (stack.empty()) return;
        std::set<pid_t> seen;
        while (!stack.empty()) {
            pid_t p = stack.back();
            stack.pop_back();
            if (!seen.insert(p).second) continue;
            // Stop it first so it cannot fork while we look at its children.
            ::kill(p, SIGSTOP);
            for (pid_t c : children_of(p)) stack.push_back(c);
        }
        for (pid_t p : seen) ::kill(p, SIGKILL);
    }
}

namespace {

// Fields 3.. of /proc/PID/stat (state, ppid, ...): comm (field 2) may contain spaces
// and parentheses, so they start after the last ')'. nullopt when the process is gone.
std::optional<std::vector<std::string>> stat_fields(pid_t pid, int through_field) {
    std::ifstream f("/proc/" + std::to_string(pid) + "/stat");
    std::string line;
    if (!std::getline(f, line)) return std::nullopt;
    auto close = line.rfind(')');
    if (close == std::string::npos || close + 2 > line.size()) return std::vector<std::string>{};
    std::istringstream rest(line.substr(close + 2));
    std::vector<std::string> out;
    for (std::string field; static_cast<int>(out.size()) + 3 <= through_field && rest >> field;)
        out.push_back(std::move(field));
    return out;
}

// Field N (1-based, as proc(5) numbers them) as an unsigned number.
template <typename T>
std::optional<T> stat_number(const std::vector<std::string>& fields, int n) {
    if (n < 3 || static_cast<std::size_t>(n - 3) >= fields.size()) return std::nullopt;
    try {
        std::size_t used = 0;
        unsigned long long v = std::stoull(fields[n - 3], &used);
        if (used != fields[n - 3].size()) return std::nullopt;
        return static_cast<T>(v);
    } catch (const std::exception&) {
        return std::nullopt;
    }
}

}  // namespace

std::optional<std::uint64_t> process_start_time(pid_t pid) {
    auto f = stat_fields(pid, 22);  // starttime
    return f ? stat_number<std::uint64_t>(*f, 22) : std::nullopt;
}

bool process_exiting(pid_t pid) {
    auto f = stat_fields(pid, 9);  // flags
    if (!f) return true;
    auto flags = stat_number<unsigned long>(*f, 9);
    constexpr unsigned long kPfExiting = 0x00000004;  // include/linux/sched.h
    return flags && (*flags & kPfExiting) != 0;
}

std::optional<pid_t> parent_pid(pid_t pid) {
    auto f = stat_fields(pid, 4);  // ppid
    return f ? stat_number<pid_t>(*f, 4) : std::nullopt;
}

std::string exe_path(pid_t pid) {
    std::string link = "/proc/" + std::to_string(pid) + "/exe";
    char buf[4096];
    ssize_t n = ::readlink(link.c_str(), buf, sizeof buf);
    if (n <= 0 || static_cast<size_t>(n) >= sizeof buf) return {};
    return std::string(buf, static_cast<size_t>(n));
}

bool pidfd_alive(int pidfd) {
    // Signal 0 checks only; it fails with ESRCH once the process has been reaped.
    return ::syscall(SYS_pidfd_send_signal, pidfd, 0, nullptr, 0) == 0;
}

std::optional<pid_t> innermost_pid(pid_t pid) {
    std::ifstream f("/proc/" + std::to_string(pid) + "/status");
    std::string line;
    while (std::getline(f, line)) {
        if (line.rfind("NSpid:", 0) != 0) continue;
        std::istringstream in(line.substr(6));
        pid_t v = 0, last = 0;
        while (in >> v) last = v;
        if (last > 0) return last;
        return std::nullopt;
    }
    return std::nullopt;
}

}  // namespace isolated::sys
