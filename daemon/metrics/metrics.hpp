// The Prometheus text exposition (format 0.0.4) of app state: a pure function of the
// statuses, so it is unit-tested without a daemon. cAdvisor's metric names are used
// where they exist (container_*), with an `app` label (and `name`, as cAdvisor has);
// isolated's own facts are isolated_*. docs/API.md lists every family.
//
// Rules kept here: each family gets # HELP and # TYPE once, followed by all its
// samples; a family without samples is left out (as client_golang does); a series
// whose value is unknown (an empty optional) is left out rather than reported as 0.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "isolated/api_types.hpp"

namespace isolated::metrics {

struct DaemonFacts {
    std::string version;
    double uptime_seconds = 0;
    std::uint64_t events_total = 0;  ///< events published since the daemon started
    /// The image store (issue 14); unset when the daemon has none.
    std::optional<std::uint64_t> images;
    std::optional<std::uint64_t> image_store_bytes;
};

std::string render(const std::vector<AppStatus>& apps, const DaemonFacts& daemon);

/// Escapes a label value: backslash, double quote and newline.
std::string escape_label(std::string_view v);

/// A sample value as Prometheus writes it: the shortest text that reads back as the
/// same double; "NaN", "+Inf", "-Inf".
std::string format_value(double v);

}  // namespace isolated::metrics
