#include "probe/exec_prober.hpp"

namespace isolated::probe {

namespace {

std::string trimmed(std::string s) {
    while (!s.empty() && (s.back() == '\n' || s.back() == '\r' || s.back() == ' ' || s.back() == '\t')) s.pop_back();
    return s;
}
}  // namespace

ProbeOutcome classify_exec(const ExecResult& r, Duration timeout) {
    if (!r.ran) return ProbeOutcome::failure("exec probe could not run: " + r.error);
    std::string out = trimmed(r.output);
    std::string suffix = out.empty() ? "" : ": " + out;
    if (r.timed_out) return ProbeOutcome::failure("command timed out after " + format_duration(timeout) + suffix);
    if (r.signal) return ProbeOutcome::failure("command killed by signal " + std::to_string(r.signal) + suffix);
    if (r.exit_code != 0)
        return ProbeOutcome::failure("command exited with code " + std::to_string(r.exit_code) + suffix);
    return ProbeOutcome::success();
}

ExecProber::ExecProber(std::shared_ptr<ExecRunner> runner, std::vector<std::string> command)
    : runner_(std::move(runner)), command_(std::move(command)) {}

ExecProber::~ExecProber() { handle_.reset(); }

void ExecProber::run(Duration timeout, Done done) {
    handle_.reset();
    handle_ = runner_->run(command_, timeout, [this, timeout, done = std::move(done)](ExecResult r) {
        auto d = done;  // the callback may destroy this prober
        d(classify_exec(r, timeout));
    });
}

}  // namespace isolated::probe
