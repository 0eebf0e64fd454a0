// What a launch reads from the host at every start besides the app file: the
// variables of its envFiles and the contents of its secrets (isolated.app(5)). Read
// by the daemon, checked here, and kept in memory only: they reach the init through
// the plan's sealed memfd (launch_plan.hpp), never through a file, and no message of
// this module holds a value -- a failure names the file, the line or the secret, and
// what is wrong.
#pragma once

#include <sys/stat.h>

#include <cstddef>
#include <optional>
#include <string>
#include <vector>

#include "isolated/app_spec.hpp"
#include "isolated/env_file.hpp"
#include "isolated/result.hpp"
#include "sandbox/launch_plan.hpp"

namespace isolated::sandbox {

/// systemd's limits for credentials (CREDENTIAL_SIZE_MAX, CREDENTIALS_TOTAL_SIZE_MAX):
/// each secret, and all of an app's together.
inline constexpr std::size_t secret_max_bytes = 1u << 20;
inline constexpr std::size_t secrets_total_max_bytes = 1u << 20;

struct StartFiles {
    EnvList env;                      ///< the envFiles' variables, file after file
    std::vector<SecretFile> secrets;  ///< name, content, mode (owners are plan_sandbox's)

    /// Every value read: the envFiles' values, and each secret's content as it is,
    /// without trailing blanks, and line by line -- the read-only socket's Redactor
    /// scrubs texts of them (common/redact.hpp, LearnedSecrets).
    std::vector<std::string> values() const;
};

/// Reads and parses the envFiles in order (a later variable wins). A missing file
/// whose path was written with "-" is skipped; any other failure is an error naming
/// the file: `envFile /etc/x.env: ENOENT (No such file or directory)`,
/// `envFile /etc/x.env: line 3: ...`. Symlinks are followed (as systemd does); the
/// file must be regular and at most env_file_max_bytes.
Result<EnvList> read_env_files(const std::vector<EnvFileSpec>& files);

/// Why a secret's source, as fstat() of the opened file shows it, must not be used:
/// not a regular file, not owned by root, writable by group or others, or larger
/// than secret_max_bytes. nullopt when it may be used.
std::optional<std::string> secret_source_problem(const struct stat& st);

/// Reads one secret's source, opened without following any symlink on its path
/// (openat2 RESOLVE_NO_SYMLINKS; O_NOFOLLOW where openat2 is missing) and checked on
/// the opened descriptor. Errors name the secret and its source:
/// `secret "pg-password" (/etc/isolated/secrets/pg-password): is not owned by root ...`.
Result<std::string> read_secret(const SecretSpec& secret);

/// Both, for one start of SPEC. CREDENTIALS_DIRECTORY from an envFile is an error when
/// the app has secrets (isolated sets it), as it is in "env".
Result<StartFiles> read_start_files(const AppSpec& spec);

}  // namespace isolated::sandbox
