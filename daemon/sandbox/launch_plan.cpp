#include "sandbox/launch_plan.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
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
    if (!log.journal_socket.empty() && !log_name.empty()) {
        put_string(out, PLAN_JOURNAL, log.journal_socket);
    } else if (!log_name.empty()) {
        put_string(out, PLAN_LOG_NAME, log_name);
        std::uint64_t size = log.max_size;
        put_record(out, PLAN_LOG_MAX_SIZE, &size, sizeof size);
        std::uint32_t files = log.max_files;
        put_record(out, PLAN_LOG_MAX_FILES, &files, sizeof files);
    }
    put_record(out, PLAN_FLAGS, &flags, sizeof flags);
    for (const auto& c : cgroup_procs) put_string(out, PLAN_CGROUP_PROCS, c);
    if (!hostname.empty()) put_string(out, PLAN_HOSTNAME, hostname);
    if (!root_stage.empty()) put_string(out, PLAN_ROOT_STAGE, root_stage);
    for (const auto& m : mounts) {
        plan_mount pm;
        std::memset(&pm, 0, sizeof pm);
        pm.op = m.op;
        pm.flags = m.flags;
        pm.attr = m.attr;
        pm.mode = m.mode;
        pm.major = m.major;
        pm.minor = m.minor;
        std::string rec(reinterpret_cast<const char*>(&pm), sizeof pm);
        for (const auto* str : {&m.source, &m.target, &m.fstype, &m.data}) {
            rec += *str;
            rec.push_back('\0');
        }
        put_record(out, PLAN_MOUNT, rec.data(), static_cast<std::uint32_t>(rec.size()));
    }
    if (uid) {
        put_record(out, PLAN_UID, &*uid, 4);
        put_record(out, PLAN_GID, &gid, 4);
        put_record(out, PLAN_GROUPS, groups.data(), static_cast<std::uint32_t>(groups.size() * 4));
    }
    if (caps) put_record(out, PLAN_CAPS, &*caps, 8);
    if (!seccomp_bpf.empty()) put_string(out, PLAN_SECCOMP, seccomp_bpf);
    for (const auto& r : rlimits) {
        char rec[24] = {};
        std::memcpy(rec, &r.resource, 4);
        std::memcpy(rec + 8, &r.cur, 8);
        std::memcpy(rec + 16, &r.max, 8);
        put_record(out, PLAN_RLIMIT, rec, sizeof rec);
    }
    if (umask) put_record(out, PLAN_UMASK, &*umask, 4);
    if (userns) {
        std::uint32_t rec[3] = {userns->uid, userns->gid, userns->count};
        put_record(out, PLAN_USERNS, rec, sizeof rec);
    }
    for (const auto& s : secrets) {
        plan_secret ps;
        std::memset(&ps, 0, sizeof ps);
        ps.mode = s.mode;
        ps.uid = s.uid;
        ps.gid = s.gid;
        ps.name_len = static_cast<std::uint32_t>(s.name.size());
        std::string rec(reinterpret_cast<const char*>(&ps), sizeof ps);
        rec += s.name;
        rec.push_back('\0');
        rec += s.content;
        put_record(out, PLAN_SECRET, rec.data(), static_cast<std::uint32_t>(rec.size()));
    }
    return out;
}

LaunchPlan make_launch_plan(const AppSpec& spec, const std::string& instance, const LogSettings& log,
                            const std::vector<std::pair<std::string, std::string>>& file_env) {
    LaunchPlan plan;
    plan.app_name = spec.name;
    plan.instance = instance;
    plan.argv = spec.command;
    std::map<std::string, std::string> env{{"PATH", kDefaultPath}, {"HOME", "/root"}};
    for (const auto& [k, v] : spec.env) env[k] = v;
    for (const auto& [k, v] : file_env) env[k] = v;
    if (!spec.secrets.empty()) env["CREDENTIALS_DIRECTORY"] = kSecretsDir;
    plan.home_set = spec.env.count("HOME") > 0;
    for (const auto& kv : file_env) plan.home_set = plan.home_set || kv.first == "HOME";
    for (const auto& [k, v] : env) plan.env.push_back(k + "=" + v);
    plan.workdir = spec.workdir.empty() ? "/" : spec.workdir;
    plan.log_name = spec.name + ".log";
    plan.log = log;
    if (spec.logs.max_size) plan.log.max_size = *spec.logs.max_size;
    if (spec.logs.max_files) plan.log.max_files = *spec.logs.max_files;
    return plan;
}

void prune_rotated_logs(int log_dir_fd, const LaunchPlan& plan) {
    if (plan.log_name.empty() || !plan.log.journal_socket.empty()) return;
    // The init keeps <log>.1 .. <log>.(max_files-1); with one file it keeps none.
    for (std::uint32_t i = std::max<std::uint32_t>(plan.log.max_files, 1); i < kMaxLogFiles; ++i) {
        std::string name = plan.log_name + "." + std::to_string(i);
        if (::unlinkat(log_dir_fd, name.c_str(), 0) < 0 && errno == ENOENT) break;
    }
}

}  // namespace isolated::sandbox
