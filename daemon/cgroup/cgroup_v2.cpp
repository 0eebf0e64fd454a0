// The v2 driver: cgroupfs on the unified hierarchy (Documentation/admin-guide/cgroup-v2.rst).
#include <fcntl.h>
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <sstream>

#include "cgroup/drivers.hpp"
#include "cgroup/fs.hpp"
#include "cgroup/limits.hpp"
#include "isolated/unique_fd.hpp"

namespace isolated::cgroup {
namespace {

constexpr const char* kDaemonLeaf = "_daemon";

std::set<std::string> words(const std::string& text) {
    std::set<std::string> out;
    std::istringstream in(text);
    std::string w;
    while (in >> w) out.insert(w);
    return out;
}

std::map<std::string, std::uint64_t> read_keyed(const std::string& path) {
    auto t = read_file(path);
    return t ? parse_flat_keyed(*t) : std::map<std::string, std::uint64_t>{};
}

std::optional<std::uint64_t> read_u64(const std::string& path) {
    auto t = read_file(path);
    return t ? parse_u64(*t) : std::nullopt;
}

// The controllers each field needs; a requested limit without its controller is an
// error rather than a silently unenforced promise.
Status check_controllers(const std::string& dir, const ResourcesSpec& s, const std::set<std::string>& have) {
    auto need = [&](bool wanted, const char* ctrl, const char* field) -> Status {
        if (wanted && !have.count(ctrl))
            return Error::os(ENOTSUP, std::string("resources.") + field + " needs the " + ctrl +
                                          " controller, which is not enabled for \"" + dir + "\"");
        return {};
    };
    for (auto r : {need(s.cpu.has_value(), "cpu", "cpu"), need(s.cpu_weight.has_value(), "cpu", "cpuWeight"),
                   need(s.memory.has_value(), "memory", "memory"),
                   need(s.memory_high.has_value(), "memory", "memoryHigh"), need(s.swap.has_value(), "memory", "swap"),
                   need(s.pids.has_value(), "pids", "pids"), need(s.io_weight.has_value(), "io", "ioWeight")})
        if (!r) return r;
    return {};
}

class V2Cgroup final : public AppCgroup {
public:
    V2Cgroup(std::string app, std::string dir, unique_fd fd)
        : app_(std::move(app)), dir_(std::move(dir)), fd_(std::move(fd)) {}

    const std::string& app() const override { return app_; }
    std::string describe() const override { return dir_; }
    std::vector<std::string> procs_files() const override { return {dir_ + "/cgroup.procs"}; }
    Placement placement() const override {
        Placement p;
        p.cgroup_dir_fd = fd_.get();
        return p;
    }
    Status attach(pid_t pid) override { return sys::write_existing(dir_ + "/cgroup.procs", std::to_string(pid)); }
    Status kill() override { return kill_v2(dir_); }
    Result<std::vector<pid_t>> pids() const override { return procs_recursive(dir_); }

    Result<ResourceUsage> usage() const override {
        ResourceUsage u;
        // cpu.stat's usage_usec is kept by the core (rstat) even without the cpu
        // controller; the period and throttling lines only exist with it.
        auto cpu = read_file(dir_ + "/cpu.stat");
        if (!cpu) return cpu.error();
        auto c = parse_flat_keyed(*cpu);
        if (c.count("usage_usec")) u.cpu_seconds = c["usage_usec"] / 1e6;
        if (c.count("nr_periods")) u.cpu_periods = c["nr_periods"];
        if (c.count("nr_throttled")) u.cpu_throttled_periods = c["nr_throttled"];
        if (c.count("throttled_usec")) u.cpu_throttled_seconds = c["throttled_usec"] / 1e6;
        if (auto cur = read_u64(dir_ + "/memory.current")) {
            auto st = read_keyed(dir_ + "/memory.stat");
            u.memory_bytes = working_set(*cur, st.count("inactive_file") ? st["inactive_file"] : 0);
        }
        u.memory_peak_bytes = read_u64(dir_ + "/memory.peak");  // 5.19+
        if (auto p = read_u64(dir_ + "/pids.current")) {
            u.pids = p;
        } else if (auto procs = procs_recursive(dir_)) {
            u.pids = procs->size();  // no pids controller: count processes
        }
        return u;
    }

