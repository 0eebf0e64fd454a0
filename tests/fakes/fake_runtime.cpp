#include "fakes/fake_runtime.hpp"

namespace isolated::test {
namespace {

class FakeInstance : public supervisor::Instance {
public:
    explicit FakeInstance(std::shared_ptr<FakeInstanceState> s) : s_(std::move(s)) {}
    ~FakeInstance() override { s_->alive = false; }
    supervisor::InstanceInfo info() const override { return s_->info; }
    void signal(int sig) override { s_->signals.push_back(sig); }
    void kill_all() override { ++s_->kills; }
    // The main process is pid, and with `all` a second process pid + 1.
    Result<supervisor::SignalDelivery> send_signal(int sig, bool all) override {
        s_->operator_signals.emplace_back(sig, all);
        if (s_->signal_error) return Error::msg(*s_->signal_error);
        supervisor::SignalDelivery d;
        d.main_pid = s_->info.pid;
        d.pids.push_back(s_->info.pid);
        if (all) d.pids.push_back(s_->info.pid + 1);
        return d;
    }
    ResourceUsage usage() const override { return {}; }
    supervisor::SandboxHandle sandbox() const override {
        return s_->exited ? supervisor::SandboxHandle{} : s_->sandbox;
    }

private:
    std::shared_ptr<FakeInstanceState> s_;
};

}  // namespace

Result<std::unique_ptr<supervisor::Instance>> FakeRuntime::launch(const AppSpec& spec,
                                                                  const supervisor::LaunchContext& ctx,
                                                                  supervisor::InstanceCallbacks callbacks) {
    if (fail_launch) return *fail_launch;
    auto s = std::make_shared<FakeInstanceState>();
    s->app = spec.name;
    s->info.init_pid = next_pid_++;
    s->callbacks = std::move(callbacks);
    s->ctx = ctx;
    kept.insert(spec.name);
    launches.push_back(s);
    return std::unique_ptr<supervisor::Instance>(std::make_unique<FakeInstance>(s));
}

std::vector<std::string> FakeRuntime::recorded_instances() {
    std::vector<std::string> out;
    for (auto& [name, r] : recorded) out.push_back(name);
    return out;
}

std::optional<supervisor::Adoption> FakeRuntime::adopt(const std::string& app, supervisor::InstanceCallbacks callbacks) {
    auto it = recorded.find(app);
    if (it == recorded.end()) return std::nullopt;
    Recorded r = std::move(it->second);
    recorded.erase(it);
    supervisor::Adoption a;
    a.spec = r.spec;
    a.restarts = r.restarts;
    a.last_exit = r.last_exit;
    if (!r.running) {
        a.exit = r.exit;
        return a;
    }
    auto s = std::make_shared<FakeInstanceState>();
    s->app = app;
    s->info.init_pid = next_pid_++;
    s->info.pid = s->info.init_pid + 1;
    s->callbacks = std::move(callbacks);
    s->adopted = true;
    launches.push_back(s);
    a.instance = std::make_unique<FakeInstance>(s);
    return a;
}

std::shared_ptr<FakeInstanceState> FakeRuntime::last(const std::string& app) const {
    for (auto it = launches.rbegin(); it != launches.rend(); ++it)
        if ((*it)->app == app) return *it;
    return nullptr;
}

std::size_t FakeRuntime::launch_count(const std::string& app) const {
    std::size_t n = 0;
    for (auto& l : launches) n += l->app == app;
    return n;
}

void FakeRuntime::started(const std::string& app) {
    auto s = last(app);
    if (!s || !s->alive) throw std::logic_error("no live instance of " + app);
    s->info.pid = s->info.init_pid + 1;
    s->callbacks.on_started();
}

void FakeRuntime::exit(const std::string& app, int code, int signal) {
    auto s = last(app);
    if (!s || !s->alive || s->exited) throw std::logic_error("no live instance of " + app);
    s->exited = true;
    ExitInfo e;
    e.code = signal ? 128 + signal : code;
    e.signal = signal;
    auto cb = std::move(s->callbacks.on_exit);
    cb(e);
}

void FakeRuntime::exit_with(const std::string& app, const ExitInfo& e) {
    auto s = last(app);
    if (!s || !s->alive || s->exited) throw std::logic_error("no live instance of " + app);
    s->exited = true;
    auto cb = std::move(s->callbacks.on_exit);
    cb(e);
}

}  // namespace isolated::test
