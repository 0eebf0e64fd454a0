#include "runtime/app_files.hpp"

#include <unistd.h>

#include <filesystem>
#include <sstream>

#include "sys/file.hpp"

namespace isolated::runtime {

std::string loopback_hosts(const std::string& hostname) {
    return "127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n127.0.1.1\t" + hostname + "\n";
}

std::string sandbox_resolv_conf(const std::string& host) {
    std::istringstream in(host);
    std::string out, line;
    while (std::getline(in, line)) {
        if (line.rfind("nameserver", 0) == 0 &&
            (line.find(" 127.") != std::string::npos || line.find(" ::1") != std::string::npos))
            continue;
        out += line + "\n";
    }
    return out;
}

// Files the sandbox sees through read-only binds: /etc/hosts, /etc/hostname,
// /etc/resolv.conf. The network module replaces hosts for bridged apps.
Status prepare_app_files(const AppSpec& spec, const std::string& app_dir, const std::string& state_dir,
                         const std::string& bridge_hosts) {
    std::string etc = app_dir + "/etc";
    if (auto st = sys::make_dirs(etc, 0755); !st) return st;
    if (auto st = sys::make_dirs(app_dir + "/root", 0755); !st) return st;
    std::string hostname = spec.effective_hostname();
    std::string hosts;
    if (spec.network.mode == NetworkMode::host) {
        hosts = sys::read_file("/etc/hosts").value_or("");
    } else if (!bridge_hosts.empty()) {
        hosts = bridge_hosts;
    } else {
        hosts = loopback_hosts(hostname);
    }
    if (auto st = sys::update_file(etc + "/hosts", hosts); !st) return st;
    if (auto st = sys::update_file(etc + "/hostname", hostname + "\n"); !st) return st;
    std::string resolv = sandbox_resolv_conf(sys::read_file("/etc/resolv.conf").value_or(""));
    if (auto st = sys::update_file(etc + "/resolv.conf", resolv); !st)
        return st;
    for (const auto& m : spec.mounts)
        if (m.type == MountType::bind && m.create)
            if (auto st = sys::make_dirs(m.source, 0755); !st) return st;
    if (spec.rootfs.type == RootfsType::directory && spec.rootfs.writable == RootfsWritable::overlay) {
        // A throw-away upper layer: every start begins from the rootfs as shipped.
        std::string base = state_dir + "/overlay/" + spec.name;
        std::error_code ec;
        std::filesystem::remove_all(base, ec);
        if (ec) return Error::os(ec.value(), "reset \"" + base + "\"");
        for (const char* d : {"/upper", "/work"}) {
            if (auto st = sys::make_dirs(base + d, 0755); !st) return st;
            // With a user namespace the upper layer's root is the mapped root's, as the
            // idmapped lower's root shows (and what the app's root copies up lands there
            // owned by the mapped uid).
            if (const auto& u = spec.namespaces.user; u.enabled && ::chown((base + d).c_str(), u.uid, u.gid) != 0)
                return os_error("chown \"" + base + d + "\"");
        }
    }
    return {};
}

}  // namespace isolated::runtime