    Result<std::uint64_t> oom_kills() const override {
        auto t = read_file(dir_ + "/memory.events");
        if (!t) {
            if (t.error().errno_value == ENOENT) return std::uint64_t{0};
            return t.error();
        }
        auto e = parse_flat_keyed(*t);
        return e.count("oom_kill") ? e["oom_kill"] : std::uint64_t{0};
    }

    Result<ResourcesSpec> limits() const override {
        ResourcesSpec s;
        if (auto t = read_file(dir_ + "/cpu.max")) s.cpu = parse_v2_cpu_max(*t);
        if (auto w = read_u64(dir_ + "/cpu.weight"); w && *w != 100) s.cpu_weight = static_cast<std::uint32_t>(*w);
        if (auto t = read_file(dir_ + "/memory.max")) s.memory = parse_v2_limit(*t);
        if (auto t = read_file(dir_ + "/memory.high")) s.memory_high = parse_v2_limit(*t);
        if (auto t = read_file(dir_ + "/memory.swap.max")) s.swap = parse_v2_limit(*t);
        if (auto t = read_file(dir_ + "/pids.max")) s.pids = parse_v2_limit(*t);
        if (auto t = read_file(dir_ + "/io.weight")) {
            auto k = parse_flat_keyed(*t);  // "default 100"
            if (k.count("default") && k["default"] != 100) s.io_weight = static_cast<std::uint32_t>(k["default"]);
        }
        return s;
    }

    Status remove() override {
        fd_.reset();
        return remove_with_retry({dir_}, [this] { return kill_v2(dir_); });
    }

private:
    std::string app_, dir_;
    unique_fd fd_;
};

class V2Manager final : public Manager {
public:
    V2Manager(Layout layout, ManagerOptions opts)
        : layout_(std::move(layout)), opts_(std::move(opts)), mount_(*layout_.unified),
          root_dir_(mount_ + "/" + opts_.root) {}

    Driver driver() const override { return Driver::v2; }
    std::string describe() const override {
        std::string c;
        for (auto& x : layout_.unified_controllers) c += (c.empty() ? "" : " ") + x;
        return "v2: apps in " + root_dir_ + "/<app> (controllers available: " + (c.empty() ? "none" : c) + ")";
    }

    Status prepare_daemon() override {
        if (auto r = make_dirs(mount_, opts_.root, opts_.after_mkdir); !r) return r;
        // A cgroup that hands controllers to its children may hold no process itself
        // (the "no internal processes" rule; the root is exempt, but a container's
        // namespace root is not). If the daemon sits at or above <root> -- e.g.
        // --cgroup-root names its own Delegate=yes service cgroup -- it moves to a leaf
        // of its own first, as systemd's DelegateSubgroup= does.
        if (layout_.own_unified) {
            std::string own = *layout_.own_unified;
            std::string root = "/" + opts_.root;
            auto under = [](const std::string& a, const std::string& b) {  // a at or below b
                return a == b || b == "/" || (a.size() > b.size() && a.compare(0, b.size(), b) == 0 && a[b.size()] == '/');
            };
            bool above = under(root, own);
            bool inside = under(own, root) && own != root + "/" + kDaemonLeaf;
            if (above || inside) {
                if (auto r = make_dirs(root_dir_, kDaemonLeaf, opts_.after_mkdir); !r) return r;
                if (auto r = sys::write_existing(root_dir_ + "/" + kDaemonLeaf + "/cgroup.procs", "0"); !r) return r;
                layout_.own_unified = root + "/" + kDaemonLeaf;
            }
        }
        // Controllers must be enabled on every level from the mount down to <root>.
        std::string cur = mount_;
        if (auto r = enable_controllers(cur); !r) return r;
        std::istringstream parts(opts_.root);
        for (std::string part; std::getline(parts, part, '/');) {
            if (part.empty()) continue;
            cur += "/" + part;
            if (auto r = enable_controllers(cur); !r) return r;
        }
        return {};
    }

