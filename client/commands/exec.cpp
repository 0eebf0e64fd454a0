// isoctl exec [-T] APP -- CMD...: runs CMD inside APP's sandbox -- its namespaces,
// root, user, capabilities and seccomp filter -- with a new pty when stdin is a
// terminal, and exits with CMD's exit code.
//
// The daemon never runs the command: it hands out a ticket (the app's init, by pid and
// start time, and an exec plan), and isoctl, as root, starts isolated-init in exec mode, which enters the
// sandbox and runs CMD. So stdin/stdout/the terminal never stream through the API
// socket, and a daemon restart does not cut a running exec.
#include <fcntl.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

#include <cstdint>
#include <optional>
#include <string>

#include <nlohmann/json.hpp>

#include "commands/commands.hpp"
#include "isolated/base64.hpp"

namespace isoctl::commands {
namespace {

int sealed_memfd(const char* name, const std::string& data) {
    int fd = ::memfd_create(name, MFD_CLOEXEC | MFD_ALLOW_SEALING);
    if (fd < 0) return -1;
    std::size_t off = 0;
    while (off < data.size()) {
        ssize_t w = ::write(fd, data.data() + off, data.size() - off);
        if (w <= 0) {
            ::close(fd);
            return -1;
        }
        off += static_cast<std::size_t>(w);
    }
    ::fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE | F_SEAL_SEAL);
    return fd;
}

std::string read_file(const std::string& path) {
    int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) return {};
    std::string out;
    char buf[65536];
    ssize_t n;
    while ((n = ::read(fd, buf, sizeof buf)) > 0) out.append(buf, static_cast<std::size_t>(n));
    ::close(fd);
    return out;
}

// The process's start time in clock ticks since boot (field 22 of /proc/PID/stat);
// 0 when unreadable.
std::uint64_t start_time_of(int pid) {
    std::string stat = read_file("/proc/" + std::to_string(pid) + "/stat");
    // comm (field 2) may hold spaces and parentheses: count fields after the last ')'.
    auto close = stat.rfind(')');
    if (close == std::string::npos) return 0;
    std::size_t pos = close + 1;
    for (int field = 3; field <= 22; ++field) {
        pos = stat.find_first_not_of(' ', pos);
        if (pos == std::string::npos) return 0;
        std::size_t end = stat.find(' ', pos);
        if (field == 22) {
            try {
                return std::stoull(stat.substr(pos, end - pos));  // npos - pos: to the end
            } catch (const std::exception&) {
                return 0;
            }
        }
        pos = end;
    }
    return 0;
}

}  // namespace

int exec(const Invocation& inv, Context& ctx) {
    const std::string& name = inv.args.at(0);
    require_app_name(name, "exec");
    std::vector<std::string> command(inv.args.begin() + 1, inv.args.end());
    if (::geteuid() != 0)
        throw Failure(exit_code::failed, "exec needs root: it enters the app's namespaces (try: sudo isoctl exec ...)");
    const bool tty = !inv.flag("no-tty") && ::isatty(0) && ::isatty(1);

    nlohmann::json body{{"command", command}, {"tty", tty}};
    auto r = ctx.client().post(app_path(name) + "/exec", body.dump(), kQueryTimeout, name);
    nlohmann::json ticket;
    try {
        ticket = nlohmann::json::parse(r.body);
    } catch (const std::exception&) {
        throw Failure(exit_code::failed, "the daemon's exec ticket is not JSON");
    }
    const int init_pid = ticket.value("initPid", 0);
    const std::uint64_t init_start = ticket.value("initStart", std::uint64_t{0});
    const std::optional<std::string> decoded = isolated::base64_decode(ticket.value("plan", ""));
    if (!decoded) throw Failure(exit_code::failed, "the daemon's exec ticket has a plan that is not base64");
    const std::string& plan = *decoded;
    const std::string init_path = ticket.value("initPath", "");

    // Only a pid can cross the API (an HTTP answer cannot carry the daemon's pidfd), and
    // it may have been reused since the ticket: an adopted init is reaped by its parent,
    // not by the daemon, so the daemon can still name it while the pid is another
    // process's. The pidfd pins whatever has the pid now; it is the init if it has the
    // init's start time, read while the pidfd's process still exists (checked after the
    // read: until that process is reaped, the pid names no other).
    int pidfd = static_cast<int>(::syscall(SYS_pidfd_open, init_pid, 0));
    if (pidfd < 0) throw Failure(exit_code::failed, name + " is no longer running");
    bool same_init;
    if (init_start != 0) {
        same_init = start_time_of(init_pid) == init_start &&
                    ::syscall(SYS_pidfd_send_signal, pidfd, 0, nullptr, 0) == 0;
    } else {
        // A daemon older than "initStart": the app must still have that init now that we
        // hold it (as far as the daemon knows).
        auto again = nlohmann::json::parse(ctx.client().get(app_path(name), name).body, nullptr, false);
        same_init = again.is_object() && again.value("initPid", 0) == init_pid;
    }
    if (!same_init) {
        ::close(pidfd);
        throw Failure(exit_code::failed, name + " restarted or stopped meanwhile; try again");
    }
    // The init runs from a sealed copy, as the daemon runs it: nothing inside the
    // sandbox can reach the host's binary through /proc/PID/exe.
    int init_fd = sealed_memfd("isolated-init", read_file(init_path));
    int plan_fd = sealed_memfd("isolated-exec-plan", plan);
    if (init_fd < 0 || plan_fd < 0) throw Failure(exit_code::failed, "cannot read the init \"" + init_path + "\"");

    termios saved{};
    bool raw = tty && ::tcgetattr(0, &saved) == 0;
    if (raw) {
        termios t = saved;
        ::cfmakeraw(&t);
        ::tcsetattr(0, TCSANOW, &t);
    }
    ctx.out().flush();
    pid_t child = ::fork();
    if (child == 0) {
        ::dup2(plan_fd, 3);
        ::dup2(pidfd, 4);
        ::dup2(init_fd, 5);
        ::syscall(SYS_close_range, 6U, ~0U, 0);
        char arg0[] = "isolated-init", arg1[] = "--exec";
        char* argv[] = {arg0, arg1, nullptr};
        char* envp[] = {nullptr};
        ::syscall(SYS_execveat, 5, "", argv, envp, AT_EMPTY_PATH);
        ::_exit(126);
    }
    // The helper forwards signals to the command; isoctl just waits.
    struct sigaction ign{}, old_int{}, old_quit{}, old_term{};
    ign.sa_handler = SIG_IGN;
    ::sigaction(SIGINT, &ign, &old_int);
    ::sigaction(SIGQUIT, &ign, &old_quit);
    ::sigaction(SIGTERM, &ign, &old_term);
    int status = 0;
    while (child > 0 && ::waitpid(child, &status, 0) < 0 && errno == EINTR) {
    }
    ::sigaction(SIGINT, &old_int, nullptr);
    ::sigaction(SIGQUIT, &old_quit, nullptr);
    ::sigaction(SIGTERM, &old_term, nullptr);
    if (raw) ::tcsetattr(0, TCSANOW, &saved);
    ::close(pidfd);
    ::close(init_fd);
    ::close(plan_fd);
    if (child < 0) throw Failure(exit_code::failed, "fork failed");
    if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
    return WEXITSTATUS(status);
}

}  // namespace isoctl::commands
