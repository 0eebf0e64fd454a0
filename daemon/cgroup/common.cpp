// Shared pieces of the cgroupfs drivers, the driver names, make_manager() and the
// null driver.
#include <signal.h>
#include <time.h>
#include <unistd.h>

#include "cgroup/cgroup.hpp"
#include "cgroup/drivers.hpp"
#include "cgroup/fs.hpp"

namespace isolated::cgroup {

std::string_view to_string(Driver d) {
    switch (d) {
        case Driver::none: return "none";
        case Driver::v1: return "v1";
        case Driver::v2: return "v2";
        case Driver::systemd: return "systemd";
    }
    return "none";
}

std::optional<Driver> driver_from_string(std::string_view s) {
    for (auto d : {Driver::none, Driver::v1, Driver::v2, Driver::systemd})
        if (s == to_string(d)) return d;
    return std::nullopt;
}

int enter_cgroups_from_child(const int* fds, std::size_t count) noexcept {
    for (std::size_t i = 0; i < count; ++i) {
        ssize_t n;
        do n = ::write(fds[i], "0", 1);
        while (n < 0 && errno == EINTR);
        if (n < 0) return errno;
    }
    return 0;
}

Status make_dirs(const std::string& base, const std::string& rel, const MkdirHook& hook) {
    std::string cur = base;
    size_t pos = 0;
    while (pos <= rel.size()) {
        size_t slash = rel.find('/', pos);
        if (slash == std::string::npos) slash = rel.size();
        std::string part = rel.substr(pos, slash - pos);
        pos = slash + 1;
        if (part.empty() || part == ".") continue;
        cur += "/" + part;
        bool created = false;
        if (auto r = make_dir(cur, &created); !r) return r;
        if (created && hook) hook(cur);
    }
    return {};
}

bool poll_for(const std::function<bool()>& done, std::chrono::milliseconds limit) {
    auto end = std::chrono::steady_clock::now() + limit;
    while (true) {
        if (done()) return true;
        if (std::chrono::steady_clock::now() >= end) return done();
        timespec ts{0, 1000000};
        ::nanosleep(&ts, nullptr);
    }
}

Status remove_with_retry(const std::vector<std::string>& dirs, const std::function<Status()>& kill) {
    Status last;
    for (int attempt = 0; attempt < 100; ++attempt) {
        last = {};
        bool busy = false;
        for (auto& d : dirs) {
            auto r = rmdir_recursive(d);
            if (!r) {
                if (r.error().errno_value != EBUSY) return r;
                busy = true;
                last = r;
            }
        }
        if (!busy) return {};
        if (kill) (void)kill();
        timespec ts{0, 10 * 1000000};
        ::nanosleep(&ts, nullptr);
    }
    return last;
}

namespace {

class NullCgroup final : public AppCgroup {
public:
    explicit NullCgroup(std::string app) : app_(std::move(app)) {}
    const std::string& app() const override { return app_; }
    std::string describe() const override { return "(no cgroup)"; }
    Placement placement() const override { return {}; }
    std::vector<std::string> procs_files() const override { return {}; }
    Status attach(pid_t) override { return {}; }
    Status kill() override { return {}; }
    Result<std::vector<pid_t>> pids() const override { return std::vector<pid_t>{}; }
    Result<ResourceUsage> usage() const override { return ResourceUsage{}; }
    Result<std::uint64_t> oom_kills() const override { return std::uint64_t{0}; }
    Result<ResourcesSpec> limits() const override { return ResourcesSpec{}; }
    Status remove() override { return {}; }

private:
    std::string app_;
};

class NullManager final : public Manager {
public:
    Driver driver() const override { return Driver::none; }
    std::string describe() const override { return "none: no cgroup hierarchy; apps with resource limits fail to start (a limit is never left unenforced)"; }
    Status prepare_daemon() override { return {}; }
    Result<std::unique_ptr<AppCgroup>> create(const std::string& app, const ResourcesSpec&) override {
        return std::unique_ptr<AppCgroup>(new NullCgroup(app));
    }
    Result<std::unique_ptr<AppCgroup>> open(const std::string& app) override {
        return std::unique_ptr<AppCgroup>(new NullCgroup(app));
    }
    Result<std::vector<std::string>> reconcile(const std::set<std::string>&) override {
        return std::vector<std::string>{};
    }
    Result<std::unique_ptr<AppCgroup>> create_hook(const std::string& name) override {
        return std::unique_ptr<AppCgroup>(new NullCgroup(name));
    }
    Result<std::vector<std::string>> remove_hooks() override { return std::vector<std::string>{}; }
};

}  // namespace

std::unique_ptr<Manager> make_null_manager() { return std::make_unique<NullManager>(); }

Result<std::unique_ptr<Manager>> make_manager(const ManagerOptions& opts) {
    if (opts.root.empty() || opts.root.find("..") != std::string::npos || opts.root.front() == '/')
        return Error::msg("cgroup root \"" + opts.root + "\" is not a relative subtree name");
    Driver driver;
    auto layout = detect_layout(opts.fs_prefix, opts.proc_self);
    if (opts.driver == "auto") {
        if (!layout) return make_null_manager();
        driver = auto_driver(*layout);
    } else if (auto d = driver_from_string(opts.driver)) {
        driver = *d;
        if (driver != Driver::none && !layout) return layout.error();
    } else {
        return Error::msg("cgroup driver \"" + opts.driver + "\" is not one of auto, systemd, v2, v1, none");
    }
    switch (driver) {
        case Driver::none: return make_null_manager();
        case Driver::v2: return make_v2_manager(*layout, opts);
        case Driver::v1: return make_v1_manager(*layout, opts);
        case Driver::systemd: {
            auto m = make_systemd_manager(*layout, opts);
            if (m || opts.driver != "auto") return m;
            // auto: /run/systemd/system exists but the bus does not answer (a container
            // with systemd's files but another PID 1): manage cgroupfs directly.
            Layout l = *layout;
            l.systemd_booted = false;
            if (auto_driver(l) == Driver::v1) return make_v1_manager(l, opts);
            if (auto_driver(l) == Driver::v2) return make_v2_manager(l, opts);
            return make_null_manager();
        }
    }
    return make_null_manager();
}

}  // namespace isolated::cgroup
