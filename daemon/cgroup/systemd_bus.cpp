#include "cgroup/systemd_bus.hpp"

#include <systemd/sd-bus.h>

#include <cmath>
#include <cstring>
#include <map>
#include <memory>

namespace isolated::cgroup::systemd {
namespace {

constexpr const char* kDest = "org.freedesktop.systemd1";
constexpr const char* kPath = "/org/freedesktop/systemd1";
constexpr const char* kManager = "org.freedesktop.systemd1.Manager";

struct MsgUnref {
    void operator()(sd_bus_message* m) const { sd_bus_message_unref(m); }
};
using MsgPtr = std::unique_ptr<sd_bus_message, MsgUnref>;
struct SlotUnref {
    void operator()(sd_bus_slot* s) const { sd_bus_slot_unref(s); }
};
using SlotPtr = std::unique_ptr<sd_bus_slot, SlotUnref>;

struct BusError {
    sd_bus_error e = SD_BUS_ERROR_NULL;
    ~BusError() { sd_bus_error_free(&e); }
    bool no_such_unit() const { return sd_bus_error_has_name(&e, "org.freedesktop.systemd1.NoSuchUnit"); }
};

Error bus_error(int r, const BusError& be, const std::string& what) {
    std::string m = what;
    if (be.e.message) m += std::string(": ") + be.e.message;
    return Error::os(-r, m);
}

Result<MsgPtr> new_call(sd_bus* bus, const char* method) {
    sd_bus_message* m = nullptr;
    int r = sd_bus_message_new_method_call(bus, &m, kDest, kPath, kManager, method);
    if (r < 0) return Error::os(-r, std::string("sd-bus: build ") + method);
    return MsgPtr(m);
}

// JobRemoved(u id, o job, s unit, s result) reaches the client that queued the job
// even without Subscribe(): systemd tracks the requester on the job (job->bus_track).
struct JobWatch {
    std::map<std::string, std::string> removed;  // job path -> result
};
int on_job_removed(sd_bus_message* m, void* userdata, sd_bus_error*) {
    std::uint32_t id;
    const char *job, *unit, *result;
    if (sd_bus_message_read(m, "uoss", &id, &job, &unit, &result) >= 0)
        static_cast<JobWatch*>(userdata)->removed[job] = result;
    return 0;
}

}  // namespace

std::string scope_name(const std::string& app) { return "isolated-" + app + ".scope"; }

std::vector<UnitProperty> scope_properties(const std::string& app, pid_t pid, const ResourcesSpec& s) {
    std::vector<UnitProperty> p{
        // A hook's scope (create_hook: "web.failure") says so.
        {"Description", std::string(app.find('.') == std::string::npos ? "isolated app " : "isolated hook ") + app},
        {"Slice", std::string(kSlice)},
        {"PIDs", std::vector<std::uint32_t>{static_cast<std::uint32_t>(pid)}},
        {"Delegate", true},
        {"CollectMode", std::string("inactive-or-failed")},
        {"KillSignal", std::int32_t{9}},
        // Stopped after the daemon at shutdown (stop order is the reverse of start
        // order): the daemon stops the apps gracefully first, by their stop policy and
        // in dependsOn order; only what is left then gets the scope's SIGKILL.
        {"Before", std::vector<std::string>{"isolated.service"}},
        {"CPUAccounting", true},
        {"MemoryAccounting", true},
        {"TasksAccounting", true},
    };
    if (s.cpu) p.push_back({"CPUQuotaPerSecUSec", static_cast<std::uint64_t>(std::llround(*s.cpu * 1e6))});
    if (s.cpu_weight) p.push_back({"CPUWeight", std::uint64_t{*s.cpu_weight}});
    if (s.memory) p.push_back({"MemoryMax", std::uint64_t{*s.memory}});
    if (s.memory_high) p.push_back({"MemoryHigh", std::uint64_t{*s.memory_high}});
    if (s.swap) p.push_back({"MemorySwapMax", std::uint64_t{*s.swap}});
    if (s.pids) p.push_back({"TasksMax", std::uint64_t{*s.pids}});
    if (s.io_weight) p.push_back({"IOWeight", std::uint64_t{*s.io_weight}});
    return p;
}

int append_properties(sd_bus_message* m, const std::vector<UnitProperty>& props) {
    int r = sd_bus_message_open_container(m, 'a', "(sv)");
    if (r < 0) return r;
    for (auto& p : props) {
        r = std::visit(
            [&](auto& v) -> int {
                using T = std::decay_t<decltype(v)>;
                if constexpr (std::is_same_v<T, bool>) {
                    return sd_bus_message_append(m, "(sv)", p.name.c_str(), "b", static_cast<int>(v));
                } else if constexpr (std::is_same_v<T, std::uint64_t>) {
                    return sd_bus_message_append(m, "(sv)", p.name.c_str(), "t", v);
                } else if constexpr (std::is_same_v<T, std::int32_t>) {
                    return sd_bus_message_append(m, "(sv)", p.name.c_str(), "i", v);
                } else if constexpr (std::is_same_v<T, std::string>) {
                    return sd_bus_message_append(m, "(sv)", p.name.c_str(), "s", v.c_str());
                } else if constexpr (std::is_same_v<T, std::vector<std::string>>) {
                    int q = sd_bus_message_open_container(m, 'r', "sv");
                    if (q >= 0) q = sd_bus_message_append(m, "s", p.name.c_str());
                    if (q >= 0) q = sd_bus_message_open_container(m, 'v', "as");
                    if (q >= 0) q = sd_bus_message_open_container(m, 'a', "s");
                    for (const auto& str : v)
                        if (q >= 0) q = sd_bus_message_append(m, "s", str.c_str());
                    if (q >= 0) q = sd_bus_message_close_container(m);
                    if (q >= 0) q = sd_bus_message_close_container(m);
                    if (q >= 0) q = sd_bus_message_close_container(m);
                    return q;
                } else {
                    int q = sd_bus_message_open_container(m, 'r', "sv");
                    if (q >= 0) q = sd_bus_message_append(m, "s", p.name.c_str());
                    if (q >= 0) q = sd_bus_message_open_container(m, 'v', "au");
                    if (q >= 0) q = sd_bus_message_append_array(m, 'u', v.data(), v.size() * sizeof(std::uint32_t));
                    if (q >= 0) q = sd_bus_message_close_container(m);
                    if (q >= 0) q = sd_bus_message_close_container(m);
                    return q;
                }
            },
            p.value);
        if (r < 0) return r;
    }
    return sd_bus_message_close_container(m);
}

Status Client::call_job(const char* method, const std::string& unit, sd_bus_message* m) {
    std::string what = std::string(method) + " " + unit;
    JobWatch watch;
    sd_bus_slot* slot = nullptr;
    int r = sd_bus_add_match(bus_, &slot,
                             "type='signal',interface='org.freedesktop.systemd1.Manager',member='JobRemoved'",
                             on_job_removed, &watch);
    if (r < 0) return Error::os(-r, what + ": add JobRemoved match");
    SlotPtr guard(slot);

    BusError err;
    sd_bus_message* reply_raw = nullptr;
    auto usec = static_cast<std::uint64_t>(std::chrono::duration_cast<std::chrono::microseconds>(timeout_).count());
    r = sd_bus_call(bus_, m, usec, &err.e, &reply_raw);
    MsgPtr reply(reply_raw);
    if (r < 0) {
        if (err.no_such_unit()) return Error::os(ENOENT, what + ": no such unit");
        return bus_error(r, err, what);
    }
    const char* job = nullptr;
    r = sd_bus_message_read(reply.get(), "o", &job);
    if (r < 0) return Error::os(-r, what + ": read job path");
    std::string job_path = job;

    // Bounded wait for the job: the only blocking step of this driver, as in crun's and
    // podman's systemd managers (a scope's start job takes milliseconds).
    auto deadline = std::chrono::steady_clock::now() + timeout_;
    while (!watch.removed.count(job_path)) {
        r = sd_bus_process(bus_, nullptr);
        if (r < 0) return Error::os(-r, what + ": waiting for job " + job_path);
        if (r > 0) continue;
        auto left = deadline - std::chrono::steady_clock::now();
        if (left <= std::chrono::steady_clock::duration::zero())
            return Error::os(ETIMEDOUT, what + ": job " + job_path + " did not finish");
        r = sd_bus_wait(bus_, static_cast<std::uint64_t>(
                                  std::chrono::duration_cast<std::chrono::microseconds>(left).count()));
        if (r < 0 && r != -EINTR) return Error::os(-r, what + ": waiting for job " + job_path);
    }
    if (watch.removed[job_path] != "done")
        return Error::msg(what + ": job finished with result \"" + watch.removed[job_path] + "\"");
    return {};
}

Status Client::start_transient_unit(const std::string& name, const std::vector<UnitProperty>& props) {
    auto m = new_call(bus_, "StartTransientUnit");
    if (!m) return m.error();
    int r = sd_bus_message_append(m->get(), "ss", name.c_str(), "fail");
    if (r >= 0) r = append_properties(m->get(), props);
    if (r >= 0) r = sd_bus_message_append(m->get(), "a(sa(sv))", 0);  // no auxiliary units
    if (r < 0) return Error::os(-r, "StartTransientUnit " + name + ": build message");
    return call_job("StartTransientUnit", name, m->get());
}

Status Client::stop_unit(const std::string& name) {
    auto m = new_call(bus_, "StopUnit");
    if (!m) return m.error();
    int r = sd_bus_message_append(m->get(), "ss", name.c_str(), "replace");
    if (r < 0) return Error::os(-r, "StopUnit " + name + ": build message");
    auto s = call_job("StopUnit", name, m->get());
    if (!s && s.error().errno_value == ENOENT) return {};
    return s;
}

Status Client::kill_unit(const std::string& name, int sig) {
    BusError err;
    sd_bus_message* reply = nullptr;
    int r = sd_bus_call_method(bus_, kDest, kPath, kManager, "KillUnit", &err.e, &reply, "ssi", name.c_str(), "all",
                               sig);
    MsgPtr guard(reply);
    if (r < 0) {
        if (err.no_such_unit()) return Error::os(ENOENT, "KillUnit " + name + ": no such unit");
        return bus_error(r, err, "KillUnit " + name);
    }
    return {};
}

Status Client::reset_failed_unit(const std::string& name) {
    BusError err;
    sd_bus_message* reply = nullptr;
    int r = sd_bus_call_method(bus_, kDest, kPath, kManager, "ResetFailedUnit", &err.e, &reply, "s", name.c_str());
    MsgPtr guard(reply);
    if (r < 0) return bus_error(r, err, "ResetFailedUnit " + name);
    return {};
}

Result<std::string> Client::get_unit(const std::string& name) {
    BusError err;
    sd_bus_message* reply = nullptr;
    int r = sd_bus_call_method(bus_, kDest, kPath, kManager, "GetUnit", &err.e, &reply, "s", name.c_str());
    MsgPtr guard(reply);
    if (r < 0) {
        if (err.no_such_unit()) return Error::os(ENOENT, "GetUnit " + name + ": no such unit");
        return bus_error(r, err, "GetUnit " + name);
    }
    const char* path = nullptr;
    r = sd_bus_message_read(reply, "o", &path);
    if (r < 0) return Error::os(-r, "GetUnit " + name + ": read reply");
    return std::string(path);
}

Result<std::string> Client::control_group(const std::string& unit_path) {
    BusError err;
    char* value = nullptr;
    int r = sd_bus_get_property_string(bus_, kDest, unit_path.c_str(), "org.freedesktop.systemd1.Scope",
                                       "ControlGroup", &err.e, &value);
    if (r < 0) return bus_error(r, err, "get ControlGroup of " + unit_path);
    std::string out = value;
    std::free(value);
    return out;
}

Result<std::vector<std::string>> Client::list_units(const std::string& pattern) {
    auto m = new_call(bus_, "ListUnitsByPatterns");
    if (!m) return m.error();
    const char* patterns[] = {pattern.c_str(), nullptr};
    int r = sd_bus_message_append_strv(m->get(), nullptr);
    if (r >= 0) r = sd_bus_message_append_strv(m->get(), const_cast<char**>(patterns));
    if (r < 0) return Error::os(-r, "ListUnitsByPatterns: build message");
    BusError err;
    sd_bus_message* reply_raw = nullptr;
    r = sd_bus_call(bus_, m->get(), 0, &err.e, &reply_raw);
    MsgPtr reply(reply_raw);
    if (r < 0) return bus_error(r, err, "ListUnitsByPatterns " + pattern);
    std::vector<std::string> out;
    r = sd_bus_message_enter_container(reply.get(), 'a', "(ssssssouso)");
    if (r < 0) return Error::os(-r, "ListUnitsByPatterns: read reply");
    const char* name;
    while ((r = sd_bus_message_read(reply.get(), "(ssssssouso)", &name, nullptr, nullptr, nullptr, nullptr, nullptr,
                                    nullptr, nullptr, nullptr, nullptr)) > 0)
        out.emplace_back(name);
    if (r < 0) return Error::os(-r, "ListUnitsByPatterns: read reply");
    return out;
}

}  // namespace isolated::cgroup::systemd
