// isoctl inspect: an app's effective definition. The daemon's "spec" (GET
// /v1/apps/{name}) is the canonical app file with every default written out, except
// where "not set" has a meaning of its own (null); of those, the ones whose value is
// fixed by the rest of the definition are filled in here. Pure: JSON in, JSON or text out.
#pragma once

#include <string>

#include <nlohmann/json.hpp>

namespace isoctl {

/// `spec` with user (root), hostname (the app's name) and security.readonlyRootfs (true
/// for a host rootfs, else false) filled in when null; other nulls stay: they mean
/// "none" (no limit, no probe, an address from the pool, no retry limit, all host
/// addresses, the kernel's tmpfs defaults). Keys come in the app file's order
/// (isolated.app(5)), whatever order the daemon sent them in.
nlohmann::ordered_json effective_definition(const nlohmann::ordered_json& spec, const std::string& name);

/// A YAML-like tree, "key: value" with nested objects indented by two and values of one
/// object aligned; lists of objects as "- " items; a command and lists of words on one
/// line; sizes as "512M"; cpu as "50%"; null as "-"; empty lists and objects as "-".
std::string render_definition(const nlohmann::ordered_json& definition);

}  // namespace isoctl
