#include <sstream>
#include <algorithm>
#include "integration/harness.hpp"

#include <cstdlib>

#include <dirent.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <thread>

extern char** environ;

namespace isolated::test {

std::string read_link(const std::string& p) {
    char buf[4096];
    ssize_t n = ::readlink(p.c_str(), buf, sizeof buf - 1);
    if (n < 0) return {};
    buf[n] = 0;
    return buf;
}

std::string cmdline_of(pid_t pid) {
    std::ifstream f("/proc/" + std::to_string(pid) + "/cmdline", std::ios::binary);
    std::string s((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
    for (auto& c : s)
        if (c == '\0') c = ' ';
    return s;
}

std::string build_dir() { return ISOLATED_BUILD_DIR; }
std::string source_dir() { return ISOLATED_SOURCE_DIR; }

bool process_alive(pid_t pid) {
    if (pid <= 0) return false;
    // A zombie still "exists" for kill(); treat it as gone.
    std::ifstream f("/proc/" + std::to_string(pid) + "/stat");
    std::string line;
    if (!std::getline(f, line)) return false;
    auto close = line.rfind(')');
    return close != std::string::npos && close + 2 < line.size() && line[close + 2] != 'Z';
}

RunResult must(const std::vector<std::string>& argv, std::chrono::milliseconds timeout) {
    RunResult r = run(argv, timeout);
    INFO(argv[0] << " " << (argv.size() > 1 ? argv[1] : "") << ": " << r.out << r.err);
    REQUIRE(r.code == 0);
    return r;
}

pid_t spawn_logged(std::vector<std::string> argv, const std::string& log) {
    int fd = ::open(log.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    REQUIRE(fd >= 0);
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_adddup2(&fa, fd, 1);
    posix_spawn_file_actions_adddup2(&fa, fd, 2);
    std::vector<char*> args;
    for (auto& a : argv) args.push_back(a.data());
    args.push_back(nullptr);
    pid_t pid = -1;
    int rc = posix_spawnp(&pid, argv.at(0).c_str(), &fa, nullptr, args.data(), environ);
    posix_spawn_file_actions_destroy(&fa);
    ::close(fd);
    REQUIRE(rc == 0);
    return pid;
}

bool have_tool(const std::string& name) { return run({"sh", "-c", "command -v \"$0\"", name}).code == 0; }

bool have_limit_controllers() {
    namespace fs = std::filesystem;
    bool v1 = true;
    for (auto c : {"cpu", "memory", "pids"}) v1 = v1 && fs::exists(std::string("/sys/fs/cgroup/") + c + "/cgroup.procs");
    if (v1) return true;
    const std::string v2 = read_file("/sys/fs/cgroup/cgroup.controllers");
    return v2.find("cpu") != std::string::npos && v2.find("memory") != std::string::npos &&
           v2.find("pids") != std::string::npos;
}

RunResult run(const std::vector<std::string>& argv, std::chrono::milliseconds timeout, const std::string& input,
              const std::map<std::string, std::string>& env) {
    int in[2], out[2], err[2];
    if (::pipe2(in, O_CLOEXEC) || ::pipe2(out, O_CLOEXEC) || ::pipe2(err, O_CLOEXEC)) throw std::runtime_error("pipe");
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, in[0], 0);
    posix_spawn_file_actions_adddup2(&fa, out[1], 1);
    posix_spawn_file_actions_adddup2(&fa, err[1], 2);
    std::vector<std::string> envs;
    for (char** e = environ; *e; ++e) {
        std::string s = *e;
        auto k = s.substr(0, s.find('='));
        if (!env.count(k)) envs.push_back(s);
    }
    for (auto& [k, v] : env) envs.push_back(k + "=" + v);
    std::vector<char*> args, envp;
    for (auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);
    for (auto& e : envs) envp.push_back(e.data());
    envp.push_back(nullptr);
    pid_t pid;
    int rc = posix_spawnp(&pid, args[0], &fa, nullptr, args.data(), envp.data());
    posix_spawn_file_actions_destroy(&fa);
    ::close(in[0]);
    ::close(out[1]);
    ::close(err[1]);
    RunResult r;
    if (rc != 0) {
        ::close(in[1]);
        ::close(out[0]);
        ::close(err[0]);
        r.err = "spawn " + argv[0] + ": " + std::strerror(rc);
        return r;
    }
    if (!input.empty()) (void)!::write(in[1], input.data(), input.size());
    ::close(in[1]);
    auto deadline = std::chrono::steady_clock::now() + timeout;
    bool timed_out = false;
    int open_fds = 2;
    pollfd fds[2] = {{out[0], POLLIN, 0}, {err[0], POLLIN, 0}};
    while (open_fds > 0) {
        auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
        if (left.count() <= 0) {
            timed_out = true;
            ::kill(pid, SIGKILL);
            break;
        }
        int n = ::poll(fds, 2, static_cast<int>(left.count()));
        if (n < 0 && errno == EINTR) continue;
        for (int i = 0; i < 2; ++i) {
            if (fds[i].fd < 0 || !(fds[i].revents & (POLLIN | POLLHUP | POLLERR))) continue;
            char buf[8192];
            ssize_t k = ::read(fds[i].fd, buf, sizeof buf);
            if (k <= 0) {
                ::close(fds[i].fd);
                fds[i].fd = -1;
                --open_fds;
            } else {
                (i == 0 ? r.out : r.err).append(buf, static_cast<size_t>(k));
            }
        }
    }
    for (auto& f : fds)
        if (f.fd >= 0) ::close(f.fd);
    int st = 0;
    ::waitpid(pid, &st, 0);
    if (timed_out)
        r.code = -1;
    else
        r.code = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
    return r;
}

int slow_factor() {
    // Slow machines (the TCG qemu guest of tests/vm) stretch the harness's waits.
    static const int f = [] {
        const char* v = std::getenv("ISOLATED_TEST_SLOW");
        int n = v ? std::atoi(v) : 1;
        return n > 0 ? n : 1;
    }();
    return f;
}

bool wait_until(const std::function<bool()>& cond, std::chrono::milliseconds timeout) {
    auto deadline = std::chrono::steady_clock::now() + timeout;
    for (;;) {
        if (cond()) return true;
        if (std::chrono::steady_clock::now() >= deadline) return cond();
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
}

Daemon::Daemon() {
    for (auto d : {"apps", "run", "state", "log"}) ::mkdir((tmp_ / d).c_str(), 0755);
    ::chmod(tmp_.path().c_str(), 0755);
}

std::string probe_app_json(const std::string& args, const std::string& extra, const std::string& more_mounts) {
    std::string argv = R"(["/opt/probe/sandbox_probe")";
    std::istringstream in(args);
    for (std::string a; in >> a;) argv += R"(, ")" + a + R"(")";
    argv += "]";
    return R"({"command": )" + argv + R"(, "stop": {"timeout": "2s"}, "mounts": [{"type": "bind", "source": ")" +
           build_dir() + R"(/sandbox_probe", "target": "/opt/probe/sandbox_probe", "readonly": true})" + more_mounts +
           "]" + extra + "}";
}

std::string ticker(const Daemon& d, const std::string& extra) {
    return R"({"command": ["sh", "-c", "echo started; while true; do sleep 0.2; done; : )" + d.dir() +
           R"("], "stop": {"timeout": "5s"})" + extra + "}";
}

