// The v1 driver: one directory per app in each of the cpu, cpuacct, memory, pids and
// freezer hierarchies (Documentation/admin-guide/cgroup-v1/). cpuset is left alone: a
// new v1 cpuset cgroup starts with empty cpus/mems and would refuse every task.
#include <fcntl.h>
#include <signal.h>
#include <unistd.h>

#include <algorithm>

#include "cgroup/drivers.hpp"
#include "cgroup/fs.hpp"
#include "cgroup/limits.hpp"
#include "isolated/unique_fd.hpp"

namespace isolated::cgroup {
namespace {

std::optional<std::uint64_t> read_u64(const std::string& path) {
    auto t = read_file(path);
    return t ? parse_u64(*t) : std::nullopt;
}

std::optional<std::string> dir_of(const V1Dirs& d, const char* ctrl) {
    auto it = d.find(ctrl);
    if (it == d.end()) return std::nullopt;
    return it->second;
}

// Where to list the processes: every hierarchy holds the same ones; prefer freezer.
std::string any_dir(const V1Dirs& d) {
    for (const char* c : {"freezer", "pids", "memory", "cpu", "cpuacct"})
        if (auto x = dir_of(d, c)) return *x;
    return {};
}

Status check_controllers(const V1Dirs& d, const ResourcesSpec& s) {
    auto need = [&](bool wanted, const char* ctrl, const char* field) -> Status {
        if (wanted && !d.count(ctrl))
            return Error::os(ENOTSUP, std::string("resources.") + field + " needs the " + ctrl +
                                          " controller, which is not mounted (cgroup v1)");
        return {};
    };
    for (auto r : {need(s.cpu.has_value(), "cpu", "cpu"), need(s.cpu_weight.has_value(), "cpu", "cpuWeight"),
                   need(s.memory.has_value(), "memory", "memory"), need(s.swap.has_value(), "memory", "swap"),
                   need(s.pids.has_value(), "pids", "pids")})
        if (!r) return r;
    return {};
}

class V1Cgroup final : public AppCgroup {
public:
    V1Cgroup(std::string app, V1Dirs dirs, std::vector<unique_fd> procs)
        : app_(std::move(app)), dirs_(std::move(dirs)), procs_(std::move(procs)) {}

    const std::string& app() const override { return app_; }
    std::string describe() const override {
        std::string s;
        for (auto& [c, d] : dirs_) s += (s.empty() ? "" : " ") + c + "=" + d;
        return s;
    }
    std::vector<std::string> procs_files() const override {
        std::vector<std::string> out;
        for (auto& d : unique_dirs(dirs_)) out.push_back(d + "/cgroup.procs");
        return out;
    }
    Placement placement() const override {
        Placement p;
        for (auto& fd : procs_) p.procs_fds.push_back(fd.get());
        return p;
    }
    Status attach(pid_t pid) override {
        for (auto& d : unique_dirs(dirs_))
            if (auto r = sys::write_existing(d + "/cgroup.procs", std::to_string(pid)); !r) return r;
        return {};
    }
    Status kill() override { return kill_v1(dirs_); }
    Result<std::vector<pid_t>> pids() const override { return procs_recursive(any_dir(dirs_)); }

    Result<ResourceUsage> usage() const override {
        ResourceUsage u;
        if (auto d = dir_of(dirs_, "cpuacct"))
            if (auto ns = read_u64(*d + "/cpuacct.usage")) u.cpu_seconds = *ns / 1e9;
        if (auto d = dir_of(dirs_, "cpu")) {
            if (auto t = read_file(*d + "/cpu.stat")) {
                auto c = parse_flat_keyed(*t);
                if (c.count("nr_periods")) u.cpu_periods = c["nr_periods"];
                if (c.count("nr_throttled")) u.cpu_throttled_periods = c["nr_throttled"];
                if (c.count("throttled_time")) u.cpu_throttled_seconds = c["throttled_time"] / 1e9;
            }
        }
        if (auto d = dir_of(dirs_, "memory")) {
            if (auto cur = read_u64(*d + "/memory.usage_in_bytes")) {
                // total_*: this cgroup and its descendants (memory.stat in v1 lists both).
                std::uint64_t inactive = 0;
                if (auto t = read_file(*d + "/memory.stat")) {
                    auto st = parse_flat_keyed(*t);
                    inactive = st.count("total_inactive_file") ? st["total_inactive_file"] : st["inactive_file"];
                }
                u.memory_bytes = working_set(*cur, inactive);
            }
            u.memory_peak_bytes = read_u64(*d + "/memory.max_usage_in_bytes");
        }
        if (auto d = dir_of(dirs_, "pids")) u.pids = read_u64(*d + "/pids.current");
        if (!u.pids)
            if (auto procs = pids()) u.pids = procs->size();
        return u;
    }

