// The Prometheus text exposition (format 0.0.4) of app state: a pure function of the
// statuses, so it is unit-tested without a daemon. cAdvisor's metric names are used
// where they exist (container_*), with an `app` label (and `name`, as cAdvisor has).
#pragma once

#include <string>
#include <vector>

#include "isolated/api_types.hpp"

namespace isolated::metrics {

struct DaemonFacts {
    std::string version;
    double uptime_seconds = 0;
    std::uint64_t events_total = 0;
};

std::string render(const std::vector<AppStatus>& apps, const DaemonFacts& daemon);

/// Escapes a label value: backslash, double quote and newline.
std::string escape_label(std::string_view v);

}  // namespace isolated::metrics