std::vector<std::string> mounts_under(const std::string& dir) {
    std::vector<std::string> out;
    std::ifstream in("/proc/self/mountinfo");
    for (std::string line; std::getline(in, line);) {
        std::istringstream f(line);
        std::string id, parent, dev, root, point;
        f >> id >> parent >> dev >> root >> point;
        if (point.rfind(dir + "/", 0) == 0) out.push_back(point);
    }
    return out;
}

Daemon::~Daemon() {
    if (running()) stop(std::chrono::seconds(30));
    if (running()) kill9();
    kill_leftovers();
    remove_cgroups();
    // Whatever a daemon left mounted in the test's dir (kept network namespaces under
    // <run>/netns/ and that directory's own mount, issue 19), deepest first; the
    // daemon's own netns file last.
    auto mounts = mounts_under(dir());
    std::sort(mounts.begin(), mounts.end(), [](const auto& a, const auto& b) { return a.size() > b.size(); });
    for (const auto& m : mounts)
        if (m != netns_) ::umount2(m.c_str(), MNT_DETACH);
    if (!netns_.empty()) ::umount2(netns_.c_str(), MNT_DETACH);
}

std::string Daemon::cgroup_root() const { return "isolated-test-" + std::to_string(::getpid()); }

// Every process still in this test's cgroup subtrees is an app of ours: kill them, then
// remove the subtrees (deepest first), so that no cgroup outlives the test.
void Daemon::remove_cgroups() {
    std::vector<std::filesystem::path> roots;
    std::error_code ec;
    for (auto& hier : std::filesystem::directory_iterator("/sys/fs/cgroup", ec)) {
        auto root = hier.path() / cgroup_root();
        if (std::filesystem::is_directory(root, ec)) roots.push_back(root);
    }
    if (std::filesystem::is_directory(std::filesystem::path("/sys/fs/cgroup") / cgroup_root(), ec))
        roots.push_back(std::filesystem::path("/sys/fs/cgroup") / cgroup_root());
    for (int round = 0; round < 50; ++round) {
        bool any = false;
        for (const auto& root : roots) {
            std::vector<std::filesystem::path> dirs;
            for (auto it = std::filesystem::recursive_directory_iterator(root, ec);
                 it != std::filesystem::recursive_directory_iterator(); it.increment(ec))
                if (it->is_directory(ec)) dirs.push_back(it->path());
            dirs.push_back(root);
            std::sort(dirs.begin(), dirs.end(), [](const auto& a, const auto& b) {
                return a.string().size() > b.string().size();
            });
            for (const auto& dir : dirs) {
                std::ifstream procs(dir / "cgroup.procs");
                for (pid_t p; procs >> p;) {
                    ::kill(p, SIGKILL);
                    any = true;
                }
                if (::rmdir(dir.c_str()) != 0 && errno != ENOENT) any = true;
            }
        }
        if (!any) return;
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
}

void Daemon::write_app(const std::string& name, const std::string& json) {
    std::string tmp = apps_dir() + "/." + name + ".tmp";
    write_file(tmp, json);
    std::filesystem::rename(tmp, apps_dir() + "/" + name + ".json");
}

void Daemon::remove_app(const std::string& name) { std::filesystem::remove(apps_dir() + "/" + name + ".json"); }

void Daemon::start(std::vector<std::string> extra) {
    bool up = start_may_die(std::move(extra));
    INFO(daemon_log());
    REQUIRE(up);
}

bool Daemon::start_may_die(std::vector<std::string> extra, const std::map<std::string, std::string>& env) {
    // The daemon's own network namespace stands in for the host's: with loopback up,
    // as a host has it.
    // It is a named one that outlives the daemon, so a restarted daemon finds its bridge,
    // veths and table again (adoption); the destructor deletes it.
    // (unshare --net=FILE binds it to a file in the test's directory: no /run/netns.)
    if (netns_.empty()) {
        std::string file = tmp_ / "netns";
        write_file(file, "");
        REQUIRE(run({"unshare", "--net=" + file, "true"}).code == 0);
        netns_ = file;
        REQUIRE(run({"nsenter", "--net=" + file, "--", "ip", "link", "set", "lo", "up"}).code == 0);
    }
    std::vector<std::string> argv = {"nsenter", "--net=" + netns_, "--",
                                     build_dir() + "/isolated",
                                     "--config", dir() + "/isolated.conf",
                                     "--apps-dir", apps_dir(),
                                     "--run-dir", run_dir(),
                                     "--state-dir", state_dir(),
                                     "--log-dir", log_dir(),
                                     "--cgroup-root", cgroup_root(),
                                     "--log-level", "debug"};
    if (!std::filesystem::exists(dir() + "/isolated.conf")) write_file(dir() + "/isolated.conf", "# test\n");
    argv.insert(argv.end(), extra.begin(), extra.end());
    for (auto& [k, v] : env) ::setenv(k.c_str(), v.c_str(), 1);
    pid_ = spawn_logged(argv, tmp_ / "daemon.log");
    for (auto& [k, v] : env) ::unsetenv(k.c_str());
    bool up = wait_until([&] { return http("GET", "/v1/health").code == 200 || !running(); },
                         slow_factor() * std::chrono::seconds(20));
    if (!running()) {
        kill9();  // reaps it
        return false;
    }
    return up;
}

int Daemon::stop(std::chrono::milliseconds timeout) {
    if (pid_ <= 0) return -1;
    ::kill(pid_, SIGTERM);
    int st = 0;
    bool done = wait_until(
        [&] {
            pid_t r = ::waitpid(pid_, &st, WNOHANG);
            return r == pid_;
        },
        timeout);
    if (!done) {
        ::kill(pid_, SIGKILL);
        ::waitpid(pid_, &st, 0);
    }
    pid_ = -1;
    return done ? (WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st)) : -1;
}

