// JSON form of the API types (docs/API.md). Used by daemon/api to answer and by isoctl
// to read. Conversions from JSON throw nlohmann::json::exception on a wrong shape; the
// callers (isoctl's client library) convert that to an error at once.
#pragma once

#include <nlohmann/json.hpp>

#include "isolated/api_types.hpp"

namespace isolated {

using nlohmann::json;

json time_to_json(const std::optional<WallTime>& t);
std::optional<WallTime> time_from_json(const json& j);
/// "2026-11-23T19:01:02.123Z" (also accepts no fraction / "+00:00") -> time point.
std::optional<WallTime> parse_rfc3339(std::string_view s);

void to_json(json& j, const ExitInfo& v);
void from_json(const json& j, ExitInfo& v);
void to_json(json& j, const ProbeStatus& v);
void from_json(const json& j, ProbeStatus& v);
void to_json(json& j, const HealthStatus& v);
void from_json(const json& j, HealthStatus& v);
void to_json(json& j, const ResourceUsage& v);
void from_json(const json& j, ResourceUsage& v);
void to_json(json& j, const PortSpec& v);
void from_json(const json& j, PortSpec& v);
/// The limits part of `resources` ({"cpu": cores, "memory": bytes, ...}, null = unset).
json limits_to_json(const ResourcesSpec& v);
ResourcesSpec limits_from_json(const json& j);
void to_json(json& j, const AppEvent& v);
void from_json(const json& j, AppEvent& v);
void to_json(json& j, const AppStatus& v);
void from_json(const json& j, AppStatus& v);
/// AppStatus fields plus "spec" (the app file's canonical JSON) and "events".
void to_json(json& j, const AppDetail& v);
void to_json(json& j, const RejectedApp& v);
void from_json(const json& j, RejectedApp& v);
void to_json(json& j, const ReloadReport& v);
void from_json(const json& j, ReloadReport& v);
void to_json(json& j, const VersionInfo& v);

/// The canonical app-file form of a spec: every field, defaults included, in the
/// syntax of isolated.app(5) (durations as "10s", sizes as bytes). parse_app_text() of
/// its dump gives back an equal spec (tested).
json app_spec_to_json(const AppSpec& spec);

/// {"error": {"code": code, "message": message}}
json error_json(std::string_view code, std::string_view message);

}  // namespace isolated