    Result<std::uint64_t> oom_kills() const override {
        auto d = dir_of(dirs_, "memory");
        if (!d) return std::uint64_t{0};
        auto t = read_file(*d + "/memory.oom_control");  // "oom_kill N" since 4.13
        if (!t) return t.error();
        auto e = parse_flat_keyed(*t);
        return e.count("oom_kill") ? e["oom_kill"] : std::uint64_t{0};
    }

    Result<ResourcesSpec> limits() const override {
        ResourcesSpec s;
        if (auto d = dir_of(dirs_, "cpu")) {
            auto q = read_file(*d + "/cpu.cfs_quota_us");
            auto p = read_u64(*d + "/cpu.cfs_period_us");
            if (q && p && *p > 0)
                if (auto qv = parse_i64(*q); qv && *qv > 0) s.cpu = static_cast<double>(*qv) / static_cast<double>(*p);
            if (auto sh = read_u64(*d + "/cpu.shares"); sh && *sh != 1024) s.cpu_weight = shares_to_weight(*sh);
        }
        if (auto d = dir_of(dirs_, "memory")) {
            if (auto t = read_file(*d + "/memory.limit_in_bytes")) s.memory = parse_v1_limit(*t);
            if (auto t = read_file(*d + "/memory.memsw.limit_in_bytes"); t && s.memory)
                if (auto sw = parse_v1_limit(*t); sw && *sw >= *s.memory) s.swap = *sw - *s.memory;
        }
        if (auto d = dir_of(dirs_, "pids"))
            if (auto t = read_file(*d + "/pids.max")) s.pids = parse_v2_limit(*t);
        return s;
    }

    Status remove() override {
        procs_.clear();
        return remove_with_retry(unique_dirs(dirs_), [this] { return kill_v1(dirs_); });
    }

private:
    std::string app_;
    V1Dirs dirs_;
    std::vector<unique_fd> procs_;
};

class V1Manager final : public Manager {
public:
    V1Manager(Layout layout, ManagerOptions opts) : layout_(std::move(layout)), opts_(std::move(opts)) {}

    Driver driver() const override { return Driver::v1; }
    std::string describe() const override {
        std::string s = "v1: apps in <mount>/" + opts_.root + "/<app> for";
        for (auto& [c, m] : layout_.v1) s += " " + c + "=" + m;
        return s;
    }

    Status prepare_daemon() override {
        for (auto& m : mounts())
            if (auto r = make_dirs(m, opts_.root, opts_.after_mkdir); !r) return r;
        return {};
    }

    Result<std::unique_ptr<AppCgroup>> create(const std::string& app, const ResourcesSpec& spec) override {
        if (!is_app_name(app)) return Error::msg("\"" + app + "\" is not an app name");
        V1Dirs dirs = dirs_for(app);
        if (auto r = check_controllers(dirs, spec); !r) return r.error();
        return make_fresh(app, dirs, opts_.root + "/" + app, [&] { return apply_v1_limits(dirs, spec); });
    }

    // A cgroup made anew in every hierarchy (a leftover of the same name is killed and
    // removed first), set up by SETUP, opened; on any failure nothing of it is left.
    template <typename Setup>
    Result<std::unique_ptr<AppCgroup>> make_fresh(const std::string& name, const V1Dirs& dirs, const std::string& rel,
                                                  Setup setup) {
        bool leftover = false;
        for (auto& d : unique_dirs(dirs)) leftover = leftover || is_dir(d);
        if (leftover)
            if (auto r = remove_with_retry(unique_dirs(dirs), [&] { return kill_v1(dirs); }); !r) return r.error();
        auto fail = [&](Error e) -> Result<std::unique_ptr<AppCgroup>> {
            for (auto& d : unique_dirs(dirs)) (void)rmdir_recursive(d);
            return e;
        };
        for (auto& m : mounts())
            if (auto r = make_dirs(m, rel, opts_.after_mkdir); !r) return fail(r.error());
        if (auto r = setup(); !r) return fail(r.error());
        auto h = open_v1(name, dirs);
        if (!h) return fail(h.error());
        return h;
    }

