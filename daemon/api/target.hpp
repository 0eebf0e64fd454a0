// The request target (RFC 9112 origin-form, "/v1/apps/web/logs?tail=10") split for
// routing: path segments and query parameters, each percent-decoded. Pure; the
// dispatcher turns an error here into a 400.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "isolated/result.hpp"

namespace isolated::api {

struct QueryParam {
    std::string key;
    std::string value;  ///< "" for a bare key ("?follow")
};

struct Target {
    std::vector<std::string> segments;  ///< "/v1/apps/web" -> {"v1", "apps", "web"}
    std::vector<QueryParam> query;      ///< in request order, duplicates kept
};

/// Decodes %XX escapes (and '+' as a space when `plus_is_space`, as HTML forms and
/// curl's --data-urlencode write queries). nullopt on a broken escape or a NUL byte.
std::optional<std::string> percent_decode(std::string_view s, bool plus_is_space);

/// Splits an origin-form target. Segments are decoded after splitting, so "%2F"
/// stays inside its segment. Errors: not starting with '/', broken escapes, NUL.
Result<Target> parse_target(std::string_view target);

}  // namespace isolated::api
