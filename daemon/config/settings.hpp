// Daemon settings: every option is a command-line flag of `isolated` and a key of
// isolated.conf (Boost.Program_options config-file syntax: `key = value`). Flags win
// over the file.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "isolated/result.hpp"

namespace isolated::config {

struct Settings {
    std::string config_file = "/etc/isolated/isolated.conf";
    std::string apps_dir = "/etc/isolated/apps";
    std::string run_dir = "/run/isolated";
    std::string state_dir = "/var/lib/isolated";
    std::string log_dir = "/var/log/isolated";
    std::string bridge = "isolated0";
    std::string subnet = "10.100.0.0/24";
    std::string cgroup_driver = "auto";  ///< auto | systemd | v2 | v1
    std::string cgroup_root = "isolated";
    std::string socket_group = "isolated";
    std::string log_level = "info";
    std::string log_driver = "auto";     ///< auto | journald | file: where app output goes
    std::uint64_t log_max_size = 10u << 20;
    std::uint32_t log_max_files = 5;
    /// The largest archive POST /v1/images/load takes (the upload is a file in the
    /// image store's tmp dir until it is loaded).
    std::uint64_t image_load_max_size = 64ull << 30;
    /// `isoctl image pull` (issue 14): the credentials file (containers-auth.json(5)),
    /// the per-registry TLS directory (containers-certs.d(5)), and the registries that
    /// may be reached without verified TLS (host[:port], repeatable).
    std::string registry_auth_file = "/etc/isolated/auth.json";
    std::string registry_certs_dir = "/etc/containers/certs.d";
    std::vector<std::string> insecure_registries;
    std::string init_path;               ///< "" = next to the daemon, else the libexec dir

    std::string socket_path() const { return run_dir + "/isolated.sock"; }
    std::string ro_socket_path() const { return run_dir + "/isolated-ro.sock"; }
};

/// What the command line asked for.
struct ParsedArgs {
    Settings settings;
    bool help = false;
    bool version = false;
    std::string help_text;
};

/// Parses argv and the config file (the default file may be missing; an explicit
/// --config must exist). Errors name the option or the file and line.
Result<ParsedArgs> parse_settings(int argc, const char* const argv[]);

/// The isolated-init to use: settings.init_path, else "isolated-init" next to
/// `self_exe`, else ISOLATED_LIBEXECDIR/isolated-init.
std::string find_init(const Settings& s, const std::string& self_exe);

}  // namespace isolated::config
