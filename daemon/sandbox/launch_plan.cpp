#include "sandbox/launch_plan.hpp"

#include <cstring>

#include "sandbox/init_protocol.h"

namespace isolated::sandbox {
namespace {

void put_record(std::string& out, std::uint32_t tag, const void* data, std::uint32_t len) {
    char hdr[8];
    std::memcpy(hdr, &tag, 4);
    std::memcpy(hdr + 4, &len, 4);
    out.append(hdr, 8);
    out.append(static_cast<const char*>(data), len);
}

void put_string(std::string& out, std::uint32_t tag, const std::string& s) {
    put_record(out, tag, s.data(), static_cast<std::uint32_t>(s.size()));
}

}  // namespace

std::string LaunchPlan::encode() const {
    std::string out;
    put_string(out, PLAN_APP_NAME, app_name);
    put_string(out, PLAN_INSTANCE, instance);
    for (const auto& a : argv) put_string(out, PLAN_ARG, a);
    for (const auto& e : env) put_string(out, PLAN_ENV, e);
    put_string(out, PLAN_WORKDIR, workdir);
    if (!log_name.empty()) {
        put_string(out, PLAN_LOG_NAME, log_name);
        std::uint64_t size = log.max_size;
        put_record(out, PLAN_LOG_MAX_SIZE, &size, sizeof size);
        std::uint32_t files = log.max_files;
        put_record(out, PLAN_LOG_MAX_FILES, &files, sizeof files);
    }
    return out;
}

LaunchPlan make_launch_plan(const AppSpec& spec, const std::string& instance, const LogSettings& log) {
    LaunchPlan plan;
    plan.app_name = spec.name;
    plan.instance = instance;
    plan.argv = spec.command;
    std::map<std::string, std::string> env{{"PATH", kDefaultPath}, {"HOME", "/root"}};
    for (const auto& [k, v] : spec.env) env[k] = v;
    for (const auto& [k, v] : env) plan.env.push_back(k + "=" + v);
    plan.workdir = spec.workdir.empty() ? "/" : spec.workdir;
    plan.log_name = spec.name + ".log";
    plan.log = log;
    return plan;
}

}  // namespace isolated::sandbox