    Result<std::unique_ptr<AppCgroup>> open(const std::string& app) override {
        if (!is_app_name(app)) return Error::msg("\"" + app + "\" is not an app name");
        return open_v1(app, dirs_for(app));
    }

    Result<std::vector<std::string>> reconcile(const std::set<std::string>& live) override {
        std::set<std::string> stray;
        for (auto& m : mounts()) {
            auto names = subdirs(m + "/" + opts_.root);
            if (!names) return names.error();
            for (auto& n : *names)
                if (is_app_name(n) && !live.count(n)) stray.insert(n);
        }
        std::vector<std::string> removed;
        std::optional<Error> failed;
        for (auto& n : stray) {
            V1Dirs dirs = dirs_for(n);
            // One busy cgroup does not keep the others: each is tried, the first
            // failure reported after.
            if (auto r = remove_with_retry(unique_dirs(dirs), [&] { return kill_v1(dirs); }); !r) {
                if (!failed) failed = r.error();
                continue;
            }
            removed.push_back(n);
        }
        if (failed) return *failed;
        return removed;
    }

    Result<std::unique_ptr<AppCgroup>> create_hook(const std::string& name) override {
        if (!is_hook_name(name)) return Error::msg("\"" + name + "\" is not a hook cgroup name");
        V1Dirs dirs = hook_dirs_for(name);
        // In every hierarchy the apps use, as an app's: the freezer one is what makes
        // the kill race-free against forks; no limits are written.
        return make_fresh(name, dirs, opts_.root + "/" + kHooksDir + "/" + name, [] { return Status{}; });
    }

    Result<std::vector<std::string>> remove_hooks() override {
        std::set<std::string> names;
        for (auto& m : mounts()) {
            auto sub = subdirs(m + "/" + opts_.root + "/" + kHooksDir);
            if (!sub) return sub.error();
            names.insert(sub->begin(), sub->end());
        }
        std::vector<std::string> removed;
        for (auto& n : names) {
            V1Dirs dirs = hook_dirs_for(n);
            if (auto r = remove_with_retry(unique_dirs(dirs), [&] { return kill_v1(dirs); }); !r) return r.error();
            removed.push_back(n);
        }
        for (auto& m : mounts()) {
            std::string base = m + "/" + opts_.root + "/" + kHooksDir;
            if (::rmdir(base.c_str()) < 0 && errno != ENOENT) return os_error("rmdir \"" + base + "\"");
        }
        return removed;
    }

    Status remove_root() override {
        for (auto& m : mounts()) {
            std::string dir = m + "/" + opts_.root;
            if (::rmdir(dir.c_str()) < 0 && errno != ENOENT && errno != EBUSY && errno != ENOTEMPTY)
                return os_error("rmdir \"" + dir + "\"");
        }
        return {};
    }

private:
    std::vector<std::string> mounts() const {
        std::vector<std::string> out;
        for (auto& [c, m] : layout_.v1)
            if (std::find(out.begin(), out.end(), m) == out.end()) out.push_back(m);
        return out;
    }
    V1Dirs dirs_for(const std::string& app) const {
        V1Dirs d;
        for (auto& [c, m] : layout_.v1) d[c] = m + "/" + opts_.root + "/" + app;
        return d;
    }
    V1Dirs hook_dirs_for(const std::string& name) const {
        V1Dirs d;
        for (auto& [c, m] : layout_.v1) d[c] = m + "/" + opts_.root + "/" + kHooksDir + "/" + name;
        return d;
    }

