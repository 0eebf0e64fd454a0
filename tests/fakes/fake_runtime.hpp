// A Runtime that launches nothing: the test decides when each instance starts and
// exits, and sees every signal and kill the supervisor sends.
#pragma once

#include <algorithm>
#include <deque>
#include <map>
#include <set>
#include <memory>
#include <optional>
#include <utility>
#include <string>
#include <vector>

#include "supervisor/runtime.hpp"

namespace isolated::test {

class FakeRuntime;

struct FakeInstanceState {
    std::string app;
    supervisor::InstanceInfo info;
    /// What Instance::sandbox() hands out until the instance exits: none unless a test
    /// sets one (its pidfd may be a real one, for code that uses it, or any number).
    supervisor::SandboxHandle sandbox;
    supervisor::InstanceCallbacks callbacks;
    std::vector<int> signals;
    /// Operators' signals (Instance::send_signal): {signal, all}.
    std::vector<std::pair<int, bool>> operator_signals;
    /// While set, send_signal fails with this message (the app is ending).
    std::optional<std::string> signal_error;
    int kills = 0;
    bool alive = true;      // the Instance object exists
    bool exited = false;
    bool adopted = false;
    supervisor::LaunchContext ctx;
};

class FakeRuntime : public supervisor::Runtime {
public:
    Result<std::unique_ptr<supervisor::Instance>> launch(const AppSpec& spec, const supervisor::LaunchContext& ctx,
                                                         supervisor::InstanceCallbacks callbacks) override;

    /// Instances "an earlier daemon" left: adopt() hands each out once.
    struct Recorded {
        AppSpec spec;
        std::uint32_t restarts = 0;
        bool running = true;  ///< else it ended with `exit` while no daemon watched
        ExitInfo exit;
        std::optional<ExitInfo> last_exit;  ///< the exit before this instance
    };
    std::map<std::string, Recorded> recorded;
    std::vector<std::string> recorded_instances() override;
    /// What remember_stopped() was told, as the run dir would keep it.
    std::set<std::string> stopped_by_operator;
    void remember_stopped(const std::string& app, bool stopped) override {
        if (stopped)
            stopped_by_operator.insert(app);
        else
            stopped_by_operator.erase(app);
    }
    std::set<std::string> remembered_stopped() override { return stopped_by_operator; }
    /// The apps forget() was told about, in order.
    std::vector<std::string> forgotten;
    void forget(const std::string& app) override { forgotten.push_back(app); }
    std::optional<supervisor::Adoption> adopt(const std::string& app, supervisor::InstanceCallbacks callbacks) override;
    /// Apps with a kept sandbox, as HostRuntime keeps one at every launch (a test may
    /// add names: sandboxes an earlier daemon kept).
    std::set<std::string> kept;
    /// Every release_sandbox() call, in order.
    std::vector<std::string> released;
    void release_sandbox(const std::string& app) override {
        released.push_back(app);
        kept.erase(app);
    }
    std::set<std::string> kept_sandboxes() override { return kept; }
    std::size_t release_count(const std::string& app) const {
        return static_cast<std::size_t>(std::count(released.begin(), released.end(), app));
    }

    /// Launches fail with this error while set.
    std::optional<Error> fail_launch;
    /// While set, every app with resource limits cannot run (as without a cgroup
    /// driver), and no limit is reported as enforced.
    std::optional<std::string> no_limits;
    std::optional<std::string> cannot_run(const AppSpec& spec) const override {
        if (no_limits && !(spec.resources == ResourcesSpec{})) return no_limits;
        return std::nullopt;
    }
    ResourcesSpec enforced_limits(const ResourcesSpec& limits) const override {
        return no_limits ? ResourcesSpec{} : limits;
    }

    /// Every launch, oldest first.
    std::vector<std::shared_ptr<FakeInstanceState>> launches;
    /// The latest launch of `app` (nullptr if none).
    std::shared_ptr<FakeInstanceState> last(const std::string& app) const;
    std::size_t launch_count(const std::string& app) const;

    /// The app was exec'd: calls on_started.
    void started(const std::string& app);
    /// The instance ended: calls on_exit.
    void exit(const std::string& app, int code, int signal = 0);
    /// The instance ended as `e` says (an OOM kill, a launch failure, ...).
    void exit_with(const std::string& app, const ExitInfo& e);

private:
    int next_pid_ = 1000;
};

}  // namespace isolated::test
