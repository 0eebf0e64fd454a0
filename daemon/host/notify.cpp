#include "host/notify.hpp"

#include <systemd/sd-bus.h>
#include <systemd/sd-daemon.h>
#include <systemd/sd-login.h>

#include <cstdlib>
#include <memory>

namespace isolated::host {

void notify(const std::string& state) { (void)sd_notify(/*unset_environment=*/0, state.c_str()); }

std::optional<std::chrono::microseconds> watchdog_interval() {
    std::uint64_t usec = 0;
    if (sd_watchdog_enabled(/*unset_environment=*/0, &usec) <= 0 || usec == 0) return std::nullopt;
    return std::chrono::microseconds(usec);
}

std::string service_job_type() {
    // Only a service started by systemd has a unit of its own to ask about.
    if (!std::getenv("INVOCATION_ID") && !std::getenv("NOTIFY_SOCKET")) return "";
    char* unit_raw = nullptr;
    if (sd_pid_get_unit(0, &unit_raw) < 0 || !unit_raw) return "";
    std::unique_ptr<char, decltype(&std::free)> unit(unit_raw, &std::free);
    sd_bus* bus_raw = nullptr;
    if (sd_bus_open_system(&bus_raw) < 0) return "";
    std::unique_ptr<sd_bus, decltype(&sd_bus_flush_close_unref)> bus(bus_raw, &sd_bus_flush_close_unref);
    (void)sd_bus_set_method_call_timeout(bus.get(), 2'000'000);
    char* path_raw = nullptr;
    if (sd_bus_path_encode("/org/freedesktop/systemd1/unit", unit.get(), &path_raw) < 0) return "";
    std::unique_ptr<char, decltype(&std::free)> path(path_raw, &std::free);

    sd_bus_error err = SD_BUS_ERROR_NULL;
    sd_bus_message* reply = nullptr;
    std::string type;
    if (sd_bus_get_property(bus.get(), "org.freedesktop.systemd1", path.get(), "org.freedesktop.systemd1.Unit", "Job",
                            &err, &reply, "(uo)") >= 0) {
        std::uint32_t id = 0;
        const char* job_path = nullptr;
        if (sd_bus_message_read(reply, "(uo)", &id, &job_path) >= 0 && id != 0 && job_path) {
            char* t = nullptr;
            sd_bus_error err2 = SD_BUS_ERROR_NULL;
            if (sd_bus_get_property_string(bus.get(), "org.freedesktop.systemd1", job_path,
                                           "org.freedesktop.systemd1.Job", "JobType", &err2, &t) >= 0 && t) {
                type = t;
                std::free(t);
            }
            sd_bus_error_free(&err2);
        }
    }
    sd_bus_message_unref(reply);
    sd_bus_error_free(&err);
    return type;
}

bool job_restarts_service(const std::string& t) {
    return t == "restart" || t == "try-restart" || t == "reload-or-restart" || t == "reload-or-try-restart";
}

}  // namespace isolated::host
