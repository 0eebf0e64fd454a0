// Which driver runs: the driver names and make_manager(), which detects the host's
// hierarchies and picks v2, v1, systemd or none (cgroup.hpp says how each works).
#include "cgroup/cgroup.hpp"
#include "cgroup/drivers.hpp"
#include "cgroup/layout.hpp"

namespace isolated::cgroup {

std::string_view to_string(Driver d) {
    switch (d) {
        case Driver::none: return "none";
        case Driver::v1: return "v1";
        case Driver::v2: return "v2";
        case Driver::systemd: return "systemd";
    }
    return "none";
}

std::optional<Driver> driver_from_string(std::string_view s) {
    for (auto d : {Driver::none, Driver::v1, Driver::v2, Driver::systemd})
        if (s == to_string(d)) return d;
    return std::nullopt;
}

Result<std::unique_ptr<Manager>> make_manager(const ManagerOptions& opts) {
    if (opts.root.empty() || opts.root.find("..") != std::string::npos || opts.root.front() == '/')
        return Error::msg("cgroup root \"" + opts.root + "\" is not a relative subtree name");
    Driver driver;
    auto layout = detect_layout(opts.fs_prefix, opts.proc_self);
    if (opts.driver == "auto") {
        if (!layout) return make_null_manager();
        driver = auto_driver(*layout);
    } else if (auto d = driver_from_string(opts.driver)) {
        driver = *d;
        if (driver != Driver::none && !layout) return layout.error();
    } else {
        return Error::msg("cgroup driver \"" + opts.driver + "\" is not one of auto, systemd, v2, v1, none");
    }
    switch (driver) {
        case Driver::none: return make_null_manager();
        case Driver::v2: return make_v2_manager(*layout, opts);
        case Driver::v1: return make_v1_manager(*layout, opts);
        case Driver::systemd: {
            auto m = make_systemd_manager(*layout, opts);
            if (m || opts.driver != "auto") return m;
            // auto: /run/systemd/system exists but the bus does not answer (a container
            // with systemd's files but another PID 1): manage cgroupfs directly.
            Layout l = *layout;
            l.systemd_booted = false;
            if (auto_driver(l) == Driver::v1) return make_v1_manager(l, opts);
            if (auto_driver(l) == Driver::v2) return make_v2_manager(l, opts);
            return make_null_manager();
        }
    }
    return make_null_manager();
}

}  // namespace isolated::cgroup
