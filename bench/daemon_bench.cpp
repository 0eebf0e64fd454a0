// isolated-bench-daemon: the real daemon, run the way the integration tests run it (a
// temp tree of apps/run/state/log, `unshare --net` so it sees only a network namespace
// of its own, its own --cgroup-root), driven over its Unix socket by a small raw-socket
// HTTP client. Prints Markdown tables:
//
//   crash -> running   SIGKILL the app's main process, time until the events stream
//                      says running/ready again (restart always, 1 ms backoff)
//   API                GET /v1/apps and GET /v1/apps/NAME with 100 apps: requests/s,
//                      median and p99 latency, C keep-alive clients in parallel
//   memory             daemon RSS/Pss and per-sandbox init Pss, app Pss and cgroup
//                      memory at 1, 10 and 100 apps (network none and bridge)
//   probe CPU          daemon CPU with 100 apps probed every second (HTTP, TCP, exec),
//                      and an exec probe's CPU against a fork+exec of /bin/true
//
//   isolated-bench-daemon --build DIR [--cgroup-root NAME] [--quick] [--crash-rounds N]
//                         [--api-seconds S] [--cpu-window S] [--cpu-rounds N] [--apps N]
//                         [--only crash|memory|api|probes] [--probe-modes none,http,tcp,exec]
//
// Cleanup even on failure: the daemon is stopped (SIGTERM, then SIGKILL by PID), every
// process left in our cgroup subtree is killed by PID and the subtree removed; the
// daemon's network namespace (bridge, veths, nftables table) goes away with it.
#include <dirent.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/mount.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cctype>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iostream>
#include <map>
#include <mutex>
#include <optional>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <boost/asio/io_context.hpp>
#include <boost/asio/local/stream_protocol.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http.hpp>
#include <nlohmann/json.hpp>

extern char** environ;

namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;
using nlohmann::json;

double ms_since(Clock::time_point t0, Clock::time_point t1 = Clock::now()) {
    return std::chrono::duration<double, std::milli>(t1 - t0).count();
}

double pct(std::vector<double> v, double p) {
    if (v.empty()) return 0;
    std::sort(v.begin(), v.end());
    return v[std::min(v.size() - 1, static_cast<size_t>(p * static_cast<double>(v.size())))];
}

