// The sd-bus side of the systemd driver: which unit properties a scope gets, and the
// org.freedesktop.systemd1.Manager calls. Separate from the driver so unit tests can
// check the properties and talk to a fake manager over a socketpair.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <string>
#include <variant>
#include <vector>

#include "cgroup/cgroup.hpp"

struct sd_bus_message;

namespace isolated::cgroup::systemd {

inline constexpr const char* kSlice = "isolated.slice";
/// "isolated-web.scope"
std::string scope_name(const std::string& app);

struct UnitProperty {
    std::string name;
    /// D-Bus types: b, t, i, s, au.
    std::variant<bool, std::uint64_t, std::int32_t, std::string, std::vector<std::uint32_t>, std::vector<std::string>>
        value;
    bool operator==(const UnitProperty&) const = default;
};

/// The properties of isolated-APP.scope: Slice, Description, PIDs=[pid], Delegate
/// (the app may manage sub-cgroups and isolated may write the cgroup's files),
/// CollectMode=inactive-or-failed (a failed scope does not linger and block the
/// next StartTransientUnit of the same name), KillSignal=SIGKILL (isolated does its own
/// graceful stop first; a stop of the scope is the final kill), accounting on, and the
/// limits: CPUQuotaPerSecUSec, CPUWeight, MemoryMax, MemoryHigh, MemorySwapMax,
/// TasksMax, IOWeight.
std::vector<UnitProperty> scope_properties(const std::string& app, pid_t pid, const ResourcesSpec& limits);

/// Appends `props` as the a(sv) argument of StartTransientUnit; returns a negative
/// errno on failure (sd-bus convention).
int append_properties(sd_bus_message* m, const std::vector<UnitProperty>& props);

/// Manager calls on a started connection. Each error carries the method, unit and
/// the D-Bus error text; `job_timeout` bounds the wait for JobRemoved.
class Client {
public:
    Client(sd_bus* bus, std::chrono::milliseconds job_timeout) : bus_(bus), timeout_(job_timeout) {}

    /// StartTransientUnit(name, "fail", props) and wait until its job is removed;
    /// an error unless the job's result is "done".
    Status start_transient_unit(const std::string& name, const std::vector<UnitProperty>& props);
    /// StopUnit(name, "replace") and wait for the job; a unit that does not exist is success.
    Status stop_unit(const std::string& name);
    /// KillUnit(name, "all", sig).
    Status kill_unit(const std::string& name, int sig);
    /// ResetFailedUnit(name); errors ignored by callers that only tidy up.
    Status reset_failed_unit(const std::string& name);
    /// GetUnit(name) -> object path; ENOENT when not loaded.
    Result<std::string> get_unit(const std::string& name);
    /// The unit's ControlGroup property ("/isolated.slice/isolated-web.scope").
    Result<std::string> control_group(const std::string& unit_path);
    /// Names of loaded units matching `pattern` (ListUnitsByPatterns).
    Result<std::vector<std::string>> list_units(const std::string& pattern);

private:
    Status call_job(const char* method, const std::string& unit, sd_bus_message* m);

    sd_bus* bus_;
    std::chrono::milliseconds timeout_;
};

}  // namespace isolated::cgroup::systemd