RunResult Daemon::in_netns(std::vector<std::string> argv) {
    argv.insert(argv.begin(), {"nsenter", "--net=" + netns_, "--"});
    return run(argv);
}

void Daemon::kill9() {
    if (pid_ <= 0) return;
    ::kill(pid_, SIGKILL);
    ::waitpid(pid_, nullptr, 0);
    pid_ = -1;
}

void Daemon::kill_leftovers() {
    // Every app of this test runs from (or mentions) the test's own directory, or is
    // an isolated-init of this build: find those by PID and end them.
    std::string init = build_dir() + "/isolated-init";
    for (int round = 0; round < 20; ++round) {
        std::vector<pid_t> victims;
        DIR* d = ::opendir("/proc");
        while (auto* e = ::readdir(d)) {
            pid_t p = std::atoi(e->d_name);
            if (p <= 1 || p == ::getpid()) continue;
            std::string cmd = cmdline_of(p);
            std::string exe = read_link("/proc/" + std::to_string(p) + "/exe");
            bool ours = cmd.find(dir()) != std::string::npos ||
                        (exe == init && std::filesystem::exists("/proc/" + std::to_string(p)) &&
                         cmdline_of(p).find("isolated-init") != std::string::npos &&
                         read_link("/proc/" + std::to_string(p) + "/fd/5").find(dir()) != std::string::npos);
            if (ours) victims.push_back(p);
        }
        ::closedir(d);
        if (victims.empty()) return;
        for (pid_t p : victims) ::kill(p, SIGKILL);
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
}

RunResult Daemon::isoctl(std::vector<std::string> args, std::chrono::milliseconds timeout) {
    std::vector<std::string> argv = {build_dir() + "/isoctl", "--socket", socket()};
    argv.insert(argv.end(), args.begin(), args.end());
    return run(argv, timeout);
}

RunResult Daemon::http(const std::string& method, const std::string& path, const std::string& body, bool read_only) {
    std::vector<std::string> argv = {"curl", "-sS", "--max-time", "60", "--unix-socket", read_only ? ro_socket() : socket(),
                                     "-X", method, "-o", "-", "-w", "\n%{http_code}"};
    if (!body.empty()) {
        argv.push_back("-H");
        argv.push_back("Content-Type: application/json");
        argv.push_back("--data-binary");
        argv.push_back(body);
    }
    argv.push_back("http://x" + path);
    auto r = run(argv, std::chrono::seconds(70));
    auto nl = r.out.rfind('\n');
    RunResult out;
    out.err = r.err;
    if (nl == std::string::npos) return out;
    out.code = std::atoi(r.out.c_str() + nl + 1);
    out.out = r.out.substr(0, nl);
    return out;
}

nlohmann::json Daemon::get_json(const std::string& path) {
    auto r = http("GET", path);
    INFO("GET " << path << " -> " << r.code << " " << r.out << r.err);
    REQUIRE(r.code == 200);
    return nlohmann::json::parse(r.out);
}

std::string Daemon::state(const std::string& name) {
    auto r = http("GET", "/v1/apps/" + name);
    if (r.code != 200) return "<" + std::to_string(r.code) + ">";
    return nlohmann::json::parse(r.out).value("state", "");
}

void Daemon::wait_state(const std::string& name, const std::string& want, std::chrono::milliseconds timeout) {
    timeout *= slow_factor();
    bool ok = wait_until([&] { return state(name) == want; }, timeout);
    if (!ok) {
        auto r = http("GET", "/v1/apps/" + name);
        INFO("app " << name << " never reached " << want << ": " << r.out);
        INFO("daemon log:\n" << daemon_log());
        REQUIRE(ok);
    }
}

std::string Daemon::daemon_log() const { return read_file(tmp_ / "daemon.log"); }

}  // namespace isolated::test