    Result<std::unique_ptr<AppCgroup>> create(const std::string& app, const ResourcesSpec& spec) override {
        if (!is_app_name(app)) return Error::msg("\"" + app + "\" is not an app name");
        std::string dir = root_dir_ + "/" + app;
        if (is_dir(dir)) {
            // A leftover of a crashed daemon or an unclean stop: start from a fresh
            // cgroup so that memory.events and the peak counters describe this instance.
            if (auto r = remove_with_retry({dir}, [&] { return kill_v2(dir); }); !r) return r.error();
        }
        if (auto r = make_dirs(mount_, opts_.root, opts_.after_mkdir); !r) return r.error();
        if (auto r = make_dirs(root_dir_, app, opts_.after_mkdir); !r) return r.error();
        auto fail = [&](Error e) -> Result<std::unique_ptr<AppCgroup>> {
            (void)rmdir_recursive(dir);
            return e;
        };
        auto ctrl = read_file(dir + "/cgroup.controllers");
        if (!ctrl) return fail(ctrl.error());
        if (auto r = check_controllers(dir, spec, words(*ctrl)); !r) return fail(r.error());
        if (auto r = apply_v2_limits(dir, spec); !r) return fail(r.error());
        auto h = open_v2(app, dir);
        if (!h) return fail(h.error());
        return h;
    }

    Result<std::unique_ptr<AppCgroup>> open(const std::string& app) override {
        if (!is_app_name(app)) return Error::msg("\"" + app + "\" is not an app name");
        return open_v2(app, root_dir_ + "/" + app);
    }

    Result<std::unique_ptr<AppCgroup>> create_hook(const std::string& name) override {
        if (!is_hook_name(name)) return Error::msg("\"" + name + "\" is not a hook cgroup name");
        std::string base = root_dir_ + "/" + kHooksDir, dir = base + "/" + name;
        if (is_dir(dir))
            if (auto r = remove_with_retry({dir}, [&] { return kill_v2(dir); }); !r) return r.error();
        // No controllers are enabled below _hooks: a hook has no limits, and its cgroup
        // is there for the kill (cgroup.kill, or freeze + kill).
        if (auto r = make_dirs(mount_, opts_.root + "/" + kHooksDir + "/" + name, opts_.after_mkdir); !r)
            return r.error();
        auto h = open_v2(name, dir);
        if (!h) (void)rmdir_recursive(dir);
        return h;
    }

    Result<std::vector<std::string>> remove_hooks() override {
        std::string base = root_dir_ + "/" + kHooksDir;
        auto names = subdirs(base);
        if (!names) return names.error();
        std::vector<std::string> removed;
        for (auto& n : *names) {
            std::string dir = base + "/" + n;
            if (auto r = remove_with_retry({dir}, [&] { return kill_v2(dir); }); !r) return r.error();
            removed.push_back(n);
        }
        if (::rmdir(base.c_str()) < 0 && errno != ENOENT) return os_error("rmdir \"" + base + "\"");
        return removed;
    }

    Result<std::vector<std::string>> reconcile(const std::set<std::string>& live) override {
        std::vector<std::string> removed;
        std::optional<Error> failed;
        auto names = subdirs(root_dir_);
        if (!names) return names.error();
        for (auto& n : *names) {
            if (!is_app_name(n) || live.count(n)) continue;
            std::string dir = root_dir_ + "/" + n;
            // One busy cgroup does not keep the others: each is tried, the first
            // failure reported after.
            if (auto r = remove_with_retry({dir}, [&] { return kill_v2(dir); }); !r) {
                if (!failed) failed = r.error();
                continue;
            }
            removed.push_back(n);
        }
        if (failed) return *failed;
        return removed;
    }

private:
    // One write with every missing controller ("+cpu +memory"): the kernel applies the
    // list as a whole, and it is one syscall per level.
    Status enable_controllers(const std::string& dir) {
        auto avail = read_file(dir + "/cgroup.controllers");
        if (!avail) return avail.error();
        auto enabled = read_file(dir + "/cgroup.subtree_control");
        if (!enabled) return enabled.error();
        auto have = words(*avail), on = words(*enabled);
        std::string add;
        for (auto& c : v2_controllers())
            if (have.count(c) && !on.count(c)) add += (add.empty() ? "+" : " +") + c;
        if (add.empty()) return {};
        auto r = sys::write_existing(dir + "/cgroup.subtree_control", add);
        if (!r && r.error().errno_value == EBUSY)
            r.error().message += " (the cgroup has processes of its own: the no-internal-processes rule)";
        return r;
    }