    Layout layout_;
    ManagerOptions opts_;
};

}  // namespace

int enter_cgroups_from_child(const int* fds, std::size_t count) noexcept {
    for (std::size_t i = 0; i < count; ++i) {
        ssize_t n;
        do n = ::write(fds[i], "0", 1);
        while (n < 0 && errno == EINTR);
        if (n < 0) return errno;
    }
    return 0;
}

std::vector<std::string> unique_dirs(const V1Dirs& dirs) {
    std::vector<std::string> out;
    for (auto& [c, d] : dirs)
        if (std::find(out.begin(), out.end(), d) == out.end()) out.push_back(d);
    return out;
}

Result<std::unique_ptr<AppCgroup>> open_v1(const std::string& app, const V1Dirs& dirs) {
    std::vector<unique_fd> procs;
    for (auto& d : unique_dirs(dirs)) {
        std::string p = d + "/cgroup.procs";
        unique_fd fd(::open(p.c_str(), O_WRONLY | O_CLOEXEC));
        if (!fd) return os_error("open \"" + p + "\"");
        procs.push_back(std::move(fd));
    }
    return std::unique_ptr<AppCgroup>(new V1Cgroup(app, dirs, std::move(procs)));
}

Status apply_v1_limits(const V1Dirs& dirs, const ResourcesSpec& s) {
    auto w = [&](const char* ctrl, const char* file, const std::string& v) -> Status {
        auto d = dir_of(dirs, ctrl);
        if (!d) return Error::os(ENOTSUP, std::string("cgroup v1: no ") + ctrl + " hierarchy for " + file);
        return sys::write_existing(*d + "/" + file, v);
    };
    if (s.cpu) {
        if (auto r = w("cpu", "cpu.cfs_period_us", std::to_string(kCpuPeriodUs)); !r) return r;
        if (auto r = w("cpu", "cpu.cfs_quota_us", std::to_string(cpu_quota_us(*s.cpu))); !r) return r;
    }
    if (s.cpu_weight)
        if (auto r = w("cpu", "cpu.shares", std::to_string(weight_to_shares(*s.cpu_weight))); !r) return r;
    if (s.memory) {
        if (auto r = w("memory", "memory.limit_in_bytes", std::to_string(*s.memory)); !r) return r;
        // memsw counts memory + swap and may never be below the memory limit, so it is
        // written after it. Without a memory limit, a swap limit means nothing.
        if (s.swap)
            if (auto r = w("memory", "memory.memsw.limit_in_bytes", std::to_string(*s.memory + *s.swap)); !r) {
                if (r.error().errno_value == ENOENT) r.error().message += " (swap accounting is off: swapaccount=1)";
                return r;
            }
    }
    // memory.high and io weight have no v1 equivalent here: memory.soft_limit_in_bytes
    // only steers global reclaim and blkio weights need CFQ/BFQ; both are skipped and
    // limits() shows they are not in force.
    if (s.pids)
        if (auto r = w("pids", "pids.max", std::to_string(*s.pids)); !r) return r;
    return {};
}

Status kill_v1(const V1Dirs& dirs) {
    // Freeze, so that nothing forks while we read the list, SIGKILL every process, thaw
    // (v1 frozen tasks take the kill when thawed). Frozen tasks cannot exit either, so
    // a listed pid cannot be recycled under us.
    auto freezer = dir_of(dirs, "freezer");
    bool frozen = false;
    if (freezer && is_dir(*freezer) && sys::write_existing(*freezer + "/freezer.state", "FROZEN")) {
        frozen = true;
        poll_for([&] {
            auto s = read_file(*freezer + "/freezer.state");
            return s && s->rfind("FROZEN", 0) == 0;
        }, std::chrono::milliseconds(500));
    }
    std::string dir = frozen ? *freezer : any_dir(dirs);
    Status result;
    // Without a freezer a process may fork between our read and its kill: go round
    // until a read finds nothing new to kill (bounded).
    for (int round = 0; round < (frozen ? 1 : 20); ++round) {
        auto pids = procs_recursive(dir);
        if (!pids) {
            result = pids.error();
            break;
        }
        if (pids->empty()) break;
        for (pid_t p : *pids) ::kill(p, SIGKILL);
        if (!frozen) poll_for([] { return false; }, std::chrono::milliseconds(2));
    }
    if (frozen) (void)sys::write_existing(*freezer + "/freezer.state", "THAWED");
    return result;
}

Result<std::unique_ptr<Manager>> make_v1_manager(const Layout& layout, const ManagerOptions& opts) {
    if (layout.v1.empty())
        return Error::os(ENOENT, "cgroup driver v1: no cpu, cpuacct, memory, pids or freezer v1 mount in mountinfo");
    return std::unique_ptr<Manager>(new V1Manager(layout, opts));
}

}  // namespace isolated::cgroup
