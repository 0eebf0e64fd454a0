// The `since` of `isoctl logs --since` and of GET /v1/apps/{name}/logs?since=: a point
// in time given as docker logs takes it -- a duration back from now ("10m", "1h30m"),
// an RFC 3339 time with any offset ("2026-11-23T19:00:00Z", "...T20:00:00.5+01:00"), or
// Unix seconds ("1763924400", "1763924400.25").
#pragma once

#include <optional>
#include <string_view>

#include "isolated/api_types.hpp"

namespace isolated {

/// nullopt when `text` is none of the three forms. `now` anchors a duration.
std::optional<WallTime> parse_since(std::string_view text, WallTime now);

}  // namespace isolated