    Layout layout_;
    ManagerOptions opts_;
    std::string mount_, root_dir_;
};

}  // namespace

Result<std::unique_ptr<AppCgroup>> open_v2(const std::string& app, const std::string& dir) {
    // O_RDONLY|O_DIRECTORY rather than O_PATH: what clone3(CLONE_INTO_CGROUP) is
    // documented and tested with.
    unique_fd fd(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    if (!fd) return os_error("open cgroup \"" + dir + "\"");
    return std::unique_ptr<AppCgroup>(new V2Cgroup(app, dir, std::move(fd)));
}

Status apply_v2_limits(const std::string& dir, const ResourcesSpec& s) {
    auto w = [&](const char* file, const std::string& v) { return sys::write_existing(dir + "/" + file, v); };
    if (s.cpu)
        if (auto r = w("cpu.max", v2_cpu_max(*s.cpu)); !r) return r;
    if (s.cpu_weight)
        if (auto r = w("cpu.weight", std::to_string(*s.cpu_weight)); !r) return r;
    if (s.memory_high)
        if (auto r = w("memory.high", std::to_string(*s.memory_high)); !r) return r;
    if (s.memory)
        if (auto r = w("memory.max", std::to_string(*s.memory)); !r) return r;
    if (s.swap)
        if (auto r = w("memory.swap.max", std::to_string(*s.swap)); !r) {
            if (r.error().errno_value == ENOENT) r.error().message += " (swap accounting is off on this kernel)";
            return r;
        }
    // An OOM kill takes the whole app, not one process of it: a half-killed app is
    // worse than a restarted one (Kubernetes does the same since 1.28).
    if (exists(dir + "/memory.oom.group"))
        if (auto r = w("memory.oom.group", "1"); !r) return r;
    if (s.pids)
        if (auto r = w("pids.max", std::to_string(*s.pids)); !r) return r;
    if (s.io_weight) {
        // io.weight needs the BFQ or io.cost controller; io.bfq.weight is BFQ's own.
        std::string file = exists(dir + "/io.weight") ? "io.weight" : "io.bfq.weight";
        if (auto r = w(file.c_str(), "default " + std::to_string(*s.io_weight)); !r) return r;
    }
    return {};
}

Status kill_v2(const std::string& dir) {
    if (!is_dir(dir)) return {};
    // cgroup.kill (5.14+) kills every task atomically with respect to forks.
    if (exists(dir + "/cgroup.kill")) return sys::write_existing(dir + "/cgroup.kill", "1");
    // Older kernels: freeze so nothing forks while we walk, kill, thaw (the kill is
    // delivered on thaw).
    bool frozen = sys::write_existing(dir + "/cgroup.freeze", "1").ok();
    if (frozen)
        poll_for([&] {
            auto e = read_file(dir + "/cgroup.events");
            return e && parse_flat_keyed(*e)["frozen"] == 1;
        }, std::chrono::milliseconds(500));
    auto pids = procs_recursive(dir);
    if (pids)
        for (pid_t p : *pids) ::kill(p, SIGKILL);
    if (frozen) (void)sys::write_existing(dir + "/cgroup.freeze", "0");
    if (!pids) return pids.error();
    return {};
}

Result<std::unique_ptr<Manager>> make_v2_manager(const Layout& layout, const ManagerOptions& opts) {
    if (!layout.unified) return Error::os(ENOENT, "cgroup driver v2: no cgroup2 mount in mountinfo");
    return std::unique_ptr<Manager>(new V2Manager(layout, opts));
}

}  // namespace isolated::cgroup
