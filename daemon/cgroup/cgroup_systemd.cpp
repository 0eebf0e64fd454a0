// The systemd driver: each app in a transient scope isolated-APP.scope in
// isolated.slice, made over sd-bus with its limits as unit properties (as
// `systemd-run --scope` and podman/crun's systemd cgroup managers do). systemd owns the
// cgroup tree; isolated asks for units and then reads the scope's cgroup underneath
// (v2 or v1, whichever this host has) for counters, placement of later processes and
// the kill. Scopes are not part of isolated.service, so restarting the daemon leaves
// the apps running.
#include <signal.h>
#include <systemd/sd-bus.h>

#include "cgroup/drivers.hpp"
#include "cgroup/fs.hpp"
#include "cgroup/systemd_bus.hpp"

namespace isolated::cgroup {

void SdBusUnref::operator()(sd_bus* b) const { sd_bus_flush_close_unref(b); }

namespace {

Result<BusPtr> open_system_bus() {
    sd_bus* b = nullptr;
    int r = sd_bus_open_system(&b);
    if (r < 0) return Error::os(-r, "connect to the system bus");
    return BusPtr(b);
}

struct Shared {
    Layout layout;
    ManagerOptions opts;
    BusPtr bus;

    // One connection for the daemon's life; after systemd re-executes itself (daemon-
    // reexec, upgrades) the old connection is closed, so reconnect once on demand.
    Result<systemd::Client> client() {
        if (!bus || sd_bus_is_open(bus.get()) <= 0) {
            auto b = opts.bus ? opts.bus() : open_system_bus();
            if (!b) return b.error();
            bus = std::move(*b);
        }
        return systemd::Client(bus.get(), opts.systemd_job_timeout);
    }

    // The scope's cgroup in this host's hierarchies. Pure v2 hosts: one directory;
    // hybrid/legacy: systemd realizes the scope in every v1 controller hierarchy (all of
    // them, as the scope has Delegate=yes).
    Result<std::unique_ptr<AppCgroup>> underneath(const std::string& app, const std::string& cg) {
        bool pure_v2 = layout.unified && (layout.v1.empty() || *layout.unified == opts.fs_prefix + "/sys/fs/cgroup");
        if (pure_v2) {
            auto rel = relative_to_mount(cg, layout.unified_mount_root);
            if (!rel) return Error::os(ENOENT, "cgroup \"" + cg + "\" is outside the cgroup2 mount");
            return open_v2(app, *layout.unified + (*rel == "/" ? "" : *rel));
        }
        V1Dirs dirs;
        for (auto& [c, m] : layout.v1) {
            auto rel = relative_to_mount(cg, layout.v1_mount_root[c]);
            if (rel && is_dir(m + *rel)) dirs[c] = m + *rel;
        }
        if (!dirs.empty()) return open_v1(app, dirs);
        // Hybrid host whose v1 controllers systemd cannot write (read-only mounts in a
        // container): systemd still tracks the scope in the unified hierarchy, which
        // gives placement and cgroup.kill, though no limits or memory counters.
        if (layout.unified)
            if (auto rel = relative_to_mount(cg, layout.unified_mount_root); rel && is_dir(*layout.unified + *rel))
                return open_v2(app, *layout.unified + *rel);
        return Error::os(ENOENT, "no hierarchy holds \"" + cg + "\"");
    }
};

class SystemdCgroup final : public AppCgroup {
public:
    SystemdCgroup(std::shared_ptr<Shared> sh, std::string app, ResourcesSpec spec)
        : sh_(std::move(sh)), app_(std::move(app)), unit_(systemd::scope_name(app_)), spec_(std::move(spec)) {}

    const std::string& app() const override { return app_; }
    std::string describe() const override {
        std::string s = std::string(systemd::kSlice) + "/" + unit_;
        if (inner_) s += " (" + inner_->describe() + ")";
        return s;
    }

    std::vector<std::string> procs_files() const override {
        return inner_ ? inner_->procs_files() : std::vector<std::string>{};
    }
    Placement placement() const override {
        if (inner_) return inner_->placement();
        Placement p;
        p.attach_after_clone = !started_;
        return p;
    }

    Status attach(pid_t pid) override {
        if (started_) {
            if (inner_) return inner_->attach(pid);
            return Error::os(ENOTSUP, unit_ + ": cannot add a process, its cgroup is not accessible here");
        }
        auto c = sh_->client();
        if (!c) return c.error();
        if (auto r = c->start_transient_unit(unit_, systemd::scope_properties(app_, pid, spec_)); !r) return r;
        started_ = true;
        find_cgroup();
        return {};
    }

    // Called by open() for a scope that already runs.
    void adopt() {
        started_ = true;
        find_cgroup();
    }

    Status kill() override {
        if (!started_) return {};
        // The cgroup's own kill (cgroup.kill / freezer) is race-free against forks;
        // KillUnit walks the cgroup and signals what it finds, so it is the fallback
        // (e.g. v1 hierarchies mounted read-only inside a container).
        if (inner_)
            if (auto r = inner_->kill(); r) return r;
        auto c = sh_->client();
        if (!c) return c.error();
        auto r = c->kill_unit(unit_, SIGKILL);
        if (!r && r.error().errno_value == ENOENT) return {};
        return r;
    }

    Result<std::vector<pid_t>> pids() const override {
        if (inner_) return inner_->pids();
        return std::vector<pid_t>{};
    }
    Result<ResourceUsage> usage() const override {
        if (inner_) return inner_->usage();
        return ResourceUsage{};
    }
    Result<std::uint64_t> oom_kills() const override {
        if (inner_) return inner_->oom_kills();
        return std::uint64_t{0};
    }
    Result<ResourcesSpec> limits() const override {
        if (inner_) return inner_->limits();
        return ResourcesSpec{};
    }

