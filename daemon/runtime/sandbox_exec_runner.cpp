#include "runtime/sandbox_exec_runner.hpp"

#include <fcntl.h>
#include <sys/mman.h>
#include <unistd.h>

namespace isolated::runtime {

std::unique_ptr<probe::ExecHandle> SandboxExecRunner::run(const std::vector<std::string>& command, Duration timeout,
                                                          Done done) {
    auto plan = planner_(spec_, command);
    unique_fd mem;
    if (plan) {
        mem.reset(::memfd_create("isolated-exec-plan", MFD_CLOEXEC | MFD_ALLOW_SEALING));
        if (!mem || ::write(mem.get(), plan->data(), plan->size()) != static_cast<ssize_t>(plan->size()))
            plan = os_error("exec plan");
        else
            ::fcntl(mem.get(), F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE | F_SEAL_SEAL);
    }
    if (!plan) {
        // Reported like any run that could not start: later, from the loop.
        probe::UnavailableExecRunner failing(io_, plan.error().to_string());
        return failing.run(command, timeout, std::move(done));
    }
    return host_.run_with_fds({init_path_, "--exec"}, {mem.get(), pidfd_.get()}, timeout, std::move(done));
}

}  // namespace isolated::runtime
