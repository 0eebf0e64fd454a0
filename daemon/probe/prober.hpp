// One probe mechanism (HTTP, TCP, exec): runs once when asked and reports an outcome.
// The Worker decides when to run and what a run of outcomes means.
#pragma once

#include <functional>
#include <string>

#include "isolated/api_types.hpp"
#include "isolated/units.hpp"

namespace isolated::probe {

struct ProbeOutcome {
    ProbeResult result = ProbeResult::failure;  ///< success, failure or warning (a success)
    std::string message;                        ///< why it failed / the warning; "" on plain success

    static ProbeOutcome success() { return {ProbeResult::success, ""}; }
    static ProbeOutcome failure(std::string m) { return {ProbeResult::failure, std::move(m)}; }
    static ProbeOutcome warning(std::string m) { return {ProbeResult::warning, std::move(m)}; }
};

class Prober {
public:
    using Done = std::function<void(ProbeOutcome)>;
    /// Destroying a prober abandons a run in flight: its sockets are closed, its
    /// command killed, and `done` is never called.
    virtual ~Prober() = default;
    /// Starts one run that ends within `timeout` (a run that takes longer is a failure);
    /// `done` is called exactly once, always later from the loop, never from inside
    /// run(). One run at a time.
    virtual void run(Duration timeout, Done done) = 0;
};

}  // namespace isolated::probe
