// Exec probe: exit 0 is success; anything else, a kill at the timeout, or a command
// that cannot start is a failure whose message carries the first 4 KiB of output.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "probe/exec_runner.hpp"
#include "probe/prober.hpp"

namespace isolated::probe {

/// The outcome of a finished command (pure).
ProbeOutcome classify_exec(const ExecResult& r, Duration timeout);

class ExecProber : public Prober {
public:
    /// `runner` must not be null (UnavailableExecRunner says why there is none).
    ExecProber(std::shared_ptr<ExecRunner> runner, std::vector<std::string> command);
    ~ExecProber() override;
    void run(Duration timeout, Done done) override;

private:
    std::shared_ptr<ExecRunner> runner_;
    std::vector<std::string> command_;
    std::unique_ptr<ExecHandle> handle_;
};

}  // namespace isolated::probe
