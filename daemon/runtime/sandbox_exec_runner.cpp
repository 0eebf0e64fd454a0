#include "runtime/sandbox_exec_runner.hpp"

#include "sandbox/spawn.hpp"

namespace isolated::runtime {

std::unique_ptr<probe::ExecHandle> SandboxExecRunner::run(const std::vector<std::string>& command, Duration timeout,
                                                          Done done) {
    if (!plan_fd_ || command != plan_command_) {
        auto plan = planner_(spec_, command);
        Result<unique_fd> mem =
            plan ? sandbox::sealed_memfd("isolated-exec-plan", *plan) : Result<unique_fd>(plan.error());
        if (!mem) {
            // Reported like any run that could not start: later, from the loop.
            probe::UnavailableExecRunner failing(io_, mem.error().to_string());
            return failing.run(command, timeout, std::move(done));
        }
        plan_fd_ = std::move(*mem);
        plan_command_ = command;
    }
    return host_.run_with_fds({init_path_, "--exec"}, {plan_fd_.get(), pidfd_.get()}, timeout, std::move(done));
}

}  // namespace isolated::runtime
