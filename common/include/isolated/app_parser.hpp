// App file parsing and validation, shared by the daemon and `isoctl validate`.
//
// One file:   parse_app_file / parse_app_text -> AppSpec or diagnostics.
// A directory: load_app_dir -> the good specs plus, per rejected file, its diagnostics;
// the cross-file checks (duplicate host ports, dependsOn cycles and unknown names,
// `app:` references) run on the set and reject the files they blame. LoadOptions
// carries what the daemon knows besides the files: the apps it already has (they keep
// their host ports) and its subnet (pinned addresses must fit in it).
//
// Messages follow the compiler convention and name the file, line and field:
//   apps/web.json:7: resources.memory: "12Q" is not a size
//   apps/web.json:3: comand: unknown field (did you mean "command"?)
#pragma once

#include <map>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "isolated/app_spec.hpp"

namespace isolated {

struct Diagnostic {
    std::string file;     ///< as given (e.g. "apps/web.json" or an absolute path)
    int line = 0;         ///< 1-based; 0 when not tied to a line (e.g. unreadable file)
    std::string field;    ///< dotted path "resources.memory", "mounts[1].target"; "" for the file
    std::string message;  ///< "\"12Q\" is not a size"

    /// "file:line: field: message" (parts that are empty are left out)
    std::string to_string() const;
    bool operator==(const Diagnostic&) const = default;
};

struct ParsedApp {
    std::optional<AppSpec> spec;          ///< set when there are no errors
    std::vector<Diagnostic> errors;
};

/// What the daemon knows beyond the files, for the checks that depend on it.
struct LoadOptions {
    /// Apps that keep their host ports and pinned addresses when another app claims them
    /// too: the newcomer is rejected, whatever the names or file dates. On a reload, the
    /// apps the daemon has defined; at its start, those with a recorded instance (still
    /// running from the previous daemon) or an address lease (bridged apps the previous
    /// daemon accepted). See check_app_set for the whole order.
    std::set<std::string> incumbents;
    /// The bridge's subnet, "10.100.0.0/24": a pinned network.address must be an address
    /// an app may hold in it (not the network, gateway -- the first host address -- or
    /// broadcast address). "" or an unreadable CIDR: not checked.
    std::string subnet;
};

/// The problems of a parsed spec that depend on OPTIONS rather than on the file alone
/// (network.address against options.subnet), at the line of the field.
std::vector<Diagnostic> check_app_options(const AppSpec& spec, const LoadOptions& options);

/// Parses one app from JSON text (comments allowed). `name` is the app name (file
/// name without .json) and `file` the label used in messages.
ParsedApp parse_app_text(std::string_view name, std::string_view text, const std::string& file);

/// Reads and parses FILE; the app name is its base name without ".json". Then
/// check_app_options.
ParsedApp parse_app_file(const std::string& path, const LoadOptions& options = {});

struct AppDir {
    std::map<std::string, AppSpec> apps;                          ///< accepted
    std::map<std::string, std::vector<Diagnostic>> rejected;      ///< by app name (or file name)
};

/// Loads every `*.json` in DIR (other files, hidden files and editor backups are
/// ignored; a name that is not a valid app name is rejected under its file name), then
/// runs the cross-file checks until nothing more is blamed: rejecting an app rejects what
/// refers to it ("depends on \"db\", which was rejected"). A missing directory is an
/// empty set plus one diagnostic under the key "".
AppDir load_app_dir(const std::string& dir, const LoadOptions& options = {});

/// The cross-file checks on a set of individually valid specs. Returns diagnostics
/// by the app they blame (an app may collect several), each at the line of the field in
/// the blamed app's file (AppSpec::source_lines):
///  - dependsOn naming an unknown app, or a cycle over dependsOn and app: references
///    (every app in the cycle is blamed, "a -> b -> a");
///  - namespaces.*/network.mode "app:NAME" naming an unknown app (itself: per file);
///  - a host port (protocol, port, overlapping address) or a pinned network.address used
///    by two apps. The one that keeps it: an incumbent (options.incumbents) over a
///    newcomer, then the older file (modification time of source_file; a file that cannot
///    be read counts as newest), then the first name. The other is blamed, at its own
///    file and line, and the keeper named -- so a reload rejects the file just added, and
///    a restarted daemon keeps the winner it had.
std::map<std::string, std::vector<Diagnostic>> check_app_set(const std::map<std::string, AppSpec>& apps,
                                                             const LoadOptions& options = {});

/// Names in an order where every app comes after its dependencies (dependsOn and
/// app: namespace references). Apps caught in a cycle are placed last, by name.
std::vector<std::string> start_order(const std::map<std::string, AppSpec>& apps);

}  // namespace isolated
