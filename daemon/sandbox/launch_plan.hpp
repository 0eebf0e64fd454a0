// The launch plan: everything the init needs to build the sandbox and exec the app,
// prepared by the daemon (policy, defaults, validation) and encoded into the TLV
// records of init_protocol.h. The init only executes it.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "isolated/app_spec.hpp"

namespace isolated::sandbox {

struct LogSettings {
    std::uint64_t max_size = 10u << 20;  ///< per file (Kubernetes' containerLogMaxSize)
    std::uint32_t max_files = 5;         ///< including the current one (containerLogMaxFiles)
};

struct LaunchPlan {
    std::string app_name;
    std::string instance;                ///< the daemon's id of this launch
    std::vector<std::string> argv;
    std::vector<std::string> env;        ///< "NAME=value"
    std::string workdir = "/";
    std::string log_name;                ///< "" = output discarded
    LogSettings log;

    /// The TLV byte form read by the init.
    std::string encode() const;
};

/// The default PATH given to apps that do not set one (Docker's).
inline constexpr const char* kDefaultPath = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/// Builds the plan for one launch of `spec`: argv, the environment (PATH and HOME
/// defaults, then the app's env, sorted), workdir, log file.
LaunchPlan make_launch_plan(const AppSpec& spec, const std::string& instance, const LogSettings& log);

}  // namespace isolated::sandbox