    Status remove() override {
        if (!started_) return {};
        (void)kill();
        auto c = sh_->client();
        if (!c) return c.error();
        // KillSignal=SIGKILL: stopping the scope ends whatever kill() could not reach.
        if (auto r = c->stop_unit(unit_); !r) return r;
        (void)c->reset_failed_unit(unit_);
        inner_.reset();
        started_ = false;
        return {};
    }

private:
    void find_cgroup() {
        inner_.reset();
        auto c = sh_->client();
        if (!c) return;
        auto path = c->get_unit(unit_);
        if (!path) return;
        auto cg = c->control_group(*path);
        if (!cg || cg->empty()) return;
        // Not fatal: the scope exists and holds the app; without access to its cgroup
        // (read-only v1 mounts in a container) only counters and placement of later
        // processes are lost, and kill() falls back to KillUnit.
        if (auto h = sh_->underneath(app_, *cg)) inner_ = std::move(*h);
    }

    std::shared_ptr<Shared> sh_;
    std::string app_, unit_;
    ResourcesSpec spec_;
    bool started_ = false;
    std::unique_ptr<AppCgroup> inner_;
};

class SystemdManager final : public Manager {
public:
    explicit SystemdManager(std::shared_ptr<Shared> sh) : sh_(std::move(sh)) {}

    Driver driver() const override { return Driver::systemd; }
    std::string describe() const override {
        return std::string("systemd: apps in ") + systemd::kSlice + "/isolated-<app>.scope";
    }
    Status prepare_daemon() override {
        auto c = sh_->client();
        return c ? Status{} : Status(c.error());
    }

    Result<std::unique_ptr<AppCgroup>> create(const std::string& app, const ResourcesSpec& spec) override {
        if (!is_app_name(app)) return Error::msg("\"" + app + "\" is not an app name");
        auto c = sh_->client();
        if (!c) return c.error();
        std::string unit = systemd::scope_name(app);
        // A scope left by a previous instance (daemon crash) holds stale processes:
        // end it so the new scope starts clean under the same name.
        if (c->get_unit(unit)) {
            SystemdCgroup old(sh_, app, {});
            old.adopt();
            if (auto r = old.remove(); !r) return r.error();
        }
        return std::unique_ptr<AppCgroup>(new SystemdCgroup(sh_, app, spec));
    }

    Result<std::unique_ptr<AppCgroup>> open(const std::string& app) override {
        if (!is_app_name(app)) return Error::msg("\"" + app + "\" is not an app name");
        auto c = sh_->client();
        if (!c) return c.error();
        auto path = c->get_unit(systemd::scope_name(app));
        if (!path) return path.error();
        auto h = std::make_unique<SystemdCgroup>(sh_, app, ResourcesSpec{});
        h->adopt();
        return std::unique_ptr<AppCgroup>(std::move(h));
    }

    Result<std::unique_ptr<AppCgroup>> create_hook(const std::string& name) override {
        if (!is_hook_name(name)) return Error::msg("\"" + name + "\" is not a hook cgroup name");
        auto c = sh_->client();
        if (!c) return c.error();
        // isolated-web.failure.scope: a scope like an app's, in isolated.slice, made
        // with the hook's first process (a scope cannot be created empty); the dot keeps
        // it out of reconcile(), which takes only app names.
        if (c->get_unit(systemd::scope_name(name))) {
            SystemdCgroup old(sh_, name, {});
            old.adopt();
            if (auto r = old.remove(); !r) return r.error();
        }
        return std::unique_ptr<AppCgroup>(new SystemdCgroup(sh_, name, {}));
    }

    Result<std::vector<std::string>> remove_hooks() override {
        auto c = sh_->client();
        if (!c) return c.error();
        auto units = c->list_units("isolated-*.*.scope");
        if (!units) return units.error();
        std::vector<std::string> removed;
        for (auto& u : *units) {
            constexpr std::string_view pre = "isolated-", suf = ".scope";
            if (u.size() <= pre.size() + suf.size()) continue;
            std::string name = u.substr(pre.size(), u.size() - pre.size() - suf.size());
            if (!is_hook_name(name)) continue;
            SystemdCgroup stray(sh_, name, {});
            stray.adopt();
            if (auto r = stray.remove(); !r) return r.error();
            removed.push_back(name);
        }
        return removed;
    }

    Result<std::vector<std::string>> reconcile(const std::set<std::string>& live) override {
        auto c = sh_->client();
        if (!c) return c.error();
        auto units = c->list_units("isolated-*.scope");
        if (!units) return units.error();
        std::vector<std::string> removed;
        for (auto& u : *units) {
            constexpr std::string_view pre = "isolated-", suf = ".scope";
            if (u.size() <= pre.size() + suf.size()) continue;
            std::string app = u.substr(pre.size(), u.size() - pre.size() - suf.size());
            if (!is_app_name(app) || live.count(app)) continue;
            SystemdCgroup stray(sh_, app, {});
            stray.adopt();
            if (auto r = stray.remove(); !r) return r.error();
            removed.push_back(app);
        }
        return removed;
    }

private:
    std::shared_ptr<Shared> sh_;
};

}  // namespace

Result<std::unique_ptr<Manager>> make_systemd_manager(const Layout& layout, const ManagerOptions& opts) {
    auto sh = std::make_shared<Shared>();
    sh->layout = layout;
    sh->opts = opts;
    if (auto c = sh->client(); !c) return c.error();
    return std::unique_ptr<Manager>(new SystemdManager(std::move(sh)));
}

}  // namespace isolated::cgroup
