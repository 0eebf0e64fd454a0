// A Runtime that launches nothing: the test decides when each instance starts and
// exits, and sees every signal and kill the supervisor sends.
#pragma once

#include <deque>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "supervisor/runtime.hpp"

namespace isolated::test {

class FakeRuntime;

struct FakeInstanceState {
    std::string app;
    supervisor::InstanceInfo info;
    supervisor::InstanceCallbacks callbacks;
    std::vector<int> signals;
    int kills = 0;
    bool alive = true;      // the Instance object exists
    bool exited = false;
    supervisor::LaunchContext ctx;
};

class FakeRuntime : public supervisor::Runtime {
public:
    Result<std::unique_ptr<supervisor::Instance>> launch(const AppSpec& spec, const supervisor::LaunchContext& ctx,
                                                         supervisor::InstanceCallbacks callbacks) override;

    /// Launches fail with this error while set.
    std::optional<Error> fail_launch;

    /// Every launch, oldest first.
    std::vector<std::shared_ptr<FakeInstanceState>> launches;
    /// The latest launch of `app` (nullptr if none).
    std::shared_ptr<FakeInstanceState> last(const std::string& app) const;
    std::size_t launch_count(const std::string& app) const;

    /// The app was exec'd: calls on_started.
    void started(const std::string& app);
    /// The instance ended: calls on_exit.
    void exit(const std::string& app, int code, int signal = 0);

private:
    int next_pid_ = 1000;
};

}  // namespace isolated::test