std::string read_file(const std::string& p) {
    std::ifstream f(p);
    return std::string((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
}

void write_file(const std::string& p, const std::string& s) {
    std::ofstream(p + ".tmp") << s;
    fs::rename(p + ".tmp", p);
}

// ---- an HTTP/1.1 client over the Unix socket (Beast, keep-alive) ----
// isoctl's transport opens one connection per request; the API numbers need keep-alive,
// and the crash benchmark reads the event stream line by line.

namespace http = boost::beast::http;
using local = boost::asio::local::stream_protocol;

class Http {
public:
    explicit Http(std::string path) : path_(std::move(path)) {}
    void close() {
        boost::system::error_code ec;
        sock_.close(ec);
        buf_.clear();
        stream_.reset();
    }
    bool connect() {
        close();
        boost::system::error_code ec;
        sock_.connect(local::endpoint(path_), ec);
        return !ec;
    }
    /// Sends a request; returns the status (0 on a broken connection) and the body.
    int request(const std::string& method, const std::string& target, std::string* body = nullptr,
                const std::string& payload = "", const std::string& if_none_match = "",
                std::string* etag = nullptr) {
        for (int attempt = 0; attempt < 2; ++attempt) {
            if (!sock_.is_open() && !connect()) return 0;
            http::request<http::string_body> req{http::string_to_verb(method), target, 11};
            req.set(http::field::host, "x");
            if (!if_none_match.empty()) req.set(http::field::if_none_match, if_none_match);
            if (!payload.empty() || method == "POST") {
                req.set(http::field::content_type, "application/json");
                req.body() = payload;
                req.prepare_payload();
            }
            boost::system::error_code ec;
            http::response<http::string_body> res;
            http::write(sock_, req, ec);
            if (!ec) http::read(sock_, buf_, res, ec);
            if (ec) {
                close();  // the server closed an idle keep-alive connection: once more
                continue;
            }
            if (!res.keep_alive()) close();
            if (body) *body = std::move(res.body());
            if (etag) *etag = std::string(res[http::field::etag]);
            return static_cast<int>(res.result_int());
        }
        return 0;
    }
    /// For streams: sends the request and reads the response head; then next_line().
    bool open_stream(const std::string& target) {
        if (!connect()) return false;
        http::request<http::empty_body> req{http::verb::get, target, 11};
        req.set(http::field::host, "x");
        boost::system::error_code ec;
        http::write(sock_, req, ec);
        if (ec) return false;
        stream_.emplace();
        stream_->body_limit(boost::none);
        http::read_header(sock_, buf_, *stream_, ec);
        return !ec && stream_->get().result_int() == 200;
    }
    /// Next line of a streaming body (chunk framing removed by the parser); false when
    /// it ended.
    bool next_line(std::string& line) {
        for (;;) {
            if (auto nl = lines_.find('\n'); nl != std::string::npos) {
                line = lines_.substr(0, nl);
                lines_.erase(0, nl + 1);
                return true;
            }
            if (!stream_ || stream_->is_done()) return false;
            char chunk[4096];
            stream_->get().body().data = chunk;
            stream_->get().body().size = sizeof chunk;
            boost::system::error_code ec;
            http::read_some(sock_, buf_, *stream_, ec);
            if (ec && ec != http::error::need_buffer) return false;
            lines_.append(chunk, sizeof chunk - stream_->get().body().size);
        }
    }
    /// Ends a stream that next_line() is blocked on, from another thread.
    void shutdown() {
        boost::system::error_code ec;
        sock_.shutdown(local::socket::shutdown_both, ec);
    }

private:
    std::string path_;
    boost::asio::io_context io_;
    local::socket sock_{io_};
    boost::beast::flat_buffer buf_;
    std::optional<http::response_parser<http::buffer_body>> stream_;
    std::string lines_;
};

// ---- the daemon under test ----

struct ProcTimes {
    double self = 0, children = 0;  // seconds: utime+stime, cutime+cstime
};
/// Seconds the process's threads have run: the scheduler's own nanosecond account
/// (first field of /proc/PID/task/TID/schedstat), not the 10 ms ticks of utime+stime.
double run_seconds(pid_t pid) {
    double total = 0;
    std::error_code ec;
    for (auto& t : fs::directory_iterator("/proc/" + std::to_string(pid) + "/task", ec)) {
        std::istringstream in(read_file(t.path().string() + "/schedstat"));
        double ns = 0;
        if (in >> ns) total += ns / 1e9;
    }
    return total;
}
ProcTimes proc_times(pid_t pid) {
    std::string s = read_file("/proc/" + std::to_string(pid) + "/stat");
    auto close = s.rfind(')');
    if (close == std::string::npos) return {};
    std::istringstream in(s.substr(close + 2));
    std::vector<std::string> f;
    for (std::string w; in >> w;) f.push_back(w);
    // fields after ')': state(3) ... utime is field 14 overall -> index 11 here
    double hz = static_cast<double>(::sysconf(_SC_CLK_TCK));
    ProcTimes t;
    t.self = (std::stod(f[11]) + std::stod(f[12])) / hz;
    t.children = (std::stod(f[13]) + std::stod(f[14])) / hz;
    return t;
}

long kb_field(const std::string& file, const std::string& key) {
    std::ifstream in(file);
    for (std::string line; std::getline(in, line);)
        if (line.rfind(key + ":", 0) == 0) return std::atol(line.c_str() + key.size() + 1);
    return -1;
}

class Daemon {
public:
    Daemon(std::string build, std::string cgroup_root) : build_(std::move(build)), cgroup_root_(std::move(cgroup_root)) {
        char tmpl[] = "/tmp/isolated-bench-daemon.XXXXXX";
        dir_ = ::mkdtemp(tmpl);
        ::chmod(dir_.c_str(), 0755);
        for (auto d : {"apps", "run", "state", "log"}) fs::create_directories(dir_ + "/" + d);
        write_file(dir_ + "/isolated.conf", "# bench\n");
    }
    ~Daemon() { cleanup(); }

    std::string apps() const { return dir_ + "/apps"; }
    std::string socket() const { return dir_ + "/run/isolated.sock"; }
    pid_t pid() const { return pid_; }
    const std::string& cgroup_root() const { return cgroup_root_; }

    bool start() {
        std::vector<std::string> argv = {"unshare", "--net", "--", "sh", "-c", "ip link set lo up && exec \"$0\" \"$@\"",
                                         build_ + "/isolated", "--config", dir_ + "/isolated.conf",
                                         "--apps-dir", apps(), "--run-dir", dir_ + "/run",
                                         "--state-dir", dir_ + "/state", "--log-dir", dir_ + "/log",
                                         "--cgroup-root", cgroup_root_, "--bridge", "isobench0"};
        int fd = ::open((dir_ + "/daemon.log").c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
        posix_spawn_file_actions_t fa;
        posix_spawn_file_actions_init(&fa);
        posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
        posix_spawn_file_actions_adddup2(&fa, fd, 1);
        posix_spawn_file_actions_adddup2(&fa, fd, 2);
        std::vector<char*> args;
        for (auto& a : argv) args.push_back(a.data());
        args.push_back(nullptr);
        int rc = posix_spawnp(&pid_, "unshare", &fa, nullptr, args.data(), environ);
        posix_spawn_file_actions_destroy(&fa);
        ::close(fd);
        if (rc != 0) return false;
        Http h(socket());
        auto t0 = Clock::now();
        while (ms_since(t0) < 20000) {
            if (h.request("GET", "/v1/health") == 200) return true;
            if (::waitpid(pid_, nullptr, WNOHANG) == pid_) {
                pid_ = -1;
                return false;
            }
            std::this_thread::sleep_for(std::chrono::milliseconds(20));
        }
        return false;
    }

    void stop() {
        if (pid_ <= 0) return;
        ::kill(pid_, SIGTERM);
        auto t0 = Clock::now();
        while (ms_since(t0) < 90000) {
            if (::waitpid(pid_, nullptr, WNOHANG) == pid_) {
                pid_ = -1;
                return;
            }
            std::this_thread::sleep_for(std::chrono::milliseconds(20));
        }
        ::kill(pid_, SIGKILL);
        ::waitpid(pid_, nullptr, 0);
        pid_ = -1;
    }

    /// SIGKILL the daemon (its apps stay) and reap it.
    void kill9() {
        if (pid_ <= 0) return;
        ::kill(pid_, SIGKILL);
        ::waitpid(pid_, nullptr, 0);
        pid_ = -1;
    }

    void cleanup() {
        stop();
        remove_cgroups();
        unmount_all();
        if (!dir_.empty() && !getenv("BENCH_KEEP")) {
            std::error_code ec;
            fs::remove_all(dir_, ec);
        }
        dir_.clear();
    }

    // Processes left in our subtree are ours (apps of this daemon): kill by PID, then
    // remove the directories deepest first.
    void remove_cgroups() {
        std::vector<fs::path> roots;
        std::error_code ec;
        for (auto& hier : fs::directory_iterator("/sys/fs/cgroup", ec)) {
            auto root = hier.path() / cgroup_root_;
            if (fs::is_directory(root, ec)) roots.push_back(root);
        }
        for (int round = 0; round < 100 && !roots.empty(); ++round) {
            bool any = false;
            for (const auto& root : roots) {
                std::vector<fs::path> dirs;
                for (auto it = fs::recursive_directory_iterator(root, ec); it != fs::recursive_directory_iterator();
                     it.increment(ec))
                    if (it->is_directory(ec)) dirs.push_back(it->path());
                dirs.push_back(root);
                std::sort(dirs.begin(), dirs.end(),
                          [](const auto& a, const auto& b) { return a.string().size() > b.string().size(); });
                for (const auto& d : dirs) {
                    std::ifstream procs(d / "cgroup.procs");
                    for (pid_t p; procs >> p;) {
                        ::kill(p, SIGKILL);
                        any = true;
                    }
                    if (::rmdir(d.c_str()) != 0 && errno != ENOENT) any = true;
                }
            }
            if (!any) return;
            std::this_thread::sleep_for(std::chrono::milliseconds(20));
        }
    }

    // What the daemon bound under its run dir (kept network namespaces and their
    // directory, issue 19) if it did not stop cleanly: deepest first.
    void unmount_all() {
        if (dir_.empty()) return;
        std::vector<std::string> points;
        std::ifstream in("/proc/self/mountinfo");
        for (std::string line; std::getline(in, line);) {
            std::istringstream f(line);
            std::string id, parent, dev, root, point;
            f >> id >> parent >> dev >> root >> point;
            if (point.rfind(dir_ + "/", 0) == 0) points.push_back(point);
        }
        std::sort(points.begin(), points.end(), [](const auto& a, const auto& b) { return a.size() > b.size(); });
        for (const auto& p : points) ::umount2(p.c_str(), MNT_DETACH);
    }

    std::string log_tail() const {
        std::string s = read_file(dir_ + "/daemon.log");
        return s.size() > 2000 ? s.substr(s.size() - 2000) : s;
    }

private:
    std::string build_, cgroup_root_, dir_;
    pid_t pid_ = -1;
};

Daemon* g_daemon = nullptr;
void on_signal(int) {
    // Not async-signal-safe, but the alternative is leaving apps and cgroups behind.
    if (g_daemon) g_daemon->cleanup();
    _exit(130);
}

json get_json(Http& h, const std::string& target) {
    std::string body;
    if (h.request("GET", target, &body) != 200) return json();
    try {
        return json::parse(body);
    } catch (...) {
        return json();
    }
}

bool reload(Http& h) {
    std::string body;
    int st = h.request("POST", "/v1/reload", &body, "{}");
    if (st != 200) std::cerr << "reload: " << st << " " << body << "\n";
    try {
        auto j = json::parse(body);
        if (!j["rejected"].empty()) std::cerr << "reload rejected: " << j["rejected"].dump().substr(0, 800) << "\n";
    } catch (...) {
    }
    return st == 200;
}

/// Waits until exactly `names` are defined and every one is ready (and, with
/// `probed`, has a liveness result).
bool wait_all_ready(Http& h, size_t count, double timeout_ms, bool probed = false) {
    auto t0 = Clock::now();
    json last;
    while (ms_since(t0) < timeout_ms) {
        last = get_json(h, "/v1/apps");
        if (last.is_object() && last["apps"].size() == count) {
            size_t ok = 0;
            for (auto& a : last["apps"]) {
                bool r = a.value("state", "") == "ready";
                if (probed) r = r && a["health"]["liveness"].is_object() && !a["health"]["liveness"]["result"].is_null();
                ok += r;
            }
            if (ok == count) return true;
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    std::cerr << "apps not ready after " << timeout_ms << " ms\n";
    if (last.is_object())
        for (auto& a : last["apps"])
            if (a.value("state", "") != "ready") {
                std::cerr << a.dump().substr(0, 600) << "\n";
                break;
            }
    return false;
}

std::string app_name(const std::string& prefix, int i) {
    char b[64];
    std::snprintf(b, sizeof b, "%s-%03d", prefix.c_str(), i);
    return b;
}

/// Makes apps/ hold exactly prefix-001..prefix-N with `json_of(i)`; returns the count.
void set_apps(Daemon& d, const std::string& prefix, int n, const std::function<std::string(int)>& json_of) {
    std::error_code ec;
    for (auto& e : fs::directory_iterator(d.apps(), ec)) fs::remove(e.path(), ec);
    for (int i = 1; i <= n; ++i) write_file(d.apps() + "/" + app_name(prefix, i) + ".json", json_of(i));
}

struct Mem {
    long daemon_rss = -1, daemon_pss = -1;
    double init_pss = 0, app_pss = 0, cgroup_mem = 0;
    int n = 0;
};

Mem measure_memory(Daemon& d, Http& h) {
    Mem m;
    m.daemon_rss = kb_field("/proc/" + std::to_string(d.pid()) + "/status", "VmRSS");
    m.daemon_pss = kb_field("/proc/" + std::to_string(d.pid()) + "/smaps_rollup", "Pss");
    json apps = get_json(h, "/v1/apps");
    if (!apps.is_object()) return m;
    double init = 0, app = 0, cg = 0;
    int n = 0;
    for (auto& a : apps["apps"]) {
        if (!a["initPid"].is_number() || !a["pid"].is_number()) continue;
        long ip = kb_field("/proc/" + std::to_string(a["initPid"].get<int>()) + "/smaps_rollup", "Pss");
        long ap = kb_field("/proc/" + std::to_string(a["pid"].get<int>()) + "/smaps_rollup", "Pss");
        auto& u = a["resources"]["usage"]["memoryBytes"];
        if (ip < 0 || ap < 0) continue;
        init += static_cast<double>(ip);
        app += static_cast<double>(ap);
        if (u.is_number()) cg += u.get<double>() / 1024;
        ++n;
    }
    if (n) {
        m.init_pss = init / n;
        m.app_pss = app / n;
        m.cgroup_mem = cg / n;
    }
    m.n = n;
    return m;
}

double cgroup_cpu_seconds(const std::string& root) {
    std::string s = read_file("/sys/fs/cgroup/cpuacct/" + root + "/cpuacct.usage");
    if (s.empty()) s = read_file("/sys/fs/cgroup/cpu,cpuacct/" + root + "/cpuacct.usage");
    return s.empty() ? -1 : std::stod(s) / 1e9;
}

/// Rss, Pss and private dirty kB of each mapping of `pid` (/proc/PID/smaps), summed
/// per file ("[heap]", "[anon]" for nameless ones), largest Rss first.
struct MapUse {
    std::string name;
    long rss = 0, pss = 0, dirty = 0;
};
std::vector<MapUse> smaps_by_mapping(pid_t pid) {
    std::ifstream in("/proc/" + std::to_string(pid) + "/smaps");
    std::map<std::string, MapUse> by;
    std::string line, current;
    while (std::getline(in, line)) {
        if (!line.empty() && std::isxdigit(static_cast<unsigned char>(line[0])) && line.find('-') < 17 &&
            line.find(':') > line.find(' ')) {
            // "start-end perms offset dev inode   name"
            std::istringstream ls(line);
            std::string range, perms, off, dev, inode, name;
            ls >> range >> perms >> off >> dev >> inode;
            std::getline(ls, name);
            name.erase(0, name.find_first_not_of(' '));
            if (name.empty()) name = "[anon]";
            auto slash = name.rfind('/');
            if (name[0] == '/' && slash != std::string::npos) name = name.substr(slash + 1);
            current = name;
            by[current].name = current;
            continue;
        }
        auto field = [&](const char* key, long& into) {
            std::size_t n = std::strlen(key);
            if (line.compare(0, n, key) == 0) into += std::atol(line.c_str() + n);
        };
        if (current.empty()) continue;
        field("Rss:", by[current].rss);
        field("Pss:", by[current].pss);
        field("Private_Dirty:", by[current].dirty);
    }
    std::vector<MapUse> out;
    for (auto& [k, v] : by) out.push_back(v);
    std::sort(out.begin(), out.end(), [](const MapUse& a, const MapUse& b) { return a.rss > b.rss; });
    return out;
}

/// VmRSS and Pss (kB) of `binary args...` once it has slept a second; -1 when it fails.
std::pair<long, long> rss_of_sleeper(const std::vector<std::string>& command) {
    std::vector<char*> argv;
    for (const auto& a : command) argv.push_back(const_cast<char*>(a.c_str()));
    argv.push_back(nullptr);
    pid_t pid = -1;
    if (posix_spawn(&pid, argv[0], nullptr, nullptr, argv.data(), environ) != 0) return {-1, -1};
    std::this_thread::sleep_for(std::chrono::seconds(1));
    std::pair<long, long> r{kb_field("/proc/" + std::to_string(pid) + "/status", "VmRSS"),
                            kb_field("/proc/" + std::to_string(pid) + "/smaps_rollup", "Pss")};
    ::kill(pid, SIGKILL);
    ::waitpid(pid, nullptr, 0);
    return r;
}

/// CPU of a plain fork+exec of /bin/true (posix_spawn + waitpid, as the probe runner
/// does): this process's own plus its reaped children's, per run.
std::pair<double, double> fork_exec_cost(int runs) {
    rusage a{}, b{}, ca{}, cb{};
    getrusage(RUSAGE_SELF, &a);
    getrusage(RUSAGE_CHILDREN, &ca);
    auto t0 = Clock::now();
    for (int i = 0; i < runs; ++i) {
        pid_t p;
        char* argv[] = {const_cast<char*>("/bin/true"), nullptr};
        if (posix_spawn(&p, "/bin/true", nullptr, nullptr, argv, environ) == 0) ::waitpid(p, nullptr, 0);
    }
    double wall = ms_since(t0) / runs;
    getrusage(RUSAGE_SELF, &b);
    getrusage(RUSAGE_CHILDREN, &cb);
    auto sec = [](const timeval& t) { return static_cast<double>(t.tv_sec) + static_cast<double>(t.tv_usec) / 1e6; };
    double cpu = (sec(b.ru_utime) + sec(b.ru_stime) - sec(a.ru_utime) - sec(a.ru_stime)) +
                 (sec(cb.ru_utime) + sec(cb.ru_stime) - sec(ca.ru_utime) - sec(ca.ru_stime));
    return {cpu / runs * 1000, wall};  // ms of CPU, ms of wall time
}

}  // namespace

int main(int argc, char** argv) {
    std::string build = fs::path(argv[0]).parent_path();
    std::string cgroup_root = "isolated-bench-" + std::to_string(::getpid());
    bool quick = false;
    int crash_rounds = 30, apps_n = 100;
    double api_seconds = 5, cpu_window = 15;
    int cpu_rounds = 3;
    std::string only;  // crash | memory | api | probes; "" = all (api needs memory's apps)
    std::string probe_modes;  // none,http,tcp,exec; "" = all
    auto section = [&](const char* name) { return only.empty() || only == name; };
    for (int i = 1; i < argc; ++i) {
        std::string a = argv[i];
        auto next = [&] { return i + 1 < argc ? std::string(argv[++i]) : std::string(); };
        if (a == "--build") build = next();
        else if (a == "--cgroup-root") cgroup_root = next();
        else if (a == "--quick") quick = true;
        else if (a == "--crash-rounds") crash_rounds = std::stoi(next());
        else if (a == "--api-seconds") api_seconds = std::stod(next());
        else if (a == "--cpu-window") cpu_window = std::stod(next());
        else if (a == "--cpu-rounds") cpu_rounds = std::max(1, std::stoi(next()));
        else if (a == "--apps") apps_n = std::stoi(next());
        else if (a == "--only") only = next();
        else if (a == "--probe-modes") probe_modes = next();
    }
    if (quick) crash_rounds = std::min(crash_rounds, 5), api_seconds = std::min(api_seconds, 1.0),
               cpu_window = std::min(cpu_window, 3.0), cpu_rounds = 1, apps_n = std::min(apps_n, 10);
    build = fs::absolute(build).lexically_normal().string();  // bind-mount sources must be absolute
    const std::string probe_bin = build + "/sandbox_probe";
    if (!fs::exists(build + "/isolated") || !fs::exists(probe_bin)) {
        std::cerr << "isolated-bench-daemon: needs " << build << "/isolated and " << probe_bin << "\n";
        return 2;
    }
    Daemon d(build, cgroup_root);
    g_daemon = &d;
    ::signal(SIGINT, on_signal);
    ::signal(SIGTERM, on_signal);
    ::signal(SIGPIPE, SIG_IGN);
    if (!d.start()) {
        std::cerr << "daemon did not start:\n" << d.log_tail() << "\n";
        return 1;
    }
    Http h(d.socket());
    int failures = 0;

    // ---- crash -> running ----
    if (section("crash")) {
        // The peer, measured in the same loop (issue 19's yardstick): `unshare` making the
        // namespaces a sandbox has, start to exit, one run after each kill.
        auto unshare_once = [&]() -> double {
            const char* args[] = {"unshare", "--fork", "--pid", "--mount", "--uts", "--ipc", "--net", "--mount-proc",
                                  "true", nullptr};
            pid_t p = -1;
            auto t0 = Clock::now();
            if (posix_spawnp(&p, "unshare", nullptr, nullptr, const_cast<char**>(args), environ) != 0) return -1;
            int st = 0;
            if (::waitpid(p, &st, 0) != p || !WIFEXITED(st) || WEXITSTATUS(st) != 0) return -1;
            return ms_since(t0);
        };
        std::printf("## Crash -> running again (restart always, backoff 1 ms)\n\n");
        std::printf("SIGKILL to the app's main process (`sleep infinity`) until the `/v1/events` stream\n"
                    "reports it running again (a new init, pid/mount/uts/ipc namespaces and root fs; the\n"
                    "network namespace is the app's kept one, issue 19). Interleaved with it, in the same\n"
                    "loop: `unshare --fork --pid --mount --uts --ipc --net --mount-proc true`, start to exit.\n\n");
        std::printf("| network | kills | crash -> running median | p90 | unshare median | ratio |\n"
                    "|---|---:|---:|---:|---:|---:|\n");
        for (const std::string mode : {"none", "bridge"}) {
            set_apps(d, "crash", 1, [&](int) {
                return R"({"command": ["/bin/sleep", "infinity"], "network": {"mode": ")" + mode + R"("},
                          "restart": {"policy": "always",
                                      "backoff": {"initial": "1ms", "max": "1ms", "factor": 1, "jitter": 0}}})";
            });
            const std::string name = app_name("crash", 1);
            std::vector<double> samples, peer;
            std::mutex mu;
            std::vector<std::pair<Clock::time_point, std::string>> seen;  // receive time, state
            Http stream(d.socket());
            bool streaming =
                reload(h) && wait_all_ready(h, 1, 20000) && stream.open_stream("/v1/events?follow=1&app=" + name);
            std::thread reader;
            if (streaming)
                reader = std::thread([&] {
                    for (std::string line; stream.next_line(line);) {
                        auto now = Clock::now();
                        try {
                            auto e = json::parse(line);
                            if (e.value("type", "") == "state") {
                                std::lock_guard<std::mutex> l(mu);
                                seen.emplace_back(now, e.value("state", ""));
                            }
                        } catch (...) {
                        }
                    }
                });
            std::this_thread::sleep_for(std::chrono::milliseconds(300));  // stored events first
            for (int r = 0; streaming && r < crash_rounds; ++r) {
                json a;
                auto w0 = Clock::now();
                while (ms_since(w0) < 10000) {
                    a = get_json(h, "/v1/apps/" + name);
                    if (a.is_object() && a.value("state", "") == "ready" && a["pid"].is_number()) break;
                    std::this_thread::sleep_for(std::chrono::milliseconds(5));
                }
                if (!a.is_object() || !a["pid"].is_number()) break;
                std::this_thread::sleep_for(std::chrono::milliseconds(50));
                {
                    std::lock_guard<std::mutex> l(mu);
                    seen.clear();
                }
                auto t0 = Clock::now();
                ::kill(a["pid"].get<int>(), SIGKILL);
                double got = -1;
                while (got < 0 && ms_since(t0) < 10000) {
                    {
                        std::lock_guard<std::mutex> l(mu);
                        for (auto& [t, st] : seen)
                            if (t > t0 && (st == "running" || st == "ready")) {
                                got = ms_since(t0, t);
                                break;
                            }
                    }
                    if (got < 0) std::this_thread::sleep_for(std::chrono::microseconds(200));
                }
                if (got >= 0) samples.push_back(got);
                // The peer once the restart is over, after the same pause.
                std::this_thread::sleep_for(std::chrono::milliseconds(50));
                if (double u = unshare_once(); u >= 0) peer.push_back(u);
            }
            stream.shutdown();
            if (reader.joinable()) reader.join();
            stream.close();
            if (samples.empty() || peer.empty()) {
                std::printf("| %s | 0 | failed | | | |\n", mode.c_str());
                ++failures;
            } else {
                std::printf("| %s | %zu | %.2f ms | %.2f ms | %.2f ms | %.2fx |\n", mode.c_str(), samples.size(),
                            pct(samples, 0.5), pct(samples, 0.9), pct(peer, 0.5), pct(samples, 0.5) / pct(peer, 0.5));
            }
            std::fflush(stdout);
        }
        std::printf("\n");
    }

    // ---- memory at 1, 10, 100 apps (none, then bridge) ----
    if (section("memory") || section("api")) {
        std::printf("## Memory\n\n");
        long rss0 = kb_field("/proc/" + std::to_string(d.pid()) + "/status", "VmRSS");
        set_apps(d, "idle", 0, {});
        reload(h);
        wait_all_ready(h, 0, 20000);
        std::printf("Daemon with no app: VmRSS %ld kB. Apps run `sleep infinity`. Per sandbox: the init's Pss,\n"
                    "the app's Pss, and the app cgroup's memory usage (v1 `memory.usage_in_bytes`: page cache\n"
                    "and kernel memory included) averaged over the apps.\n\n",
                    rss0);
        std::printf("| network | apps | daemon VmRSS | daemon Pss | init Pss / sandbox | app Pss / sandbox | cgroup memory / sandbox |\n");
        std::printf("|---|---:|---:|---:|---:|---:|---:|\n");
        std::vector<int> counts = {1, 10, apps_n};
        if (apps_n <= 10) counts = {1, apps_n};
        for (std::string mode : {"none", "bridge"}) {
            for (int n : counts) {
                set_apps(d, "idle", n, [&](int) {
                    return R"({"command": ["/bin/sleep", "infinity"], "network": {"mode": ")" + mode + R"("}})";
                });
                bool ok = reload(h) && wait_all_ready(h, static_cast<size_t>(n), 120000);
                std::this_thread::sleep_for(std::chrono::milliseconds(quick ? 200 : 1000));
                Mem m = measure_memory(d, h);
                if (!ok || m.n != n) {
                    std::printf("| %s | %d | failed (%d measured) | | | | |\n", mode.c_str(), n, m.n);
                    ++failures;
                    continue;
                }
                std::printf("| %s | %d | %.1f MB | %.1f MB | %.0f kB | %.0f kB | %.0f kB |\n", mode.c_str(), n,
                            static_cast<double>(m.daemon_rss) / 1024, static_cast<double>(m.daemon_pss) / 1024, m.init_pss,
                            m.app_pss, m.cgroup_mem);
            }
            std::fflush(stdout);
        }
        std::printf("\n");
        // Where the last row's memory is (bridge, the most apps), and the floor under it.
        std::printf("Daemon by mapping at that last row (`/proc/PID/smaps` summed per file, Rss >= 64 kB), kB:\n\n");
        std::printf("| mapping | Rss | Pss | private dirty |\n|---|---:|---:|---:|\n");
        long small_rss = 0, small_pss = 0, small_dirty = 0;
        for (const auto& m : smaps_by_mapping(d.pid())) {
            if (m.rss >= 64) {
                std::printf("| `%s` | %ld | %ld | %ld |\n", m.name.c_str(), m.rss, m.pss, m.dirty);
            } else {
                small_rss += m.rss;
                small_pss += m.pss;
                small_dirty += m.dirty;
            }
        }
        std::printf("| (the rest) | %ld | %ld | %ld |\n\n", small_rss, small_pss, small_dirty);
        auto floor = rss_of_sleeper({build + "/isolated-rss-floor", "--pause", "--dir", fs::temp_directory_path()});
        auto floor_ssl = rss_of_sleeper(
            {build + "/isolated-rss-floor", "--pause", "--openssl", "--dir", fs::temp_directory_path()});
        auto bare = rss_of_sleeper({build + "/isolated-rss-pause"});
        std::printf("Floors, measured now: the daemon's libraries started as it starts them and nothing else\n"
                    "(bench/rss_floor.cpp): VmRSS %ld kB, Pss %ld kB; the same with OpenSSL started (a SHA-256 and\n"
                    "a TLS client context, what a first https probe, pull or load starts): VmRSS %ld kB, Pss %ld kB;\n"
                    "a C program that only pause()s: VmRSS %ld kB, Pss %ld kB.\n\n",
                    floor.first, floor.second, floor_ssl.first, floor_ssl.second, bare.first, bare.second);
    }

    // ---- API with N apps running (bridge mode, still there from the memory run) ----
    if (section("api")) {
        const int clients = 4;
        std::printf("## API with %d apps\n\n", apps_n);
        std::printf("%d clients in parallel, each on one keep-alive connection to the control socket, for %.0f s per\n"
                    "endpoint (this process is one of the 2 CPUs' users too).\n\n",
                    clients, api_seconds);
        std::printf("| request | requests | requests/s | median | p99 | response size |\n|---|---:|---:|---:|---:|---:|\n");
        // The third row: a poller that sends back the list's ETag (If-None-Match) and gets
        // 304s while nothing changes; a daemon without ETags has nothing to measure here.
        struct Row {
            std::string target, if_none_match;
            int expect = 200;
        };
        std::vector<Row> rows = {{"/v1/apps", "", 200}, {"/v1/apps/" + app_name("idle", apps_n / 2), "", 200}};
        {
            std::string etag;
            h.request("GET", "/v1/apps", nullptr, "", "", &etag);
            if (!etag.empty()) rows.push_back({"/v1/apps", etag, 304});
        }
        std::string notes;
        for (const auto& row : rows) {
            const std::string& target = row.target;
            std::vector<std::vector<double>> lat(clients);
            std::atomic<bool> stop{false};
            std::atomic<int> errors{0}, refreshed{0};
            std::atomic<size_t> size{0};
            std::vector<std::thread> ts;
            auto t0 = Clock::now();
            for (int c = 0; c < clients; ++c)
                ts.emplace_back([&, c] {
                    Http cl(d.socket());
                    std::string body, tag = row.if_none_match, new_tag;
                    while (!stop) {
                        auto a = Clock::now();
                        int st = cl.request("GET", target, &body, "", tag, &new_tag);
                        // A 304 poller whose tag went stale (an app's usage moved) gets
                        // the new body and tag, as a dashboard would: counted apart.
                        if (row.expect == 304 && st == 200) {
                            ++refreshed;
                            tag = new_tag;
                        } else if (st != row.expect) {
                            ++errors;
                            continue;
                        }
                        lat[c].push_back(ms_since(a));
                        if (st == row.expect) size = body.size();
                    }
                });
            std::this_thread::sleep_for(std::chrono::duration<double>(api_seconds));
            stop = true;
            for (auto& t : ts) t.join();
            double secs = ms_since(t0) / 1000;
            std::vector<double> all;
            for (auto& v : lat) all.insert(all.end(), v.begin(), v.end());
            std::printf("| GET %s%s | %zu | %.0f | %.3f ms | %.3f ms | %zu B |\n", target.c_str(),
                        row.expect == 304 ? " (If-None-Match: its ETag -> 304)" : "", all.size(),
                        static_cast<double>(all.size()) / secs, pct(all, 0.5), pct(all, 0.99), size.load());
            if (errors) std::printf("\n(%d requests failed)\n", errors.load());
            if (refreshed)
                notes += "The 304 row's requests include " + std::to_string(refreshed.load()) +
                         " 200s with a new ETag (the list changed; the poller then sent that tag).\n";
        }
        if (!notes.empty()) std::printf("\n%s", notes.c_str());
        std::printf("\n");
        std::fflush(stdout);
    }

    // ---- probe CPU with N apps ----
    if (section("probes")) {
        auto [fe_cpu, fe_wall] = fork_exec_cost(200);
        std::printf("## Probe CPU with %d apps probed every second\n\n", apps_n);
        std::printf("Each app runs `sandbox_probe serve 8080` (network none; the probe's socket is made in the\n"
                    "app's netns); liveness probe every 1 s. Daemon CPU = the time its threads ran (schedstat, ns)\n"
                    "over %d windows of %.0f s, as a share of one core: the median window, and all of them;\n"
                    "\"children\" = CPU of processes the daemon reaped (the exec probe helper and the probe\n"
                    "command). Target: HTTP and TCP at most 2 %% of a core.\n\n",
                    cpu_rounds, cpu_window);
        std::printf("| probes | daemon CPU (share of a core, median) | windows | + reaped children | apps' cgroups | probes run | daemon+children CPU per probe |\n");
        std::printf("|---|---:|---|---:|---:|---:|---:|\n");
        struct Mode {
            std::string name, probe;
        };
        std::vector<Mode> modes = {
            {"none (baseline)", ""},
            {"HTTP GET /", R"(, "probes": {"liveness": {"http": {"port": 8080, "path": "/"}, "period": "1s"}})"},
            {"TCP connect", R"(, "probes": {"liveness": {"tcp": {"port": 8080}, "period": "1s"}})"},
            {"exec /bin/true", R"(, "probes": {"liveness": {"exec": {"command": ["/bin/true"]}, "period": "1s"}})"},
        };
        double base_self = 0, base_cg = 0, exec_per_probe = -1;
        for (auto& mode : modes) {
            // --probe-modes none,http: only the rows named (first word, any case).
            if (!probe_modes.empty()) {
                std::string first = mode.name.substr(0, mode.name.find(' '));
                for (auto& c : first) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
                if (("," + probe_modes + ",").find("," + first + ",") == std::string::npos) continue;
            }
            set_apps(d, "probe", apps_n, [&](int) {
                return R"({"command": ["/opt/probe/sandbox_probe", "serve", "8080"], "network": {"mode": "none"},
                           "mounts": [{"type": "bind", "source": ")" +
                       probe_bin + R"(", "target": "/opt/probe/sandbox_probe", "readonly": true}])" + mode.probe + "}";
            });
            bool ok = reload(h) && wait_all_ready(h, static_cast<size_t>(apps_n), 120000, !mode.probe.empty());
            std::this_thread::sleep_for(std::chrono::milliseconds(quick ? 500 : 2000));
            json before = get_json(h, "/v1/apps");
            std::vector<double> selves;
            double kids_total = 0, cg_total = 0, secs_total = 0;
            bool cg_ok = true;
            for (int round = 0; round < cpu_rounds; ++round) {
                auto t0 = proc_times(d.pid());
                double r0 = run_seconds(d.pid());
                double cg0 = cgroup_cpu_seconds(d.cgroup_root());
                auto w0 = Clock::now();
                std::this_thread::sleep_for(std::chrono::duration<double>(cpu_window));
                auto t1 = proc_times(d.pid());
                double r1 = run_seconds(d.pid());
                double cg1 = cgroup_cpu_seconds(d.cgroup_root());
                double secs = ms_since(w0) / 1000;
                selves.push_back((r1 - r0) / secs);
                kids_total += t1.children - t0.children;
                if (cg0 < 0) cg_ok = false;
                cg_total += cg1 - cg0;
                secs_total += secs;
            }
            json after = get_json(h, "/v1/apps");
            int restarts = 0;
            if (before.is_object() && after.is_object())
                for (size_t i = 0; i < after["apps"].size() && i < before["apps"].size(); ++i)
                    restarts += after["apps"][i].value("restarts", 0) - before["apps"][i].value("restarts", 0);
            std::string windows;
            for (double v : selves) {
                char b[32];
                std::snprintf(b, sizeof b, "%s%.2f", windows.empty() ? "" : ", ", v * 100);
                windows += b;
            }
            std::sort(selves.begin(), selves.end());
            double self = selves[selves.size() / 2], kids = kids_total / secs_total;
            double cg = cg_ok ? cg_total / secs_total : -1;
            double secs = secs_total / cpu_rounds;
            double probes = mode.probe.empty() ? 0 : apps_n * secs;
            if (!ok) ++failures;
            if (mode.probe.empty()) {
                base_self = self, base_cg = cg;
                std::printf("| %s%s | %.2f %% | %s | %.2f %% | %.2f %% | 0 | |\n", mode.name.c_str(),
                            ok ? "" : " (not all ready)", self * 100, windows.c_str(), kids * 100, cg * 100);
            } else {
                double per = ((self - base_self) + kids) * secs / probes * 1000;  // ms
                if (mode.probe.find("exec") != std::string::npos) exec_per_probe = per;
                std::printf("| %s%s | %.2f %% | %s | %.2f %% | %.2f %% (%+.2f) | ~%.0f per window | %.3f ms |\n",
                            mode.name.c_str(), ok ? "" : " (not all ready)", self * 100, windows.c_str(), kids * 100,
                            cg * 100, (cg - base_cg) * 100, probes, per);
            }
            if (restarts) std::printf("\n(%d app restarts during the window)\n\n", restarts);
            std::fflush(stdout);
        }
        std::printf("\nfork+exec of /bin/true (posix_spawn + waitpid, this process): %.3f ms CPU, %.3f ms wall.\n",
                    fe_cpu, fe_wall);
        if (exec_per_probe > 0)
            std::printf("One exec probe costs %.3f ms of CPU (daemon + helper + command) = %.1fx a fork+exec of "
                        "/bin/true.\n",
                        exec_per_probe, exec_per_probe / fe_cpu);
        std::printf("\n");
    }

    std::fflush(stdout);

    set_apps(d, "none", 0, {});
    d.cleanup();
    g_daemon = nullptr;
    return failures ? 1 : 0;
}
