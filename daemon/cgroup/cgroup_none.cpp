// The null driver: no usable cgroup hierarchy. Every operation succeeds and does
// nothing; the runtime refuses to start an app with resource limits rather than run it
// unlimited.
#include "cgroup/cgroup.hpp"
#include "cgroup/drivers.hpp"

namespace isolated::cgroup {
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

}  // namespace isolated::cgroup
