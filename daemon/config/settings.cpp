#include "config/settings.hpp"

#include <unistd.h>

#include <boost/program_options.hpp>
#include <filesystem>
#include <regex>
#include <sstream>

#include "isolated/units.hpp"
#include "sys/file.hpp"

namespace isolated::config {

namespace po = boost::program_options;

namespace {

bool valid_cidr(const std::string& s) {
    static const std::regex re(R"(^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})/(\d{1,2})$)");
    std::smatch m;
    if (!std::regex_match(s, m, re)) return false;
    for (int i = 1; i <= 4; ++i)
        if (std::stoi(m[i]) > 255) return false;
    int prefix = std::stoi(m[5]);
    return prefix >= 8 && prefix <= 30;
}

bool valid_ifname(const std::string& s) {
    if (s.empty() || s.size() > 15) return false;
    for (char c : s)
        if (c == '/' || c == ' ' || c == ':' || c == '\0') return false;
    return true;
}

}  // namespace

Result<ParsedArgs> parse_settings(int argc, const char* const argv[]) {
    ParsedArgs out;
    Settings& s = out.settings;
    std::string log_max_size = "10M";
    std::string image_load_max_size = "64G";

    po::options_description files("Paths");
    files.add_options()
        ("config", po::value(&s.config_file), "daemon settings file (default /etc/isolated/isolated.conf)")
        ("apps-dir", po::value(&s.apps_dir), "directory of app files, one NAME.json per app")
        ("run-dir", po::value(&s.run_dir), "runtime state and the control sockets (isolated.sock, isolated-ro.sock)")
        ("state-dir", po::value(&s.state_dir), "persistent state: address leases, overlay upper dirs, volumes")
        ("log-dir", po::value(&s.log_dir), "app output files when journald is not used")
        ("init-path", po::value(&s.init_path), "the isolated-init binary (default: next to isolated)");
    po::options_description net("Network");
    net.add_options()
        ("bridge", po::value(&s.bridge), "bridge for apps in bridge mode (default isolated0)")
        ("subnet", po::value(&s.subnet), "address pool of the bridge, CIDR (default 10.100.0.0/24)");
    po::options_description cg("Resources");
    cg.add_options()
        ("cgroup-driver", po::value(&s.cgroup_driver), "auto | systemd | v2 | v1 | none (default auto)")
        ("cgroup-root", po::value(&s.cgroup_root), "the cgroup subtree isolated owns (default isolated)");
    po::options_description misc("Other");
    misc.add_options()
        ("socket-group", po::value(&s.socket_group), "group allowed on the control socket (default isolated)")
        ("log-level", po::value(&s.log_level), "debug | info | warning | error (default info)")
        ("log-driver", po::value(&s.log_driver),
         "where app output goes: journald, file (<log-dir>/APP.log), or auto = journald when it runs (default auto)")
        ("log-max-size", po::value(&log_max_size), "rotate an app's log file at this size (default 10M)")
        ("log-max-files", po::value(&s.log_max_files), "log files kept per app, current included (default 5)")
        ("image-load-max-size", po::value(&image_load_max_size),
         "largest archive `isoctl image load` may send (default 64G)")
        ("registry-auth-file", po::value(&s.registry_auth_file),
         "registry credentials for `isoctl image pull`, containers-auth.json(5) (default /etc/isolated/auth.json)")
        ("registry-certs-dir", po::value(&s.registry_certs_dir),
         "per-registry CAs and client certificates, <dir>/<host[:port]>/*.crt (default /etc/containers/certs.d)")
        ("insecure-registry", po::value(&s.insecure_registries)->composing(),
         "a registry (host[:port]) pulled from without verified TLS; repeatable");
    po::options_description generic("Command line only");
    generic.add_options()("help,h", "show this help")("version", "show the version");

    po::options_description file_opts;
    file_opts.add(files).add(net).add(cg).add(misc);
    po::options_description cli;
    cli.add(generic).add(file_opts);

    std::ostringstream help;
    help << "Usage: isolated [OPTIONS]\n\nRuns the apps defined in the apps directory, each in its own sandbox,\n"
            "and answers the control API on <run-dir>/isolated.sock.\nEvery option is also a key of the "
            "settings file (key = value).\n\n"
         << cli;
    out.help_text = help.str();

    po::variables_map vm;
    try {
        po::store(po::command_line_parser(argc, argv).options(cli).run(), vm);
        po::notify(vm);
    } catch (const po::error& e) {
        return Error::msg(std::string(e.what()) + " (see isolated --help)");
    }
    out.help = vm.count("help") > 0;
    out.version = vm.count("version") > 0;
    if (out.help || out.version) return out;

    bool explicit_config = vm.count("config") > 0;
    auto text = sys::read_file(s.config_file);
    if (!text) {
        if (explicit_config)
            return Error::os(text.error().errno_value, "open config file \"" + s.config_file + "\"");
    } else {
        std::istringstream f(*text);
        try {
            // Command-line values were stored first and win: store() keeps the first value.
            po::store(po::parse_config_file(f, file_opts, /*allow_unregistered=*/false), vm);
            po::notify(vm);
        } catch (const po::error& e) {
            return Error::msg(s.config_file + ": " + e.what());
        }
    }

    auto size = parse_size(log_max_size);
    if (!size || *size < 4096) return Error::msg("--log-max-size: \"" + log_max_size + "\" is not a size of at least 4K");
    s.log_max_size = *size;
    auto load_max = parse_size(image_load_max_size);
    if (!load_max || *load_max < 4096)
        return Error::msg("--image-load-max-size: \"" + image_load_max_size + "\" is not a size of at least 4K");
    s.image_load_max_size = *load_max;
    if (s.log_max_files < 1 || s.log_max_files > 1000) return Error::msg("--log-max-files: must be between 1 and 1000");
    if (s.cgroup_driver != "auto" && s.cgroup_driver != "systemd" && s.cgroup_driver != "v2" &&
        s.cgroup_driver != "v1" && s.cgroup_driver != "none")
        return Error::msg("--cgroup-driver: \"" + s.cgroup_driver + "\" is not one of auto, systemd, v2, v1, none");
    if (!valid_cidr(s.subnet)) return Error::msg("--subnet: \"" + s.subnet + "\" is not an IPv4 CIDR such as 10.100.0.0/24");
    if (!valid_ifname(s.bridge)) return Error::msg("--bridge: \"" + s.bridge + "\" is not a valid interface name");
    if (s.cgroup_root.empty() || s.cgroup_root.find("..") != std::string::npos)
        return Error::msg("--cgroup-root: \"" + s.cgroup_root + "\" is not a valid subtree name");
    if (s.log_level != "debug" && s.log_level != "info" && s.log_level != "warning" && s.log_level != "error")
        return Error::msg("--log-level: \"" + s.log_level + "\" is not one of debug, info, warning, error");
    if (s.log_driver != "auto" && s.log_driver != "journald" && s.log_driver != "file")
        return Error::msg("--log-driver: \"" + s.log_driver + "\" is not one of auto, journald, file");
    for (const auto& r : s.insecure_registries)
        if (r.empty() || r.find_first_of("/ \t") != std::string::npos)
            return Error::msg("--insecure-registry: \"" + r + "\" is not a registry host[:port]");
    for (auto* p : {&s.apps_dir, &s.run_dir, &s.state_dir, &s.log_dir})
        if (p->empty()) return Error::msg("empty path setting");
    return out;
}

std::string find_init(const Settings& s, const std::string& self_exe) {
    if (!s.init_path.empty()) return s.init_path;
    std::filesystem::path beside = std::filesystem::path(self_exe).parent_path() / "isolated-init";
    if (::access(beside.c_str(), X_OK) == 0) return beside.string();
    return std::string(ISOLATED_LIBEXECDIR) + "/isolated-init";
}

}  // namespace isolated::config
